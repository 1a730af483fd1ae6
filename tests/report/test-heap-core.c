/* The heap accounting core, stacks and report formats, called directly
 * (no preloading): the test stands in for the interposer, allocating
 * with libc and handing the block to the core. */
#include "build-config.h"

#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/heap.h"
#include "clean/scope.h"
#include "core/scope.h"
#include "core/stack.h"
#include "report/report.h"
#include "report/symbol.h"
#include "report-util.h"
#include "test.h"

/* The interposer's general path in miniature, over libc's malloc: what
 * the plan says (the program's block, counted; a sample or a scope's
 * block, also recorded; the shim's own, recorded and not counted). */
static void *
track_alloc(size_t n)
{
	void *p = malloc(n);
	ck_assert_ptr_nonnull(p);
	size_t usable = malloc_usable_size(p);
	enum rc_heap_plan plan = rc_heap_plan();
	if (plan == RC_HEAP_OWN) {
		ck_assert(rc_heap_record(p, n, usable, RC_HEAP_REC_OWN, 0));
		return p;
	}
	unsigned flags = rc_heap_count_new(n, usable) ? RC_HEAP_REC_SAMPLE : 0;
	uint32_t stack = flags ? rc_heap_sample_stack(__builtin_return_address(0)) : 0;
	if (plan == RC_HEAP_SCOPE) {
		flags |= RC_HEAP_REC_SCOPE;
		if (!stack) {
			stack = rc_heap_site_stack(__builtin_return_address(0));
		}
	}
	if (flags) {
		ck_assert(rc_heap_record(p, n, usable, flags, stack));
	}
	return p;
}

/* Frees @p as the interposer does; returns its usable size. */
static size_t
track_free(void *p)
{
	struct rc_heap_rec r;
	size_t usable = malloc_usable_size(p);
	if (rc_heap_take(p, &r)) {
		if (!(r.flags & RC_HEAP_REC_OWN)) {
			rc_heap_count_gone(r.n, r.usable);
		}
	} else {
		rc_heap_count_gone(0, usable);
	}
	free(p);
	return usable;
}

static void
setup(void)
{
	rc_cfg.track = RC_TRACK_ALL;
	/* As in the preloaded shim over glibc: the fast paths' gate opens
	 * once the thread is registered. */
	rc_heap_set_exact(false);
	rc_heap_set_direct(true);
	rc_heap_configure(524288, 16, true);
	/* The thread registers on its first allocation (a slower path,
	 * one frame deeper): done here, outside the tests' stacks. */
	track_free(track_alloc(1));
	rc_heap_reset();
}

static void
totals(int64_t *blocks, int64_t *bytes)
{
	int64_t requested;
	rc_heap_totals(blocks, bytes, &requested);
}

START_TEST(counts_are_exact_for_every_size)
{
	static const size_t big[] = { 4096, 65536, 131071, 200000, 1 << 20 };
	int64_t b0, y0, b, y;

	setup();
	totals(&b0, &y0);
	for (size_t n = 0; n < 1100; n++) {
		void *p = track_alloc(n);
		totals(&b, &y);
		ck_assert_int_eq(b - b0, 1);
		ck_assert_int_eq(y - y0, (int64_t)malloc_usable_size(p));
		track_free(p);
	}
	for (size_t i = 0; i < sizeof(big) / sizeof(*big); i++) {
		void *p = track_alloc(big[i]);
		totals(&b, &y);
		ck_assert_int_eq(y - y0, (int64_t)malloc_usable_size(p));
		track_free(p);
	}
	totals(&b, &y);
	ck_assert_int_eq(b, b0);
	ck_assert_int_eq(y, y0);
}
END_TEST

/* The shim's own blocks (allocated under rc_guard) are recorded, never
 * counted, and their free (guarded or not) takes nothing off. */
START_TEST(guarded_allocations_are_not_counted)
{
	int64_t b0, y0, b, y;

	setup();
	totals(&b0, &y0);
	rc_guard++;
	ck_assert_int_eq(rc_heap_plan(), RC_HEAP_OWN);
	void *p = track_alloc(100);
	rc_guard--;
	totals(&b, &y);
	ck_assert_int_eq(b, b0);
	ck_assert_int_eq(y, y0);
	/* Freed outside the guard: still not subtracted. */
	track_free(p);
	totals(&b, &y);
	ck_assert_int_eq(b, b0);
	ck_assert_int_eq(y, y0);
}
END_TEST

/* Exact mode counts requested bytes besides; the default does not. */
START_TEST(exact_mode_counts_requested_bytes)
{
	int64_t b, y, r;
	void *p[3];

	setup();
	/* A huge interval: no statistical sample among these few blocks,
	 * which the loop below frees as unrecorded. At the default interval
	 * one run in about 250 sampled one of them. */
	rc_heap_configure(1ul << 40, 16, true);
	rc_heap_set_exact(true);
	ck_assert_uint_eq(rc_self.gate, RC_HEAP_GATE_EXACT);
	p[0] = track_alloc(1000);
	p[1] = track_alloc(1001);
	p[2] = track_alloc(5);
	rc_heap_totals(&b, &y, &r);
	ck_assert_int_eq(b, 3);
	ck_assert_int_eq(r, 2006);
	ck_assert_int_eq(y, (int64_t)(malloc_usable_size(p[0]) + malloc_usable_size(p[1]) +
				      malloc_usable_size(p[2])));
	struct rc_heap_summary s;
	rc_heap_summarize(&s);
	ck_assert(s.requested_exact);
	ck_assert_int_eq(s.requested, 2006);
	rc_free(s.groups);
	for (int i = 0; i < 3; i++) {
		struct rc_heap_rec rec;
		ck_assert(!rc_heap_take(p[i], &rec));
		rc_heap_count_gone(i == 0 ? 1000 : i == 1 ? 1001 : 5, malloc_usable_size(p[i]));
		free(p[i]);
	}
	rc_heap_totals(&b, &y, &r);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(y, 0);
	ck_assert_int_eq(r, 0);
	rc_heap_set_exact(false);
	ck_assert_uint_eq(rc_self.gate, 0);
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
	/* In exact mode, free's exact path stays open beside it. */
	rc_heap_set_exact(true);
	ck_assert_uint_eq(rc_self.free_off, RC_HEAP_FREE_EXACT);
	ck_assert_uint_ne(rc_self.gate, RC_HEAP_GATE_EXACT);
	rc_heap_set_exact(false);
	rc_scope_cur = saved;
	rc_heap_scope_changed();
	ck_assert_uint_eq(rc_self.gate, 0);

	/* An allocator whose headers are not glibc's: the general paths. */
	rc_heap_set_direct(false);
	ck_assert_uint_ne(rc_self.free_off, 0);
	ck_assert_uint_ne(rc_self.alloc_off, 0);
	rc_heap_set_direct(true);
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

/* Side blocks: aligned, zeroed, found again by the words before them
 * (whose last reads as a mapped glibc chunk), and by the filter. */
START_TEST(side_blocks_are_found_and_released)
{
	/* Asked for, and given (a power of two, as memalign rounds). */
	static const size_t aligns[][2] = { { 1, 16 }, { 16, 16 }, { 48, 64 }, { 64, 64 },
					    { 4096, 4096 } };
	struct rc_heap_rec r;

	setup();
	for (size_t i = 0; i < sizeof(aligns) / sizeof(*aligns); i++) {
		unsigned char *p =
			rc_heap_side_alloc(100, 104, aligns[i][0], RC_HEAP_REC_SAMPLE, 0, true);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % aligns[i][1], 0);
		for (size_t k = 0; k < 104; k++) {
			ck_assert_uint_eq(p[k], 0);
		}
		memset(p, 0xa5, 104);
		ck_assert(((const size_t *)p)[-1] & 2);
		const struct rc_heap_rec *s = rc_heap_side_of(p);
		ck_assert_ptr_nonnull(s);
		ck_assert_uint_eq(s->usable, 104);
		ck_assert_uint_eq(s->n, 100);
		ck_assert(s->flags & RC_HEAP_REC_SIDE);
		ck_assert(rc_heap_may_have(p));
		ck_assert_uint_eq(rc_heap_sample_count(), 1);
		ck_assert(rc_heap_take(p, &r));
		ck_assert_uint_eq(r.usable, 104);
		ck_assert(r.flags & RC_HEAP_REC_SAMPLE);
		ck_assert_uint_eq(rc_heap_sample_count(), 0);
	}
	/* Memory with other words before it (a glibc chunk's prev_size and
	 * size, say) is not a side block, and has no record. */
	static uintptr_t words[4] = { 0, 0, 0, 200016 | 2 };
	ck_assert_ptr_null(rc_heap_side_of(&words[4]));
	ck_assert(!rc_heap_take(&words[4], &r));
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
	struct rc_heap_summary s;

	setup();
	rc_heap_configure(1, 16, true);
	for (int i = 0; i < 50; i++) {
		p[i] = sampled_here(1000); /* 1000: a usable size */
	}
	rc_heap_summarize(&s);
	struct rc_heap_group *g = s.groups;
	ck_assert_uint_eq(s.samples, 50);
	ck_assert_uint_eq(s.sampled_bytes, 50000);
	ck_assert_uint_eq(s.sampled_requested, 50000);
	ck_assert_uint_eq(s.ngroups, 1);
	ck_assert_uint_eq(g[0].samples, 50);
	ck_assert_uint_eq((uint64_t)(g[0].est_bytes + 0.5), 50000);
	ck_assert_uint_eq((uint64_t)(g[0].est_blocks + 0.5), 50);
	ck_assert_int_eq(s.requested, 50000);
	ck_assert(!s.requested_exact);

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
	struct rc_heap_summary s;

	setup();
	rc_heap_configure(64 * 1024, 16, true);
	for (int i = 0; i < N; i++) {
		p[i] = sampled_here(500);
	}
	size_t usable = malloc_usable_size(p[0]);
	rc_heap_summarize(&s);
	double est = 0, req = 0;
	for (size_t i = 0; i < s.ngroups; i++) {
		est += s.groups[i].est_bytes;
		req += s.groups[i].est_requested;
	}
	rc_free(s.groups);
	/* 10 MB allocated, one sample per 64 KiB on average: ~160 samples;
	 * the estimate is within 40 % (a loose bound, it is random), never
	 * above the exact total; requested bytes in the samples' ratio. */
	ck_assert_uint_gt(s.samples, 60);
	ck_assert_int_eq(s.bytes, (int64_t)(N * usable));
	ck_assert_msg(est > 0.6 * N * usable && est <= (double)s.bytes + 0.5, "estimate %f", est);
	ck_assert_msg(req > 0.6 * N * 500 && req <= est, "requested estimate %f", req);
	ck_assert_int_eq(s.requested, (int64_t)N * 500);
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
	totals(&b0, &y0);
	for (int i = 0; i < 4; i++) {
		pthread_create(&t[i], NULL, thread_allocs, blocks[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
	}
	totals(&b, &y);
	ck_assert_int_eq(b - b0, 40);
	ck_assert_int_eq(y - y0, 40 * (int64_t)malloc_usable_size(blocks[0][0]));
	/* Freed by another thread than the one that allocated. */
	for (int i = 0; i < 4; i++) {
		for (int k = 0; k < 10; k++) {
			track_free(blocks[i][k]);
		}
	}
	totals(&b, &y);
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
	struct rc_heap_rec rec;

	setup();
	/* A huge interval: no statistical sample among these few blocks. */
	rc_heap_configure(1ul << 40, 16, true);
	rc_heap_block_free = core_free;
	uint32_t outer = rc_scope_begin("outer", RCSHIM_SCOPE_FREE_HEAP);
	ck_assert_uint_ne(outer, 0);
	void *a = track_alloc(100);
	size_t ua = malloc_usable_size(a), ub;
	ck_assert(rc_heap_find(a, &rec));
	ck_assert_uint_eq(rec.flags, RC_HEAP_REC_SCOPE);
	ck_assert_uint_eq(rec.scope, outer);
	uint32_t inner = rc_scope_begin("inner", 0);
	void *blk[4];
	for (int i = 0; i < 4; i++) {
		blk[i] = track_alloc(1000);
	}
	ub = malloc_usable_size(blk[0]);
	track_free(blk[0]);
	rc_heap_scope_totals(inner, &n, &y);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(y, 3 * ub);
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
	ck_assert_uint_eq(y, 3 * ub + ua);

	/* Freed at the outer end: the live counts drop by as much. */
	totals(&b0, &y0);
	memset(&r, 0, sizeof(r));
	rc_scope_end(outer, RCSHIM_MEDIUM, &r);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_HEAP].cleaned, 4);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_HEAP].bytes, 3 * ub + ua);
	totals(&b1, &y1);
	ck_assert_int_eq(b0 - b1, 4);
	ck_assert_int_eq(y0 - y1, (int64_t)(3 * ub + ua));
	rc_heap_scope_totals(outer, &n, &y);
	ck_assert_uint_eq(n, 0);

	/* Outside every scope: the fast path again, nothing recorded. */
	void *c = track_alloc(10);
	ck_assert(!rc_heap_find(c, &rec));
	track_free(c);
	rc_heap_block_free = NULL;
}
END_TEST

/* A sample stands for 1/p blocks like it; luck (or a sample taken of a
 * block the totals no longer hold) never puts the groups above the exact
 * totals: they are scaled down alike. */
START_TEST(estimates_never_above_exact_totals)
{
	struct rc_heap_summary s;

	setup();
	rc_heap_configure(1 << 20, 16, true);
	void *p = malloc(100);
	size_t usable = malloc_usable_size(p);
	/* Counted once, and a sample though the countdown did not say so:
	 * alone, it would stand for about 9 700 blocks. */
	rc_heap_count_new(100, usable);
	ck_assert(rc_heap_record(p, 100, usable, RC_HEAP_REC_SAMPLE, 0));
	rc_heap_summarize(&s);
	ck_assert_int_eq(s.blocks, 1);
	ck_assert_int_eq(s.bytes, (int64_t)usable);
	ck_assert_uint_eq(s.ngroups, 1);
	ck_assert_uint_eq((uint64_t)(s.groups[0].est_blocks + 0.5), 1);
	ck_assert_uint_eq((uint64_t)(s.groups[0].est_bytes + 0.5), usable);
	ck_assert_uint_eq((uint64_t)(s.groups[0].est_requested + 0.5), 100);
	ck_assert_int_eq(s.requested, 100);
	rc_free(s.groups);
	track_free(p);
	rc_heap_configure(524288, 16, true);
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
	/* 777 bytes asked for, 792 usable on glibc */
	char want[64];
	snprintf(want, sizeof(want), "[(1, %zu, 777)]", malloc_usable_size(leak));
	rq_expect(path, "[(g['count'], g['bytes'], g['requested_bytes']) for g in K['heap']['groups']]",
		  want);
	rq_expect(path, "(K['heap']['mode'], K['heap']['requested_exact'])", "('counts', False)");
	rq_expect(path, "'sampled_here' in fns(K['heap']['groups'][0])", "True");
	rq_expect(path, "r['notes'][-1]", "a note with \"quotes\", a tab\t, and \u00ff bytes");
	track_free(leak);
	rc_heap_configure(524288, 16, true);
	t_scratch_free(dir);
}
END_TEST

TEST_SUITE(report_core)
{
	ADD_TEST(s, counts_are_exact_for_every_size);
	ADD_TEST(s, guarded_allocations_are_not_counted);
	ADD_TEST(s, exact_mode_counts_requested_bytes);
	ADD_TEST(s, fast_path_gate);
	ADD_TEST(s, side_blocks_are_found_and_released);
	ADD_TEST(s, every_allocation_sampled_with_its_stack);
	ADD_TEST(s, sampling_estimates_scale);
	ADD_TEST(s, exited_threads_are_folded);
	ADD_TEST(s, stacks_are_interned_once);
	ADD_TEST(s, scope_blocks_handed_over_and_freed);
	ADD_TEST(s, estimates_never_above_exact_totals);
	ADD_TEST(s, report_json_parses);
}
