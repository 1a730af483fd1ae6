/* The process-wide flags of transparency (core/state.h): the shim off in
 * a fork child, the fork handlers' owner, work waiting for a safe point,
 * and the vfork mark's end.  Kept apart from state.c, which is the
 * session's and the configuration's. */
#include "build-config.h"

#include "core/state.h"

atomic_bool rc_off RC_HOT;
bool rc_fork_managed RC_HOT;
atomic_uint rc_due RC_HOT;
static rc_safe_point_fn safe_point_fn RC_HOT;
static RC_TLS bool in_safe_point;

void
rc_safe_point_set(rc_safe_point_fn fn)
{
	safe_point_fn = fn;
}

void
rc_safe_point(enum rc_safe_point_kind at)
{
	if (!safe_point_fn || in_safe_point || rc_self.locks) {
		return;
	}
	in_safe_point = true;
	safe_point_fn(at);
	in_safe_point = false;
}

bool
rc_vfork_over(void)
{
	if (!rc_self.vfork || !rc_own_process()) {
		return false;
	}
	/* The guard the vfork wrapper raised for the child's sake. */
	rc_guard = (uint16_t)(rc_guard - rc_self.vfork);
	rc_self.vfork = 0;
	return true;
}
