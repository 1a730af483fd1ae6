#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>

#include "core/append.h"
#include "core/journal.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/roots.h"
#include "core/session.h"
#include "core/state.h"
#include "core/sys.h"

#define HEADER_LEN (sizeof(RC_JOURNAL_MAGIC) - 1 + 12 + 1)
/* One record line at most: op, type, three numbers, a path escaped. */
#define LINE_MAX_LEN (2 * 4096 + 96)
#define STALE_TRIES 256

/* What this process knows of the journal file it appended to last (no fd
 * is kept: the shim holds none of the program's numbers, and a program may
 * list or close every fd it has). */
static struct {
	struct rc_spinlock lock;
	uint64_t dev, ino; /* the file */
	uint64_t base;     /* its size after the last compaction */
} J = { RC_SPINLOCK_INIT, 0, 0, 0 };

static inline int
sys_flock(int fd, int op)
{
	return (int)rc_sys(SYS_flock, fd, op, 0, 0, 0, 0);
}


const char *
rc_journal_name(char *buf, size_t len)
{
	buf[0] = '\0';
	if (!rc_session.dir[0] || !rc_session.id[0]) {
		return buf;
	}
	if (rc_session.process_mode) {
		rc_fmt(buf, len, "%s.p%d.journal", rc_session.id, rc_sys_getpid());
	} else {
		rc_fmt(buf, len, "%s.journal", rc_session.id);
	}
	return buf;
}

const char *
rc_journal_path(char *buf, size_t len)
{
	char name[128];
	buf[0] = '\0';
	if (rc_journal_name(name, sizeof(name))[0]) {
		rc_fmt(buf, len, "%s/%s", rc_session.dir, name);
	}
	return buf;
}

size_t
rc_journal_escape(const char *path, char *out, size_t len)
{
	size_t n = 0;
	for (const char *p = path; *p; p++) {
		if (n + 3 > len) {
			return 0;
		}
		if (*p == '\\' || *p == '\n') {
			out[n++] = '\\';
			out[n++] = *p == '\n' ? 'n' : '\\';
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	return n;
}

/* ---- opening -------------------------------------------------------------------- */

/* The first line: the magic and the size after the last compaction, in
 * twelve digits. */
static void
header(char *buf, uint64_t base)
{
	size_t ml = sizeof(RC_JOURNAL_MAGIC) - 1;
	memcpy(buf, RC_JOURNAL_MAGIC, ml);
	for (int i = 11; i >= 0; i--) {
		buf[ml + (size_t)i] = (char)('0' + base % 10);
		base /= 10;
	}
	buf[ml + 12] = '\n';
	buf[ml + 13] = '\0';
}

/* The header of either version (both are the same length). */
static int
magic_version(const char *h)
{
	size_t ml = sizeof(RC_JOURNAL_MAGIC) - 1;
	if (!memcmp(h, RC_JOURNAL_MAGIC, ml)) {
		return 3;
	}
	return memcmp(h, RC_JOURNAL_MAGIC_V2, ml) ? 0 : 2;
}

static uint64_t
read_base(int fd)
{
	char h[HEADER_LEN + 1];
	long n = rc_sys_pread(fd, h, HEADER_LEN, 0);
	size_t ml = sizeof(RC_JOURNAL_MAGIC) - 1;
	if (n != (long)HEADER_LEN || !magic_version(h)) {
		return 0;
	}
	uint64_t v = 0;
	for (size_t i = ml; i < ml + 12 && h[i] >= '0' && h[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(h[i] - '0');
	}
	return v;
}

/* The S line (core/journal.h) into @buf; returns its length. */
static size_t
session_line(char *buf, size_t len)
{
	char boot[40] = "-";
	struct stat st;
	uint64_t ns = 0;

	int fd = rc_sys_openat(AT_FDCWD, "/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC, 0);
	if (fd >= 0) {
		long n = rc_sys_read(fd, boot, 36);
		rc_sys_close(fd);
		boot[n == 36 ? 36 : 1] = '\0';
		for (int i = 0; boot[i]; i++) {
			char c = boot[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-')) {
				boot[0] = '-';
				boot[1] = '\0';
			}
		}
	}
	/* The root's pid means the root in our PID namespace only if we see
	 * it there with its start time (a member in a namespace of its own
	 * sees another process, or none, under that number): else 0, and
	 * the sweep leaves the session alone. */
	bool seen = rc_session_root_is_self() ||
		    rc_session.root_start == rc_proc_start_time_of(rc_session.root_pid);
	if (seen && rc_sys_fstatat(AT_FDCWD, "/proc/self/ns/pid", &st, 0) == 0) {
		ns = (uint64_t)st.st_ino;
	}
	return rc_fmt(buf, len, "S %d %lu %lu %s\n", rc_session.root_pid,
		      (unsigned long)rc_session.root_start, (unsigned long)ns, boot);
}

/* Creates the journal with its header: under a name of its own first, then
 * linked in place, so that no other member ever appends before the header. */
static int
create_journal(int dfd, const char *name)
{
	char tmp[160], h[HEADER_LEN + 160];
	rc_fmt(tmp, sizeof(tmp), "%s.new.%d", name, rc_sys_getpid());
	rc_sys_unlinkat(dfd, tmp, 0);
	int fd = rc_sys_openat(dfd, tmp, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			       0600);
	if (fd < 0) {
		return fd;
	}
	header(h, 0);
	size_t hl = HEADER_LEN + session_line(h + HEADER_LEN, sizeof(h) - HEADER_LEN);
	if (rc_append(fd, h, hl) != (ssize_t)hl) {
		rc_sys_close(fd);
		rc_sys_unlinkat(dfd, tmp, 0);
		return -EIO;
	}
	int r = (int)rc_sys(SYS_linkat, dfd, tmp, dfd, name, 0, 0);
	rc_sys_unlinkat(dfd, tmp, 0);
	if (r == 0) {
		return fd;
	}
	rc_sys_close(fd);
	if (r == -EEXIST) {
		return rc_sys_openat(dfd, name, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0);
	}
	/* No hard links here: created in place, without a header. */
	return rc_sys_openat(dfd, name, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
}

/* Opens the journal for appending; returns the fd or -errno. */
static int
open_journal(void)
{
	char name[128];
	struct stat st;

	if (!rc_journal_name(name, sizeof(name))[0]) {
		return -ENOENT;
	}
	int dfd = rc_session_dir_open();
	if (dfd < 0) {
		return dfd;
	}
	int fd = rc_sys_openat(dfd, name, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd == -ENOENT) {
		fd = create_journal(dfd, name);
	}
	rc_sys_close(dfd);
	if (fd < 0) {
		return fd;
	}
	if (rc_sys_fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != (uid_t)rc_sys_geteuid()) {
		rc_sys_close(fd);
		return -EPERM;
	}
	return fd;
}

/* ---- appending ------------------------------------------------------------------ */

/* Formats the lines to write: the root's R line where @with_root, then the
 * record.  Returns the length, 0 if it does not fit. */
static size_t
format(char *buf, size_t len, char op, bool dir, uint64_t dev, uint64_t ino,
       const struct rc_root *root, bool with_root, const char *path)
{
	size_t n = 0;
	if (with_root && root) {
		n = rc_fmt(buf, len, "R %lu %lu ", (unsigned long)root->dev,
			   (unsigned long)root->ino);
		size_t e = rc_journal_escape(root->path, buf + n, len - n - 1);
		if (!e) {
			return 0;
		}
		n += e;
		buf[n++] = '\n';
	}
	n += rc_fmt(buf + n, len - n, "%c %c %lu %lu %d ", op, dir ? 'd' : 'f',
		    (unsigned long)dev, (unsigned long)ino, rc_sys_getpid());
	size_t e = rc_journal_escape(path, buf + n, len - n - 1);
	if (!e) {
		return 0;
	}
	n += e;
	buf[n++] = '\n';
	return n;
}

static void compact(int fd);

/* Appends @n bytes of whole lines, formatted by @fmt_lines once the file
 * is known, under a shared lock of the file that is the journal now. */
struct line {
	char op;
	bool dir;
	uint64_t dev, ino;
	const struct rc_root *root;
	const char *path;
};

static int
append(const struct line *l, bool shared)
{
	char buf[LINE_MAX_LEN * 2];
	struct stat st;
	/* Each pass that finds the file replaced means another member
	 * completed a compaction (or the owner replayed it): bounded
	 * generously, for a crowd of busy members on a loaded machine. */
	for (int tries = 0; tries < STALE_TRIES; tries++) {
		int fd = open_journal();
		if (fd < 0) {
			return fd;
		}
		if (sys_flock(fd, LOCK_SH) < 0 || rc_sys_fstat(fd, &st) < 0) {
			rc_sys_close(fd);
			return -EIO;
		}
		if (st.st_nlink == 0) {
			rc_sys_close(fd); /* replaced since we opened it */
			continue;
		}
		/* A '+' line goes with its root's line, every time: which
		 * file has which root lines cannot be known for sure (an
		 * inode number is reused once a replayed journal is gone);
		 * compaction keeps one of each. */
		size_t n = format(buf, sizeof(buf), l->op, l->dir, l->dev, l->ino, l->root,
				  l->op == '+', l->path);
		if (!n) {
			rc_sys_close(fd);
			return -ENAMETOOLONG;
		}
		ssize_t w = rc_append(fd, buf, n);
		if (w != (ssize_t)n) {
			rc_sys_close(fd);
			return w < 0 ? (int)w : -EIO;
		}
		if (shared && (J.dev != (uint64_t)st.st_dev || J.ino != (uint64_t)st.st_ino)) {
			J.dev = (uint64_t)st.st_dev;
			J.ino = (uint64_t)st.st_ino;
			J.base = read_base(fd);
		}
		sys_flock(fd, LOCK_UN);
		uint64_t size = (uint64_t)st.st_size + n;
		if (shared && size >= RC_JOURNAL_COMPACT_MIN && size >= 2 * J.base) {
			compact(fd);
		}
		rc_sys_close(fd);
		return 0;
	}
	return -ESTALE;
}

int
rc_journal_append(char op, bool dir, uint64_t dev, uint64_t ino, unsigned root,
		  const char *path)
{
	const struct rc_root *rt = root == RC_ROOT_NONE ? NULL : rc_tmp_root(root);
	struct line l = { op, dir, dev, ino, rt, path };

	if (!rc_session.dir[0] || !path) {
		return -ENOENT;
	}
	/* What this process knows of the file is shared state: not in a
	 * child that went through no fork handler (a vfork or clone child
	 * shares its parent's memory, which it must not change), nor in a
	 * signal handler that interrupted an append (bounded wait). */
	bool shared = rc_sys_getpid() == rc_pid_cached;
	for (unsigned spins = 0; shared && !rc_spin_trylock(&J.lock); spins++) {
		if (spins > 2000) {
			shared = false;
			break;
		}
		rc_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
	}
	int r = append(&l, shared);
	if (shared) {
		rc_spin_unlock(&J.lock);
	}
	return r;
}

void
rc_journal_after_fork_child(void)
{
	rc_spin_reset(&J.lock);
}

/* ---- reading -------------------------------------------------------------------- */

static void *
map_anon(size_t len)
{
	void *p = rc_sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == (void *)-1 ? NULL : p;
}

static const char *
parse_u64(const char *p, const char *end, uint64_t *v)
{
	const char *start = p;
	*v = 0;
	while (p < end && *p >= '0' && *p <= '9' && p - start < 20) {
		*v = *v * 10 + (uint64_t)(*p++ - '0');
	}
	if (p == start || p >= end || *p != ' ') {
		return NULL;
	}
	return p + 1;
}

/* Parses the line [p, end) into @l, unescaping its path into @out (room
 * for end - p + 1 bytes).  False for anything that is not a record. */
static bool
parse_line(const char *p, const char *end, struct rc_jline *l, char *out)
{
	uint64_t pid = 0;
	const char *q;

	memset(l, 0, sizeof(*l));
	l->raw = p;
	l->rawlen = (size_t)(end - p);
	if (end - p < 4 || p[1] != ' ') {
		return false;
	}
	l->op = p[0];
	if (l->op == 'S') {
		/* S <root pid> <root start> <pidns> <boot id> */
		q = p + 2;
		if (!(q = parse_u64(q, end, &pid)) || pid == 0 || pid > 0x7fffffff ||
		    !(q = parse_u64(q, end, &l->dev)) || !(q = parse_u64(q, end, &l->ino)) ||
		    q >= end || end - q > 36) {
			return false;
		}
		char *w = out;
		for (const char *r = q; r < end; r++) {
			if (!((*r >= '0' && *r <= '9') || (*r >= 'a' && *r <= 'f') || *r == '-')) {
				return false;
			}
			*w++ = *r;
		}
		*w = '\0';
		l->pid = (int32_t)pid;
		l->path = out;
		l->live = true;
		return true;
	}
	if (l->op == 'R') {
		l->type = 'd';
		q = p + 2;
		if (!(q = parse_u64(q, end, &l->dev)) || !(q = parse_u64(q, end, &l->ino))) {
			return false;
		}
	} else if (l->op == '+' || l->op == '-') {
		if ((p[2] != 'd' && p[2] != 'f') || p[3] != ' ') {
			return false;
		}
		l->type = p[2];
		q = p + 4;
		if (!(q = parse_u64(q, end, &l->dev)) || !(q = parse_u64(q, end, &l->ino)) ||
		    !(q = parse_u64(q, end, &pid))) {
			return false;
		}
		l->pid = (int32_t)pid;
	} else {
		return false;
	}
	if (q >= end || *q != '/') {
		return false;
	}
	char *w = out;
	for (const char *r = q; r < end; r++) {
		if (*r == '\0') {
			return false;
		}
		if (*r == '\\') {
			if (++r >= end || (*r != 'n' && *r != '\\')) {
				return false;
			}
			*w++ = *r == 'n' ? '\n' : '\\';
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	l->path = out;
	return true;
}

/* Open-addressing table: (dev, ino) -> the highest index of a '-' line. */
struct released {
	uint64_t dev, ino;
	size_t index_plus1;
};

static size_t
slot_of(uint64_t dev, uint64_t ino, size_t mask)
{
	uint64_t h = (ino * 0x9e3779b97f4a7c15ULL) ^ (dev + 0x632be59bd9b4e019ULL);
	return (size_t)(h ^ (h >> 31)) & mask;
}

void
rc_jview_free(struct rc_jview *v)
{
	if (v->map) {
		rc_sys_munmap(v->map, v->maplen);
	}
	memset(v, 0, sizeof(*v));
}

int
rc_jview_load(int fd, struct rc_jview *v)
{
	struct stat st;
	memset(v, 0, sizeof(*v));
	int r = rc_sys_fstat(fd, &st);
	if (r < 0) {
		return r;
	}
	if ((uint64_t)st.st_size > RC_JOURNAL_MAX) {
		return -EFBIG;
	}
	size_t size = (size_t)st.st_size;
	/* One mapping: the text, the unescaped paths, the lines, the table. */
	size_t maxlines = size / 4 + 1;
	size_t cap = 16;
	while (cap < maxlines * 2) {
		cap <<= 1;
	}
	size_t text = (size + 1 + 7) & ~(size_t)7;
	size_t len = 2 * text + maxlines * sizeof(struct rc_jline) + cap * sizeof(struct released);
	char *m = map_anon(len);
	if (!m) {
		return -ENOMEM;
	}
	v->map = m;
	v->maplen = len;
	char *buf = m, *paths = m + text;
	v->lines = (struct rc_jline *)(m + 2 * text);
	struct released *rel = (struct released *)(v->lines + maxlines);

	size_t got = 0;
	while (got < size) {
		long n = rc_sys_pread(fd, buf + got, size - got, (long)got);
		if (n == -EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		got += (size_t)n;
	}
	size_t start = 0;
	if (got >= HEADER_LEN && (v->version = magic_version(buf)) != 0) {
		start = HEADER_LEN;
	}
	char *line = buf + start;
	for (size_t i = start; i < got; i++) {
		if (buf[i] != '\n') {
			continue;
		}
		struct rc_jline *l = &v->lines[v->n];
		char *out = paths + (line - buf);
		if (v->n < maxlines && parse_line(line, buf + i, l, out)) {
			if (l->op == '-') {
				size_t s = slot_of(l->dev, l->ino, cap - 1);
				while (rel[s].index_plus1 &&
				       (rel[s].dev != l->dev || rel[s].ino != l->ino)) {
					s = (s + 1) & (cap - 1);
				}
				rel[s].dev = l->dev;
				rel[s].ino = l->ino;
				rel[s].index_plus1 = v->n + 1;
			}
			v->n++;
		} else {
			v->bad++;
		}
		line = buf + i + 1;
	}
	if (line < buf + got) {
		v->bad++; /* a last line without its newline: torn */
	}
	for (size_t i = 0; i < v->n; i++) {
		struct rc_jline *l = &v->lines[i];
		if (l->op == 'R' || l->op == 'S') {
			l->live = true;
		} else if (l->op == '+') {
			size_t s = slot_of(l->dev, l->ino, cap - 1);
			l->live = true;
			while (rel[s].index_plus1) {
				if (rel[s].dev == l->dev && rel[s].ino == l->ino) {
					l->live = rel[s].index_plus1 - 1 < i;
					break;
				}
				s = (s + 1) & (cap - 1);
			}
		}
	}
	return 0;
}

int
rc_journal_session_line(int fd, struct rc_jline *l, char *boot, size_t blen)
{
	/* Read a block at a time, without the view rc_jview_load makes (a
	 * line table sixteen times the file's size, which the sweep paid for
	 * every journal it looked at).  A session line is short: a longer
	 * line is passed over, never cut into one. */
	char buf[4096], out[4096];
	long pos = 0;
	size_t have = 0;
	bool skipping = false, first = true;
	for (;;) {
		long n = rc_sys_pread(fd, buf + have, sizeof(buf) - have, pos);
		if (n == -EINTR) {
			continue;
		}
		if (n < 0) {
			return (int)n;
		}
		pos += n;
		have += (size_t)n;
		if ((uint64_t)pos > RC_JOURNAL_MAX) {
			return -EFBIG; /* as rc_jview_load */
		}
		size_t at = 0;
		if (first) {
			first = false;
			if (have >= HEADER_LEN && magic_version(buf)) {
				at = HEADER_LEN;
			}
		}
		for (size_t i = at; i < have; i++) {
			if (buf[i] != '\n') {
				continue;
			}
			if (!skipping && parse_line(buf + at, buf + i, l, out) && l->op == 'S') {
				rc_fmt(boot, blen, "%s", l->path);
				l->path = boot;
				l->raw = NULL;
				l->rawlen = 0;
				return 0;
			}
			skipping = false;
			at = i + 1;
		}
		if (n == 0) {
			return -ENOENT; /* the end (a last line without its newline is torn) */
		}
		/* The unfinished line moves to the front; one that fills the
		 * block is no session line: the rest of it is passed over. */
		if (at == 0 && have == sizeof(buf)) {
			skipping = true;
			have = 0;
		} else {
			memmove(buf, buf + at, have - at);
			have -= at;
		}
	}
}

/* ---- compaction ----------------------------------------------------------------- */

static bool
same_raw(const struct rc_jline *a, const struct rc_jline *b)
{
	return a->rawlen == b->rawlen && !memcmp(a->raw, b->raw, a->rawlen);
}

/* Called with J.lock held; @fd is the journal, unlocked. */
static void
compact(int fd)
{
	char name[128], tmp[160], h[HEADER_LEN + 1];
	struct stat st;
	struct rc_jview v;

	if (sys_flock(fd, LOCK_EX) < 0) {
		return;
	}
	if (rc_sys_fstat(fd, &st) < 0 || st.st_nlink == 0 ||
	    (uint64_t)st.st_size < RC_JOURNAL_COMPACT_MIN ||
	    (uint64_t)st.st_size < 2 * read_base(fd) || rc_jview_load(fd, &v) < 0) {
		/* Done by another member meanwhile (the next append finds
		 * the new file), or nothing to gain. */
		sys_flock(fd, LOCK_UN);
		return;
	}
	size_t out_len = HEADER_LEN;
	char *out = map_anon((size_t)st.st_size + HEADER_LEN + 1);
	if (!out) {
		rc_jview_free(&v);
		sys_flock(fd, LOCK_UN);
		return;
	}
	/* The session line and the roots first (each once), then the live
	 * records in their order. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < v.n; i++) {
			const struct rc_jline *l = &v.lines[i];
			bool head = l->op == 'R' || l->op == 'S';
			if (!l->live || (pass == 0) != head) {
				continue;
			}
			bool dup = false;
			for (size_t j = 0; pass == 0 && j < i && !dup; j++) {
				dup = v.lines[j].op == l->op && same_raw(&v.lines[j], l);
			}
			if (dup) {
				continue;
			}
			memcpy(out + out_len, l->raw, l->rawlen);
			out_len += l->rawlen;
			out[out_len++] = '\n';
		}
	}
	rc_jview_free(&v);
	header(h, out_len);
	memcpy(out, h, HEADER_LEN);

	int dfd = rc_session_dir_open();
	int nfd = -1;
	if (dfd >= 0 && rc_journal_name(name, sizeof(name))[0]) {
		rc_fmt(tmp, sizeof(tmp), "%s.compact.%d", name, rc_sys_getpid());
		rc_sys_unlinkat(dfd, tmp, 0);
		nfd = rc_sys_openat(dfd, tmp,
				    O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (nfd >= 0) {
		ssize_t w = rc_append(nfd, out, out_len);
		struct stat nst;
		if (w == (ssize_t)out_len && rc_sys_fstat(nfd, &nst) == 0 &&
		    rc_sys(SYS_renameat, dfd, tmp, dfd, name, 0, 0) == 0) {
			J.dev = (uint64_t)nst.st_dev;
			J.ino = (uint64_t)nst.st_ino;
			J.base = out_len;
		} else {
			rc_sys_unlinkat(dfd, tmp, 0);
		}
		rc_sys_close(nfd);
	}
	if (dfd >= 0) {
		rc_sys_close(dfd);
	}
	sys_flock(fd, LOCK_UN);
	rc_sys_munmap(out, (size_t)st.st_size + HEADER_LEN + 1);
}

int
rc_journal_touch(void)
{
	int fd = open_journal();
	if (fd < 0) {
		return fd;
	}
	rc_sys_close(fd);
	return 0;
}

void
rc_journal_compact_now(void)
{
	rc_spin_lock(&J.lock);
	int fd = open_journal();
	if (fd >= 0) {
		compact(fd);
		rc_sys_close(fd);
	}
	rc_spin_unlock(&J.lock);
}
