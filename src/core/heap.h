/* Heap accounting (DESIGN §1 HEAP): exact live blocks and requested bytes,
 * and sampled allocation stacks.
 *
 * Exact counts need each block's requested size when it is freed, without
 * a table of every allocation.  The size lives in the block itself, in the
 * padding the allocator adds anyway: the interposer asks the real
 * allocator for one byte more than the program did, and the last usable
 * byte (the "tag") holds the slack (usable - requested) and two flags.
 * When the slack does not fit in 6 bits the 8 bytes before the tag hold
 * the size.  glibc rounds requests to 16 bytes, so the extra byte costs a
 * larger chunk for 1 request size in 16 (see docs/design-notes.md).
 *
 * Counters are per thread (initial-exec TLS, no shared cache line on the
 * hot path) and folded into process-wide totals when the thread exits.
 *
 * This file knows nothing about interposition: the caller passes the
 * usable size the real allocator reports.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/state.h"

/* The tag byte. */
#define RC_HEAP_SAMPLED 0x80u /* the block is in the sample table */
#define RC_HEAP_COUNTED 0x40u /* the block is in the live counts */
#define RC_HEAP_SLACK 0x3fu   /* usable - requested, 1..62 */
#define RC_HEAP_WIDE 0x3fu    /* slack >= 63: the size is in the 8 bytes before the tag */

/* The calling thread's counters. */
#define rc_heap_self (rc_self.heap)
/* False when RCSHIM_TRACK leaves the heap out: nothing new is counted. */
extern bool rc_heap_counting;

/* The allocator is glibc's and its chunk headers may be read directly:
 * the fast paths of the calling thread and of every thread registered
 * later open (rc_self.gate).  Set by the preload layer once it knows. */
void rc_heap_set_direct(bool on);
/* Brings the calling thread's gate up to date, for a thread that started
 * counting before rc_heap_set_direct. */
void rc_heap_refresh_gate(void);

/* Whether samples get stacks: the heap is tracked and sampled, with
 * RCSHIM_STACK_DEPTH above 0. */
bool rc_heap_wants_stacks(void);

/* A fork child with the shim off (rc_off): nothing is counted or sampled
 * from now on. */
void rc_heap_off(void);

/* From a signal handler's live cleanup: malloc_trim, which takes the
 * allocator's locks, is due at the next allocation instead (RC_DUE_TRIM,
 * run at the RC_AT_ALLOC safe point); the calling thread's next one takes
 * the general path.  Async-signal-safe. */
void rc_heap_trim_later(void);

/* Slow paths (heap.c).  @site is the program's call site (the return
 * address into it), for blocks allocated inside a scope. */
unsigned rc_heap_alloc_slow(void *p, size_t n, const void *site);
/* Writes the tag of block @p: @n requested, @usable usable bytes. */
static inline void
rc_heap_tag(void *p, size_t n, size_t usable, unsigned flags)
{
	unsigned char *tag = (unsigned char *)p + usable - 1;
	size_t slack = usable - n;
	if (__builtin_expect(slack < RC_HEAP_WIDE, 1)) {
		*tag = (unsigned char)(slack | flags);
	} else {
		uint64_t n64 = n;
		memcpy(tag - 8, &n64, 8);
		*tag = (unsigned char)(RC_HEAP_WIDE | flags);
	}
}
/* Samples block @p (@n bytes, allocated at @site, the program's call site,
 * or NULL when unknown). */
unsigned rc_heap_sample(void *p, size_t n, const void *site);
void rc_heap_uncount_slow(size_t n);
void rc_heap_unsample(void *p);

/* Only the owning thread writes its counters; the reporter reads them
 * with relaxed loads.  On x86-64 each update is one add to memory (an
 * aligned 8-byte write is seen whole by other threads) instead of a
 * load, an add and a store: the malloc/free fast path runs it twice. */
static inline __attribute__((always_inline)) void
rc_heap_add(struct rc_heap_thread *t, int64_t blocks, int64_t bytes)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	if (!__builtin_constant_p(blocks) || blocks != 0) {
		__asm__("addq %1, %0" : "+m"(*(int64_t *)&t->blocks) : "er"(blocks));
	}
	__asm__("addq %1, %0" : "+m"(*(int64_t *)&t->bytes) : "er"(bytes));
#else
	atomic_store_explicit(&t->blocks,
			      atomic_load_explicit(&t->blocks, memory_order_relaxed) + blocks,
			      memory_order_relaxed);
	atomic_store_explicit(&t->bytes,
			      atomic_load_explicit(&t->bytes, memory_order_relaxed) + bytes,
			      memory_order_relaxed);
#endif
}

/* Takes @n off the thread's countdown to the next sample: true when it
 * ran out.  On x86-64 one subtraction from memory and a jump on its
 * flags. */
static inline __attribute__((always_inline)) bool
rc_heap_sample_due(struct rc_heap_thread *t, size_t n)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	/* The Linux kernel's read-modify-write pattern: the operand
	 * written is an input, with a memory clobber.  (Written as an
	 * in-out operand, GCC 12.2 compiled the jump to the wrong label.) */
	__asm__ goto("subq %1, %0\n\t"
		     "jle %l[due]"
		     :
		     : "m"(t->countdown), "er"((int64_t)n)
		     : "cc", "memory"
		     : due);
	return false;
due:
	return true;
#else
	return (t->countdown -= (int64_t)n) <= 0;
#endif
}

/* Block @p of @n requested bytes was just allocated with @usable usable
 * bytes (usable > n), at @site.  Counts it, maybe samples it, writes its
 * tag.  rc_heap_on_alloc passes the return address of the function it is
 * expanded in: use it in the exported interposer itself, or in helpers
 * that are always inlined into it. */
#define rc_heap_on_alloc(p, n, usable) rc_heap_on_alloc_at(p, n, usable, __builtin_return_address(0))
static inline __attribute__((always_inline)) void
rc_heap_on_alloc_at(void *p, size_t n, size_t usable, const void *site)
{
	struct rc_heap_thread *t = &rc_heap_self;
	unsigned flags;

	if (__builtin_expect(rc_self.gate == 0, 1)) {
		flags = RC_HEAP_COUNTED;
		rc_heap_add(t, 1, (int64_t)n);
		if (__builtin_expect(rc_heap_sample_due(t, n), 0)) {
			flags |= rc_heap_sample(p, n, site);
		}
	} else {
		flags = rc_heap_alloc_slow(p, n, site);
	}
	rc_heap_tag(p, n, usable, flags);
}

/* The requested size of block @p with @usable usable bytes, from its tag;
 * SIZE_MAX when the tag cannot be ours (a foreign or damaged block). */
static inline size_t
rc_heap_size(const void *p, size_t usable, unsigned *flags)
{
	if (__builtin_expect(usable == 0, 0)) {
		*flags = 0;
		return SIZE_MAX;
	}
	const unsigned char *tag = (const unsigned char *)p + usable - 1;
	unsigned b = *tag;
	size_t slack = b & RC_HEAP_SLACK;
	*flags = b & (RC_HEAP_COUNTED | RC_HEAP_SAMPLED);
	if (__builtin_expect(slack < RC_HEAP_WIDE, 1)) {
		return slack ? usable - slack : SIZE_MAX;
	}
	uint64_t n64;
	if (usable < 9) {
		return SIZE_MAX;
	}
	memcpy(&n64, tag - 8, 8);
	return n64 <= usable - 9 ? (size_t)n64 : SIZE_MAX;
}

/* Block @p (@usable usable bytes) is about to be freed or reallocated:
 * uncounts and unsamples it.  Returns its requested size (SIZE_MAX if the
 * tag is not ours). */
static inline size_t
rc_heap_on_free(void *p, size_t usable)
{
	unsigned flags;
	size_t n = rc_heap_size(p, usable, &flags);
	if (__builtin_expect(n == SIZE_MAX, 0)) {
		return n;
	}
	if (flags & RC_HEAP_COUNTED) {
		struct rc_heap_thread *t = &rc_heap_self;
		if (__builtin_expect(t->state == RC_HEAP_T_ACTIVE, 1)) {
			rc_heap_add(t, -1, -(int64_t)n);
		} else {
			rc_heap_uncount_slow(n);
		}
	}
	if (__builtin_expect(flags & RC_HEAP_SAMPLED, 0)) {
		rc_heap_unsample(p);
	}
	return n;
}

/* --- scopes (DESIGN §7) ----------------------------------------------------
 *
 * While a thread has a scope open, its allocations leave the fast path and
 * each block is recorded in the sample table (tagged RC_HEAP_SAMPLED),
 * with the scope and its call site's stack (rc_stack_site), whether or not
 * it is also a statistical sample.  Only statistical samples count in the
 * report's heap groups and sample totals; the other records exist so that
 * the scope's end can name, count and, when asked, free its blocks.
 * A block belongs to the scope its last (re)allocation happened in. */

/* rc_scope_cur of the calling thread changed: picks the fast path or the
 * recording one.  Called by core/scope.c. */
void rc_heap_scope_changed(void);

/* Frees a block the program allocated through the interposer (uncounts
 * it, then the real free).  Set by the preload layer; NULL when only the
 * core is linked (scopes then report but cannot free). */
extern void (*rc_heap_block_free)(void *p);

/* The blocks of a scope still live at its end, by call-site stack. */
struct rc_heap_scope_group {
	uint32_t stack;
	uint64_t blocks, bytes;
};

/* Blocks recorded for scope @scope and still live: their number and
 * requested bytes (tests, and the report). */
void rc_heap_scope_totals(uint32_t scope, uint64_t *blocks, uint64_t *bytes);

/* --- configuration and state ------------------------------------------------ */

/* Applies the configuration (sample interval, stack depth, whether the heap
 * is tracked) and starts sampling.  From the constructor. */
void rc_heap_configure(size_t sample_bytes, unsigned stack_depth, bool counting);

/* Interposition is not active (another allocator replaces malloc, or the
 * program defines its own): the report says so, in @why. */
void rc_heap_set_inactive(const char *why);
/* NULL when tracking is active, else why not. */
const char *rc_heap_inactive_reason(void);

/* Exact totals over all threads: live blocks and requested bytes. */
void rc_heap_totals(int64_t *blocks, int64_t *bytes);

/* Mean bytes between samples (1: every allocation). */
size_t rc_heap_sample_interval(void);

struct rc_heap_group {
	uint32_t stack;
	uint64_t samples;        /* sampled blocks live with this stack */
	uint64_t sampled_bytes;
	double est_blocks;       /* scaled to the whole heap */
	double est_bytes;
};

/* The live samples grouped by stack, largest estimated bytes first.  The
 * array comes from the arena (rc_free it).  Returns the number of groups;
 * *@samples and *@sample_bytes get the table's totals. */
size_t rc_heap_groups(struct rc_heap_group **out, uint64_t *samples,
		      uint64_t *sample_bytes);

/* Number of live samples and the bookkeeping bytes they take. */
size_t rc_heap_sample_count(void);
size_t rc_heap_sample_memory(void);

/* Called once per thread from its first allocation and from the key
 * destructor at its exit (tests call them directly). */
void rc_heap_thread_register(void);
void rc_heap_thread_exit(void);

/* Fork: locks taken before, released after; the child folds the other
 * threads' counters (those threads do not exist there). */
void rc_heap_fork_prepare(void);
void rc_heap_fork_parent(void);
void rc_heap_fork_child(void);

/* Forgets every sample and zeroes the totals (unit tests). */
void rc_heap_reset(void);
