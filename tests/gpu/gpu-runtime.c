/* A program that reaches the CUDA driver only the way the CUDA runtime
 * does (observed with libcudart.so.13 against an instrumented
 * libcuda.so.1; docs/gpu.md): dlopen("libcuda.so.1", RTLD_NOW |
 * RTLD_LOCAL), dlsym(handle, "cuGetProcAddress_v2") (else
 * "cuGetProcAddress"), a probe with an empty name, cuGetProcAddress for
 * itself at 12000, then every function by its base name and the CUDA
 * version of the variant it wants, and the per-thread default stream
 * variants with CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM.  Nothing is
 * linked and nothing is found through the global scope.
 *
 * Usage: gpu-runtime SCENARIO [ARG] (tests/gpu/scenario.c), or
 *        gpu-runtime lookup   (what the lookups hand out),
 *        gpu-runtime absent   (runs without a driver).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

typedef CUresult (*gpa_v2_fn)(const char *, void **, int, cuuint64_t, int *);
typedef CUresult (*gpa_v1_fn)(const char *, void **, int, cuuint64_t);

static gpa_v2_fn gpa2;
static gpa_v1_fn gpa1;

static CUresult
proc(const char *base, void **p, int version, cuuint64_t flags, int *status)
{
	*p = NULL;
	return gpa2 ? gpa2(base, p, version, flags, status) : gpa1(base, p, version, flags);
}

static void *
get(const char *base, int version, cuuint64_t flags)
{
	void *p;
	int status = -1;
	CUresult rc = proc(base, &p, version, flags, &status);
	if (rc != CUDA_SUCCESS || !p) {
		printf("cuGetProcAddress(%s, %d, %llu) failed: %d, status %d\n", base, version,
		       (unsigned long long)flags, rc, status);
		exit(1);
	}
	return p;
}

#define GET(field, base, version) d.field = (__typeof__(d.field))get(base, version, 0)
#define GET_PTSZ(field, base, version)                                                   \
	d.field = (__typeof__(d.field))get(base, version,                                \
					   CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)
#define HOOK(field, name) d.field = (__typeof__(d.field))dlsym(h, name)

/* What cuGetProcAddress hands out, compared with what dlsym on the handle
 * finds (always equal, bare or not), and whether it is the shim's wrapper
 * (the function of that name in the global scope, where the driver, loaded
 * RTLD_LOCAL, is not). */
static int
lookup(void *h)
{
	static const struct {
		const char *base;
		int version;
		cuuint64_t flags;
		const char *variant;
	} L[] = {
		{ "cuMemAlloc", 3020, 0, "cuMemAlloc_v2" },
		{ "cuMemAlloc", 2000, 0, "cuMemAlloc" },
		{ "cuMemFree", 3020, 0, "cuMemFree_v2" },
		{ "cuMemAllocHost", 3020, 0, "cuMemAllocHost_v2" },
		{ "cuMemAllocAsync", 11020, 0, "cuMemAllocAsync" },
		{ "cuMemAllocAsync", 11020, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
		  "cuMemAllocAsync_ptsz" },
		{ "cuMemFreeAsync", 11020, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
		  "cuMemFreeAsync_ptsz" },
		{ "cuMemCreate", 10020, 0, "cuMemCreate" },
		{ "cuMemGetInfo", 3020, 0, "cuMemGetInfo_v2" },
		{ "cuCtxGetCurrent", 4000, 0, "cuCtxGetCurrent" },
		{ "cuCtxDestroy", 4000, 0, "cuCtxDestroy_v2" },
		{ "cuDevicePrimaryCtxRelease", 7000, 0, "cuDevicePrimaryCtxRelease" },
		{ "cuDevicePrimaryCtxRelease", 11000, 0, "cuDevicePrimaryCtxRelease_v2" },
		{ "cuGetProcAddress", 11030, 0, "cuGetProcAddress" },
		{ "cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2" },
	};
	for (size_t i = 0; i < sizeof(L) / sizeof(*L); i++) {
		void *p = get(L[i].base, L[i].version, L[i].flags);
		void *q = dlsym(h, L[i].variant);
		void *g = dlsym(RTLD_DEFAULT, L[i].variant);
		printf("%s@%d/%llu: same as dlsym(%s): %s\n", L[i].base, L[i].version,
		       (unsigned long long)L[i].flags, L[i].variant, p == q ? "yes" : "no");
		printf("rcshim: %s@%d/%llu wrapped: %s\n", L[i].base, L[i].version,
		       (unsigned long long)L[i].flags, g && p == g ? "yes" : "no");
	}
	void *p;
	int status = -1;
	CUresult rc = proc("cuMemAlloc", &p, 99000, 0, &status);
	printf("too new: %d %s\n", rc, p ? "pointer" : "null");
	rc = proc("cuNoSuchFunction", &p, 12000, 0, &status);
	printf("unknown: %d %s status %d\n", rc, p ? "pointer" : "null", status);
	dlerror();
	p = dlsym(h, "cuNoSuchFunction");
	printf("dlsym unknown: %s, dlerror %s\n", p ? "pointer" : "null", dlerror() ? "set" : "clear");
	p = dlsym(h, "cuMemAlloc_v2");
	printf("dlsym known: %s, dlerror %s\n", p ? "pointer" : "null", dlerror() ? "set" : "clear");
	return 0;
}

int
main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "leak";
	struct drv d;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* GPU_TEST_DRIVER: another name, for machines with a real driver. */
	const char *driver = getenv("GPU_TEST_DRIVER") ? getenv("GPU_TEST_DRIVER") : "libcuda.so.1";
	void *h = dlopen(driver, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		/* What cudaGetDeviceCount reports as cudaErrorInsufficientDriver. */
		printf("no CUDA driver: %s\n", dlerror());
		return strcmp(what, "absent") == 0 ? 0 : 3;
	}
	gpa2 = (gpa_v2_fn)dlsym(h, "cuGetProcAddress_v2");
	if (!gpa2) {
		gpa1 = (gpa_v1_fn)dlsym(h, "cuGetProcAddress");
	}
	if (!gpa2 && !gpa1) {
		printf("no cuGetProcAddress: %s\n", dlerror());
		return 3;
	}
	void *p;
	int status = -1;
	CUresult rc = proc("", &p, 0, 0, &status);
	if (rc != CUDA_SUCCESS || p) {
		printf("probe: %d\n", rc);
	}
	if (gpa2) {
		gpa2 = (gpa_v2_fn)get("cuGetProcAddress", 12000, 0);
	}
	if (!strcmp(what, "lookup")) {
		return lookup(h);
	}

	memset(&d, 0, sizeof(d));
	GET(Init, "cuInit", 2000);
	GET(DeviceGet, "cuDeviceGet", 2000);
	GET(PrimaryCtxRetain, "cuDevicePrimaryCtxRetain", 7000);
	GET(PrimaryCtxRelease, "cuDevicePrimaryCtxRelease", 7000);
	GET(PrimaryCtxReset, "cuDevicePrimaryCtxReset", 7000);
	GET(CtxCreate, "cuCtxCreate", 3020);
	GET(CtxDestroy, "cuCtxDestroy", 4000);
	GET(CtxSetCurrent, "cuCtxSetCurrent", 4000);
	GET(CtxSynchronize, "cuCtxSynchronize", 2000);
	GET(StreamCreate, "cuStreamCreate", 2000);
	GET(StreamSynchronize, "cuStreamSynchronize", 2000);
	GET(MemAlloc, "cuMemAlloc", 3020);
	GET(MemAllocPitch, "cuMemAllocPitch", 3020);
	GET(MemAllocManaged, "cuMemAllocManaged", 6000);
	GET(MemAllocAsync, "cuMemAllocAsync", 11020);
	GET_PTSZ(MemAllocAsyncPtsz, "cuMemAllocAsync", 11020);
	GET(MemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 11020);
	GET(MemAllocHost, "cuMemAllocHost", 3020);
	GET(MemHostAlloc, "cuMemHostAlloc", 2020);
	GET(MemCreate, "cuMemCreate", 10020);
	GET(MemRelease, "cuMemRelease", 10020);
	GET(MemFree, "cuMemFree", 3020);
	GET(MemFreeAsync, "cuMemFreeAsync", 11020);
	GET_PTSZ(MemFreeAsyncPtsz, "cuMemFreeAsync", 11020);
	GET(MemFreeHost, "cuMemFreeHost", 2000);
	GET(MemGetInfo, "cuMemGetInfo", 3020);
	GET(DeviceGetDefaultMemPool, "cuDeviceGetDefaultMemPool", 11020);
	GET(MemPoolCreate, "cuMemPoolCreate", 11020);
	GET(MemPoolDestroy, "cuMemPoolDestroy", 11020);
	GET(MemPoolGetAttribute, "cuMemPoolGetAttribute", 11020);
	HOOK(live_bytes, "fake_cuda_live_bytes");
	HOOK(live_count, "fake_cuda_live_count");
	HOOK(pool_reserved, "fake_cuda_pool_reserved");
	HOOK(hazards, "fake_cuda_hazards");
	HOOK(launch, "fake_cuda_launch");
	HOOK(alloc_unseen, "fake_cuda_alloc_unseen");
	HOOK(exit_marker, "fake_cuda_exit_marker");
	return scenario_main(&d, argc, argv);
}
