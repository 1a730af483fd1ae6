/* The heap: in live mode at MEDIUM, free memory is handed back to the
 * system (malloc_trim).  Heap tracking and its report come later. */
#include "build-config.h"

#include <malloc.h>

#include "clean/step.h"

void
rc_step_heap(const struct rc_step_ctx *ctx)
{
	if (ctx->req->mode == RC_MODE_LIVE && ctx->req->prio >= RCSHIM_MEDIUM &&
	    ctx->req->prio < RCSHIM_CRITICAL) {
		malloc_trim(0);
	}
}
