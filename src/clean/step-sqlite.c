/* SQLite connections: closed cleanly at MEDIUM in final mode (statements
 * finalized, WAL checkpointed by the close); in live mode at MEDIUM, cache
 * memory released and a passive checkpoint, on connections whose mutex is
 * free. */
#include "build-config.h"

#include "clean/custom.h"
#include "clean/sqlite.h"
#include "clean/step.h"
#include "core/log.h"
#include "report/report.h"

static void
close_all(const struct rc_step_ctx *ctx)
{
	struct rc_step_match m = { RCSHIM_KIND_SQLITE, ctx->pid, ctx->req->scope, 0, 0 };
	struct rc_record *list;
	size_t n = rc_reg_collect(rc_step_match, &m, true, &list);

	for (size_t i = 0; i < n; i++) {
		int r = rc_sqlite_close_db((rc_sqlite_db *)(uintptr_t)list[i].handle);
		if (r == 0) {
			rc_result_add(ctx->res, RCSHIM_KIND_SQLITE, 1, 0, 0, 0);
			rc_reclaimed_add(RCSHIM_KIND_SQLITE, "%s", list[i].path ? list[i].path : "(memory)");
			continue;
		}
		rc_result_add(ctx->res, RCSHIM_KIND_SQLITE, 0, 1, 0, 0);
		rc_info("could not close SQLite connection to %s (error %d)",
			list[i].path ? list[i].path : "?", -r);
		/* Still open: keep tracking it. */
		rc_reg_put_back(&list[i]);
	}
	rc_reg_free_list(list, n);
}

static void
live_reclaim(const struct rc_step_ctx *ctx)
{
	struct rc_step_match m = { RCSHIM_KIND_SQLITE, ctx->pid, 0, 0, 0 };
	struct rc_record *list;
	size_t n = rc_reg_collect(rc_step_match, &m, false, &list);

	for (size_t i = 0; i < n; i++) {
		int frames = 0;
		long r = rc_sqlite_live_reclaim((rc_sqlite_db *)(uintptr_t)list[i].handle,
						&frames);
		if (r >= 0) {
			rc_result_add(ctx->res, RCSHIM_KIND_SQLITE, 1, 0, 0, (uint64_t)r);
			rc_report_note("sqlite %s: released %ld bytes of cache, checkpointed %d WAL frames",
				       list[i].path ? list[i].path : "?", r, frames);
			rc_debug("sqlite %s: released %ld bytes, checkpointed %d frames",
				 list[i].path ? list[i].path : "?", r, frames);
		} else {
			rc_result_add(ctx->res, RCSHIM_KIND_SQLITE, 0, 0, 1, 0);
		}
	}
	rc_reg_free_list(list, n);
}

void
rc_step_sqlite(const struct rc_step_ctx *ctx)
{
	if (ctx->req->prio < RCSHIM_MEDIUM || !rc_step_tracked(RCSHIM_KIND_SQLITE)) {
		return;
	}
	if (rc_step_final(ctx) && rc_runtime_leaves(ctx->req, RCSHIM_KIND_SQLITE)) {
		/* Python's sqlite3.Connection owns it: the binding commits or
		 * rolls back and closes it through Python; closing it here
		 * would leave the object over a freed handle. */
		struct rc_step_match m = { RCSHIM_KIND_SQLITE, ctx->pid, ctx->req->scope, 0, 0 };
		struct rc_record *list;
		size_t n = rc_reg_collect(rc_step_match, &m, false, &list);
		rc_result_add(ctx->res, RCSHIM_KIND_SQLITE, 0, 0, n, 0);
		rc_reg_free_list(list, n);
	} else if (rc_step_final(ctx)) {
		close_all(ctx);
	} else {
		live_reclaim(ctx);
	}
}
