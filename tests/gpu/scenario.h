/* What the GPU test programs do, independent of how they reach the driver:
 * gpu-direct links libcuda.so.1, gpu-runtime finds every function the way
 * the CUDA runtime does (dlopen, dlsym, cuGetProcAddress). */
#pragma once

#include "cu.h"

struct drv {
	CUresult (*Init)(unsigned);
	CUresult (*DeviceGet)(CUdevice *, int);
	CUresult (*PrimaryCtxRetain)(CUcontext *, CUdevice);
	CUresult (*PrimaryCtxRelease)(CUdevice);
	CUresult (*PrimaryCtxReset)(CUdevice);
	CUresult (*CtxCreate)(CUcontext *, unsigned, CUdevice);
	CUresult (*CtxDestroy)(CUcontext);
	CUresult (*CtxSetCurrent)(CUcontext);
	CUresult (*CtxSynchronize)(void);
	CUresult (*StreamCreate)(CUstream *, unsigned);
	CUresult (*StreamSynchronize)(CUstream);
	CUresult (*MemAlloc)(CUdeviceptr *, size_t);
	CUresult (*MemAllocPitch)(CUdeviceptr *, size_t *, size_t, size_t, unsigned);
	CUresult (*MemAllocManaged)(CUdeviceptr *, size_t, unsigned);
	CUresult (*MemAllocAsync)(CUdeviceptr *, size_t, CUstream);
	CUresult (*MemAllocAsyncPtsz)(CUdeviceptr *, size_t, CUstream);
	CUresult (*MemAllocFromPoolAsync)(CUdeviceptr *, size_t, CUmemoryPool, CUstream);
	CUresult (*MemAllocHost)(void **, size_t);
	CUresult (*MemHostAlloc)(void **, size_t, unsigned);
	CUresult (*MemCreate)(CUmemGenericAllocationHandle *, size_t, const CUmemAllocationProp *,
			      unsigned long long);
	CUresult (*MemRelease)(CUmemGenericAllocationHandle);
	CUresult (*MemFree)(CUdeviceptr);
	CUresult (*MemFreeAsync)(CUdeviceptr, CUstream);
	CUresult (*MemFreeAsyncPtsz)(CUdeviceptr, CUstream);
	CUresult (*MemFreeHost)(void *);
	CUresult (*MemGetInfo)(size_t *, size_t *);
	CUresult (*DeviceGetDefaultMemPool)(CUmemoryPool *, CUdevice);
	CUresult (*MemPoolCreate)(CUmemoryPool *, const CUmemPoolProps *);
	CUresult (*MemPoolDestroy)(CUmemoryPool);
	CUresult (*MemPoolGetAttribute)(CUmemoryPool, int, void *);

	/* The fake driver's test hooks. */
	unsigned long long (*live_bytes)(void);
	unsigned long long (*live_count)(void);
	unsigned long long (*pool_reserved)(void);
	unsigned long long (*hazards)(void);
	CUresult (*launch)(CUstream, CUdeviceptr);
	CUdeviceptr (*alloc_unseen)(size_t);
	void (*exit_marker)(void);
};

/* Runs the scenario named by argv[1]; returns the exit status. */
int scenario_main(const struct drv *d, int argc, char **argv);

/* Prints "<what> failed: CUDA error N" and exits 1 when @rc is not 0. */
void check(CUresult rc, const char *what);
