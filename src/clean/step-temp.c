/* Temp artifacts: at the end, the session journal is replayed by its owner
 * and the records of this process that the journal does not cover are
 * removed; at scope end, the scope's records. */
#include "build-config.h"

#include <errno.h>

#include "clean/journal.h"
#include "clean/rmtree.h"
#include "clean/step.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/session.h"

void
rc_step_temp(const struct rc_step_ctx *ctx)
{
	char jpath[512];
	bool whole = ctx->req->scope == 0;
	bool replayed = false;

	if (!rc_step_final(ctx)) {
		return; /* live LOW: idle temp files (RCSHIM_TMP_IDLE), later */
	}
	/* The journal holds the whole session's artifacts (or this process's,
	 * in process mode): replayed by its owner when it ends. */
	if (whole && rc_session_owner() && rc_journal_path(jpath, sizeof(jpath))[0]) {
		int r = rc_journal_replay(jpath, ctx->res, true);
		if (r < 0 && r != -ENOENT) {
			rc_warn("could not read the session journal %s (error %d)", jpath, -r);
		}
		replayed = r == 0 || r == -ENOENT;
	}

	/* Then the records: a scope's artifacts (removed at its end, before
	 * the session's), anything a journal write failed for (which only
	 * this process knows about), and after a replay the journaled ones,
	 * which are only forgotten. */
	struct rc_step_match m = { RCSHIM_KIND_TEMP, ctx->pid, ctx->req->scope, 0,
				   whole && !replayed ? RC_REC_JOURNALED : 0 };
	struct rc_record *list;
	size_t n = rc_reg_collect(rc_step_match, &m, true, &list);
	for (size_t i = 0; i < n; i++) {
		struct rc_record *r = &list[i];
		if (whole && replayed && (r->flags & RC_REC_JOURNALED)) {
			continue;
		}
		int rc = (r->flags & RC_REC_DIR)
				 ? rc_rmtree(r->path, r->dev, r->ino, NULL)
				 : rc_unlink_checked(r->path, r->dev, r->ino);
		rc_result_count_temp(ctx->res, rc, r->path);
		if (rc == 0 && (r->flags & RC_REC_JOURNALED)) {
			rc_journal_append('-', r->flags & RC_REC_DIR, r->dev, r->ino, r->path);
		}
	}
	rc_reg_free_list(list, n);
}
