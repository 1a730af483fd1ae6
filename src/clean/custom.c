/* Custom cleaners and registered resources (DESIGN §7): not yet. */
#include "build-config.h"

#include "clean/step.h"

void
rc_step_custom(const struct rc_step_ctx *ctx)
{
	(void)ctx;
}
