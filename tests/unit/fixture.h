/* The scratch fixture of the unit tests that touch the file system (engine,
 * journal, track): a fresh mkdtemp tree per test, the shim's state or just
 * its session pointed into it, and small file helpers.
 *
 * Every test calls a setup first and the matching teardown last.  Under
 * CK_FORK=no (valgrind) a failed assertion jumps past the teardown: the
 * next setup removes what it left.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct scratch {
	char dir[PATH_MAX];   /* canonical mkdtemp directory */
	char root[PATH_MAX];  /* the temp root: where "temp" artifacts are made */
	char xdg[PATH_MAX];   /* XDG_RUNTIME_DIR */
	char out[PATH_MAX];   /* outside the root: must never be touched */
	char jpath[512];      /* the session journal */
};

/* The current test's scratch tree (all empty strings before a setup). */
extern struct scratch S;

/* A new scratch tree and a new session journaling to <S.xdg>/rcshim; the
 * rest of the shim's state is left as it is.  Logging is quiet until
 * scratch_teardown. */
void scratch_setup(void);
void scratch_teardown(void);

/* A new scratch tree and the shim's state initialised as the constructor
 * would, for a process whose environment is @extra (may be NULL) plus
 * XDG_RUNTIME_DIR=<S.xdg>, RCSHIM_TMP_ROOTS=<S.root> and RCSHIM_LOG=quiet. */
void state_setup(const char *extra);
/* As @extra of state_setup: a member of a session rooted elsewhere
 * (journaling into <S.xdg>/rcshim). */
#define FIXTURE_MEMBER "member"
/* Also forgets every record and fd and clears the thread's guard and scope. */
void state_teardown(void);

/* <dir>/<name> into @buf; fails the test if it does not fit. */
void path_in(char *buf, size_t n, const char *dir, const char *name);
/* Whether anything, a dangling symlink included, is at @path. */
bool exists(const char *path);
/* The size of what @path resolves to; -1 if it cannot be stat'ed. */
off_t file_size(const char *path);
/* @path (mode 0600) holds exactly @content: created or truncated. */
void write_file(const char *path, const char *content);
/* @content added at the end of @path (created if missing). */
void append_raw(const char *path, const char *content);
/* The whole file as a string into @buf; its length, or -1 (and "") if it
 * cannot be read. */
ssize_t read_file(const char *path, char *buf, size_t n);
/* mkdir @path 0700, or fail the test. */
void make_dir(const char *path);

/* A small tree: d/, d/f1, d/sub/, d/sub/f2, d/link -> <S.out>/keep (made,
 * holding "precious", if missing) and d/linkdir -> <S.out>. */
void make_tree(const char *d);
/* <S.out>/keep still holds "precious". */
void assert_outside_intact(void);
