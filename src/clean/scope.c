/* The end of a scope (DESIGN §7): a cleanup, restricted to the scope.
 * core/scope.c keeps the scopes; this pops them, runs the engine and the
 * heap's reclaim on each, and hands what is left to the enclosing one. */
#include "build-config.h"

#include "clean/custom.h"
#include "clean/engine.h"
#include "clean/scope.h"
#include "core/log.h"
#include "core/scope.h"
#include "core/sys.h"
#include "core/track.h"
#include "report/report.h"

static void
add_result(struct rcshim_result *to, const struct rcshim_result *from)
{
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		rc_result_add(to, k, from->kind[k].cleaned, from->kind[k].failed,
			      from->kind[k].skipped, from->kind[k].bytes);
	}
}

/* Ends the innermost scope of this thread. */
static void
end_top(rcshim_priority prio, struct rcshim_result *res)
{
	struct rc_scope_popped p;
	struct rcshim_result r;

	/* Popped first: nothing acquired from here on is the scope's. */
	if (!rc_scope_pop(&p)) {
		return;
	}
	struct rc_clean_req req = { RC_MODE_FINAL, prio, RC_REASON_SCOPE, 0, p.id };
	rc_clean(&req, &r);
	rc_heap_scope_reclaim(p.id, p.parent, prio, p.flags & RCSHIM_SCOPE_FREE_HEAP, &r);
	add_result(res, &r);
	/* What the scope keeps goes to the enclosing one. */
	rc_scope_retire(&p);
}

/* @id is not open on this thread: say whose it is, if anyone's. */
static void
not_ours(uint32_t id)
{
	char name[RC_SCOPE_NAME_MAX];
	int32_t tid = 0;

	if (rc_scope_owner(id, &tid, name, sizeof(name))) {
		rc_warn("rcshim_scope_end: scope %u \"%s\" belongs to thread %d, not to "
			"thread %d: left open", id, name, tid, rc_sys_gettid());
		rc_report_note("rcshim_scope_end of scope %u \"%s\" (thread %d) on thread %d "
			       "refused", id, name, tid, rc_sys_gettid());
	} else {
		rc_warn("rcshim_scope_end: scope %u is not open (ended already?)", id);
	}
}

rcshim_status
rc_scope_end(uint32_t id, rcshim_priority prio, struct rcshim_result *res)
{
	struct rcshim_result local;

	if (!res) {
		res = &local;
	}
	rc_result_init(res);
	if (prio < RCSHIM_LOW || prio > RCSHIM_CRITICAL || id == 0) {
		res->status = RCSHIM_INVALID;
		return res->status;
	}
	if (!rc_scope_open_here(id)) {
		not_ours(id);
		res->status = RCSHIM_INVALID;
		return res->status;
	}
	if (rc_custom_running()) {
		/* The cleanup that runs this cleaner holds the engine. */
		res->status = RCSHIM_BUSY;
		return res->status;
	}
	for (uint32_t t; (t = rc_scope_top()) != id;) {
		char outer[RC_SCOPE_NAME_MAX], inner[RC_SCOPE_NAME_MAX];
		rc_scope_name(id, outer, sizeof(outer));
		rc_scope_name(t, inner, sizeof(inner));
		rc_info("scope %u \"%s\" ended with scope %u \"%s\" still open inside it: "
			"ending that first", id, outer, t, inner);
		end_top(prio, res);
	}
	end_top(prio, res);
	rc_result_finish(res);
	return res->status;
}
