/* The session and its journal (DESIGN §2).
 *
 * Temp artifacts outlive the process that made them (`d=$(mktemp -d)`), so
 * they belong to the session: the first process that loads the shim is its
 * root and exports RCSHIM_SESSION="<pid>.<start time>" to its descendants.
 * Every process appends each temp artifact it creates or removes to the
 * session journal — one O_APPEND write of one short line — in a private
 * 0700 directory of the user; the root replays the journal when it ends.
 * With RCSHIM_TMP_OWNER=process each process keeps a journal of its own.
 *
 * Journal line:  <op> <type> <dev> <ino> <pid> <path>\n
 *   op   '+' created, '-' released (removed or renamed away)
 *   type 'd' directory, 'f' anything else
 *   path absolute; '\\' and newline escaped as "\\\\" and "\\n"
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RC_SESSION_ENV "RCSHIM_SESSION"
#define RC_SESSION_ID_MAX 48

struct rc_session {
	char id[RC_SESSION_ID_MAX]; /* "<pid>.<start>" */
	int32_t root_pid;
	uint64_t root_start;
	bool created;      /* this process started the session */
	bool process_mode; /* RCSHIM_TMP_OWNER=process */
	char dir[256];     /* private journal directory, "" if unusable */
};

extern struct rc_session rc_session;

/* Start time of the calling process in clock ticks since boot (field 22 of
 * /proc/self/stat), 0 if unreadable.  Async-signal-safe. */
uint64_t rc_proc_start_time(void);

/* Joins the session named by @env_value (the RCSHIM_SESSION value, or
 * NULL), or starts one.  Returns true when a new id was made and must be
 * exported to descendants. */
bool rc_session_init(const char *env_value, bool process_mode);

/* True if @s is a well-formed session id. */
bool rc_session_id_valid(const char *s);

/* True if this process reclaims the session's temp artifacts when it
 * ends: it is the root (compared by pid, so a vfork child or a forked
 * child is not), or each process owns its own. */
bool rc_session_owner(void);

/* The journal this process appends to, "" if none (no usable directory).
 * Async-signal-safe. */
const char *rc_journal_path(char *buf, size_t len);

/* Appends one record.  Returns 0 or -errno.  Async-signal-safe. */
int rc_journal_append(char op, bool dir, uint64_t dev, uint64_t ino,
		      const char *path);

/* Chooses and creates (0700, owned by us, not a symlink) the journal
 * directory: $XDG_RUNTIME_DIR/rcshim, else /tmp/rcshim-<uid>.  @xdg may be
 * NULL.  Returns 0 or -errno; on failure rc_session.dir stays "". */
int rc_session_dir_init(const char *xdg);
