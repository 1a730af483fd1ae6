/* Program counters to names, through libdwfl (opened on first use) or,
 * failing that, dladdr. */
#include "build-config.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <string.h>

#include "core/arena.h"
#include "core/elfsym.h"
#include "core/log.h"
#include "core/state.h"
#include "core/sys.h"
#include "report/symbol.h"

#ifdef RC_HAVE_LIBDW
#include <elfutils/libdwfl.h>

/* The entry points used, resolved from libdw.so.1. */
static struct {
	Dwfl *(*begin)(const Dwfl_Callbacks *);
	void (*end)(Dwfl *);
	int (*proc_report)(Dwfl *, pid_t);
	int (*report_end)(Dwfl *, int (*)(Dwfl_Module *, void *, const char *, Dwarf_Addr, void *),
			  void *);
	Dwfl_Module *(*addrmodule)(Dwfl *, Dwarf_Addr);
	const char *(*addrinfo)(Dwfl_Module *, GElf_Addr, GElf_Off *, GElf_Sym *, GElf_Word *,
				Elf **, Dwarf_Addr *);
	Dwfl_Line *(*getsrc)(Dwfl_Module *, Dwarf_Addr);
	const char *(*lineinfo)(Dwfl_Line *, Dwarf_Addr *, int *, int *, Dwarf_Word *,
				Dwarf_Word *);
	const char *(*modinfo)(Dwfl_Module *, void ***, Dwarf_Addr *, Dwarf_Addr *, Dwarf_Addr *,
			       Dwarf_Addr *, const char **, const char **);
	int (*find_elf)(Dwfl_Module *, void **, const char *, Dwarf_Addr, char **, Elf **);
	int (*build_id_debuginfo)(Dwfl_Module *, void **, const char *, Dwarf_Addr,
				  const char *, const char *, GElf_Word, char **);
	atomic_int state; /* 0 not tried, 1 loaded, 2 unavailable */
} DW;

/* Separate debug files only from the local build-id tree: never through
 * debuginfod (a report must not reach the network). */
static int
find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
	       const char *file, const char *debuglink, GElf_Word crc, char **path)
{
	return DW.build_id_debuginfo(mod, userdata, modname, base, file, debuglink, crc, path);
}

static bool
load_libdw(void)
{
	int st = atomic_load(&DW.state);
	if (st) {
		return st == 1;
	}
	void *h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
	bool ok = h != NULL;
#define SYM(field, name)                                                  \
	if (ok) {                                                         \
		*(void **)&DW.field = dlsym(h, name);                     \
		ok = DW.field != NULL;                                    \
	}
	SYM(begin, "dwfl_begin");
	SYM(end, "dwfl_end");
	SYM(proc_report, "dwfl_linux_proc_report");
	SYM(report_end, "dwfl_report_end");
	SYM(addrmodule, "dwfl_addrmodule");
	SYM(addrinfo, "dwfl_module_addrinfo");
	SYM(getsrc, "dwfl_module_getsrc");
	SYM(lineinfo, "dwfl_lineinfo");
	SYM(modinfo, "dwfl_module_info");
	SYM(find_elf, "dwfl_linux_proc_find_elf");
	SYM(build_id_debuginfo, "dwfl_build_id_find_debuginfo");
#undef SYM
	if (!ok) {
		rc_debug("libdw.so.1 not usable: reports name functions from dynamic symbols only");
	}
	/* The library stays loaded: later reports reuse it. */
	atomic_store(&DW.state, ok ? 1 : 2);
	return ok;
}
#endif

struct rc_symbolizer {
#ifdef RC_HAVE_LIBDW
	Dwfl *dwfl;
	Dwfl_Callbacks cb;
#endif
	/* Inside a signal handler (rc_self.signal_safe): neither libdw nor
	 * dladdr, which enter the loader and allocate (core/elfsym.h). */
	struct rc_elfsym *safe;
	int unused;
};

struct rc_symbolizer *
rc_sym_begin(void)
{
	struct rc_symbolizer *s = rc_alloc(sizeof(*s));
	if (!s) {
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	if (rc_self.signal_safe) {
		s->safe = rc_elfsym_begin();
		return s;
	}
#ifdef RC_HAVE_LIBDW
	if (load_libdw()) {
		s->cb.find_elf = DW.find_elf;
		s->cb.find_debuginfo = find_debuginfo;
		s->dwfl = DW.begin(&s->cb);
		if (s->dwfl && (DW.proc_report(s->dwfl, rc_sys_getpid()) != 0 ||
				DW.report_end(s->dwfl, NULL, NULL) != 0)) {
			DW.end(s->dwfl);
			s->dwfl = NULL;
		}
	}
#endif
	return s;
}

bool
rc_sym_has_lines(struct rc_symbolizer *s)
{
#ifdef RC_HAVE_LIBDW
	return s && s->dwfl;
#else
	(void)s;
	return false;
#endif
}

static void
copy(char *dst, size_t n, const char *src)
{
	if (!src) {
		dst[0] = '\0';
		return;
	}
	size_t l = strlen(src);
	if (l >= n) {
		l = n - 1;
	}
	memcpy(dst, src, l);
	dst[l] = '\0';
}

void
rc_sym_lookup(struct rc_symbolizer *s, uintptr_t pc, struct rc_frame_info *out)
{
	memset(out, 0, sizeof(*out));
	out->pc = pc;
	/* A return address: the call is the instruction before it. */
	uintptr_t at = pc ? pc - 1 : pc;

	if (rc_self.signal_safe) {
		if (s && s->safe) {
			rc_elfsym_lookup(s->safe, pc, out->object, sizeof(out->object),
					 out->function, sizeof(out->function), &out->offset);
		}
		return;
	}

#ifdef RC_HAVE_LIBDW
	if (s && s->dwfl) {
		Dwfl_Module *mod = DW.addrmodule(s->dwfl, at);
		if (mod) {
			Dwarf_Addr start = 0;
			const char *mainfile = NULL;
			const char *modname = DW.modinfo(mod, NULL, &start, NULL, NULL, NULL,
							 &mainfile, NULL);
			copy(out->object, sizeof(out->object), mainfile ? mainfile : modname);
			GElf_Off off = 0;
			GElf_Sym sym;
			const char *name = DW.addrinfo(mod, at, &off, &sym, NULL, NULL, NULL);
			if (name) {
				/* "__libc_start_main@@GLIBC_2.34": the version
				 * is noise here. */
				size_t l = strcspn(name, "@");
				copy(out->function, l + 1 < sizeof(out->function) ? l + 1
										 : sizeof(out->function),
				     name);
				out->offset = (uintptr_t)off + (pc - at);
			} else {
				out->offset = pc - (uintptr_t)start;
			}
			Dwfl_Line *line = DW.getsrc(mod, at);
			int lineno = 0;
			const char *file = line ? DW.lineinfo(line, NULL, &lineno, NULL, NULL, NULL)
						: NULL;
			if (file) {
				copy(out->file, sizeof(out->file), file);
				out->line = lineno;
			}
			if (out->function[0] || out->object[0]) {
				return;
			}
		}
	}
#else
	(void)s;
#endif
	Dl_info info;
	if (dladdr((void *)at, &info)) {
		copy(out->object, sizeof(out->object), info.dli_fname);
		if (info.dli_sname && info.dli_saddr) {
			copy(out->function, sizeof(out->function), info.dli_sname);
			out->offset = pc - (uintptr_t)info.dli_saddr;
		} else {
			out->offset = pc - (uintptr_t)info.dli_fbase;
		}
	}
}

void
rc_sym_end(struct rc_symbolizer *s)
{
	if (!s) {
		return;
	}
	rc_elfsym_end(s->safe);
#ifdef RC_HAVE_LIBDW
	if (s->dwfl) {
		DW.end(s->dwfl);
	}
#endif
	rc_free(s);
}
