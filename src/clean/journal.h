/* Replaying a session journal (format in core/journal.h).
 *
 * A journal line is a claim, not an order (DESIGN §2).  Every temp artifact
 * created and not released is removed, newest first, only if
 *   - its parent is one of the journal's roots (R lines), each of which
 *     passes the temp-root checks again here (core/roots.h) and still has
 *     the identity recorded for it;
 *   - its name is a single component (no '/', not "." or "..");
 *   - the object there, opened from the root's fd by that name without
 *     following a symlink, still has the recorded (st_dev, st_ino).
 * Anything else is refused, counted as skipped, and reported.
 * Async-signal-safe (raw system calls, memory from mmap).
 */
#pragma once

#include <stdbool.h>

#include "rcshim.h"

enum rc_replay_what {
	RC_REPLAY_REMOVED = 0, /* removed */
	RC_REPLAY_GONE,        /* nothing there any more */
	RC_REPLAY_CHANGED,     /* the name now names something else: left alone */
	RC_REPLAY_FAILED,      /* could not be removed (err) */
	RC_REPLAY_REFUSED,     /* the line was refused (why) */
};

/* Told about each line's outcome (@path may hold any bytes; @why for
 * RC_REPLAY_REFUSED).  NULL: counted into the result and logged. */
typedef void (*rc_replay_note)(void *ctx, enum rc_replay_what what, int err, const char *path,
			       const char *why);

/* Replays the journal @name in the directory open at @dirfd into @res
 * (TEMP counts), telling @note (may be NULL) about each outcome.  With
 * @remove the journal is unlinked afterwards.  Returns 0, or -errno if it
 * could not be read (-ENOENT: nothing was ever journaled). */
int rc_journal_replay(int dirfd, const char *name, struct rcshim_result *res, bool remove,
		      rc_replay_note note, void *ctx);

/* The same with @dry: nothing is removed (the journal neither); each line
 * is checked as for removal and told as RC_REPLAY_REMOVED when its object
 * would be removed (`rcshim sweep --dry-run`). */
int rc_journal_replay_ex(int dirfd, const char *name, struct rcshim_result *res, bool remove,
			 bool dry, rc_replay_note note, void *ctx);

/* The same for this process's own journal (the session's, or its own in
 * process mode). */
int rc_journal_replay_own(struct rcshim_result *res, bool remove);
