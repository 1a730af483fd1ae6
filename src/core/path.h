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

/* Sets the temp roots (absolute paths); each one's canonical form
 * (symlinks resolved) is matched too.  Copies the strings. */
void rc_tmp_roots_set(const char *const *roots, size_t n);

/* True if the absolute normalised @abs lies strictly inside a temp root. */
int rc_tmp_root_of(const char *abs);

/* True if @abs equals @dir or lies inside it. */
int rc_path_within(const char *abs, const char *dir);
