/* GPU memory (DESIGN §1 GPU row): the CUDA driver as the shim uses it.
 *
 * The shim does not link libcuda.  The driver's functions are resolved
 * from the object that defines the first driver function the shim sees
 * (a wrapper's real function, or a pointer handed out by dlsym or
 * cuGetProcAddress): the CUDA runtime loads libcuda.so.1 RTLD_LOCAL, so
 * the global scope does not have them.  Without a driver this part is off.
 *
 * GPU records are registry records of kind RCSHIM_KIND_GPU:
 *   handle  the device pointer (host pointer for pinned host memory, the
 *           CUmemGenericAllocationHandle for cuMemCreate)
 *   size    bytes
 *   sub     enum rc_gpu_sub, how it was allocated (and so how it is freed)
 *   ino     the CUcontext current at allocation (0: unknown); GPU records
 *           are not on disk, so the field that holds st_ino for temp
 *           artifacts is free, and a context is what the cleanup needs to
 *           make current before it frees
 *   path    always NULL
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How an allocation was made. */
enum rc_gpu_sub {
	RC_GPU_UNKNOWN = 0,  /* registered through the API without being seen */
	RC_GPU_DEVICE = 1,   /* cuMemAlloc_v2 */
	RC_GPU_PITCHED = 2,  /* cuMemAllocPitch_v2 (size = pitch * height) */
	RC_GPU_MANAGED = 3,  /* cuMemAllocManaged */
	RC_GPU_ASYNC = 4,    /* cuMemAllocAsync: stream-ordered, current pool */
	RC_GPU_POOL = 5,     /* cuMemAllocFromPoolAsync: an explicit pool */
	RC_GPU_HOST = 6,     /* cuMemAllocHost_v2, cuMemHostAlloc: pinned host memory */
	RC_GPU_PHYSICAL = 7, /* cuMemCreate: a physical allocation handle */
	RC_GPU_SUB_COUNT
};

/* Allocations of at least this many bytes get their full allocation
 * stack; smaller ones the stack of the first allocation at their call
 * site (core/stack.h, rc_stack_site), whose frame 0 is exact.  Real GPU
 * buffers are megabytes (and cost microseconds to allocate); a full unwind
 * costs about 1 100 instructions, a third of a microsecond. */
#define RC_GPU_FULL_STACK_MIN (64 * 1024)

/* "device", "pitched", "managed", "async", "pool", "host", "physical"
 * ("gpu" for unknown), for reports. */
const char *rc_gpu_sub_name(unsigned sub);

/* CUDA driver types, as the ABI has them (the shim includes no CUDA
 * header). */
typedef int rc_cu_result;
typedef uint64_t rc_cu_ptr;    /* CUdeviceptr */
typedef void *rc_cu_ctx;       /* CUcontext */
typedef void *rc_cu_stream;    /* CUstream */
typedef void *rc_cu_pool;      /* CUmemoryPool */
typedef int rc_cu_device;      /* CUdevice */

#define RC_CUDA_SUCCESS 0
#define RC_CUDA_ERROR_INVALID_VALUE 1
#define RC_CUDA_ERROR_NOT_INITIALIZED 3
#define RC_CUDA_ERROR_DEINITIALIZED 4

/* What the cleanup calls.  Each may be NULL (an old driver). */
struct rc_gpu_driver {
	rc_cu_result (*ctx_get_current)(rc_cu_ctx *);
	rc_cu_result (*ctx_set_current)(rc_cu_ctx);
	rc_cu_result (*ctx_synchronize)(void);
	rc_cu_result (*mem_free)(rc_cu_ptr);                 /* cuMemFree_v2 */
	rc_cu_result (*mem_free_host)(void *);
	rc_cu_result (*mem_release)(uint64_t);
	rc_cu_result (*device_get_count)(int *);
	rc_cu_result (*device_get)(rc_cu_device *, int);
	rc_cu_result (*device_get_default_mem_pool)(rc_cu_pool *, rc_cu_device);
	rc_cu_result (*mem_pool_trim_to)(rc_cu_pool, size_t);
	rc_cu_result (*mem_pool_get_attribute)(rc_cu_pool, int, void *);
	rc_cu_result (*primary_ctx_get_state)(rc_cu_device, unsigned *, int *);
	rc_cu_result (*primary_ctx_retain)(rc_cu_ctx *, rc_cu_device);
	rc_cu_result (*primary_ctx_release)(rc_cu_device);   /* _v2 */
};

extern struct rc_gpu_driver rc_gpu;

/* Resolves the driver from the object that defines @fn (a real driver
 * function).  Idempotent; false if it cannot be inspected, or the object
 * lacks the functions every cleanup needs. */
bool rc_gpu_bind(void *fn);
/* Binds libcuda.so.1 if the process has it loaded, even though no driver
 * function went through the shim (a buffer registered through the API). */
bool rc_gpu_bind_loaded(void);
/* Whether a driver was bound. */
extern atomic_bool rc_gpu_is_bound;
static inline bool
rc_gpu_bound(void)
{
	return atomic_load_explicit(&rc_gpu_is_bound, memory_order_acquire);
}
/* The handle of the bound driver object (NULL before), for lookups of
 * its exported functions. */
void *rc_gpu_driver_handle(void);

/* Whether the process has a CUDA driver: one was bound, or libcuda.so.1 is
 * loaded.  The report says the GPU kind was absent when it is false. */
bool rc_gpu_present(void);

/* The context current on this thread, through the bound driver (NULL
 * without one). */
rc_cu_ctx rc_gpu_ctx_current(void);
/* The last context an allocation was made in, for work on a thread that
 * has none current (the worker). */
rc_cu_ctx rc_gpu_ctx_last(void);

/* A memory pool the program allocated from (cuMemAllocFromPoolAsync): live
 * HIGH trims it along with the devices' default pools.  At most
 * RC_GPU_MAX_POOLS are remembered. */
#define RC_GPU_MAX_POOLS 32
void rc_gpu_note_pool(uint64_t pool);
/* Copies the remembered pools; returns their count. */
size_t rc_gpu_pools(uint64_t *out, size_t max);
/* A pool was destroyed (cuMemPoolDestroy): forget it. */
void rc_gpu_forget_pool(uint64_t pool);

/* The primary context of @dev if it is active, else NULL.  Used before
 * the program releases or resets it (which frees its memory). */
rc_cu_ctx rc_gpu_primary_ctx(rc_cu_device dev);
/* Whether the primary context of @dev is still active. */
bool rc_gpu_primary_active(rc_cu_device dev);

/* Frees one GPU record with the function its kind needs, making its
 * context current first (and synchronizing the context once, before the
 * first stream-ordered allocation of that context, when @synced does not
 * list it yet).  The caller restores its context afterwards.  Returns:
 *   0         freed
 *   -ESTALE   the driver no longer knows the pointer as an allocation:
 *             freed behind the shim's back (left alone)
 *   -ENOSYS   no driver
 *   -EIO      the driver refused (*cu_error set) */
struct rc_gpu_sync_set {
	rc_cu_ctx ctx[16];
	unsigned n;
};
int rc_gpu_free_one(uint64_t handle, unsigned sub, rc_cu_ctx ctx,
		    struct rc_gpu_sync_set *synced, int *cu_error);

/* Trims @pool to nothing kept in reserve (cuMemPoolTrimTo(pool, 0));
 * *@released gets the reserved bytes it gave back (0 when the driver
 * cannot say).  0, or -ENOSYS / -EIO. */
int rc_gpu_trim_pool(uint64_t pool, uint64_t *released);
/* The default memory pools of the devices (at most @max). */
size_t rc_gpu_default_pools(uint64_t *out, size_t max);

/* Forgets the bound driver and the pools (tests). */
void rc_gpu_reset(void);
