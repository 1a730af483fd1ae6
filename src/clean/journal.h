/* Replaying a session journal (format in core/session.h): every temp
 * artifact created and not released is removed, newest first, if it still
 * has the identity recorded at creation.  Async-signal-safe. */
#pragma once

#include <stdbool.h>

#include "rcshim.h"

/* Replays the journal at @path into @res (TEMP counts).  With @remove the
 * journal file itself is unlinked afterwards.  Returns 0, or -errno if the
 * journal could not be read (-ENOENT: nothing was ever journaled). */
int rc_journal_replay(const char *path, struct rcshim_result *res, bool remove);
