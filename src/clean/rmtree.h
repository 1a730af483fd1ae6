/* Removing temp artifacts safely (DESIGN §5).
 *
 * Async-signal-safe: raw system calls only, no malloc, no stdio, no locks;
 * working memory comes from mmap.  A tree is removed only if its root still
 * has the (st_dev, st_ino) recorded at creation; the walk never follows a
 * symbolic link (links are unlinked, not followed) and never descends into
 * another file system (a mount point inside the tree is left in place and
 * counted as failed).
 */
#pragma once

#include <stdint.h>

struct rc_rm_stats {
	uint64_t removed;  /* directory entries removed, the root included */
	uint64_t failed;   /* entries that could not be removed */
	int first_error;   /* errno of the first failure, 0 if none */
};

/* Result codes (negative errno style):
 *    0        the root is gone
 *   -ENOENT   nothing at that path: already removed
 *   -ESTALE   the path names something else now (other identity, a
 *             symlink, or a non-directory where a directory was recorded):
 *             nothing was touched
 *   other <0  the root could not be removed; stats say what was
 */

/* Removes the directory tree at @path whose root had (@dev, @ino). */
int rc_rmtree(const char *path, uint64_t dev, uint64_t ino, struct rc_rm_stats *st);

/* Same, for the entry @name inside the directory open at @dirfd. */
int rc_rmtree_at(int dirfd, const char *name, uint64_t dev, uint64_t ino,
		 struct rc_rm_stats *st);

/* Removes the non-directory at @path if it still has (@dev, @ino).  No
 * component of @path is followed if it is a symlink (-ESTALE). */
int rc_unlink_checked(const char *path, uint64_t dev, uint64_t ino);

/* Removes the non-directory @name (a single component) in the directory
 * open at @dirfd if it still has (@dev, @ino). */
int rc_unlink_at(int dirfd, const char *name, uint64_t dev, uint64_t ino);
