/* GPU memory (DESIGN §1 GPU row, §3):
 *   - at process end (exit, termination signal) it is reported, never
 *     freed: the driver tears its contexts down itself, and a free after
 *     its destructors ran would crash;
 *   - at the end of a scope and in explicit calls (final mode, HIGH and
 *     above), and in live CRITICAL, what the scope (or the process)
 *     allocated is freed in its own context, stream-ordered memory after
 *     its context was synchronized; a process-wide request then trims the
 *     memory pools too, so the freed memory leaves the process;
 *   - live HIGH trims the memory pools (the devices' default pools and
 *     those the program allocated from) down to what is in use.
 * Without a CUDA driver this step has nothing to do. */
#include "build-config.h"

#include <errno.h>

#include "clean/custom.h"
#include "clean/step.h"
#include "core/gpu.h"
#include "core/log.h"
#include "core/state.h"

static bool
process_end(const struct rc_clean_req *req)
{
	return req->reason == RC_REASON_EXIT || req->reason == RC_REASON_SIGNAL ||
	       req->reason == RC_REASON_CRASH;
}

struct held {
	int32_t pid;
	size_t count;
	uint64_t bytes;
};

/* Counts without copying (never matches). */
static bool
count_held(const struct rc_record *r, void *p)
{
	struct held *h = p;
	if (r->kind == RCSHIM_KIND_GPU && r->pid == h->pid) {
		h->count++;
		h->bytes += r->size;
	}
	return false;
}

static void
report_at_end(const struct rc_step_ctx *ctx)
{
	struct held h = { ctx->pid, 0, 0 };
	struct rc_record *none;
	rc_reg_collect(count_held, &h, false, &none);
	if (h.count) {
		rc_info("gpu: %zu allocations (%llu bytes) held at exit, left to the driver",
			h.count, (unsigned long long)h.bytes);
	}
}

/* The driver, if the process has one, even when the program never
 * allocated through the shim (a buffer registered through the API). */
static bool
driver(void)
{
	return rc_gpu_bound() || (rc_gpu_present() && rc_gpu_bind_loaded());
}

static void
restore_ctx(rc_cu_ctx orig)
{
	if (rc_gpu_bound() && rc_gpu_ctx_current() != orig) {
		rc_gpu.ctx_set_current(orig);
	}
}

static void
free_all(const struct rc_step_ctx *ctx)
{
	struct rc_step_match m = { RCSHIM_KIND_GPU, ctx->pid, ctx->req->scope, 0, 0 };
	struct rc_record *list;
	size_t n = rc_reg_collect(rc_step_match, &m, true, &list);
	if (!n) {
		return;
	}
	bool have = driver();
	rc_cu_ctx orig = rc_gpu_ctx_current();
	struct rc_gpu_sync_set synced = { .n = 0 };

	/* Newest first: what was made later may depend on what came before. */
	for (size_t i = 0; i < n; i++) {
		const struct rc_record *r = &list[i];
		int cu = 0;
		int rc = have ? rc_gpu_free_one(r->handle, r->sub, (rc_cu_ctx)(uintptr_t)r->ino,
						&synced, &cu)
			      : -ENOSYS;
		switch (rc) {
		case 0: {
			char size[32];
			rc_human_bytes(size, sizeof(size), r->size);
			rc_result_add(ctx->res, RCSHIM_KIND_GPU, 1, 0, 0, r->size);
			rc_reclaimed_add(RCSHIM_KIND_GPU, "GPU %s at 0x%llx", size,
					 (unsigned long long)r->handle);
			break;
		}
		case -ESTALE:
			/* Freed behind the shim's back (with its context, say):
			 * nothing to reclaim, and never to be freed again. */
			rc_result_add(ctx->res, RCSHIM_KIND_GPU, 0, 0, 1, 0);
			rc_info("left alone: gpu %s 0x%llx (%llu bytes): the driver no longer knows it",
				rc_gpu_sub_name(r->sub), (unsigned long long)r->handle,
				(unsigned long long)r->size);
			break;
		case -ENOSYS:
			/* No driver: a registered buffer the shim cannot free. */
			rc_result_add(ctx->res, RCSHIM_KIND_GPU, 0, 0, 1, 0);
			rc_reg_put_back(r);
			break;
		default:
			rc_result_add(ctx->res, RCSHIM_KIND_GPU, 0, 1, 0, 0);
			rc_info("could not free gpu %s 0x%llx (%llu bytes): CUDA error %d",
				rc_gpu_sub_name(r->sub), (unsigned long long)r->handle,
				(unsigned long long)r->size, cu);
			rc_reg_put_back(r);
			break;
		}
	}
	restore_ctx(orig);
	rc_reg_free_list(list, n);
}

/* Trims every pool the shim knows of; with @count, each pool that gave
 * memory back counts as cleaned, with the bytes. */
static void
trim_pools(const struct rc_step_ctx *ctx, bool count)
{
	uint64_t pools[RC_GPU_MAX_POOLS + 16];
	size_t n, k;

	if (!rc_gpu_bound()) {
		return;
	}
	n = rc_gpu_default_pools(pools, 16);
	k = rc_gpu_pools(pools + n, RC_GPU_MAX_POOLS);
	/* Explicit pools are distinct from default ones unless the program
	 * allocated from a default pool by handle. */
	for (size_t i = n; i < n + k; i++) {
		bool dup = false;
		for (size_t j = 0; j < n && !dup; j++) {
			dup = pools[j] == pools[i];
		}
		if (dup) {
			pools[i] = 0;
		}
	}
	n += k;
	/* Pools belong to devices, but the driver wants a context on the
	 * calling thread (the worker has none). */
	rc_cu_ctx orig = rc_gpu_ctx_current();
	if (!orig && rc_gpu_ctx_last()) {
		rc_gpu.ctx_set_current(rc_gpu_ctx_last());
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t released = 0;
		if (!pools[i]) {
			continue;
		}
		int rc = rc_gpu_trim_pool(pools[i], &released);
		if (!count) {
			continue;
		}
		if (rc < 0) {
			rc_result_add(ctx->res, RCSHIM_KIND_GPU, 0, 1, 0, 0);
		} else if (released) {
			rc_result_add(ctx->res, RCSHIM_KIND_GPU, 1, 0, 0, released);
			rc_debug("gpu: pool 0x%llx trimmed, %llu bytes released",
				 (unsigned long long)pools[i], (unsigned long long)released);
		}
	}
	restore_ctx(orig);
}

void
rc_step_gpu(const struct rc_step_ctx *ctx)
{
	if (!rc_step_tracked(RCSHIM_KIND_GPU)) {
		return;
	}
	if (process_end(ctx->req)) {
		report_at_end(ctx);
		return;
	}
	if (ctx->req->prio < RCSHIM_HIGH) {
		return;
	}
	if (rc_step_final(ctx) && rc_runtime_leaves(ctx->req, RCSHIM_KIND_GPU)) {
		/* A framework's caching allocator (PyTorch's) owns it: freeing
		 * under it would hand the same memory out twice.  The binding
		 * drops its references and lets the framework free. */
		struct rc_step_match m = { RCSHIM_KIND_GPU, ctx->pid, ctx->req->scope, 0, 0 };
		struct rc_record *list;
		size_t n = rc_reg_collect(rc_step_match, &m, false, &list);
		rc_result_add(ctx->res, RCSHIM_KIND_GPU, 0, 0, n, 0);
		rc_reg_free_list(list, n);
	} else if (rc_step_final(ctx)) {
		if (rc_reg_count(RCSHIM_KIND_GPU)) {
			free_all(ctx);
		}
		if (!ctx->req->scope) {
			trim_pools(ctx, false);
		}
	} else {
		trim_pools(ctx, true);
	}
}

int
rc_gpu_free_registered(uint64_t dptr, uint64_t size)
{
	struct rc_record rec;
	(void)size;

	if (!driver()) {
		return -ENOSYS;
	}
	/* Seen when it was allocated: freed as it was made, in its context.
	 * Else it is device memory of the current context. */
	bool had = rc_reg_take(RCSHIM_KIND_GPU, dptr, &rec);
	rc_cu_ctx orig = rc_gpu_ctx_current();
	struct rc_gpu_sync_set synced = { .n = 0 };
	int cu = 0;
	int rc = rc_gpu_free_one(dptr, had ? rec.sub : RC_GPU_DEVICE,
				 had ? (rc_cu_ctx)(uintptr_t)rec.ino : NULL, &synced, &cu);
	restore_ctx(orig);
	if (rc == 0 || rc == -ESTALE) {
		return rc == 0 ? 0 : -ENOENT;
	}
	if (had) {
		rc_reg_put_back(&rec);
	}
	return rc;
}
