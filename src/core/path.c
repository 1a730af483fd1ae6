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
