/* Async-signal-safe symbolization from ELF symbol tables (core/elfsym.h). */
#include "build-config.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/stat.h>

#include "core/arena.h"
#include "core/elfsym.h"
#include "core/sys.h"

/* Symbol tables larger than this are not read (a report written in a
 * handler must not read hundreds of megabytes). */
#define MAX_TABLE (64u << 20)
#define MAX_MODULES 256

#if __WORDSIZE == 64
#define ELFCLASS_NATIVE ELFCLASS64
#define SYM_TYPE(i) ELF64_ST_TYPE(i)
#else
#define ELFCLASS_NATIVE ELFCLASS32
#define SYM_TYPE(i) ELF32_ST_TYPE(i)
#endif

struct module {
	char *path;
	uint64_t ino;
	bool tried;
	ElfW(Phdr) *ph;
	unsigned phnum;
	ElfW(Sym) *syms;
	size_t nsyms;
	char *str;
	size_t strsz;
};

struct mapping {
	uintptr_t lo, hi;
	uint64_t off;
	struct module *mod;
};

struct rc_elfsym {
	struct mapping *maps;
	size_t nmaps;
	struct module mods[MAX_MODULES];
	size_t nmods;
};

static ssize_t
pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = rc_sys(SYS_pread64, fd, (char *)buf + done, n - done,
				   (long)(off + done), 0, 0);
		if (r == -EINTR) {
			continue;
		}
		if (r <= 0) {
			return r < 0 ? r : (ssize_t)done;
		}
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/* The whole of /proc/self/maps, NUL-terminated, in the arena. */
static char *
read_maps(void)
{
	int fd = rc_sys_openat(AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		return NULL;
	}
	size_t cap = 64 * 1024, len = 0;
	char *buf = rc_alloc(cap);
	while (buf) {
		if (len + 4096 > cap) {
			char *bigger = rc_alloc(cap * 2);
			if (bigger) {
				memcpy(bigger, buf, len);
			}
			rc_free(buf);
			buf = bigger;
			cap *= 2;
			continue;
		}
		ssize_t r = rc_sys_read(fd, buf + len, cap - len - 1);
		if (r == -EINTR) {
			continue;
		}
		if (r <= 0) {
			break;
		}
		len += (size_t)r;
	}
	rc_sys_close(fd);
	if (buf) {
		buf[len] = '\0';
	}
	return buf;
}

static uint64_t
hex(const char **p)
{
	uint64_t v = 0;
	for (;; (*p)++) {
		char c = **p;
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
		if (d == 16) {
			return v;
		}
		v = v * 16 + d;
	}
}

static uint64_t
dec(const char **p)
{
	uint64_t v = 0;
	while (**p >= '0' && **p <= '9') {
		v = v * 10 + (uint64_t)(*(*p)++ - '0');
	}
	return v;
}

static struct module *
module_of(struct rc_elfsym *es, const char *path, size_t len, uint64_t ino)
{
	for (size_t i = 0; i < es->nmods; i++) {
		if (es->mods[i].ino == ino && strlen(es->mods[i].path) == len &&
		    memcmp(es->mods[i].path, path, len) == 0) {
			return &es->mods[i];
		}
	}
	if (es->nmods == MAX_MODULES) {
		return NULL;
	}
	char *copy = rc_alloc(len + 1);
	if (!copy) {
		return NULL;
	}
	memcpy(copy, path, len);
	copy[len] = '\0';
	struct module *m = &es->mods[es->nmods++];
	memset(m, 0, sizeof(*m));
	m->path = copy;
	m->ino = ino;
	return m;
}

/* "lo-hi perms off dev ino path": executable mappings of files only. */
static void
parse_maps(struct rc_elfsym *es, const char *text)
{
	size_t n = 0;
	for (const char *p = text; *p; p++) {
		n += *p == '\n';
	}
	es->maps = rc_alloc((n + 1) * sizeof(*es->maps));
	if (!es->maps) {
		return;
	}
	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n');
		if (!end) {
			end = p + strlen(p);
		}
		struct mapping m;
		m.lo = (uintptr_t)hex(&p);
		p += *p == '-';
		m.hi = (uintptr_t)hex(&p);
		p += *p == ' ';
		bool exec = p + 2 < end && p[2] == 'x';
		while (p < end && *p != ' ') {
			p++;
		}
		p += p < end;
		m.off = hex(&p);
		p += p < end;
		while (p < end && *p != ' ') { /* dev */
			p++;
		}
		p += p < end;
		uint64_t ino = dec(&p);
		while (p < end && *p == ' ') {
			p++;
		}
		if (exec && p < end && *p == '/') {
			m.mod = module_of(es, p, (size_t)(end - p), ino);
			if (m.mod) {
				es->maps[es->nmaps++] = m;
			}
		}
		p = *end ? end + 1 : end;
	}
}

struct rc_elfsym *
rc_elfsym_begin(void)
{
	struct rc_elfsym *es = rc_alloc(sizeof(*es));
	if (!es) {
		return NULL;
	}
	memset(es, 0, sizeof(*es));
	char *text = read_maps();
	if (text) {
		parse_maps(es, text);
		rc_free(text);
	}
	return es;
}

/* Reads @m's program headers and its symbol table, once. */
static void
load_module(struct module *m)
{
	ElfW(Ehdr) eh;
	struct stat st;

	m->tried = true;
	int fd = rc_sys_openat(AT_FDCWD, m->path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		return;
	}
	/* The file must still be the one mapped. */
	if (rc_sys_fstat(fd, &st) < 0 || (uint64_t)st.st_ino != m->ino ||
	    pread_all(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS_NATIVE ||
	    eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_shentsize != sizeof(ElfW(Shdr)) ||
	    eh.e_phnum == 0 || eh.e_shnum == 0) {
		goto out;
	}
	m->ph = rc_alloc(eh.e_phnum * sizeof(ElfW(Phdr)));
	ElfW(Shdr) *sh = rc_alloc(eh.e_shnum * sizeof(ElfW(Shdr)));
	if (!m->ph || !sh ||
	    pread_all(fd, m->ph, eh.e_phnum * sizeof(ElfW(Phdr)), eh.e_phoff) !=
		    (ssize_t)(eh.e_phnum * sizeof(ElfW(Phdr))) ||
	    pread_all(fd, sh, eh.e_shnum * sizeof(ElfW(Shdr)), eh.e_shoff) !=
		    (ssize_t)(eh.e_shnum * sizeof(ElfW(Shdr)))) {
		rc_free(sh);
		goto out;
	}
	m->phnum = eh.e_phnum;
	/* .symtab when the file has one (static functions too), else the
	 * dynamic symbols every shared object keeps. */
	const ElfW(Shdr) *tab = NULL;
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		if (sh[i].sh_type == SHT_SYMTAB || (sh[i].sh_type == SHT_DYNSYM && !tab)) {
			tab = &sh[i];
		}
	}
	if (tab && tab->sh_link < eh.e_shnum && tab->sh_entsize == sizeof(ElfW(Sym)) &&
	    tab->sh_size <= MAX_TABLE && sh[tab->sh_link].sh_size <= MAX_TABLE) {
		const ElfW(Shdr) *strs = &sh[tab->sh_link];
		m->syms = rc_alloc(tab->sh_size ? tab->sh_size : 1);
		m->str = rc_alloc(strs->sh_size + 1);
		if (m->syms && m->str &&
		    pread_all(fd, m->syms, tab->sh_size, tab->sh_offset) == (ssize_t)tab->sh_size &&
		    pread_all(fd, m->str, strs->sh_size, strs->sh_offset) ==
			    (ssize_t)strs->sh_size) {
			m->nsyms = tab->sh_size / sizeof(ElfW(Sym));
			m->strsz = strs->sh_size;
			m->str[m->strsz] = '\0';
		} else {
			rc_free(m->syms);
			rc_free(m->str);
			m->syms = NULL;
			m->str = NULL;
		}
	}
	rc_free(sh);
out:
	rc_sys_close(fd);
}

static void
copy(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);
	if (n == 0) {
		return;
	}
	if (l >= n) {
		l = n - 1;
	}
	memcpy(dst, src, l);
	dst[l] = '\0';
}

bool
rc_elfsym_lookup(struct rc_elfsym *es, uintptr_t pc, char *object, size_t object_len,
		 char *function, size_t function_len, uintptr_t *offset)
{
	uintptr_t at = pc ? pc - 1 : pc;
	const struct mapping *map = NULL;

	function[0] = '\0';
	for (size_t i = 0; es && i < es->nmaps; i++) {
		if (at >= es->maps[i].lo && at < es->maps[i].hi) {
			map = &es->maps[i];
			break;
		}
	}
	if (!map) {
		return false;
	}
	struct module *m = map->mod;
	copy(object, object_len, m->path);
	uint64_t file_off = at - map->lo + map->off;
	*offset = (uintptr_t)file_off + (pc - at);
	if (!m->tried) {
		load_module(m);
	}
	/* File offset to the address the symbols use. */
	uint64_t vaddr = 0;
	bool found = false;
	for (unsigned i = 0; i < m->phnum; i++) {
		const ElfW(Phdr) *ph = &m->ph[i];
		if (ph->p_type == PT_LOAD && file_off >= ph->p_offset &&
		    file_off < ph->p_offset + ph->p_filesz) {
			vaddr = file_off - ph->p_offset + ph->p_vaddr;
			found = true;
			break;
		}
	}
	if (!found) {
		return true;
	}
	const ElfW(Sym) *best = NULL;
	for (size_t i = 0; i < m->nsyms; i++) {
		const ElfW(Sym) *s = &m->syms[i];
		unsigned type = SYM_TYPE(s->st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s->st_shndx == SHN_UNDEF ||
		    s->st_value > vaddr || s->st_name >= m->strsz) {
			continue;
		}
		bool inside = vaddr < s->st_value + s->st_size;
		bool best_inside = best && vaddr < best->st_value + best->st_size;
		if (!best || (inside && !best_inside) ||
		    (inside == best_inside && s->st_value > best->st_value)) {
			best = s;
		}
	}
	if (best && (vaddr < best->st_value + best->st_size || best->st_size == 0)) {
		const char *name = m->str + best->st_name;
		size_t l = strcspn(name, "@");
		copy(function, l + 1 < function_len ? l + 1 : function_len, name);
		*offset = (uintptr_t)(vaddr - best->st_value) + (pc - at);
	}
	return true;
}

void
rc_elfsym_end(struct rc_elfsym *es)
{
	if (!es) {
		return;
	}
	for (size_t i = 0; i < es->nmods; i++) {
		rc_free(es->mods[i].path);
		rc_free(es->mods[i].ph);
		rc_free(es->mods[i].syms);
		rc_free(es->mods[i].str);
	}
	rc_free(es->maps);
	rc_free(es);
}
