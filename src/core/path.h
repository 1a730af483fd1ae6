/* Absolute paths and temp roots. */
#pragma once

#include <stddef.h>

/* Writes the absolute, lexically normalised form of @path (relative to
 * @dirfd, which may be AT_FDCWD) into @out: "//", "." and ".." are folded
 * without consulting the file system.  Returns the length, or -errno
 * (-ENAMETOOLONG, or the error of reading the base directory). */
int rc_path_abs(int dirfd, const char *path, char *out, size_t outlen);

/* Folds "//", "." and ".." of an absolute path in place. */
void rc_path_normalize(char *path);

/* True if @abs equals @dir or lies inside it. */
int rc_path_within(const char *abs, const char *dir);

/* Writes @in with backslash, newline, tab and the other control characters
 * escaped ("\\", "\n", "\t", "\xNN") into @out, cut with "..." if it does
 * not fit.  Returns the length.  Async-signal-safe. */
size_t rc_path_escape(const char *in, char *out, size_t len);
