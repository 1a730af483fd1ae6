/* The launcher names a frame from its object's symbols sorted by address
 * (report/symbol.c, symix_find) instead of libdw's dwfl_module_addrinfo,
 * which reads the whole table for each address.  Both must give the same
 * name and offset: checked here against libdw itself, at the start, the
 * middle, the last byte, the first byte past the end and 64 bytes on of
 * functions of the C library (with its separate debug symbols where
 * installed), of librcshim.so and of this test program, and of every
 * symbol without a size in them: every such address in code. */
#include "build-config.h"

#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/symbol.h"
#include "test.h"

#ifdef RC_HAVE_LIBDW
#include <elfutils/libdwfl.h>
#include <gelf.h>

static int
find_libc(struct dl_phdr_info *info, size_t size, void *ctx)
{
	(void)size;
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	if (strstr(name, "/libc.so.")) {
		snprintf(ctx, 4096, "%s", name);
		return 1;
	}
	return 0;
}

/* Whether @addr is in an executable section: frames are return
 * addresses, always there.  (Labels of non-allocated sections and the
 * versions' absolute symbols sit at 0, where no frame is.) */
static bool
in_code(Dwfl_Module *mod, GElf_Addr addr)
{
	Dwarf_Addr a = addr, bias = 0;
	Elf_Scn *scn = dwfl_module_address_section(mod, &a, &bias);
	GElf_Shdr sh;
	return scn && gelf_getshdr(scn, &sh) && (sh.sh_flags & SHF_ALLOC) &&
	       (sh.sh_flags & SHF_EXECINSTR);
}

/* "name@VERSION" -> "name". */
static void
base_name(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%.*s", (int)strcspn(name, "@"), name);
}

/* Compares the two at about @want addresses spread over @path's
 * functions; the number of addresses compared. */
static size_t
compare_object(const char *path, size_t want)
{
	static const Dwfl_Callbacks cb = {
		.find_elf = dwfl_build_id_find_elf,
		.find_debuginfo = dwfl_build_id_find_debuginfo,
		.section_address = dwfl_offline_section_address,
	};
	Dwfl *dwfl = dwfl_begin(&cb);
	ck_assert_ptr_nonnull(dwfl);
	dwfl_report_begin(dwfl);
	Dwfl_Module *mod = dwfl_report_offline(dwfl, path, path, -1);
	dwfl_report_end(dwfl, NULL, NULL);
	ck_assert_msg(mod, "%s: %s", path, dwfl_errmsg(-1));
	GElf_Addr bias = 0;
	ck_assert_ptr_nonnull(dwfl_module_getelf(mod, &bias));
	int n = dwfl_module_getsymtab(mod);
	ck_assert_msg(n > 1, "%s: no symbols", path);

	size_t funcs = 0;
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr a;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &a, NULL, NULL, NULL);
		funcs += name && GELF_ST_TYPE(sym.st_info) == STT_FUNC && sym.st_size;
	}
	size_t step = funcs / want + 1, seen = 0, compared = 0, differ = 0, labels = 0;
	struct rc_sym_offline *off = rc_sym_offline_begin();
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr lo;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &lo, NULL, NULL, NULL);
		int type = name ? GELF_ST_TYPE(sym.st_info) : STT_NOTYPE;
		/* Labels without a size (crt files' functions, the end of
		 * data), every one: the fallback when no range holds an
		 * address, in the address's section only. */
		bool label = name && !sym.st_size && sym.st_shndx != SHN_UNDEF &&
			     type != STT_SECTION && type != STT_FILE && type != STT_TLS;
		if (!label && (!name || type != STT_FUNC || !sym.st_size || seen++ % step)) {
			continue;
		}
		labels += label;
		const GElf_Addr at[] = { lo, lo + sym.st_size / 2, lo + sym.st_size - 1,
					 lo + sym.st_size, lo + 64 };
		for (size_t k = 0; k < sizeof(at) / sizeof(*at); k++) {
			if (!in_code(mod, at[k])) {
				continue;
			}
			GElf_Off doff = 0;
			GElf_Sym dsym;
			const char *dname = dwfl_module_addrinfo(mod, at[k], &doff, &dsym, NULL,
								 NULL, NULL);
			struct rc_frame_info f;
			memset(&f, 0, sizeof(f));
			/* A return address: the frame is named at the byte
			 * before it. */
			bool ours = rc_sym_offline_lookup(off, path, "", at[k] - bias + 1, &f);
			char want_name[256] = "";
			if (dname) {
				base_name(want_name, sizeof(want_name), dname);
			}
			bool same = dname ? ours && !strcmp(f.function, want_name) &&
						    f.offset == doff + 1
					  : !ours;
			if (!same && differ++ < 20) {
				fprintf(stderr, "%s %#lx: libdw %s+%#lx, rcshim %s+%#lx\n", path,
					(unsigned long)at[k], dname ? want_name : "(none)",
					(unsigned long)doff + 1, ours ? f.function : "(none)",
					(unsigned long)f.offset);
			}
			compared++;
		}
	}
	rc_sym_offline_end(off);
	dwfl_end(dwfl);
	fprintf(stderr, "%s: %zu addresses (%zu labels without a size) named as libdw does\n",
		path, compared - differ, labels);
	ck_assert_msg(differ == 0, "%s: %zu of %zu addresses named otherwise than libdw does",
		      path, differ, compared);
	return compared;
}

START_TEST(offline_names_agree_with_libdw)
{
	char libc[4096] = "", self[4096];
	ck_assert(dl_iterate_phdr(find_libc, libc));
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ck_assert(l > 0);
	self[l] = '\0';
	const char *shim = getenv("RCSHIM_TEST_LIB");
	ck_assert_msg(shim && *shim, "RCSHIM_TEST_LIB unset");
	ck_assert_uint_ge(compare_object(libc, 400), 400);
	ck_assert_uint_ge(compare_object(shim, 300), 300);
	ck_assert_uint_ge(compare_object(self, 300), 300);
}
END_TEST
#else
START_TEST(offline_names_agree_with_libdw)
{
	fprintf(stderr, "skipped: built without libdw\n");
	exit(77);
}
END_TEST
#endif

TEST_SUITE(names)
{
	ADD_TEST(s, offline_names_agree_with_libdw);
}
