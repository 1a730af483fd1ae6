/* The GPU tracking core and cleanup step, called directly (no preloading):
 * the test links the core and the fake libcuda.so.1, and plays the part of
 * the interposer. */
#include "build-config.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "../unit/fixture.h"
#include "clean/custom.h"
#include "clean/engine.h"
#include "core/gpu.h"
#include "core/registry.h"
#include "core/state.h"
#include "core/track.h"
#include "cu.h"
#include "test.h"

static CUcontext
gpu_setup(void)
{
	CUdevice dev;
	CUcontext ctx;
	state_setup(NULL);
	rc_gpu_reset();
	ck_assert_int_eq(cuInit(0), CUDA_SUCCESS);
	ck_assert_int_eq(cuDeviceGet(&dev, 0), CUDA_SUCCESS);
	ck_assert_int_eq(cuDevicePrimaryCtxRetain(&ctx, dev), CUDA_SUCCESS);
	ck_assert_int_eq(cuCtxSetCurrent(ctx), CUDA_SUCCESS);
	return ctx;
}

/* What the interposer does around cuMemAlloc_v2. */
static CUdeviceptr
alloc(size_t n)
{
	CUdeviceptr p;
	ck_assert_int_eq(cuMemAlloc_v2(&p, n), CUDA_SUCCESS);
	rc_track_gpu_alloc(p, n, RC_GPU_DEVICE, 0, (void *)cuMemAlloc_v2);
	return p;
}

static bool
get(uint64_t handle, struct rc_record *out)
{
	if (!rc_reg_take(RCSHIM_KIND_GPU, handle, out)) {
		return false;
	}
	rc_reg_put_back(out);
	return true;
}

static rcshim_status
clean(enum rc_mode mode, rcshim_priority prio, enum rc_reason reason, uint32_t scope,
      struct rcshim_result *res)
{
	struct rc_clean_req req = { mode, prio, reason, 0, scope };
	return rc_clean(&req, res);
}

START_TEST(allocation_makes_a_record)
{
	CUcontext ctx = gpu_setup();
	struct rc_record r;

	rc_scope_cur = 7;
	CUdeviceptr p = alloc(3000);
	rc_scope_cur = 0;
	ck_assert(rc_gpu_bound());
	ck_assert(get(p, &r));
	ck_assert_int_eq(r.kind, RCSHIM_KIND_GPU);
	ck_assert_int_eq(r.sub, RC_GPU_DEVICE);
	ck_assert_uint_eq(r.size, 3000);
	ck_assert_uint_eq(r.ino, (uint64_t)(uintptr_t)ctx);
	ck_assert_int_eq(r.pid, getpid());
	ck_assert_uint_eq(r.scope, 7);
	ck_assert_ptr_null(r.path);
	ck_assert_str_eq(rc_gpu_sub_name(RC_GPU_PITCHED), "pitched");
	ck_assert_str_eq(rc_gpu_sub_name(99), "gpu");
	ck_assert(rc_gpu_present());
	state_teardown();
}
END_TEST

START_TEST(free_takes_the_record_and_a_refusal_puts_it_back)
{
	unsigned char saved[RC_TRACK_SAVED_SIZE] __attribute__((aligned(16)));
	struct rc_record r;
	gpu_setup();

	CUdeviceptr p = alloc(100);
	ck_assert(get(p, &r));
	uint32_t seq = r.seq;
	ck_assert(rc_track_gpu_free_begin(p, saved));
	ck_assert(!rc_reg_has(RCSHIM_KIND_GPU, p));
	errno = 77;
	rc_track_gpu_free_failed(saved);
	ck_assert_int_eq(errno, 77);
	ck_assert(get(p, &r));
	ck_assert_uint_eq(r.seq, seq);
	ck_assert(!rc_track_gpu_free_begin(0x1234, saved));
	state_teardown();
}
END_TEST

/* The driver hands out no address still allocated: a record there is stale. */
START_TEST(stale_record_is_replaced)
{
	gpu_setup();
	CUdeviceptr p = alloc(100);
	/* Freed where the shim could not see it. */
	ck_assert_int_eq(cuMemFree_v2(p), CUDA_SUCCESS);
	rc_track_gpu_alloc(p, 200, RC_GPU_MANAGED, 0, (void *)cuMemAlloc_v2);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_GPU), 1);
	struct rc_record r;
	ck_assert(get(p, &r));
	ck_assert_uint_eq(r.size, 200);
	ck_assert_int_eq(r.sub, RC_GPU_MANAGED);
	state_teardown();
}
END_TEST

START_TEST(destroyed_context_forgets_its_records)
{
	CUcontext primary = gpu_setup(), mine;
	CUdeviceptr keep = alloc(10);
	ck_assert_int_eq(cuCtxCreate_v2(&mine, 0, 0), CUDA_SUCCESS);
	alloc(20);
	alloc(30);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_GPU), 3);
	ck_assert_int_eq(cuCtxDestroy_v2(mine), CUDA_SUCCESS);
	rc_track_gpu_ctx_gone((uint64_t)(uintptr_t)mine);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_GPU), 1);
	ck_assert(rc_reg_has(RCSHIM_KIND_GPU, keep));

	/* The primary context, reset: asked before, forgotten after. */
	ck_assert_int_eq(cuCtxSetCurrent(primary), CUDA_SUCCESS);
	uint64_t ctx = rc_track_gpu_primary_before(0);
	ck_assert_uint_eq(ctx, (uint64_t)(uintptr_t)primary);
	ck_assert_int_eq(cuDevicePrimaryCtxReset_v2(0), CUDA_SUCCESS);
	rc_track_gpu_primary_after(0, ctx, true);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_GPU), 0);
	/* Inactive now: nothing to ask, nothing created. */
	ck_assert_uint_eq(rc_track_gpu_primary_before(0), 0);
	unsigned flags;
	int active;
	ck_assert_int_eq(cuDevicePrimaryCtxGetState(0, &flags, &active), CUDA_SUCCESS);
	ck_assert_int_eq(active, 0);
	state_teardown();
}
END_TEST

START_TEST(scope_end_frees_that_scope_only)
{
	struct rcshim_result res;
	gpu_setup();
	unsigned long long before = fake_cuda_live_bytes();
	CUdeviceptr outside = alloc(1000);
	rc_scope_cur = 5;
	alloc(2000);
	alloc(3000);
	rc_scope_cur = 0;

	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_MEDIUM, RC_REASON_SCOPE, 5, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].cleaned, 0);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_GPU), 3);

	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_HIGH, RC_REASON_SCOPE, 5, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].cleaned, 2);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].bytes, 5000);
	ck_assert_uint_eq(fake_cuda_live_bytes(), before + 1000);
	ck_assert(rc_reg_has(RCSHIM_KIND_GPU, outside));
	state_teardown();
}
END_TEST

/* Process end: reported, never freed, whatever the priority. */
START_TEST(process_end_never_frees)
{
	struct rcshim_result res;
	gpu_setup();
	unsigned long long before = fake_cuda_live_bytes();
	alloc(100);
	alloc(200);
	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_CRITICAL, RC_REASON_EXIT, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].cleaned, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].failed, 0);
	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_CRITICAL, RC_REASON_SIGNAL, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].cleaned, 0);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_GPU), 2);
	ck_assert_uint_eq(fake_cuda_live_bytes(), before + 300);
	state_teardown();
}
END_TEST

/* Every kind, freed with its own function; stream-ordered memory after its
 * context was synchronized. */
START_TEST(emergency_frees_every_kind)
{
	struct rcshim_result res;
	CUstream s;
	CUdeviceptr d, async;
	void *host;
	CUmemGenericAllocationHandle h;
	CUmemAllocationProp prop;
	memset(&prop, 0, sizeof(prop));
	gpu_setup();
	unsigned long long before = fake_cuda_live_bytes();

	ck_assert_int_eq(cuStreamCreate(&s, 0), CUDA_SUCCESS);
	ck_assert_int_eq(cuMemAllocAsync(&async, 400, s), CUDA_SUCCESS);
	rc_track_gpu_alloc(async, 400, RC_GPU_ASYNC, 0, (void *)cuMemAllocAsync);
	ck_assert_int_eq(fake_cuda_launch(s, async), CUDA_SUCCESS);
	ck_assert_int_eq(cuMemAllocHost_v2(&host, 500), CUDA_SUCCESS);
	rc_track_gpu_alloc((uintptr_t)host, 500, RC_GPU_HOST, 0, (void *)cuMemAllocHost_v2);
	ck_assert_int_eq(cuMemCreate(&h, 600, &prop, 0), CUDA_SUCCESS);
	rc_track_gpu_alloc(h, 600, RC_GPU_PHYSICAL, 0, (void *)cuMemCreate);
	d = alloc(700);
	(void)d;
	unsigned long long hazards = fake_cuda_hazards();

	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_CRITICAL, RC_REASON_API, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].cleaned, 4);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].bytes, 2200);
	ck_assert_uint_eq(fake_cuda_live_bytes(), before);
	ck_assert_uint_eq(fake_cuda_hazards(), hazards);
	ck_assert_uint_eq(fake_cuda_pool_reserved(), 0);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_GPU), 0);
	ck_assert_int_eq(cuStreamDestroy_v2(s), CUDA_SUCCESS);
	state_teardown();
}
END_TEST

/* What the driver no longer knows is left alone and forgotten; a refusal
 * is a failure, and the record stays. */
START_TEST(stale_and_refused_frees_are_counted)
{
	struct rcshim_result res;
	gpu_setup();
	CUdeviceptr p = alloc(100);
	ck_assert_int_eq(cuMemFree_v2(p), CUDA_SUCCESS); /* behind the shim's back */
	/* A host allocation recorded as device memory: cuMemFree_v2 refuses
	 * it with CUDA_ERROR_INVALID_VALUE too, so fake a refusal that is not
	 * "unknown": a context that cannot be made current. */
	CUcontext mine;
	ck_assert_int_eq(cuCtxCreate_v2(&mine, 0, 0), CUDA_SUCCESS);
	CUdeviceptr q = alloc(200);
	ck_assert_int_eq(cuCtxDestroy_v2(mine), CUDA_SUCCESS); /* unseen */
	(void)q;

	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_CRITICAL, RC_REASON_API, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].cleaned, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].skipped, 2);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_GPU), 0);
	state_teardown();
}
END_TEST

START_TEST(live_high_trims_pools)
{
	struct rcshim_result res;
	CUmemoryPool pool;
	CUmemPoolProps props;
	CUdeviceptr a, b;
	memset(&props, 0, sizeof(props));
	gpu_setup();
	ck_assert_int_eq(cuMemPoolCreate(&pool, &props), CUDA_SUCCESS);
	ck_assert_int_eq(cuMemAllocFromPoolAsync(&a, 4096, pool, NULL), CUDA_SUCCESS);
	rc_track_gpu_alloc(a, 4096, RC_GPU_POOL, (uint64_t)(uintptr_t)pool,
			   (void *)cuMemAllocFromPoolAsync);
	ck_assert_int_eq(cuMemAllocAsync(&b, 1024, NULL), CUDA_SUCCESS);
	rc_track_gpu_alloc(b, 1024, RC_GPU_ASYNC, 0, (void *)cuMemAllocAsync);
	/* The program frees them: the pools keep the memory. */
	unsigned char saved[RC_TRACK_SAVED_SIZE] __attribute__((aligned(16)));
	ck_assert(rc_track_gpu_free_begin(a, saved));
	ck_assert_int_eq(cuMemFreeAsync(a, NULL), CUDA_SUCCESS);
	ck_assert(rc_track_gpu_free_begin(b, saved));
	ck_assert_int_eq(cuMemFreeAsync(b, NULL), CUDA_SUCCESS);

	ck_assert_int_eq(clean(RC_MODE_LIVE, RCSHIM_MEDIUM, RC_REASON_API, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].cleaned, 0);
	ck_assert_int_eq(clean(RC_MODE_LIVE, RCSHIM_HIGH, RC_REASON_API, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].cleaned, 2);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].bytes, 5120);
	cuuint64_t reserved = 1;
	ck_assert_int_eq(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved),
			 CUDA_SUCCESS);
	ck_assert_uint_eq(reserved, 0);
	ck_assert_uint_eq(fake_cuda_pool_reserved(), 0);
	/* A destroyed pool is never trimmed again. */
	rc_track_gpu_pool_gone((uint64_t)(uintptr_t)pool);
	ck_assert_int_eq(cuMemPoolDestroy(pool), CUDA_SUCCESS);
	uint64_t pools[RC_GPU_MAX_POOLS];
	ck_assert_uint_eq(rc_gpu_pools(pools, RC_GPU_MAX_POOLS), 0);
	state_teardown();
}
END_TEST

START_TEST(registered_buffers_are_freed)
{
	gpu_setup();
	unsigned long long before = fake_cuda_live_bytes();
	/* Seen by the shim: freed as made. */
	void *host;
	ck_assert_int_eq(cuMemAllocHost_v2(&host, 300), CUDA_SUCCESS);
	rc_track_gpu_alloc((uintptr_t)host, 300, RC_GPU_HOST, 0, (void *)cuMemAllocHost_v2);
	ck_assert_int_eq(rc_gpu_free_registered((uintptr_t)host, 300), 0);
	ck_assert(!rc_reg_has(RCSHIM_KIND_GPU, (uintptr_t)host));
	/* Not seen: device memory of the current context. */
	CUdeviceptr d;
	ck_assert_int_eq(cuMemAlloc_v2(&d, 400), CUDA_SUCCESS);
	ck_assert_int_eq(rc_gpu_free_registered(d, 400), 0);
	ck_assert_uint_eq(fake_cuda_live_bytes(), before);
	/* Unknown to the driver. */
	ck_assert_int_eq(rc_gpu_free_registered(0x1234, 1), -ENOENT);
	state_teardown();
}
END_TEST

/* Before a driver is bound (the program never called one through the
 * shim), live HIGH touches nothing. */
START_TEST(unbound_driver_is_left_alone)
{
	struct rcshim_result res;
	state_setup(NULL);
	rc_gpu_reset();
	struct rc_record rec = { .kind = RCSHIM_KIND_GPU, .flags = RC_REC_REGISTERED,
				 .handle = 0x5000, .size = 10, .pid = getpid() };
	rc_reg_add(&rec);
	ck_assert(!rc_gpu_bound());
	ck_assert_int_eq(clean(RC_MODE_LIVE, RCSHIM_HIGH, RC_REASON_API, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].cleaned, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_GPU].failed, 0);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_GPU), 1);
	state_teardown();
}
END_TEST

TEST_SUITE(gpu_core)
{
	ADD_TEST(s, allocation_makes_a_record);
	ADD_TEST(s, free_takes_the_record_and_a_refusal_puts_it_back);
	ADD_TEST(s, stale_record_is_replaced);
	ADD_TEST(s, destroyed_context_forgets_its_records);
	ADD_TEST(s, scope_end_frees_that_scope_only);
	ADD_TEST(s, process_end_never_frees);
	ADD_TEST(s, emergency_frees_every_kind);
	ADD_TEST(s, stale_and_refused_frees_are_counted);
	ADD_TEST(s, live_high_trims_pools);
	ADD_TEST(s, registered_buffers_are_freed);
	ADD_TEST(s, unbound_driver_is_left_alone);
}
