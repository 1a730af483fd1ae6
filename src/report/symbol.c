/* Program counters to names, through libdwfl (opened on first use) or,
 * failing that, dladdr. */
#include "build-config.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
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
	/* Offline (rc_sym_offline_*). */
	void (*report_begin_add)(Dwfl *);
	Dwfl_Module *(*report_offline)(Dwfl *, const char *, const char *, int);
	int (*module_build_id)(Dwfl_Module *, const unsigned char **, GElf_Addr *);
	Elf *(*module_getelf)(Dwfl_Module *, GElf_Addr *);
	int (*build_id_find_elf)(Dwfl_Module *, void **, const char *, Dwarf_Addr, char **,
				 Elf **);
	int (*offline_section_address)(Dwfl_Module *, void **, const char *, Dwarf_Addr,
				       const char *, GElf_Word, const GElf_Shdr *, Dwarf_Addr *);
	int (*getsymtab)(Dwfl_Module *);
	Elf_Scn *(*address_section)(Dwfl_Module *, Dwarf_Addr *, Dwarf_Addr *);
	size_t (*ndxscn)(Elf_Scn *);
	const char *(*getsym_info)(Dwfl_Module *, int, GElf_Sym *, GElf_Addr *, GElf_Word *,
				   Elf **, Dwarf_Addr *);
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
	SYM(report_begin_add, "dwfl_report_begin_add");
	SYM(report_offline, "dwfl_report_offline");
	SYM(module_build_id, "dwfl_module_build_id");
	SYM(module_getelf, "dwfl_module_getelf");
	SYM(build_id_find_elf, "dwfl_build_id_find_elf");
	SYM(offline_section_address, "dwfl_offline_section_address");
#undef SYM
	/* For the launcher's sorted symbols (symix_find); without them,
	 * libdw's own search. */
	if (ok) {
		*(void **)&DW.getsymtab = dlsym(h, "dwfl_module_getsymtab");
		*(void **)&DW.getsym_info = dlsym(h, "dwfl_module_getsym_info");
		*(void **)&DW.address_section = dlsym(h, "dwfl_module_address_section");
		/* libelf's, found through libdw's dependencies */
		*(void **)&DW.ndxscn = dlsym(h, "elf_ndxscn");
	}
	if (!ok) {
		rc_debug("libdw.so.1 not usable: reports name functions from dynamic symbols only");
	}
	/* The library stays loaded: later reports reuse it. */
	atomic_store(&DW.state, ok ? 1 : 2);
	return ok;
}
#endif

/* The objects mapped in the process, for deferred frames. */
struct module {
	uintptr_t lo, hi; /* the address range of its PT_LOAD segments */
	uintptr_t base;   /* its load bias: address in the object = pc - base */
	const char *path;
	char build_id[41];
};

#define MAX_MODULES 512

struct rc_symbolizer {
#ifdef RC_HAVE_LIBDW
	Dwfl *dwfl;
	Dwfl_Callbacks cb;
#endif
	/* Inside a signal handler (rc_self.signal_safe): neither libdw nor
	 * dladdr, which enter the loader and allocate (core/elfsym.h). */
	struct rc_elfsym *safe;
	/* Deferred (rc_sym_defer): the mapped objects. */
	bool deferred;
	struct module *mods;
	size_t nmods;
	char exe[256];
	/* The objects (deferred) or libdw's view of the process are made at
	 * the first frame named, not at the start: most reports have no
	 * frame to name (a fork child holding its parent's heap blocks, a
	 * heap without samples), and the program headers of every object,
	 * /proc/self/exe and libdw were pages and calls for nothing. */
	bool ready;
};

static bool defer_names;

void
rc_sym_defer(bool on)
{
	defer_names = on;
}

static void
hex_id(char *out, const unsigned char *id, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (n > 20) {
		n = 20;
	}
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The GNU build id of a mapped object, from its notes in memory. */
static void
build_id_of(const struct dl_phdr_info *info, char *out)
{
	out[0] = '\0';
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE) {
			continue;
		}
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
			const char *name = p + sizeof(*nh);
			const unsigned char *desc =
				(const unsigned char *)name + ((nh->n_namesz + 3) & ~3u);
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4) && (const char *)desc + nh->n_descsz <= end) {
				hex_id(out, desc, nh->n_descsz);
				return;
			}
			p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
}

static int
add_module(struct dl_phdr_info *info, size_t size, void *ctx)
{
	struct rc_symbolizer *s = ctx;
	(void)size;
	if (s->nmods >= MAX_MODULES) {
		return 1;
	}
	struct module *m = &s->mods[s->nmods];
	m->lo = UINTPTR_MAX;
	m->hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD) {
			uintptr_t a = info->dlpi_addr + ph->p_vaddr;
			m->lo = a < m->lo ? a : m->lo;
			m->hi = a + ph->p_memsz > m->hi ? a + ph->p_memsz : m->hi;
		}
	}
	if (m->lo >= m->hi) {
		return 0;
	}
	m->base = info->dlpi_addr;
	/* The main program has no name here: its path from the kernel. */
	m->path = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : s->exe;
	build_id_of(info, m->build_id);
	s->nmods++;
	return 0;
}

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
		s->ready = true;
		return s;
	}
	/* No file is read and no library loaded in deferred mode: the
	 * launcher names the frames (rc_sym_offline_*). */
	s->deferred = defer_names;
	return s;
}

/* What rc_sym_begin left to the first frame. */
static void
make_ready(struct rc_symbolizer *s)
{
	s->ready = true;
	if (rc_self.signal_safe) {
		return; /* begun outside a handler: nothing a handler may do */
	}
	if (s->deferred) {
		long n = rc_sys_readlinkat(AT_FDCWD, "/proc/self/exe", s->exe, sizeof(s->exe) - 1);
		s->exe[n > 0 ? n : 0] = '\0';
		s->mods = rc_alloc(MAX_MODULES * sizeof(*s->mods));
		if (s->mods) {
			dl_iterate_phdr(add_module, s);
		}
		return;
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
}

bool
rc_sym_has_lines(struct rc_symbolizer *s)
{
	if (s && !s->ready) {
		make_ready(s);
	}
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

	if (s && !s->ready) {
		make_ready(s);
	}
	if (rc_self.signal_safe) {
		if (s && s->safe) {
			rc_elfsym_lookup(s->safe, pc, out->object, sizeof(out->object),
					 out->function, sizeof(out->function), &out->offset);
		}
		return;
	}
	if (s && s->deferred) {
		for (size_t i = 0; i < s->nmods; i++) {
			const struct module *m = &s->mods[i];
			if (at >= m->lo && at < m->hi) {
				copy(out->object, sizeof(out->object), m->path);
				memcpy(out->build_id, m->build_id, sizeof(out->build_id));
				out->offset = pc - m->base;
				out->deferred = true;
				return;
			}
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
	rc_free(s->mods);
	rc_elfsym_end(s->safe);
#ifdef RC_HAVE_LIBDW
	if (s->dwfl) {
		DW.end(s->dwfl);
	}
#endif
	rc_free(s);
}

/* --- offline --------------------------------------------------------------------- */

/* One symbol of an object's table, for the search by address. */
struct symix {
	uintptr_t lo, size; /* in dwfl's addresses */
	const char *name;   /* in the object's string table, kept open by dwfl */
	uint32_t order;     /* its index in the table */
	uint32_t shndx;     /* its section */
	uint8_t bind;       /* 3 global, 2 weak, 1 local, 0 other */
};

struct offline_mod {
	char *path;
	char build_id[41];
	bool ok; /* opened, and the build id agrees */
#ifdef RC_HAVE_LIBDW
	Dwfl_Module *mod;
	Dwarf_Addr bias;
	/* The symbols by address, made at the first frame named in it, and
	 * for each position the highest end of a symbol at or before it.
	 * ix_tried without ix: no table, or no memory (libdw's own search). */
	struct symix *ix;
	uintptr_t *maxend;
	size_t nix;
	bool ix_tried;
#endif
};

struct rc_sym_offline {
#ifdef RC_HAVE_LIBDW
	Dwfl *dwfl;
	Dwfl_Callbacks cb;
#endif
	struct offline_mod *mods;
	size_t n, cap;
};

struct rc_sym_offline *
rc_sym_offline_begin(void)
{
	struct rc_sym_offline *s = rc_alloc(sizeof(*s));
	if (!s) {
		return NULL;
	}
	memset(s, 0, sizeof(*s));
#ifdef RC_HAVE_LIBDW
	if (load_libdw()) {
		s->cb.find_elf = DW.build_id_find_elf;
		s->cb.find_debuginfo = find_debuginfo;
		s->cb.section_address = DW.offline_section_address;
		s->dwfl = DW.begin(&s->cb);
	}
#endif
	return s;
}

/* The object @path (with @build_id), opened once. */
static struct offline_mod *
offline_mod(struct rc_sym_offline *s, const char *path, const char *build_id)
{
	for (size_t i = 0; i < s->n; i++) {
		if (!strcmp(s->mods[i].path, path) && !strcmp(s->mods[i].build_id, build_id)) {
			return &s->mods[i];
		}
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct offline_mod *m = rc_alloc(cap * sizeof(*m));
		if (!m) {
			return NULL;
		}
		if (s->n) {
			memcpy(m, s->mods, s->n * sizeof(*m));
		}
		rc_free(s->mods);
		s->mods = m;
		s->cap = cap;
	}
	struct offline_mod *m = &s->mods[s->n];
	memset(m, 0, sizeof(*m));
	if (!(m->path = rc_strdup(path))) {
		return NULL;
	}
	copy(m->build_id, sizeof(m->build_id), build_id);
	s->n++;
#ifdef RC_HAVE_LIBDW
	if (s->dwfl) {
		DW.report_begin_add(s->dwfl);
		m->mod = DW.report_offline(s->dwfl, path, path, -1);
		DW.report_end(s->dwfl, NULL, NULL);
		GElf_Addr bias = 0;
		if (m->mod && DW.module_getelf(m->mod, &bias)) {
			/* An address in the object plus the bias dwfl placed
			 * the object at is dwfl's address for it. */
			m->bias = bias;
			const unsigned char *id = NULL;
			GElf_Addr idaddr;
			int len = DW.module_build_id(m->mod, &id, &idaddr);
			char have[41] = "";
			if (len > 0) {
				hex_id(have, id, (size_t)len);
			}
			/* A file rebuilt since the process ran is not the
			 * object it mapped: its names would be wrong. */
			m->ok = !build_id[0] || !strcmp(have, build_id);
		}
	}
#endif
	return m;
}

#ifdef RC_HAVE_LIBDW
/* Naming a frame by its object's symbols.
 *
 * dwfl_module_addrinfo reads the whole symbol table for every address: a
 * pass over a compiler's hundred thousand symbols per frame, and most of
 * the launcher's time at the end of a build.  Here the table is read once
 * per object, sorted by address, and each frame is a binary search.  The
 * choice is libdw's for the tables compilers make:
 *   - symbols with a name, defined, and not a section, file or TLS symbol;
 *   - of those with a size, the one whose range holds the address and
 *     starts nearest below it; at one start, global before weak before
 *     local, then the smaller range, then the first in the table;
 *   - failing that, a label without a size (assembly) at or below the
 *     address, the nearest, provided no symbol's range passes it and it
 *     is in the address's section (an absolute one only at the address
 *     itself). */
static int
symix_cmp(const void *a, const void *b)
{
	const struct symix *x = a, *y = b;
	if (x->lo != y->lo) {
		return x->lo < y->lo ? -1 : 1;
	}
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Heapsort: the shim links this file, and qsort would be one more symbol
 * for the loader to bind in every process it is preloaded into. */
static void
symix_sift(struct symix *a, size_t root, size_t n)
{
	for (size_t child; (child = 2 * root + 1) < n; root = child) {
		if (child + 1 < n && symix_cmp(&a[child], &a[child + 1]) < 0) {
			child++;
		}
		if (symix_cmp(&a[root], &a[child]) >= 0) {
			return;
		}
		struct symix t = a[root];
		a[root] = a[child];
		a[child] = t;
	}
}

static void
symix_sort(struct symix *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;) {
		symix_sift(a, i, n);
	}
	for (size_t end = n; end > 1; end--) {
		struct symix t = a[0];
		a[0] = a[end - 1];
		a[end - 1] = t;
		symix_sift(a, 0, end - 1);
	}
}

static uint8_t
bind_rank(unsigned char info)
{
	switch (GELF_ST_BIND(info)) {
	case STB_GLOBAL:
	case STB_GNU_UNIQUE:
		return 3;
	case STB_WEAK:
		return 2;
	case STB_LOCAL:
		return 1;
	default:
		return 0;
	}
}

static void
index_symbols(struct offline_mod *m)
{
	m->ix_tried = true;
	if (!DW.getsymtab || !DW.getsym_info || !DW.address_section || !DW.ndxscn) {
		return;
	}
	int n = DW.getsymtab(m->mod);
	if (n <= 1) {
		return;
	}
	struct symix *ix = rc_alloc((size_t)n * sizeof(*ix));
	uintptr_t *maxend = ix ? rc_alloc((size_t)n * sizeof(*maxend)) : NULL;
	if (!maxend) {
		rc_free(ix);
		return;
	}
	size_t k = 0;
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name = DW.getsym_info(m->mod, i, &sym, &addr, &shndx, NULL, NULL);
		int type = GELF_ST_TYPE(sym.st_info);
		if (!name || !name[0] || sym.st_shndx == SHN_UNDEF || type == STT_SECTION ||
		    type == STT_FILE || type == STT_TLS) {
			continue;
		}
		ix[k++] = (struct symix){ .lo = (uintptr_t)addr,
					  .size = (uintptr_t)sym.st_size,
					  .name = name,
					  .order = (uint32_t)i,
					  .shndx = shndx,
					  .bind = bind_rank(sym.st_info) };
	}
	symix_sort(ix, k);
	for (size_t i = 0; i < k; i++) {
		uintptr_t end = ix[i].lo + ix[i].size;
		maxend[i] = i && maxend[i - 1] > end ? maxend[i - 1] : end;
	}
	m->ix = ix;
	m->maxend = maxend;
	m->nix = k;
}

/* Whether @e names an address better than @best (both hold it). */
static bool
symix_better(const struct symix *e, const struct symix *best)
{
	if (!best || e->lo != best->lo) {
		return !best || e->lo > best->lo;
	}
	if (e->bind != best->bind) {
		return e->bind > best->bind;
	}
	if (e->size != best->size) {
		return e->size < best->size;
	}
	return e->order < best->order;
}

/* The index of the section holding @at, SHN_ABS for none. */
static GElf_Word
section_of(const struct offline_mod *m, uintptr_t at)
{
	Dwarf_Addr a = at, bias = 0;
	Elf_Scn *scn = DW.address_section(m->mod, &a, &bias);
	return scn ? (GElf_Word)DW.ndxscn(scn) : SHN_ABS;
}

/* Whether a label of section @shndx at @lo may name @at (libdw's rule for
 * symbols without a size). */
static bool
label_fits(const struct offline_mod *m, const struct symix *e, uintptr_t at, GElf_Word *at_shndx)
{
	if (e->shndx >= SHN_LORESERVE) {
		return e->lo == at;
	}
	if (*at_shndx == SHN_UNDEF) {
		*at_shndx = section_of(m, at);
	}
	return e->shndx == *at_shndx;
}

/* The symbol naming @at, NULL if none. */
static const struct symix *
symix_find(const struct offline_mod *m, uintptr_t at)
{
	/* j: one past the last symbol starting at or below @at. */
	size_t lo = 0, hi = m->nix;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->ix[mid].lo <= at) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	size_t j = lo;
	if (!j) {
		return NULL;
	}
	/* Ranges holding @at: back while some symbol at or before i ends
	 * above it. */
	const struct symix *best = NULL;
	for (size_t i = j; i-- > 0 && m->maxend[i] > at;) {
		const struct symix *e = &m->ix[i];
		if (e->size && at - e->lo < e->size && symix_better(e, best)) {
			best = e;
		}
	}
	if (best) {
		return best;
	}
	/* A label: none of the ranges below passes it (maxend[j - 1], at or
	 * below @at here). */
	GElf_Word at_shndx = SHN_UNDEF;
	for (size_t i = j; i-- > 0 && m->ix[i].lo >= m->maxend[j - 1];) {
		const struct symix *e = &m->ix[i];
		if (best && e->lo < best->lo) {
			break;
		}
		if (!e->size && symix_better(e, best) && label_fits(m, e, at, &at_shndx)) {
			best = e;
		}
	}
	return best;
}
#endif

bool
rc_sym_offline_lookup(struct rc_sym_offline *s, const char *object, const char *build_id,
		      uintptr_t vaddr, struct rc_frame_info *out)
{
	if (!s || !object || !object[0]) {
		return false;
	}
	struct offline_mod *m = offline_mod(s, object, build_id ? build_id : "");
	if (!m || !m->ok) {
		return false;
	}
#ifdef RC_HAVE_LIBDW
	Dwarf_Addr pc = vaddr + m->bias;
	/* A return address: the call is the instruction before it. */
	Dwarf_Addr at = pc ? pc - 1 : pc;
	GElf_Off off = 0;
	const char *name = NULL;
	if (!m->ix_tried) {
		index_symbols(m);
	}
	if (m->ix) {
		const struct symix *e = symix_find(m, (uintptr_t)at);
		if (e) {
			name = e->name;
			off = (GElf_Off)(at - e->lo);
		}
	} else {
		GElf_Sym sym;
		name = DW.addrinfo(m->mod, at, &off, &sym, NULL, NULL, NULL);
	}
	if (!name) {
		return false;
	}
	size_t l = strcspn(name, "@");
	copy(out->function, l + 1 < sizeof(out->function) ? l + 1 : sizeof(out->function), name);
	out->offset = (uintptr_t)off + (uintptr_t)(pc - at);
	out->file[0] = '\0';
	out->line = 0;
	Dwfl_Line *line = DW.getsrc(m->mod, at);
	int lineno = 0;
	const char *file = line ? DW.lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
	if (file) {
		copy(out->file, sizeof(out->file), file);
		out->line = lineno;
	}
	out->deferred = false;
	return true;
#else
	(void)vaddr;
	(void)out;
	return false;
#endif
}

void
rc_sym_offline_end(struct rc_sym_offline *s)
{
	if (!s) {
		return;
	}
#ifdef RC_HAVE_LIBDW
	if (s->dwfl) {
		DW.end(s->dwfl);
	}
#endif
	for (size_t i = 0; i < s->n; i++) {
		rc_free(s->mods[i].path);
#ifdef RC_HAVE_LIBDW
		rc_free(s->mods[i].ix);
		rc_free(s->mods[i].maxend);
#endif
	}
	rc_free(s->mods);
	rc_free(s);
}
