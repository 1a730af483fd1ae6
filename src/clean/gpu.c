/* GPU memory (DESIGN §1 GPU row): not tracked yet. */
#include "build-config.h"

#include "clean/step.h"

void
rc_step_gpu(const struct rc_step_ctx *ctx)
{
	(void)ctx;
}
