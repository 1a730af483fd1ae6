/* The heap (DESIGN §3).  Live, at MEDIUM and above: malloc_trim(0) hands
 * free memory back to the system; the bytes it returned are the drop in
 * resident size, counted in the result.  Final, at HIGH and above, for
 * the whole process: the leak figures (exact blocks and bytes still
 * allocated) go to the log; the report (RCSHIM_REPORT) has them with
 * their stacks. */
#include "build-config.h"

#include <fcntl.h>
#include <malloc.h>

#include "clean/engine.h"
#include "clean/step.h"
#include "core/heap.h"
#include "core/log.h"
#include "core/state.h"
#include "core/sys.h"
#include "report/report.h"

/* Resident bytes, from /proc/self/statm (its second field, in pages);
 * 0 when unreadable. */
static uint64_t
resident_bytes(void)
{
	char buf[128];
	int fd = rc_sys_openat(AT_FDCWD, "/proc/self/statm", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		return 0;
	}
	ssize_t n = rc_sys_read(fd, buf, sizeof(buf) - 1);
	rc_sys_close(fd);
	if (n <= 0) {
		return 0;
	}
	buf[n] = '\0';
	const char *p = buf;
	while (*p && *p != ' ') {
		p++;
	}
	uint64_t pages = 0;
	while (*p == ' ') {
		p++;
	}
	while (*p >= '0' && *p <= '9') {
		pages = pages * 10 + (uint64_t)(*p++ - '0');
	}
	return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

uint64_t
rc_heap_trim(void)
{
	uint64_t before = resident_bytes();
	malloc_trim(0);
	uint64_t after = resident_bytes();
	return before > after ? before - after : 0;
}

static void
trim(const struct rc_step_ctx *ctx)
{
	/* Bytes only: a trim is not an item reclaimed. */
	rc_result_add(ctx->res, RCSHIM_KIND_HEAP, 0, 0, 0, rc_heap_trim());
}

static void
leak_summary(void)
{
	int64_t blocks, bytes, requested;
	if (rc_heap_inactive_reason()) {
		return;
	}
	rc_heap_totals(&blocks, &bytes, &requested);
	if (blocks > 0) {
		rc_info("heap: %ld blocks, %ld bytes still allocated at exit%s", (long)blocks,
			(long)bytes, rc_cfg.report[0] ? " (stacks in the report)" : "");
	}
}

void
rc_step_heap(const struct rc_step_ctx *ctx)
{
	const struct rc_clean_req *req = ctx->req;

	if (!rc_step_tracked(RCSHIM_KIND_HEAP)) {
		return;
	}
	if (req->mode == RC_MODE_LIVE) {
		if (req->prio >= RCSHIM_MEDIUM) {
			if (rc_self.signal_safe) {
				/* malloc_trim takes the allocator's locks, which
				 * the interrupted code may hold: at the next
				 * allocation instead (rc_heap_trim_later). */
				rc_heap_trim_later();
			} else {
				trim(ctx);
			}
		}
		return;
	}
	if (req->mode == RC_MODE_FINAL && req->prio >= RCSHIM_HIGH && req->scope == 0 &&
	    (req->reason == RC_REASON_EXIT || req->reason == RC_REASON_SIGNAL)) {
		leak_summary();
	}
}

/* The heap's part of a scope's end (clean/scope.c): the blocks it still
 * holds counted and reported by stack, then freed (RCSHIM_SCOPE_FREE_HEAP)
 * or handed to @parent. */
void
rc_heap_scope_reclaim(uint32_t scope, uint32_t parent, rcshim_priority prio, bool free_blocks,
		      struct rcshim_result *res)
{
	struct rc_heap_scope_taken t;

	if (free_blocks && !rc_heap_block_free) {
		free_blocks = false; /* the core alone: nothing to free with */
	}
	if (!rc_heap_scope_take(scope, parent, free_blocks, &t)) {
		return;
	}
	rc_guard++;
	for (size_t i = 0; i < t.ndoomed; i++) {
		rc_heap_block_free((void *)t.doomed[i]);
	}
	if (t.taken) {
		rc_result_add(res, RCSHIM_KIND_HEAP, t.blocks, 0, 0, t.bytes);
	} else {
		rc_result_add(res, RCSHIM_KIND_HEAP, 0, 0, t.blocks, 0);
	}
	if (res) {
		rc_report_scope_heap(scope, parent, prio, t.taken, t.blocks, t.bytes, t.groups,
				     t.ngroups);
	}
	rc_heap_scope_taken_free(&t);
	rc_guard--;
}
