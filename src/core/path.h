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
