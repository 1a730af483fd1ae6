/* GPU memory (DESIGN §1 GPU row): the CUDA driver entry points that
 * allocate and free, and those that free memory wholesale (context
 * destruction, primary context release and reset, pool destruction).
 * Wrappers only: call the driver, and on success tell the tracking core.
 *
 * A wrapper is reached three ways:
 *   - a program linked with libcuda calls it by name (symbol
 *     interposition); its real function is then dlsym(RTLD_NEXT);
 *   - dlsym(libcuda handle, "cuMemAlloc_v2") (dl.c hands out the wrapper);
 *   - cuGetProcAddress("cuMemAlloc", ...), which is how the CUDA runtime
 *     finds every driver function: the wrapper of cuGetProcAddress swaps
 *     the driver's answer for the matching wrapper.
 * In the last two cases the real function is the pointer the driver
 * handed out, bound into the wrapper's slot there and then.
 *
 * Every wrapper returns the driver's result unchanged and leaves errno as
 * the driver left it.  A pointer the shim did not record is forwarded to
 * the driver like any other. */
#include "build-config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "core/gpu.h"
#include "core/log.h"
#include "preload/cuda.h"
#include "preload/real.h"
#include "trigger/worker.h"

typedef rc_cu_result CUresult;
typedef rc_cu_ptr CUdeviceptr;
typedef rc_cu_ctx CUcontext;
typedef rc_cu_stream CUstream;
typedef rc_cu_pool CUmemoryPool;
typedef rc_cu_device CUdevice;
typedef unsigned long long CUmemGenericAllocationHandle;
typedef unsigned long long cuuint64_t;

#define CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM (1 << 1)

/* Every wrapped entry point: exported name, the base name cuGetProcAddress
 * is asked for, the CUDA version that introduced this variant, and whether
 * it is the per-thread default stream (_ptsz) variant. */
#define RC_CU_ENTRIES(X)                                                        \
	X(cuMemAlloc_v2, "cuMemAlloc", 3020, 0)                                 \
	X(cuMemAllocPitch_v2, "cuMemAllocPitch", 3020, 0)                       \
	X(cuMemAllocManaged, "cuMemAllocManaged", 6000, 0)                      \
	X(cuMemAllocAsync, "cuMemAllocAsync", 11020, 0)                         \
	X(cuMemAllocAsync_ptsz, "cuMemAllocAsync", 11020, 1)                    \
	X(cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 11020, 0)         \
	X(cuMemAllocFromPoolAsync_ptsz, "cuMemAllocFromPoolAsync", 11020, 1)    \
	X(cuMemAllocHost_v2, "cuMemAllocHost", 3020, 0)                         \
	X(cuMemHostAlloc, "cuMemHostAlloc", 2020, 0)                            \
	X(cuMemCreate, "cuMemCreate", 10020, 0)                                 \
	X(cuMemFree_v2, "cuMemFree", 3020, 0)                                   \
	X(cuMemFreeAsync, "cuMemFreeAsync", 11020, 0)                           \
	X(cuMemFreeAsync_ptsz, "cuMemFreeAsync", 11020, 1)                      \
	X(cuMemFreeHost, "cuMemFreeHost", 2000, 0)                              \
	X(cuMemRelease, "cuMemRelease", 10020, 0)                               \
	X(cuMemPoolDestroy, "cuMemPoolDestroy", 11020, 0)                       \
	X(cuCtxDestroy, "cuCtxDestroy", 2000, 0)                                \
	X(cuCtxDestroy_v2, "cuCtxDestroy", 4000, 0)                             \
	X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease", 7000, 0)      \
	X(cuDevicePrimaryCtxRelease_v2, "cuDevicePrimaryCtxRelease", 11000, 0)  \
	X(cuDevicePrimaryCtxReset, "cuDevicePrimaryCtxReset", 7000, 0)          \
	X(cuDevicePrimaryCtxReset_v2, "cuDevicePrimaryCtxReset", 11000, 0)      \
	X(cuGetProcAddress, "cuGetProcAddress", 11030, 0)                       \
	X(cuGetProcAddress_v2, "cuGetProcAddress", 12000, 0)

enum {
#define X(name, base, since, ptsz) E_##name,
	RC_CU_ENTRIES(X)
#undef X
	E_COUNT
};

/* The function each wrapper calls: bound once, never changed. */
static void *_Atomic slot[E_COUNT] RC_COLD_BSS;
/* The driver's exported address of each entry, looked up on demand to
 * recognise what cuGetProcAddress hands out (NO_EXPORT: none). */
static void *_Atomic exported[E_COUNT] RC_COLD_BSS;
#define NO_EXPORT ((void *)1)

/* Prototypes (the shim includes no CUDA header). */
RC_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes);
RC_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width,
				      size_t height, unsigned elem);
RC_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytes, unsigned flags);
RC_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytes, CUstream stream);
RC_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytes, CUstream stream);
RC_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool,
					   CUstream stream);
RC_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytes,
						CUmemoryPool pool, CUstream stream);
RC_EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t bytes);
RC_EXPORT CUresult cuMemHostAlloc(void **pp, size_t bytes, unsigned flags);
RC_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
			       const void *prop, unsigned long long flags);
RC_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr);
RC_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream stream);
RC_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream stream);
RC_EXPORT CUresult cuMemFreeHost(void *p);
RC_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle);
RC_EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool);
RC_EXPORT CUresult cuCtxDestroy(CUcontext ctx);
RC_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx);
RC_EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice dev);
RC_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev);
RC_EXPORT CUresult cuDevicePrimaryCtxReset(CUdevice dev);
RC_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev);
RC_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int version,
				    cuuint64_t flags);
RC_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version,
				       cuuint64_t flags, int *status);

/* Hidden names for the wrappers, for the table below: the address of an
 * exported function is a relocation by name (24 symbol look-ups in every
 * process at start-up); a hidden alias's is an offset in the shim. */
#define X(name_, base_, since_, ptsz_)                                                  \
	extern __typeof__(name_) rc_cu_own_##name_                                       \
		__attribute__((visibility("hidden"), alias(#name_)));
RC_CU_ENTRIES(X)
#undef X

static const struct entry {
	const char *name;
	const char *base;
	int since;
	bool ptsz;
	void *wrapper;
} entries[E_COUNT] = {
#define X(name_, base_, since_, ptsz_)                                                  \
	[E_##name_] = { #name_, base_, since_, ptsz_, (void *)rc_cu_own_##name_ },
	RC_CU_ENTRIES(X)
#undef X
};

/* --- binding ---------------------------------------------------------------- */

static __attribute__((noinline)) void *
resolve_next(int i)
{
	int saved_errno = errno;
	void *p = rc_real_next(entries[i].name);
	/* A driver loaded RTLD_LOCAL is not next in the global scope; the
	 * one the shim has bound is. */
	void *h = rc_gpu_driver_handle();
	if (!p && h) {
		p = rc_dl_real(h, entries[i].name);
	}
	if (p == entries[i].wrapper) {
		p = NULL;
	}
	void *expected = NULL;
	if (p && !atomic_compare_exchange_strong(&slot[i], &expected, p)) {
		p = expected; /* bound meanwhile, through dlsym or cuGetProcAddress */
	}
	errno = saved_errno;
	return p;
}

/* The real function of entry @i, or NULL (then the wrapper answers as a
 * driver that is not there). */
#define CU_REAL(name)                                                                   \
	({                                                                           \
		void *p_ = atomic_load_explicit(&slot[E_##name], memory_order_acquire); \
		if (__builtin_expect(!p_, 0)) {                                      \
			p_ = resolve_next(E_##name);                                 \
		}                                                                    \
		(__typeof__(&name))p_;                                               \
	})

int
rc_cuda_index(const char *name)
{
	if (!name || name[0] != 'c' || name[1] != 'u') {
		return -1;
	}
	for (int i = 0; i < E_COUNT; i++) {
		if (strcmp(name, entries[i].name) == 0) {
			return i;
		}
	}
	return -1;
}

void *
rc_cuda_wrap(int i, void *real)
{
	if (i < 0 || i >= E_COUNT || !real) {
		return real;
	}
	if (real == entries[i].wrapper) {
		/* The driver's own references lead to the shim (it was not
		 * linked -Bsymbolic): the real function is the driver's
		 * definition. */
		resolve_next(i);
		return real;
	}
	void *expected = NULL;
	if (!atomic_compare_exchange_strong(&slot[i], &expected, real) && expected != real) {
		return real;
	}
	return entries[i].wrapper;
}

/* --- tracking ----------------------------------------------------------------- */

#define TRACK(handle, size, sub, pool, real)                                         \
	do {                                                                         \
		rc_ensure_init();                                                    \
		CALLER();                                                            \
		rc_track_gpu_alloc((uint64_t)(handle), (uint64_t)(size), (sub),      \
				   (uint64_t)(uintptr_t)(pool), (void *)(real));      \
		/* Freeing it (live HIGH and above) is the worker's job. */          \
		if (rc_tracking(RCSHIM_KIND_GPU)) {                                  \
			rc_worker_need();                                            \
		}                                                                    \
	} while (0)

/* Takes the record before the driver frees (the address cannot be handed
 * out again in between) and puts it back if the driver refuses. */
#define FREE_CALL(handle, call)                                                      \
	({                                                                           \
		unsigned char saved_[RC_TRACK_SAVED_SIZE] __attribute__((aligned(16))); \
		bool tracked_ = rc_track_gpu_free_begin((uint64_t)(handle), saved_);  \
		CUresult rc_ = (call);                                               \
		if (tracked_ && rc_ != RC_CUDA_SUCCESS) {                            \
			rc_track_gpu_free_failed(saved_);                            \
		}                                                                    \
		rc_;                                                                 \
	})

/* --- allocations -------------------------------------------------------------- */

RC_EXPORT CUresult
cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes)
{
	__typeof__(&cuMemAlloc_v2) real = CU_REAL(cuMemAlloc_v2);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(dptr, bytes);
	if (rc == RC_CUDA_SUCCESS && dptr) {
		TRACK(*dptr, bytes, RC_GPU_DEVICE, 0, real);
	}
	return rc;
}

RC_EXPORT CUresult
cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height, unsigned elem)
{
	__typeof__(&cuMemAllocPitch_v2) real = CU_REAL(cuMemAllocPitch_v2);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(dptr, pitch, width, height, elem);
	if (rc == RC_CUDA_SUCCESS && dptr) {
		TRACK(*dptr, (pitch ? *pitch : width) * height, RC_GPU_PITCHED, 0, real);
	}
	return rc;
}

RC_EXPORT CUresult
cuMemAllocManaged(CUdeviceptr *dptr, size_t bytes, unsigned flags)
{
	__typeof__(&cuMemAllocManaged) real = CU_REAL(cuMemAllocManaged);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(dptr, bytes, flags);
	if (rc == RC_CUDA_SUCCESS && dptr) {
		TRACK(*dptr, bytes, RC_GPU_MANAGED, 0, real);
	}
	return rc;
}

RC_EXPORT CUresult
cuMemAllocAsync(CUdeviceptr *dptr, size_t bytes, CUstream stream)
{
	__typeof__(&cuMemAllocAsync) real = CU_REAL(cuMemAllocAsync);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(dptr, bytes, stream);
	if (rc == RC_CUDA_SUCCESS && dptr) {
		TRACK(*dptr, bytes, RC_GPU_ASYNC, 0, real);
	}
	return rc;
}

RC_EXPORT CUresult
cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytes, CUstream stream)
{
	__typeof__(&cuMemAllocAsync_ptsz) real = CU_REAL(cuMemAllocAsync_ptsz);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(dptr, bytes, stream);
	if (rc == RC_CUDA_SUCCESS && dptr) {
		TRACK(*dptr, bytes, RC_GPU_ASYNC, 0, real);
	}
	return rc;
}

RC_EXPORT CUresult
cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream stream)
{
	__typeof__(&cuMemAllocFromPoolAsync) real = CU_REAL(cuMemAllocFromPoolAsync);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(dptr, bytes, pool, stream);
	if (rc == RC_CUDA_SUCCESS && dptr) {
		TRACK(*dptr, bytes, RC_GPU_POOL, pool, real);
	}
	return rc;
}

RC_EXPORT CUresult
cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream stream)
{
	__typeof__(&cuMemAllocFromPoolAsync_ptsz) real = CU_REAL(cuMemAllocFromPoolAsync_ptsz);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(dptr, bytes, pool, stream);
	if (rc == RC_CUDA_SUCCESS && dptr) {
		TRACK(*dptr, bytes, RC_GPU_POOL, pool, real);
	}
	return rc;
}

RC_EXPORT CUresult
cuMemAllocHost_v2(void **pp, size_t bytes)
{
	__typeof__(&cuMemAllocHost_v2) real = CU_REAL(cuMemAllocHost_v2);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(pp, bytes);
	if (rc == RC_CUDA_SUCCESS && pp) {
		TRACK((uintptr_t)*pp, bytes, RC_GPU_HOST, 0, real);
	}
	return rc;
}

RC_EXPORT CUresult
cuMemHostAlloc(void **pp, size_t bytes, unsigned flags)
{
	__typeof__(&cuMemHostAlloc) real = CU_REAL(cuMemHostAlloc);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(pp, bytes, flags);
	if (rc == RC_CUDA_SUCCESS && pp) {
		TRACK((uintptr_t)*pp, bytes, RC_GPU_HOST, 0, real);
	}
	return rc;
}

RC_EXPORT CUresult
cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const void *prop,
	    unsigned long long flags)
{
	__typeof__(&cuMemCreate) real = CU_REAL(cuMemCreate);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(handle, size, prop, flags);
	if (rc == RC_CUDA_SUCCESS && handle) {
		TRACK(*handle, size, RC_GPU_PHYSICAL, 0, real);
	}
	return rc;
}

/* --- releases ------------------------------------------------------------------ */

RC_EXPORT CUresult
cuMemFree_v2(CUdeviceptr dptr)
{
	__typeof__(&cuMemFree_v2) real = CU_REAL(cuMemFree_v2);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	return FREE_CALL(dptr, real(dptr));
}

RC_EXPORT CUresult
cuMemFreeAsync(CUdeviceptr dptr, CUstream stream)
{
	__typeof__(&cuMemFreeAsync) real = CU_REAL(cuMemFreeAsync);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	return FREE_CALL(dptr, real(dptr, stream));
}

RC_EXPORT CUresult
cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream stream)
{
	__typeof__(&cuMemFreeAsync_ptsz) real = CU_REAL(cuMemFreeAsync_ptsz);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	return FREE_CALL(dptr, real(dptr, stream));
}

RC_EXPORT CUresult
cuMemFreeHost(void *p)
{
	__typeof__(&cuMemFreeHost) real = CU_REAL(cuMemFreeHost);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	return FREE_CALL((uintptr_t)p, real(p));
}

RC_EXPORT CUresult
cuMemRelease(CUmemGenericAllocationHandle handle)
{
	__typeof__(&cuMemRelease) real = CU_REAL(cuMemRelease);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	return FREE_CALL(handle, real(handle));
}

RC_EXPORT CUresult
cuMemPoolDestroy(CUmemoryPool pool)
{
	__typeof__(&cuMemPoolDestroy) real = CU_REAL(cuMemPoolDestroy);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	/* Forgotten first: a live trim must never reach a destroyed pool. */
	rc_track_gpu_pool_gone((uint64_t)(uintptr_t)pool);
	return real(pool);
}

/* Destroying a context frees its memory: the records go with it, so that
 * an address the driver hands out again is never freed by the shim. */
RC_EXPORT CUresult
cuCtxDestroy_v2(CUcontext ctx)
{
	__typeof__(&cuCtxDestroy_v2) real = CU_REAL(cuCtxDestroy_v2);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(ctx);
	if (rc == RC_CUDA_SUCCESS) {
		rc_track_gpu_ctx_gone((uint64_t)(uintptr_t)ctx);
	}
	return rc;
}

RC_EXPORT CUresult
cuCtxDestroy(CUcontext ctx)
{
	__typeof__(&cuCtxDestroy) real = CU_REAL(cuCtxDestroy);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(ctx);
	if (rc == RC_CUDA_SUCCESS) {
		rc_track_gpu_ctx_gone((uint64_t)(uintptr_t)ctx);
	}
	return rc;
}

#define PRIMARY_CALL(name, dev, reset)                                               \
	({                                                                           \
		__typeof__(&name) real_ = CU_REAL(name);                                \
		CUresult rc_ = RC_CUDA_ERROR_NOT_INITIALIZED;                        \
		if (real_) {                                                         \
			uint64_t ctx_ = rc_track_gpu_primary_before(dev);            \
			rc_ = real_(dev);                                            \
			if (rc_ == RC_CUDA_SUCCESS) {                                \
				rc_track_gpu_primary_after((dev), ctx_, (reset));    \
			}                                                            \
		}                                                                    \
		rc_;                                                                 \
	})

RC_EXPORT CUresult
cuDevicePrimaryCtxRelease(CUdevice dev)
{
	return PRIMARY_CALL(cuDevicePrimaryCtxRelease, dev, false);
}

RC_EXPORT CUresult
cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	return PRIMARY_CALL(cuDevicePrimaryCtxRelease_v2, dev, false);
}

RC_EXPORT CUresult
cuDevicePrimaryCtxReset(CUdevice dev)
{
	return PRIMARY_CALL(cuDevicePrimaryCtxReset, dev, true);
}

RC_EXPORT CUresult
cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
	return PRIMARY_CALL(cuDevicePrimaryCtxReset_v2, dev, true);
}

/* --- cuGetProcAddress ----------------------------------------------------------- */

void
rc_cuda_learn_exports(void *handle)
{
	if (!handle) {
		return;
	}
	for (int i = 0; i < E_COUNT; i++) {
		if (!atomic_load_explicit(&exported[i], memory_order_acquire)) {
			void *p = rc_dl_real(handle, entries[i].name);
			atomic_store_explicit(&exported[i], p ? p : NO_EXPORT, memory_order_release);
		}
	}
}

/* The driver's exported function of entry @i (NULL if none), through the
 * handle of the driver that defines @any (a driver function).  Learnt
 * all at once, usually when dlsym hands out cuGetProcAddress. */
static void *
export_of(int i, void *any)
{
	void *p = atomic_load_explicit(&exported[i], memory_order_acquire);
	if (!p) {
		rc_cuda_learn_exports(rc_gpu_bind(any) ? rc_gpu_driver_handle() : NULL);
		p = atomic_load_explicit(&exported[i], memory_order_acquire);
	}
	return p == NO_EXPORT ? NULL : p;
}

/* Which wrapped variant of @symbol the driver handed out as @p.  By
 * address first: the driver hands out its exported functions.  Failing
 * that (a driver handing out internal aliases), by the documented rule:
 * the newest variant introduced at or before @version, per-thread stream
 * variant if asked for — unless @p is the driver's function of the base
 * name itself (the legacy ABI of a _v2 family, which is never wrapped). */
static int
variant_of(const char *symbol, void *p, int version, cuuint64_t flags, void *driver_fn)
{
	int best = -1;
	bool any = false;
	bool want_ptsz = flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;

	for (int i = 0; i < E_COUNT; i++) {
		if (strcmp(symbol, entries[i].base) != 0) {
			continue;
		}
		any = true;
		if (export_of(i, driver_fn) == p) {
			return i;
		}
		if (entries[i].since <= version && entries[i].ptsz == want_ptsz &&
		    (best < 0 || entries[i].since > entries[best].since)) {
			best = i;
		}
	}
	if (!any || best < 0) {
		return -1;
	}
	void *h = rc_gpu_driver_handle();
	if (h && rc_cuda_index(symbol) < 0 && rc_dl_real(h, symbol) == p) {
		return -1;
	}
	return best;
}

static void
substitute(const char *symbol, void **pfn, int version, cuuint64_t flags, void *driver_fn,
	   const void *caller)
{
	/* The driver resolving its own functions gets its own. */
	if (!symbol || symbol[0] != 'c' || symbol[1] != 'u' || !*pfn || rc_dl_in_driver(caller)) {
		return;
	}
	int saved_errno = errno;
	rc_guard++;
	int i = variant_of(symbol, *pfn, version, flags, driver_fn);
	if (i >= 0) {
		void *w = rc_cuda_wrap(i, *pfn);
		if (w != *pfn) {
			rc_debug("gpu: cuGetProcAddress(%s, %d, %llu): %s wrapped", symbol, version,
				 (unsigned long long)flags, entries[i].name);
			*pfn = w;
		}
	}
	rc_guard--;
	errno = saved_errno;
}

RC_EXPORT CUresult
cuGetProcAddress(const char *symbol, void **pfn, int version, cuuint64_t flags)
{
	__typeof__(&cuGetProcAddress) real = CU_REAL(cuGetProcAddress);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(symbol, pfn, version, flags);
	if (rc == RC_CUDA_SUCCESS && pfn) {
		substitute(symbol, pfn, version, flags, (void *)real, __builtin_return_address(0));
	}
	return rc;
}

RC_EXPORT CUresult
cuGetProcAddress_v2(const char *symbol, void **pfn, int version, cuuint64_t flags, int *status)
{
	__typeof__(&cuGetProcAddress_v2) real = CU_REAL(cuGetProcAddress_v2);
	if (!real) {
		return RC_CUDA_ERROR_NOT_INITIALIZED;
	}
	CUresult rc = real(symbol, pfn, version, flags, status);
	if (rc == RC_CUDA_SUCCESS && pfn) {
		substitute(symbol, pfn, version, flags, (void *)real, __builtin_return_address(0));
	}
	return rc;
}
