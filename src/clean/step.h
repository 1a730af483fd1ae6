/* The cleanup steps, one file per kind.  The engine runs them in
 * dependency order; each decides from the request's mode and priority what
 * it does (DESIGN §3), and counts every outcome into ctx->res.
 *
 * Order, final mode: custom cleaners (they may still use any resource),
 * SQLite connections and fds (they may live inside a temp tree), GPU
 * memory, temp artifacts, then the heap (report, and trim in live mode).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "clean/engine.h"
#include "core/registry.h"

struct rc_step_ctx {
	const struct rc_clean_req *req;
	int32_t pid; /* this process: only what it owns is touched */
	struct rcshim_result *res;
};

/* Each step has one entry per mode: final (exit, termination signal,
 * scope end, emergency) and live (the program goes on).  Live CRITICAL is
 * run by the engine as the final steps. */
void rc_step_custom(const struct rc_step_ctx *ctx);
void rc_step_sqlite(const struct rc_step_ctx *ctx);
void rc_step_fd(const struct rc_step_ctx *ctx);
void rc_step_gpu(const struct rc_step_ctx *ctx);
void rc_step_temp(const struct rc_step_ctx *ctx);
void rc_step_heap(const struct rc_step_ctx *ctx);

/* Closes the fds @pid owns (of @scope, or all), other than 0, 1, 2; with
 * @verified_only only those whose identity still matches.  Async-signal-
 * safe. */
void rc_close_owned_fds(int32_t pid, uint32_t scope, bool verified_only,
			struct rcshim_result *res);

/* Removes the temp artifact of record @r (from its root's fd by its single
 * name, or, registered through the API, by its path without following a
 * symlink), if it still has the recorded identity.  rc_rmtree's codes.
 * Async-signal-safe. */
int rc_temp_remove(const struct rc_record *r);

/* Whether the step's kind is tracked at all. */
bool rc_step_tracked(int kind);

/* Selects records of one kind owned by ctx->pid (and of ctx->req->scope
 * when it is not 0), for rc_reg_collect. */
struct rc_step_match {
	int kind;
	int32_t pid;
	uint32_t scope;
	uint8_t need_flags; /* all of these set */
	uint8_t deny_flags; /* none of these set */
};
bool rc_step_match(const struct rc_record *r, void *match);

/* True when the request reclaims as at the end (final mode, or live
 * CRITICAL). */
static inline bool
rc_step_final(const struct rc_step_ctx *ctx)
{
	return ctx->req->mode != RC_MODE_LIVE || ctx->req->prio == RCSHIM_CRITICAL;
}
