/* The heap accounting core, stacks and report formats, called directly
 * (no preloading): the test stands in for the interposer, allocating
 * one byte more with libc and handing the block to the core. */
#include "build-config.h"

#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/heap.h"
#include "core/scope.h"
#include "core/stack.h"
#include "report/report.h"
#include "report/symbol.h"
#include "report-util.h"
#include "test.h"

static void *
track_alloc(size_t n)
{
	void *p = malloc(n + 1);
	ck_assert_ptr_nonnull(p);
	rc_heap_on_alloc(p, n, malloc_usable_size(p));
	return p;
}

static size_t
track_free(void *p)
{
	size_t n = rc_heap_on_free(p, malloc_usable_size(p));
	free(p);
	return n;
}

static void
setup(void)
{
	rc_cfg.track = RC_TRACK_ALL;
	/* As in the preloaded shim over glibc: the inline path of
	 * rc_heap_on_alloc is open once the thread is registered. */
	rc_heap_set_direct(true);
	rc_heap_configure(524288, 16, true);
	/* The thread registers on its first allocation (a slower path,
	 * one frame deeper): done here, outside the tests' stacks. */
	track_free(track_alloc(1));
	rc_heap_reset();
}

START_TEST(tags_give_back_every_size)
{
	static const size_t big[] = { 4096, 65536, 131071, 200000, 1 << 20 };
	int64_t b0, y0, b, y;

	setup();
	rc_heap_totals(&b0, &y0);
	for (size_t n = 0; n < 1100; n++) {
		void *p = track_alloc(n);
		unsigned flags;
		ck_assert_uint_eq(rc_heap_size(p, malloc_usable_size(p), &flags), n);
		ck_assert(flags & RC_HEAP_COUNTED);
		rc_heap_totals(&b, &y);
		ck_assert_int_eq(b - b0, 1);
		ck_assert_int_eq(y - y0, (int64_t)n);
		ck_assert_uint_eq(track_free(p), n);
	}
	for (size_t i = 0; i < sizeof(big) / sizeof(*big); i++) {
		void *p = track_alloc(big[i]);
		ck_assert_uint_eq(track_free(p), big[i]);
	}
	rc_heap_totals(&b, &y);
	ck_assert_int_eq(b, b0);
	ck_assert_int_eq(y, y0);
}
END_TEST

START_TEST(guarded_allocations_are_not_counted)
{
	int64_t b0, y0, b, y;

	setup();
	rc_heap_totals(&b0, &y0);
	rc_guard++;
	void *p = track_alloc(100);
	rc_guard--;
	rc_heap_totals(&b, &y);
	ck_assert_int_eq(b, b0);
	/* Freed outside the guard: still not subtracted. */
	ck_assert_uint_eq(track_free(p), 100);
	rc_heap_totals(&b, &y);
	ck_assert_int_eq(b, b0);
	ck_assert_int_eq(y, y0);
}
END_TEST

static void *
gate_of_new_thread(void *arg)
{
	uint32_t *out = arg;
	out[0] = rc_self.gate; /* before any allocation: closed */
	free(track_alloc(10));
	out[1] = rc_self.gate; /* registered: open */
	rc_heap_thread_exit();
	out[2] = rc_self.free_off;
	out[3] = rc_self.alloc_off;
	return NULL;
}

/* The word the malloc/free fast paths read: zero only on a registered,
 * counting thread outside scopes and outside the shim's own work. */
START_TEST(fast_path_gate)
{
	setup();
	ck_assert_uint_eq(rc_self.gate, 0);
	rc_guard++;
	ck_assert_uint_ne(rc_self.gate, 0);
	rc_guard--;
	ck_assert_uint_eq(rc_self.gate, 0);

	/* A scope closes the allocation path only: blocks allocated
	 * before it are still freed on the fast path. */
	uint32_t saved = rc_scope_cur;
	rc_scope_cur = 77;
	rc_heap_scope_changed();
	ck_assert_uint_ne(rc_self.alloc_off, 0);
	ck_assert_uint_eq(rc_self.free_off, 0);
	rc_scope_cur = saved;
	rc_heap_scope_changed();
	ck_assert_uint_eq(rc_self.gate, 0);

	/* Heap not tracked: allocations leave the fast path. */
	rc_heap_configure(524288, 16, false);
	ck_assert_uint_ne(rc_self.alloc_off, 0);
	rc_heap_configure(524288, 16, true);
	ck_assert_uint_eq(rc_self.gate, 0);

	/* A new thread starts closed, opens when it registers, and closes
	 * both paths when it exits. */
	uint32_t seen[4];
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, gate_of_new_thread, seen), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_uint_ne(seen[0], 0);
	ck_assert_uint_eq(seen[1], 0);
	ck_assert_uint_ne(seen[2], 0);
	ck_assert_uint_ne(seen[3], 0);
}
END_TEST

__attribute__((noinline)) static void *
sampled_here(size_t n)
{
	void *p = track_alloc(n);
	__asm__ volatile("" ::: "memory"); /* not a tail call: keep the frame */
	return p;
}

START_TEST(every_allocation_sampled_with_its_stack)
{
	void *p[50];
	struct rc_heap_group *g;
	uint64_t samples, bytes;

	setup();
	rc_heap_configure(1, 16, true);
	for (int i = 0; i < 50; i++) {
		p[i] = sampled_here(1000);
	}
	size_t n = rc_heap_groups(&g, &samples, &bytes);
	ck_assert_uint_eq(samples, 50);
	ck_assert_uint_eq(bytes, 50000);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(g[0].samples, 50);
	ck_assert_uint_eq((uint64_t)(g[0].est_bytes + 0.5), 50000);

	const uintptr_t *pc;
	unsigned nf = rc_stack_frames(g[0].stack, &pc);
	ck_assert_uint_ge(nf, 2);
	struct rc_symbolizer *sym = rc_sym_begin();
	struct rc_frame_info f;
	bool named = false;
	for (unsigned i = 0; i < nf && i < 4; i++) {
		rc_sym_lookup(sym, pc[i], &f);
		named |= strcmp(f.function, "sampled_here") == 0;
	}
	rc_sym_end(sym);
	ck_assert_msg(named, "sampled_here not among the first frames");
	rc_free(g);

	/* Freed samples leave the table. */
	for (int i = 0; i < 50; i++) {
		track_free(p[i]);
	}
	ck_assert_uint_eq(rc_heap_sample_count(), 0);
	rc_heap_configure(524288, 16, true);
}
END_TEST

START_TEST(sampling_estimates_scale)
{
	enum { N = 20000 };
	static void *p[N];
	struct rc_heap_group *g;
	uint64_t samples, bytes;

	setup();
	rc_heap_configure(64 * 1024, 16, true);
	for (int i = 0; i < N; i++) {
		p[i] = sampled_here(512);
	}
	size_t n = rc_heap_groups(&g, &samples, &bytes);
	double est = 0;
	for (size_t i = 0; i < n; i++) {
		est += g[i].est_bytes;
	}
	rc_free(g);
	/* 10 MB allocated, one sample per 64 KiB on average: ~160 samples;
	 * the estimate is within 40 % (a loose bound, it is random). */
	ck_assert_uint_gt(samples, 60);
	ck_assert_msg(est > 0.6 * N * 512 && est < 1.4 * N * 512, "estimate %f", est);
	for (int i = 0; i < N; i++) {
		track_free(p[i]);
	}
	rc_heap_configure(524288, 16, true);
}
END_TEST

static void *
thread_allocs(void *arg)
{
	void **out = arg;
	for (int i = 0; i < 10; i++) {
		out[i] = track_alloc(300);
	}
	return NULL;
}

START_TEST(exited_threads_are_folded)
{
	void *blocks[4][10];
	pthread_t t[4];
	int64_t b0, y0, b, y;

	setup();
	rc_heap_totals(&b0, &y0);
	for (int i = 0; i < 4; i++) {
		pthread_create(&t[i], NULL, thread_allocs, blocks[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
	}
	rc_heap_totals(&b, &y);
	ck_assert_int_eq(b - b0, 40);
	ck_assert_int_eq(y - y0, 12000);
	/* Freed by another thread than the one that allocated. */
	for (int i = 0; i < 4; i++) {
		for (int k = 0; k < 10; k++) {
			track_free(blocks[i][k]);
		}
	}
	rc_heap_totals(&b, &y);
	ck_assert_int_eq(b, b0);
	ck_assert_int_eq(y, y0);
}
END_TEST

START_TEST(stacks_are_interned_once)
{
	uintptr_t a[] = { 0x1000, 0x2000, 0x3000 }, b[] = { 0x1000, 0x2000, 0x3001 };
	uint32_t ia = rc_stack_intern(a, 3), ib = rc_stack_intern(b, 3);
	ck_assert_uint_ne(ia, 0);
	ck_assert_uint_ne(ia, ib);
	ck_assert_uint_eq(rc_stack_intern(a, 3), ia);
	ck_assert_uint_eq(rc_stack_intern(a, 2), rc_stack_intern(b, 2));
	const uintptr_t *pc;
	ck_assert_uint_eq(rc_stack_frames(ib, &pc), 3);
	ck_assert_uint_eq(pc[2], 0x3001);
	ck_assert_uint_eq(rc_stack_frames(0, &pc), 0);
	ck_assert_uint_eq(rc_stack_capture(0), 0);
	ck_assert_uint_ne(rc_stack_capture(8), 0);
}
END_TEST

/* Blocks allocated inside a scope: recorded (not as samples), handed to
 * the enclosing scope when kept, freed by the end of a scope opened with
 * RCSHIM_SCOPE_FREE_HEAP; blocks outside every scope are not recorded. */
static void
core_free(void *p)
{
	track_free(p);
}

START_TEST(scope_blocks_handed_over_and_freed)
{
	struct rcshim_result r;
	uint64_t n, y;
	int64_t b0, y0, b1, y1;
	unsigned flags;

	setup();
	/* A huge interval: no statistical sample among these few blocks. */
	rc_heap_configure(1ul << 40, 16, true);
	rc_heap_block_free = core_free;
	uint32_t outer = rc_scope_begin("outer", RCSHIM_SCOPE_FREE_HEAP);
	ck_assert_uint_ne(outer, 0);
	void *a = track_alloc(100);
	ck_assert_uint_eq(rc_heap_size(a, malloc_usable_size(a), &flags), 100);
	ck_assert(flags & RC_HEAP_SAMPLED);
	uint32_t inner = rc_scope_begin("inner", 0);
	void *blk[4];
	for (int i = 0; i < 4; i++) {
		blk[i] = track_alloc(1000);
	}
	track_free(blk[0]);
	rc_heap_scope_totals(inner, &n, &y);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(y, 3000);
	ck_assert_uint_eq(rc_heap_sample_count(), 0);

	/* Kept at the inner end: counted as left alone, now the outer's. */
	memset(&r, 0, sizeof(r));
	rc_scope_end(inner, RCSHIM_LOW, &r);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_HEAP].skipped, 3);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_HEAP].cleaned, 0);
	rc_heap_scope_totals(inner, &n, &y);
	ck_assert_uint_eq(n, 0);
	rc_heap_scope_totals(outer, &n, &y);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(y, 3100);

	/* Freed at the outer end: the live counts drop by as much. */
	rc_heap_totals(&b0, &y0);
	memset(&r, 0, sizeof(r));
	rc_scope_end(outer, RCSHIM_MEDIUM, &r);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_HEAP].cleaned, 4);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_HEAP].bytes, 3100);
	rc_heap_totals(&b1, &y1);
	ck_assert_int_eq(b0 - b1, 4);
	ck_assert_int_eq(y0 - y1, 3100);
	rc_heap_scope_totals(outer, &n, &y);
	ck_assert_uint_eq(n, 0);

	/* Outside every scope: the fast path again, nothing recorded. */
	void *c = track_alloc(10);
	rc_heap_size(c, malloc_usable_size(c), &flags);
	ck_assert(!(flags & RC_HEAP_SAMPLED));
	track_free(c);
	rc_heap_block_free = NULL;
}
END_TEST

START_TEST(report_json_parses)
{
	char *dir = t_scratch();
	char path[600];
	void *leak;

	setup();
	rc_heap_configure(1, 16, true);
	leak = sampled_here(777);
	rc_report_note("a note with \"quotes\", a tab\t, and \xff bytes");
	snprintf(path, sizeof(path), "%s/r.json", dir);
	FILE *f = fopen(path, "w");
	ck_assert_int_eq(rc_report_write(fileno(f), RC_REPORT_JSON), 0);
	fclose(f);
	rq_expect(path, "(r['format'], r['schema'], r['event'])", "('rcshim-report', 1, 'snapshot')");
	rq_expect(path, "[k['kind'] for k in r['kinds']]",
		  "['heap', 'temp', 'fd', 'sqlite', 'gpu', 'custom']");
	rq_expect(path, "[(g['count'], g['bytes']) for g in K['heap']['groups']]", "[(1, 777)]");
	rq_expect(path, "'sampled_here' in fns(K['heap']['groups'][0])", "True");
	rq_expect(path, "r['notes'][-1]", "a note with \"quotes\", a tab\t, and \u00ff bytes");
	track_free(leak);
	rc_heap_configure(524288, 16, true);
	t_scratch_free(dir);
}
END_TEST

TEST_SUITE(report_core)
{
	ADD_TEST(s, tags_give_back_every_size);
	ADD_TEST(s, guarded_allocations_are_not_counted);
	ADD_TEST(s, fast_path_gate);
	ADD_TEST(s, every_allocation_sampled_with_its_stack);
	ADD_TEST(s, sampling_estimates_scale);
	ADD_TEST(s, exited_threads_are_folded);
	ADD_TEST(s, stacks_are_interned_once);
	ADD_TEST(s, scope_blocks_handed_over_and_freed);
	ADD_TEST(s, report_json_parses);
}
