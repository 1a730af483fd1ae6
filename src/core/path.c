#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/path.h"
#include "core/sys.h"

#define MAX_ROOTS (2 * RC_MAX_TMP_ROOTS)

/* The roots, packed one after the other (NUL-terminated) in one pool: a
 * few short paths take some bytes of a page start-up touches anyway, where
 * a PATH_MAX slot per root took a page each, every one touched.  Roots
 * beyond the inline pool move to a pool with PATH_MAX per root, as much as
 * before, taken from the shim's arena then and kept. */
#define INLINE_POOL 1024
#define FULL_POOL (MAX_ROOTS * PATH_MAX)

static struct {
	struct rc_spinlock lock;
	size_t n, used, cap;
	char *pool; /* inline_pool or big */
	char *big;
	uint32_t off[MAX_ROOTS];
	uint32_t len[MAX_ROOTS];
	char inline_pool[INLINE_POOL];
} roots;

void
rc_path_normalize(char *path)
{
	const char *end = path + strlen(path);
	const char *r = path;
	char *w = path; /* the result so far, without a trailing '/' */

	if (*r != '/') {
		return;
	}
	/* The writer never passes the reader, and segments are written with
	 * their leading '/', so the terminator is only written at the end. */
	while (r < end) {
		while (r < end && *r == '/') {
			r++;
		}
		const char *seg = r;
		while (r < end && *r != '/') {
			r++;
		}
		size_t len = (size_t)(r - seg);
		if (len == 0 || (len == 1 && seg[0] == '.')) {
			continue;
		}
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			while (w > path && *--w != '/') {
			}
			continue;
		}
		*w++ = '/';
		memmove(w, seg, len);
		w += len;
	}
	if (w == path) {
		*w++ = '/';
	}
	*w = '\0';
}

int
rc_path_abs(int dirfd, const char *path, char *out, size_t outlen)
{
	size_t plen = strlen(path);
	size_t blen = 0;

	if (outlen < 2) {
		return -ENAMETOOLONG;
	}
	if (path[0] != '/') {
		int r;
		if (dirfd == AT_FDCWD) {
			r = rc_sys_getcwd(out, outlen);
			if (r < 0) {
				return r;
			}
			blen = strlen(out);
		} else {
			char link[32];
			rc_fmt(link, sizeof(link), "/proc/self/fd/%d", dirfd);
			long n = rc_sys_readlinkat(AT_FDCWD, link, out, outlen - 1);
			if (n < 0) {
				return (int)n;
			}
			out[n] = '\0';
			blen = (size_t)n;
			if (out[0] != '/') {
				return -ENOTDIR; /* a socket or pipe, not a directory */
			}
		}
		if (blen + 1 + plen + 1 > outlen) {
			return -ENAMETOOLONG;
		}
		out[blen++] = '/';
	} else if (plen + 1 > outlen) {
		return -ENAMETOOLONG;
	}
	memcpy(out + blen, path, plen + 1);
	rc_path_normalize(out);
	return (int)strlen(out);
}

int
rc_path_within(const char *abs, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1 && dir[0] == '/') {
		return 1;
	}
	return strncmp(abs, dir, n) == 0 && (abs[n] == '/' || abs[n] == '\0');
}

/* Room for @need more bytes in the pool. */
static bool
room_for(size_t need)
{
	if (need <= roots.cap - roots.used) {
		return true;
	}
	if (roots.pool == roots.big) {
		return false;
	}
	if (!roots.big && !(roots.big = rc_alloc(FULL_POOL))) {
		rc_debug("out of memory for the temp roots");
		return false;
	}
	memcpy(roots.big, roots.pool, roots.used);
	roots.pool = roots.big;
	roots.cap = FULL_POOL;
	return need <= roots.cap - roots.used;
}

static void
add_root(const char *r)
{
	size_t len = strlen(r);
	if (roots.n >= MAX_ROOTS || len == 0 || len >= PATH_MAX) {
		return;
	}
	for (size_t i = 0; i < roots.n; i++) {
		if (strcmp(roots.pool + roots.off[i], r) == 0) {
			return;
		}
	}
	if (!room_for(len + 1)) {
		return;
	}
	char *dst = roots.pool + roots.used;
	memcpy(dst, r, len + 1);
	rc_path_normalize(dst);
	len = strlen(dst);
	roots.off[roots.n] = (uint32_t)roots.used;
	roots.len[roots.n] = (uint32_t)len;
	roots.used += len + 1;
	roots.n++;
}

void
rc_tmp_roots_set(const char *const *list, size_t n)
{
	char canon[PATH_MAX];

	rc_spin_lock(&roots.lock);
	roots.n = 0;
	roots.used = 0;
	if (!roots.pool) {
		roots.pool = roots.inline_pool;
		roots.cap = sizeof(roots.inline_pool);
	}
	for (size_t i = 0; i < n; i++) {
		add_root(list[i]);
	}
	for (size_t i = 0; i < n; i++) {
		/* realpath with a caller buffer does not allocate the result. */
		if (realpath(list[i], canon)) {
			add_root(canon);
		}
	}
	rc_spin_unlock(&roots.lock);
}

int
rc_tmp_root_of(const char *abs)
{
	for (size_t i = 0; i < roots.n; i++) {
		size_t n = roots.len[i];
		if (strncmp(abs, roots.pool + roots.off[i], n) == 0 && abs[n] == '/' && abs[n + 1]) {
			return 1;
		}
	}
	return 0;
}
