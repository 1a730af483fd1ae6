/* The session (DESIGN §2).
 *
 * Temp artifacts outlive the process that made them (`d=$(mktemp -d)`), so
 * they belong to the session: the first process that loads the shim (or
 * the launcher) is its root and exports
 *
 *     RCSHIM_SESSION=<id>.<root pid>.<root start time>:<journal directory>
 *
 * to its descendants.  <id> is 32 hex digits of random bits: unguessable,
 * and unique across PID namespaces and containers sharing /tmp.  The root
 * pid and start time (clock ticks since boot) let a root that exec'd
 * itself recognise its own session.  The journal directory is private to
 * the user ($XDG_RUNTIME_DIR/rcshim, else /tmp/rcshim-UID; if that is taken
 * or unsafe, a fresh /tmp/rcshim-UID.<id>): it is named in the variable so
 * that every member uses the one the root chose, and checked (owner, mode,
 * not a symlink) each time a member opens it.  Empty: no journal.
 *
 * The journal itself: core/journal.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RC_SESSION_ENV "RCSHIM_SESSION"
#define RC_SESSION_ID_LEN 32
#define RC_SESSION_DIR_MAX 256
/* The longest value of the variable. */
#define RC_SESSION_VALUE_MAX (RC_SESSION_ID_LEN + 48 + RC_SESSION_DIR_MAX)

struct rc_session {
	char id[RC_SESSION_ID_LEN + 1];
	int32_t root_pid;
	uint64_t root_start;
	bool created;      /* this process started the session */
	bool process_mode; /* RCSHIM_TMP_OWNER=process */
	bool squatted;     /* the usual directory was unsafe: a fresh one is used */
	char dir[RC_SESSION_DIR_MAX]; /* private journal directory, "" if none */
	/* "RCSHIM_SESSION=<value>", for the environment of descendants. */
	char var[sizeof(RC_SESSION_ENV) + RC_SESSION_VALUE_MAX];
};

extern struct rc_session rc_session;

/* Start time of the calling process in clock ticks since boot (field 22 of
 * /proc/self/stat), 0 if unreadable.  Async-signal-safe. */
uint64_t rc_proc_start_time(void);
/* The same for the process @pid as this process's /proc shows it (0 for
 * itself), 0 if there is none.  Async-signal-safe. */
uint64_t rc_proc_start_time_of(int32_t pid);

/* Parses a value of RCSHIM_SESSION into @out (id, root, dir; the other
 * fields untouched).  False if it is not one. */
bool rc_session_parse(const char *value, struct rc_session *out);

/* True if @s is a well-formed value of RCSHIM_SESSION. */
bool rc_session_id_valid(const char *s);

/* Joins the session named by @env_value (the RCSHIM_SESSION value, or
 * NULL), or starts one: a random id, this process as its root, and a
 * journal directory chosen from @xdg ($XDG_RUNTIME_DIR, may be NULL).
 * Fills rc_session.var.  Returns true when a new session was started (the
 * caller exports rc_session.var to descendants). */
bool rc_session_init(const char *env_value, bool process_mode, const char *xdg);

/* True if this process reclaims the session's temp artifacts when it
 * ends: with RCSHIM_TMP_OWNER=process every process, else only the root
 * (rc_session_root_is_self: a fork, vfork or clone child, or a process
 * that reuses a dead root's pid, is not).  Async-signal-safe. */
bool rc_session_owner(void);
/* True in the session's root process: its pid, and either this process
 * image made the session or its start time is the root's.  No system call
 * but getpid where this image made it.  Async-signal-safe. */
bool rc_session_root_is_self(void);

/* Opens the session's journal directory (O_DIRECTORY, close-on-exec) after
 * checking it is a directory owned by the effective user, not a symlink,
 * that no one else can read or write.  Returns the fd or -errno.
 * Async-signal-safe. */
int rc_session_dir_open(void);

/* The usual private directory of the user: $XDG_RUNTIME_DIR/rcshim (@xdg
 * may be NULL), else /tmp/rcshim-UID, made if missing.  0 with the path in
 * @out, -EPERM when it is taken or unsafe, or -errno. */
int rc_session_usual_dir(const char *xdg, char out[RC_SESSION_DIR_MAX]);

/* The same check for any directory: 0 or -errno. */
int rc_private_dir_check(int dirfd);

/* 16 random bytes as 32 hex digits (+ NUL) into @out.  Async-signal-safe. */
void rc_random_hex(char out[RC_SESSION_ID_LEN + 1]);
