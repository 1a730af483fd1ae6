/* The public C API (include/rcshim.h). */
#include "build-config.h"

#include <string.h>

#include "clean/engine.h"
#include "core/state.h"
#include "preload/real.h"

RC_EXPORT rcshim_status
rcshim_clean(rcshim_priority priority, struct rcshim_result *result)
{
	rc_ensure_init();
	struct rc_clean_req req = { RC_MODE_LIVE, priority, RC_REASON_API, 0, 0 };
	return rc_clean(&req, result);
}

RC_EXPORT rcshim_status
rcshim_emergency_cleanup(struct rcshim_result *result)
{
	rc_ensure_init();
	struct rc_clean_req req = { RC_MODE_FINAL, RCSHIM_CRITICAL, RC_REASON_API, 0, 0 };
	return rc_clean(&req, result);
}

RC_EXPORT const char *
rcshim_version(void)
{
	return RCSHIM_VERSION;
}
