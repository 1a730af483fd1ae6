#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "clean/engine.h"
#include "clean/journal.h"
#include "clean/rmtree.h"
#include "core/log.h"
#include "core/sys.h"

#define MAX_JOURNAL (256u << 20)

struct entry {
	char *path;
	uint64_t dev, ino;
	char op, type;
};

static void *
map_anon(size_t len)
{
	return rc_sys_mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static const char *
parse_u64(const char *p, const char *end, uint64_t *v)
{
	const char *start = p;
	*v = 0;
	while (p < end && *p >= '0' && *p <= '9') {
		*v = *v * 10 + (uint64_t)(*p++ - '0');
	}
	if (p == start || p >= end || *p != ' ') {
		return NULL;
	}
	return p + 1;
}

/* Parses one line in place (the path is unescaped into the buffer).
 * Returns false for a malformed line, which is skipped: a torn write can
 * only come from a process killed mid-write, and must not stop the rest. */
static bool
parse_line(char *p, char *end, struct entry *e)
{
	uint64_t pid;

	if (end - p < 8 || (p[0] != '+' && p[0] != '-') || p[1] != ' ' ||
	    (p[2] != 'd' && p[2] != 'f') || p[3] != ' ') {
		return false;
	}
	e->op = p[0];
	e->type = p[2];
	const char *q = p + 4;
	if (!(q = parse_u64(q, end, &e->dev)) || !(q = parse_u64(q, end, &e->ino)) ||
	    !(q = parse_u64(q, end, &pid))) {
		return false;
	}
	if (q >= end || *q != '/') {
		return false;
	}
	char *w = (char *)q;
	e->path = w;
	for (const char *r = q; r < end; r++) {
		if (*r == '\\' && r + 1 < end) {
			r++;
			*w++ = *r == 'n' ? '\n' : *r;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return true;
}

/* Open-addressing table: (dev, ino) of released records -> the highest
 * index at which each was released. */
struct released {
	uint64_t dev, ino;
	uint32_t index_plus1;
};

static size_t
slot_of(uint64_t dev, uint64_t ino, size_t mask)
{
	uint64_t h = (ino * 0x9e3779b97f4a7c15ULL) ^ (dev + 0x632be59bd9b4e019ULL);
	return (size_t)(h ^ (h >> 31)) & mask;
}

int
rc_journal_replay(const char *path, struct rcshim_result *res, bool remove)
{
	struct stat st = { 0 };
	int fd = rc_sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
	if (fd < 0) {
		return fd;
	}
	int r = rc_sys_fstat(fd, &st);
	if (r < 0 || st.st_size <= 0 || (uint64_t)st.st_size > MAX_JOURNAL) {
		rc_sys_close(fd);
		if (r < 0) {
			return r;
		}
		if (st.st_size == 0 && remove) {
			rc_sys_unlinkat(AT_FDCWD, path, 0);
		}
		return st.st_size == 0 ? 0 : -EFBIG;
	}
	size_t size = (size_t)st.st_size;
	char *buf = map_anon(size + 1);
	if (buf == (void *)-1) {
		rc_sys_close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t n = rc_sys_read(fd, buf + got, size - got);
		if (n == -EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		got += (size_t)n;
	}
	rc_sys_close(fd);

	size_t nlines = 0;
	for (size_t i = 0; i < got; i++) {
		nlines += buf[i] == '\n';
	}
	size_t ent_len = (nlines + 1) * sizeof(struct entry);
	struct entry *ents = map_anon(ent_len);
	size_t cap = 16;
	while (cap < nlines * 2) {
		cap <<= 1;
	}
	size_t rel_len = cap * sizeof(struct released);
	struct released *rel = map_anon(rel_len);
	if (ents == (void *)-1 || rel == (void *)-1) {
		if (ents != (void *)-1) {
			rc_sys_munmap(ents, ent_len);
		}
		rc_sys_munmap(buf, size + 1);
		return -ENOMEM;
	}

	size_t n = 0;
	char *line = buf;
	for (size_t i = 0; i < got; i++) {
		if (buf[i] != '\n') {
			continue;
		}
		buf[i] = '\0';
		if (parse_line(line, buf + i, &ents[n])) {
			if (ents[n].op == '-') {
				size_t s = slot_of(ents[n].dev, ents[n].ino, cap - 1);
				while (rel[s].index_plus1 &&
				       (rel[s].dev != ents[n].dev || rel[s].ino != ents[n].ino)) {
					s = (s + 1) & (cap - 1);
				}
				rel[s].dev = ents[n].dev;
				rel[s].ino = ents[n].ino;
				rel[s].index_plus1 = (uint32_t)n + 1;
			}
			n++;
		}
		line = buf + i + 1;
	}

	/* Newest first: what was made inside a directory goes before it. */
	for (size_t i = n; i-- > 0;) {
		struct entry *e = &ents[i];
		if (e->op != '+') {
			continue;
		}
		size_t s = slot_of(e->dev, e->ino, cap - 1);
		bool released = false;
		while (rel[s].index_plus1) {
			if (rel[s].dev == e->dev && rel[s].ino == e->ino) {
				released = rel[s].index_plus1 - 1 > i;
				break;
			}
			s = (s + 1) & (cap - 1);
		}
		if (released) {
			continue;
		}
		int rc;
		if (e->type == 'd') {
			struct rc_rm_stats rs = { 0 };
			rc = rc_rmtree(e->path, e->dev, e->ino, &rs);
		} else {
			rc = rc_unlink_checked(e->path, e->dev, e->ino);
		}
		rc_result_count_temp(res, rc, e->path);
	}

	rc_sys_munmap(rel, rel_len);
	rc_sys_munmap(ents, ent_len);
	rc_sys_munmap(buf, size + 1);
	if (remove) {
		rc_sys_unlinkat(AT_FDCWD, path, 0);
	}
	return 0;
}
