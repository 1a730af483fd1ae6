/* Temp roots (DESIGN §1 "Temp roots", §2).
 *
 * A temp artifact is a directory or file that the session created
 * *directly* inside an accepted temp root: nothing deeper, nothing that
 * existed before.  A candidate root ($TMPDIR, /tmp, /var/tmp, /dev/shm, or
 * RCSHIM_TMP_ROOTS) is accepted only if it is a directory that is not "/",
 * not the user's home or one of its ancestors, owned by the user or by
 * root, sticky if group or others can write to it, and reached through no
 * symbolic link that another user (root excepted) owns.  An accepted root
 * keeps its canonical path and its (st_dev, st_ino); every removal starts
 * from an fd of the root checked against that identity and names the
 * artifact by its single name.
 *
 * Candidates are checked lazily, at the first question about them: most
 * processes never create a temp artifact, and the check costs some system
 * calls per root.  Raw system calls only, no allocation.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define RC_ROOTS_MAX 16
/* A record's root index when it has none (registered through the API). */
#define RC_ROOT_NONE 0xffffu

struct rc_root {
	const char *path;  /* canonical: no symlink, no "." or ".." */
	const char *alias; /* the name it was given, normalised (may equal path) */
	uint64_t dev, ino;
};

/* Sets the candidate roots (absolute paths; copied).  @home is the user's
 * home directory ($HOME, or NULL: then the password file's entry).  With
 * @warn, each candidate that is dropped gets one warning line when the
 * candidates are checked.  Replaces any earlier list. */
void rc_tmp_roots_set(const char *const *list, size_t n, const char *home, bool warn);

/* The accepted root @idx (checking the candidates first if needed, or
 * waiting for the thread that is checking them), or NULL if that candidate
 * was dropped or does not exist. */
const struct rc_root *rc_tmp_root(unsigned idx);

/* The fork child: a check of the candidates that another thread of the
 * parent was making is started again at the next question. */
void rc_tmp_roots_after_fork_child(void);

/* If the parent directory of the absolute, normalised path @abs is an
 * accepted root (by its canonical name or the name it was given), writes
 * "<canonical root>/<name>" to @key and returns the root's index; else -1.
 * The name must be a single component other than "." and "..". */
int rc_tmp_key(const char *abs, char *key, size_t keylen);

/* Checks @path as a temp root for the calling user (effective uid), with
 * @home the home directory (NULL: looked up).  On success writes the
 * canonical path to @canon, the directory's identity to @st, and returns 0;
 * else returns -errno and points @why at a reason for the warning. */
int rc_root_check(const char *path, const char *home, char *canon, size_t canonlen,
		  struct stat *st, const char **why);

/* Opens the directory at @canon (O_DIRECTORY, close-on-exec) and checks it
 * still has (@dev, @ino).  Returns the fd, -ESTALE when it is something
 * else now, or -errno. */
int rc_root_open(const char *canon, uint64_t dev, uint64_t ino);

/* Resolves @path without trusting any symlink: every component is opened
 * with O_NOFOLLOW, and a symlink met on the way is read and followed by
 * hand, and accepted only if it is owned by root or by @uid (any owner
 * with @uid < 0).  Writes the canonical path and returns an O_PATH fd of
 * the final directory, or -errno (-EPERM for a link of another user). */
int rc_chase_dir(const char *path, long uid, char *canon, size_t canonlen);

/* The home directory given to rc_tmp_roots_set (NULL: the password file's). */
const char *rc_tmp_home(void);
