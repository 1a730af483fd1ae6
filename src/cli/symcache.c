/* The launcher's cache of frame names, kept between runs.
 *
 * Naming a frame in an object whose debug information is compressed (the
 * C library's, from libc6-dbg) inflates all of it first: about 50 ms and
 * 3 500 page faults at the end of every run whose reports hold a frame in
 * it, which is nearly every run (__libc_start_call_main is at the bottom
 * of every stack).  The names depend only on the object's build id and
 * the address, so the launcher keeps the ones it found, one file per build
 * id, and a later run reads them back without opening libdw.
 *
 *   $XDG_CACHE_HOME/rcshim/symbols/BUILDID.v1  (else ~/.cache/rcshim/...)
 *   one line per frame: ADDR \t OFFSET \t LINE \t FUNCTION \t FILE \n
 *   (ADDR and OFFSET in hex; a name holding a tab, a newline or a byte
 *   below 0x20 is not kept)
 *
 * Only complete names are kept (with a file and a line): a frame named
 * from the symbol table alone is named again next time, when debug
 * information may have been installed.  A file is appended with one write
 * per line (O_APPEND: launchers running at once do not mix lines), and
 * not past CACHE_MAX bytes.  The directories are made mode 0700 and used
 * only when this user owns them and no one else can write to them, and
 * only when the home (or $XDG_CACHE_HOME) is this user's: a root launcher
 * run with another user's HOME keeps no cache.  A malformed line is
 * skipped.  The cache names frames in reports and nothing else: whatever
 * it holds, it never decides what is removed.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/session.h"
#include "report/symbol.h"

#define CACHE_MAX (4u << 20) /* bytes per build id */

struct centry {
	uintptr_t addr, offset;
	int line;
	char *function, *file;
};

struct cmod {
	char id[81];
	struct centry *e;
	size_t n, cap, sorted; /* e[0..sorted) by addr; the rest added since */
	off_t size;            /* of its file, as far as known */
};

struct cli_symcache {
	int dfd;
	struct cmod *mods;
	size_t n, cap;
};

static bool
id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n < 8 || n > 80) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

static bool
name_ok(const char *s)
{
	if (!s[0]) {
		return false;
	}
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			return false;
		}
	}
	return true;
}

/* @fd is this user's, and no one else can write to it. */
static bool
ours(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && st.st_uid == geteuid() && !(st.st_mode & 022);
}

/* The directory @name under @parent (an fd), made if missing; its fd if it
 * is this user's and no one else can write to it (@private: no one else
 * can read it either), else -1. */
static int
sub_dir(int parent, const char *name, bool private)
{
	if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST) {
		return -1;
	}
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	if (private ? rc_private_dir_check(fd) < 0 : !ours(fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* $XDG_CACHE_HOME (absolute), else $HOME/.cache: its fd if this user's. */
static int
cache_home(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int fd = -1;
	struct stat st;
	if (xdg && xdg[0] == '/') {
		/* Made if missing, as the XDG base directory rules ask. */
		(void)mkdir(xdg, 0700);
		fd = open(xdg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else if (home && home[0] == '/') {
		int h = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (h < 0) {
			return -1;
		}
		if (fstat(h, &st) < 0 || st.st_uid != geteuid()) {
			close(h);
			return -1;
		}
		fd = sub_dir(h, ".cache", false);
		close(h);
		return fd;
	}
	if (fd >= 0 && !ours(fd)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

struct cli_symcache *
cli_symcache_open(void)
{
	int home = cache_home();
	if (home < 0) {
		return NULL;
	}
	int top = sub_dir(home, "rcshim", true);
	close(home);
	if (top < 0) {
		return NULL;
	}
	int dfd = sub_dir(top, "symbols", true);
	close(top);
	if (dfd < 0) {
		return NULL;
	}
	struct cli_symcache *c = calloc(1, sizeof(*c));
	if (!c) {
		close(dfd);
		return NULL;
	}
	c->dfd = dfd;
	return c;
}

static int
by_addr(const void *a, const void *b)
{
	const struct centry *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void
add(struct cmod *m, uintptr_t addr, uintptr_t offset, int line, const char *function,
    const char *file)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct centry *e = realloc(m->e, cap * sizeof(*e));
		if (!e) {
			return;
		}
		m->e = e;
		m->cap = cap;
	}
	char *fn = strdup(function), *fl = strdup(file);
	if (!fn || !fl) {
		free(fn);
		free(fl);
		return;
	}
	m->e[m->n++] = (struct centry){ addr, offset, line, fn, fl };
}

/* One line "ADDR\tOFFSET\tLINE\tFUNCTION\tFILE" (without its newline). */
static void
parse_line(struct cmod *m, char *s)
{
	char *f[5];
	for (int i = 0; i < 5; i++) {
		f[i] = s;
		s = i < 4 ? strchr(s, '\t') : NULL;
		if (i < 4) {
			if (!s) {
				return;
			}
			*s++ = '\0';
		}
	}
	char *end;
	errno = 0;
	unsigned long long addr = strtoull(f[0], &end, 16);
	if (errno || *end || !f[0][0]) {
		return;
	}
	unsigned long long off = strtoull(f[1], &end, 16);
	if (errno || *end || !f[1][0]) {
		return;
	}
	long line = strtol(f[2], &end, 10);
	if (errno || *end || line <= 0 || line > 100000000 || !name_ok(f[3]) || !name_ok(f[4])) {
		return;
	}
	add(m, (uintptr_t)addr, (uintptr_t)off, (int)line, f[3], f[4]);
}

/* Reads BUILDID.v1 (at most CACHE_MAX bytes; a last line without its
 * newline is a write cut short, and skipped). */
static void
load(struct cli_symcache *c, struct cmod *m)
{
	char name[96];
	snprintf(name, sizeof(name), "%s.v1", m->id);
	int fd = openat(c->dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		return;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_size > (off_t)CACHE_MAX) {
		m->size = CACHE_MAX; /* not ours to read, nor to add to */
		close(fd);
		return;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r <= 0) {
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	if (!buf) {
		return;
	}
	m->size = (off_t)got;
	char *p = buf, *end = buf + got;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			break;
		}
		*nl = '\0';
		parse_line(m, p);
		p = nl + 1;
	}
	free(buf);
	if (m->n) {
		qsort(m->e, m->n, sizeof(*m->e), by_addr);
	}
	m->sorted = m->n;
}

static struct cmod *
mod(struct cli_symcache *c, const char *id)
{
	for (size_t i = 0; i < c->n; i++) {
		if (!strcmp(c->mods[i].id, id)) {
			return &c->mods[i];
		}
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct cmod *m = realloc(c->mods, cap * sizeof(*m));
		if (!m) {
			return NULL;
		}
		c->mods = m;
		c->cap = cap;
	}
	struct cmod *m = &c->mods[c->n++];
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	load(c, m);
	return m;
}

static const struct centry *
find(const struct cmod *m, uintptr_t addr)
{
	struct centry key = { .addr = addr };
	const struct centry *e =
		m->sorted ? bsearch(&key, m->e, m->sorted, sizeof(*m->e), by_addr) : NULL;
	for (size_t i = m->sorted; !e && i < m->n; i++) {
		if (m->e[i].addr == addr) {
			e = &m->e[i];
		}
	}
	return e;
}

bool
cli_symcache_get(struct cli_symcache *c, const char *build_id, uintptr_t addr,
		 struct rc_frame_info *out)
{
	if (!c || !build_id || !id_ok(build_id)) {
		return false;
	}
	struct cmod *m = mod(c, build_id);
	const struct centry *e = m ? find(m, addr) : NULL;
	if (!e) {
		return false;
	}
	snprintf(out->function, sizeof(out->function), "%s", e->function);
	snprintf(out->file, sizeof(out->file), "%s", e->file);
	out->offset = e->offset;
	out->line = e->line;
	out->deferred = false;
	return true;
}

void
cli_symcache_put(struct cli_symcache *c, const char *build_id, uintptr_t addr,
		 const struct rc_frame_info *f)
{
	if (!c || !build_id || !id_ok(build_id) || f->line <= 0 || !name_ok(f->function) ||
	    !name_ok(f->file) || strchr(f->function, '\t') || strchr(f->file, '\t')) {
		return;
	}
	struct cmod *m = mod(c, build_id);
	if (!m || find(m, addr)) {
		return;
	}
	char line[700];
	int n = snprintf(line, sizeof(line), "%lx\t%lx\t%d\t%s\t%s\n", (unsigned long)addr,
			 (unsigned long)f->offset, f->line, f->function, f->file);
	if (n <= 0 || (size_t)n >= sizeof(line) || m->size + n > (off_t)CACHE_MAX) {
		return;
	}
	add(m, addr, f->offset, f->line, f->function, f->file);
	char name[96];
	snprintf(name, sizeof(name), "%s.v1", m->id);
	int fd = openat(c->dfd, name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
				      O_CLOEXEC, 0600);
	if (fd < 0) {
		return;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    st.st_size + n <= (off_t)CACHE_MAX && write(fd, line, (size_t)n) == n) {
		m->size = st.st_size + n;
	} else {
		m->size = CACHE_MAX; /* no further writes this run */
	}
	close(fd);
}

void
cli_symcache_close(struct cli_symcache *c)
{
	if (!c) {
		return;
	}
	for (size_t i = 0; i < c->n; i++) {
		for (size_t j = 0; j < c->mods[i].n; j++) {
			free(c->mods[i].e[j].function);
			free(c->mods[i].e[j].file);
		}
		free(c->mods[i].e);
	}
	free(c->mods);
	close(c->dfd);
	free(c);
}
