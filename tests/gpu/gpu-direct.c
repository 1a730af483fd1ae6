/* A program linked with libcuda.so.1 that calls the driver by name, as a
 * program built against cuda.h does (its macros pick the _v2 names).
 * Usage: gpu-direct SCENARIO [ARG] (tests/gpu/scenario.c). */
#include "scenario.h"

int
main(int argc, char **argv)
{
	const struct drv d = {
		.Init = cuInit,
		.DeviceGet = cuDeviceGet,
		.PrimaryCtxRetain = cuDevicePrimaryCtxRetain,
		.PrimaryCtxRelease = cuDevicePrimaryCtxRelease_v2,
		.PrimaryCtxReset = cuDevicePrimaryCtxReset_v2,
		.CtxCreate = cuCtxCreate_v2,
		.CtxDestroy = cuCtxDestroy_v2,
		.CtxSetCurrent = cuCtxSetCurrent,
		.CtxSynchronize = cuCtxSynchronize,
		.StreamCreate = cuStreamCreate,
		.StreamSynchronize = cuStreamSynchronize,
		.MemAlloc = cuMemAlloc_v2,
		.MemAllocPitch = cuMemAllocPitch_v2,
		.MemAllocManaged = cuMemAllocManaged,
		.MemAllocAsync = cuMemAllocAsync,
		.MemAllocAsyncPtsz = cuMemAllocAsync_ptsz,
		.MemAllocFromPoolAsync = cuMemAllocFromPoolAsync,
		.MemAllocHost = cuMemAllocHost_v2,
		.MemHostAlloc = cuMemHostAlloc,
		.MemCreate = cuMemCreate,
		.MemRelease = cuMemRelease,
		.MemFree = cuMemFree_v2,
		.MemFreeAsync = cuMemFreeAsync,
		.MemFreeAsyncPtsz = cuMemFreeAsync_ptsz,
		.MemFreeHost = cuMemFreeHost,
		.MemGetInfo = cuMemGetInfo_v2,
		.DeviceGetDefaultMemPool = cuDeviceGetDefaultMemPool,
		.MemPoolCreate = cuMemPoolCreate,
		.MemPoolDestroy = cuMemPoolDestroy,
		.MemPoolGetAttribute = cuMemPoolGetAttribute,
		.live_bytes = fake_cuda_live_bytes,
		.live_count = fake_cuda_live_count,
		.pool_reserved = fake_cuda_pool_reserved,
		.hazards = fake_cuda_hazards,
		.launch = fake_cuda_launch,
		.alloc_unseen = fake_cuda_alloc_unseen,
		.exit_marker = fake_cuda_exit_marker,
	};
	return scenario_main(&d, argc, argv);
}
