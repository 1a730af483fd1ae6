#include "build-config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "core/gpu.h"
#include "core/objects.h"
#include "core/lock.h"
#include "core/log.h"

/* CUmemPool_attribute */
#define CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT 5

struct rc_gpu_driver rc_gpu;
atomic_bool rc_gpu_is_bound;
static void *driver_handle;
static struct rc_spinlock bind_lock;
static _Atomic(rc_cu_ctx) last_ctx;

static struct {
	struct rc_spinlock lock;
	uint64_t pool[RC_GPU_MAX_POOLS];
	size_t n;
} P;

static const char *const sub_names[RC_GPU_SUB_COUNT] = {
	[RC_GPU_UNKNOWN] = "gpu",
	[RC_GPU_DEVICE] = "device",
	[RC_GPU_PITCHED] = "pitched",
	[RC_GPU_MANAGED] = "managed",
	[RC_GPU_ASYNC] = "async",
	[RC_GPU_POOL] = "pool",
	[RC_GPU_HOST] = "host",
	[RC_GPU_PHYSICAL] = "physical",
};

const char *
rc_gpu_sub_name(unsigned sub)
{
	return sub < RC_GPU_SUB_COUNT ? sub_names[sub] : "gpu";
}

void *
rc_gpu_driver_handle(void)
{
	return rc_gpu_bound() ? driver_handle : NULL;
}

bool
rc_gpu_bind(void *fn)
{
	Dl_info info;
	void *h;

	if (rc_gpu_bound()) {
		return true;
	}
	rc_spin_lock(&bind_lock);
	if (rc_gpu_bound()) {
		rc_spin_unlock(&bind_lock);
		return true;
	}
	if (!fn || !dladdr(fn, &info) || !info.dli_fname || !*info.dli_fname) {
		rc_spin_unlock(&bind_lock);
		return false;
	}
	/* NOLOAD: the object already there, whatever scope it was loaded
	 * into; NODELETE keeps it, so the pointers never dangle. */
	h = dlopen(info.dli_fname, RTLD_NOLOAD | RTLD_LAZY | RTLD_NODELETE);
	if (!h) {
		rc_spin_unlock(&bind_lock);
		return false;
	}
	/* Through dlsym on the driver's own handle: the shim's dlsym hands
	 * the real functions to the shim itself (it never substitutes for a
	 * caller inside the shim). */
#define R(field, name) rc_gpu.field = (__typeof__(rc_gpu.field))dlsym(h, name)
	R(ctx_get_current, "cuCtxGetCurrent");
	R(ctx_set_current, "cuCtxSetCurrent");
	R(ctx_synchronize, "cuCtxSynchronize");
	R(mem_free, "cuMemFree_v2");
	R(mem_free_host, "cuMemFreeHost");
	R(mem_release, "cuMemRelease");
	R(device_get_count, "cuDeviceGetCount");
	R(device_get, "cuDeviceGet");
	R(device_get_default_mem_pool, "cuDeviceGetDefaultMemPool");
	R(mem_pool_trim_to, "cuMemPoolTrimTo");
	R(mem_pool_get_attribute, "cuMemPoolGetAttribute");
	R(primary_ctx_get_state, "cuDevicePrimaryCtxGetState");
	R(primary_ctx_retain, "cuDevicePrimaryCtxRetain");
	R(primary_ctx_release, "cuDevicePrimaryCtxRelease_v2");
#undef R
	bool ok = rc_gpu.ctx_get_current && rc_gpu.ctx_set_current && rc_gpu.mem_free;
	if (ok) {
		driver_handle = h;
		rc_debug("gpu: CUDA driver %s", info.dli_fname);
	} else {
		memset(&rc_gpu, 0, sizeof(rc_gpu));
		rc_debug("gpu: %s is not a usable CUDA driver", info.dli_fname);
	}
	atomic_store_explicit(&rc_gpu_is_bound, ok, memory_order_release);
	rc_spin_unlock(&bind_lock);
	return ok;
}

bool
rc_gpu_present(void)
{
	if (rc_gpu_bound()) {
		return true;
	}
	/* Asked of the loader's list: dlopen(RTLD_NOLOAD) of a library
	 * that is not loaded searches the library path. */
	return rc_object_loaded("libcuda.so");
}

bool
rc_gpu_bind_loaded(void)
{
	if (rc_gpu_bound()) {
		return true;
	}
	void *h = dlopen("libcuda.so.1", RTLD_NOLOAD | RTLD_LAZY);
	if (!h) {
		return false;
	}
	void *fn = dlsym(h, "cuInit");
	bool ok = fn && rc_gpu_bind(fn);
	dlclose(h);
	return ok;
}

rc_cu_ctx
rc_gpu_ctx_current(void)
{
	rc_cu_ctx c = NULL;
	if (rc_gpu_bound() && rc_gpu.ctx_get_current(&c) != RC_CUDA_SUCCESS) {
		c = NULL;
	}
	if (c && atomic_load_explicit(&last_ctx, memory_order_relaxed) != c) {
		atomic_store_explicit(&last_ctx, c, memory_order_relaxed);
	}
	return c;
}

rc_cu_ctx
rc_gpu_ctx_last(void)
{
	return atomic_load_explicit(&last_ctx, memory_order_relaxed);
}

void
rc_gpu_note_pool(uint64_t pool)
{
	if (!pool) {
		return;
	}
	rc_spin_lock(&P.lock);
	bool known = false;
	for (size_t i = 0; i < P.n && !known; i++) {
		known = P.pool[i] == pool;
	}
	if (!known && P.n < RC_GPU_MAX_POOLS) {
		P.pool[P.n++] = pool;
	}
	rc_spin_unlock(&P.lock);
}

void
rc_gpu_forget_pool(uint64_t pool)
{
	rc_spin_lock(&P.lock);
	for (size_t i = 0; i < P.n; i++) {
		if (P.pool[i] == pool) {
			P.pool[i] = P.pool[--P.n];
			break;
		}
	}
	rc_spin_unlock(&P.lock);
}

size_t
rc_gpu_pools(uint64_t *out, size_t max)
{
	rc_spin_lock(&P.lock);
	size_t n = P.n < max ? P.n : max;
	memcpy(out, P.pool, n * sizeof(*out));
	rc_spin_unlock(&P.lock);
	return n;
}

rc_cu_ctx
rc_gpu_primary_ctx(rc_cu_device dev)
{
	unsigned flags = 0;
	int active = 0;
	rc_cu_ctx c = NULL;

	if (!rc_gpu_bound() || !rc_gpu.primary_ctx_get_state || !rc_gpu.primary_ctx_retain ||
	    !rc_gpu.primary_ctx_release) {
		return NULL;
	}
	/* Retaining an inactive primary context would create it: ask first.
	 * An active one is only counted up and down again. */
	if (rc_gpu.primary_ctx_get_state(dev, &flags, &active) != RC_CUDA_SUCCESS || !active ||
	    rc_gpu.primary_ctx_retain(&c, dev) != RC_CUDA_SUCCESS) {
		return NULL;
	}
	rc_gpu.primary_ctx_release(dev);
	return c;
}

bool
rc_gpu_primary_active(rc_cu_device dev)
{
	unsigned flags = 0;
	int active = 0;
	if (!rc_gpu_bound() || !rc_gpu.primary_ctx_get_state) {
		return true; /* unknown: assume it lives (a leak, never a wrong free) */
	}
	return rc_gpu.primary_ctx_get_state(dev, &flags, &active) != RC_CUDA_SUCCESS || active;
}

static bool
stream_ordered(unsigned sub)
{
	return sub == RC_GPU_ASYNC || sub == RC_GPU_POOL;
}

int
rc_gpu_free_one(uint64_t handle, unsigned sub, rc_cu_ctx ctx, struct rc_gpu_sync_set *synced,
		int *cu_error)
{
	rc_cu_result r;

	*cu_error = 0;
	if (!rc_gpu_bound()) {
		return -ENOSYS;
	}
	/* Physical handles belong to no context; everything else is freed
	 * in the context it was allocated in. */
	if (sub != RC_GPU_PHYSICAL && ctx) {
		rc_cu_ctx cur = NULL;
		if (rc_gpu.ctx_get_current(&cur) != RC_CUDA_SUCCESS || cur != ctx) {
			r = rc_gpu.ctx_set_current(ctx);
			if (r != RC_CUDA_SUCCESS) {
				*cu_error = r;
				return r == RC_CUDA_ERROR_DEINITIALIZED ? -EIO : -ESTALE;
			}
		}
	}
	/* Stream-ordered memory may still be in use by queued work: wait
	 * for the context's streams once, then free it synchronously. */
	if (stream_ordered(sub) && synced) {
		bool done = false;
		for (unsigned i = 0; i < synced->n && !done; i++) {
			done = synced->ctx[i] == ctx;
		}
		if (!done) {
			if (rc_gpu.ctx_synchronize) {
				rc_gpu.ctx_synchronize();
			}
			if (synced->n < sizeof(synced->ctx) / sizeof(*synced->ctx)) {
				synced->ctx[synced->n++] = ctx;
			}
		}
	}
	switch (sub) {
	case RC_GPU_HOST:
		r = rc_gpu.mem_free_host ? rc_gpu.mem_free_host((void *)(uintptr_t)handle)
					 : RC_CUDA_ERROR_NOT_INITIALIZED;
		break;
	case RC_GPU_PHYSICAL:
		r = rc_gpu.mem_release ? rc_gpu.mem_release(handle) : RC_CUDA_ERROR_NOT_INITIALIZED;
		break;
	default:
		r = rc_gpu.mem_free(handle);
		break;
	}
	if (r == RC_CUDA_SUCCESS) {
		return 0;
	}
	*cu_error = r;
	/* The driver does not know it (any more): it went behind the shim's
	 * back, with its context or through a path the shim does not see. */
	return r == RC_CUDA_ERROR_INVALID_VALUE ? -ESTALE : -EIO;
}

/* Reserved bytes of @pool, or 0 when unknown. */
static uint64_t
pool_reserved(rc_cu_pool pool)
{
	uint64_t v = 0;
	if (!rc_gpu.mem_pool_get_attribute ||
	    rc_gpu.mem_pool_get_attribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &v) !=
		    RC_CUDA_SUCCESS) {
		return 0;
	}
	return v;
}

int
rc_gpu_trim_pool(uint64_t pool, uint64_t *released)
{
	*released = 0;
	if (!rc_gpu_bound() || !rc_gpu.mem_pool_trim_to) {
		return -ENOSYS;
	}
	uint64_t before = pool_reserved((rc_cu_pool)(uintptr_t)pool);
	rc_cu_result r = rc_gpu.mem_pool_trim_to((rc_cu_pool)(uintptr_t)pool, 0);
	if (r != RC_CUDA_SUCCESS) {
		return -EIO;
	}
	uint64_t after = pool_reserved((rc_cu_pool)(uintptr_t)pool);
	*released = before > after ? before - after : 0;
	return 0;
}

size_t
rc_gpu_default_pools(uint64_t *out, size_t max)
{
	int n = 0;
	size_t k = 0;
	if (!rc_gpu_bound() || !rc_gpu.device_get_count || !rc_gpu.device_get ||
	    !rc_gpu.device_get_default_mem_pool || rc_gpu.device_get_count(&n) != RC_CUDA_SUCCESS) {
		return 0;
	}
	for (int i = 0; i < n && k < max; i++) {
		rc_cu_device dev;
		rc_cu_pool pool = NULL;
		if (rc_gpu.device_get(&dev, i) == RC_CUDA_SUCCESS &&
		    rc_gpu.device_get_default_mem_pool(&pool, dev) == RC_CUDA_SUCCESS && pool) {
			out[k++] = (uint64_t)(uintptr_t)pool;
		}
	}
	return k;
}

void
rc_gpu_reset(void)
{
	rc_spin_lock(&bind_lock);
	memset(&rc_gpu, 0, sizeof(rc_gpu));
	driver_handle = NULL;
	atomic_store(&rc_gpu_is_bound, false);
	atomic_store(&last_ctx, NULL);
	rc_spin_unlock(&bind_lock);
	rc_spin_lock(&P.lock);
	P.n = 0;
	rc_spin_unlock(&P.lock);
}
