/* Preloaded after the shim (so initialised before it): allocates GPU
 * memory from its constructor, before the shim's constructor ran, and
 * leaks it. */
#include <stdio.h>
#include <stdlib.h>

#include "cu.h"

__attribute__((constructor)) static void
early(void)
{
	CUdevice dev;
	CUcontext ctx;
	CUdeviceptr p;
	/* The shim's start-up exports the session id. */
	int before = getenv("RCSHIM_SESSION") == NULL;
	if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
	    cuCtxSetCurrent(ctx) || cuMemAlloc_v2(&p, 777)) {
		fprintf(stderr, "early: CUDA failed\n");
		return;
	}
	fprintf(stderr, "early: allocated 777 bytes %s the shim's constructor\n",
		before ? "before" : "after");
}
