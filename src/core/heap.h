/* Heap accounting (DESIGN §1 HEAP, §8): exact live blocks and usable
 * bytes, sampled allocation stacks, requested bytes estimated from the
 * samples (or exact, RCSHIM_HEAP=exact).
 *
 * Nothing is written into a block or past it and no byte is added to it
 * (DESIGN §9), so a free must tell from the block's address alone whether
 * the shim knows more of it than its size.  The blocks it does (samples,
 * blocks allocated inside a scope, the shim's own) are *records*, and a
 * record is either
 *   - a *side block*: a small block the shim hands out from its own arena,
 *     with the record in front of it and a word before it that reads as
 *     the header of a mapped glibc chunk, so that free's fast path, which
 *     reads that header anyway, turns away from it at no cost; or
 *   - a glibc chunk of RC_HEAP_SIDE_LIMIT bytes or more, or a mapped one,
 *     which free's fast path also turns away (the same test), in a hash
 *     table keyed by address behind a lock-free filter.
 * Every other block is counted by its size alone (docs/design-notes.md,
 * "Heap tracking").
 *
 * Counters are per thread (initial-exec TLS, no shared cache line on the
 * hot path) and folded into process-wide totals when the thread exits.
 *
 * This file knows nothing about interposition: the caller passes the
 * sizes the real allocator reports.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/state.h"

/* A block is charged its usable size plus this: what a chunk from a glibc
 * arena takes (its size word; the usable bytes run to the next chunk's). */
#define RC_HEAP_CHARGE_EXTRA 8

/* Records of glibc chunks this size or larger live in the table; smaller
 * ones are side blocks.  A power of two: free's fast path tests the chunk
 * size against it with the same instruction that tests the mapped flag. */
#define RC_HEAP_SIDE_LIMIT 4096

/* The thread gate's values for RCSHIM_HEAP=exact (state.h). */
#define RC_HEAP_FREE_EXACT 2
#define RC_HEAP_ALLOC_EXACT 2
#define RC_HEAP_GATE_EXACT (RC_HEAP_FREE_EXACT | RC_HEAP_ALLOC_EXACT << 8)

/* The calling thread's counters. */
#define rc_heap_self (rc_self.heap)

/* RCSHIM_HEAP=exact in effect: the interposer tags every block with its
 * requested size and counts requested bytes exactly. */
extern bool rc_heap_exact;

/* The allocator is glibc's and its chunk headers may be read directly:
 * the fast paths of the calling thread and of every thread registered
 * later open (rc_self.gate).  Set by the preload layer once it knows. */
void rc_heap_set_direct(bool on);
/* RCSHIM_HEAP=exact: set by the preload layer before the first block. */
void rc_heap_set_exact(bool on);
/* Brings the calling thread's gate up to date, for a thread that started
 * counting before rc_heap_set_direct. */
void rc_heap_refresh_gate(void);

/* --- the fast paths' counting ---------------------------------------------
 *
 * Only the owning thread writes its counters; the reporter reads them
 * with relaxed loads.  On x86-64 each update is one instruction on memory
 * (an aligned 8-byte write is seen whole by other threads) instead of a
 * load, an add and a store. */
static inline __attribute__((always_inline)) void
rc_heap_add(_Atomic int64_t *v, int64_t d)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	if (__builtin_constant_p(d) && d == 1) {
		__asm__("incq %0" : "+m"(*(int64_t *)v));
	} else if (__builtin_constant_p(d) && d == -1) {
		__asm__("decq %0" : "+m"(*(int64_t *)v));
	} else {
		__asm__("addq %1, %0" : "+m"(*(int64_t *)v) : "er"(d));
	}
#else
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + d,
			      memory_order_relaxed);
#endif
}

/* Charges @charge bytes to the calling thread's countdown (which counts
 * them) and says whether the next sample is due.  On x86-64 one
 * subtraction from memory and a jump on its flags. */
static inline __attribute__((always_inline)) bool
rc_heap_charge_due(struct rc_heap_thread *t, size_t charge)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	/* The Linux kernel's read-modify-write pattern: the operand
	 * written is an input, with a memory clobber.  (Written as an
	 * in-out operand, GCC 12.2 compiled the jump to the wrong label.) */
	__asm__ goto("subq %1, %0\n\t"
		     "jle %l[due]"
		     :
		     : "m"(t->countdown), "er"((int64_t)charge)
		     : "cc", "memory"
		     : due);
	return false;
due:
	return true;
#else
	int64_t c = atomic_load_explicit(&t->countdown, memory_order_relaxed) - (int64_t)charge;
	atomic_store_explicit(&t->countdown, c, memory_order_relaxed);
	return c <= 0;
#endif
}

/* --- the general paths' counting -----------------------------------------
 *
 * On the calling thread: registers it first if it is new; an exited
 * thread's counts go to the process totals. */

/* A new block of @n requested bytes (counted in exact mode) and @usable
 * usable bytes.  True when it is to become a statistical sample (the
 * countdown ran out on a registered thread, sampling configured): the
 * countdown is drawn again already. */
bool rc_heap_count_new(size_t n, size_t usable);
/* A block of @n requested and @usable usable bytes is gone. */
void rc_heap_count_gone(size_t n, size_t usable);
/* The fast path's countdown ran out (the block is charged): draws the
 * next interval.  True when the block is to become a sample. */
bool rc_heap_due(void);

/* --- records ------------------------------------------------------------- */

#define RC_HEAP_REC_SAMPLE 1u /* a statistical sample: in the groups */
#define RC_HEAP_REC_SCOPE 2u  /* allocated inside a scope (->scope) */
#define RC_HEAP_REC_OWN 4u    /* the shim's own (allocated under rc_guard): not counted */
#define RC_HEAP_REC_SIDE 8u   /* a side block: the record sits in front of it */

struct rc_heap_rec {
	struct rc_heap_rec *next; /* the table's bucket */
	uintptr_t p;
	uint64_t n;      /* requested bytes */
	uint64_t usable; /* usable bytes: counted as usable + 8 */
	uint32_t stack;
	uint32_t scope;  /* the scope it was allocated in; 0: none */
	uint32_t flags;
	void *storage;   /* a side block's memory (rc_alloc) */
};

/* What a new block is for: the program's, counted (PLAIN), also recorded
 * for its scope (SCOPE), or the shim's own (OWN: under rc_guard). */
enum rc_heap_plan { RC_HEAP_PLAIN, RC_HEAP_SCOPE, RC_HEAP_OWN };
enum rc_heap_plan rc_heap_plan(void);

/* The stack of a statistical sample (a full unwind), and of a block
 * allocated inside a scope at the program's call site @site. */
uint32_t rc_heap_sample_stack(const void *site);
uint32_t rc_heap_site_stack(const void *site);

/* Puts a record of block @p in the table (not a side block).  False when
 * memory ran out (the block is then an ordinary one). */
bool rc_heap_record(void *p, size_t n, size_t usable, unsigned flags, uint32_t stack);

/* A side block for @n requested and @usable usable bytes (usable >= n),
 * aligned to @align (a power of two), zeroed when @zero, recorded with
 * @flags and @stack (in the table, unless RC_HEAP_REC_OWN).  NULL when
 * memory ran out. */
void *rc_heap_side_alloc(size_t n, size_t usable, size_t align, unsigned flags,
			 uint32_t stack, bool zero);
/* The record of side block @p, or NULL when @p is not one.  Reads the two
 * words before @p: only for a block whose header word says "mapped". */
struct rc_heap_rec *rc_heap_side_of(const void *p);
/* Frees side block @r of the shim's own (RC_HEAP_REC_OWN: never in the
 * table, found by rc_heap_side_of alone). */
void rc_heap_side_release(struct rc_heap_rec *r);

/* Whether block @p may have a record in the table: a lock-free filter,
 * never wrong when it says no. */
bool rc_heap_may_have(const void *p);
/* Takes the record of @p out of the table: a copy in *@out, true when
 * there was one.  A side block's storage is released too (its memory
 * with it: only after the caller is done with the block). */
bool rc_heap_take(const void *p, struct rc_heap_rec *out);
/* The record of @p, looked up without taking it out (a copy). */
bool rc_heap_find(const void *p, struct rc_heap_rec *out);

/* --- scopes (DESIGN §7) ----------------------------------------------------
 *
 * While a thread has a scope open its allocations leave the fast path and
 * each block is recorded (RC_HEAP_REC_SCOPE), with the scope and its call
 * site's stack (rc_stack_site), whether or not it is also a statistical
 * sample.  Only statistical samples count in the report's heap groups;
 * the other records exist so that the scope's end can name, count and,
 * when asked, free its blocks.  A block belongs to the scope its last
 * (re)allocation happened in. */

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
 * usable bytes (tests, and the report). */
void rc_heap_scope_totals(uint32_t scope, uint64_t *blocks, uint64_t *bytes);

/* What rc_heap_scope_take found of a scope's blocks at its end. */
struct rc_heap_scope_taken {
	uint64_t blocks, bytes;              /* still live */
	struct rc_heap_scope_group *groups;  /* by stack, largest first (NULL: no memory) */
	size_t ngroups;
	uintptr_t *doomed;                   /* with taken: the blocks to free */
	size_t ndoomed;
	bool taken;                          /* in doomed, not handed over */
};
/* The end of scope @scope: its blocks still live, counted and grouped by
 * stack.  With @take (the scope frees its blocks) their addresses go into
 * ->doomed for the caller to free (clean/heap.c, rc_heap_scope_reclaim);
 * otherwise, or when there is no memory for the list, they pass to
 * @parent (0: the process).  @t NULL: passed on, nothing kept (a thread
 * that exits inside a scope).  False when the scope held no block (@t then
 * holds nothing to free).  rc_heap_scope_taken_free frees @t's lists. */
bool rc_heap_scope_take(uint32_t scope, uint32_t parent, bool take,
			struct rc_heap_scope_taken *t);
void rc_heap_scope_taken_free(struct rc_heap_scope_taken *t);

/* --- configuration and state ------------------------------------------------ */

/* Applies the configuration (sample interval, stack depth, whether the heap
 * is tracked) and starts sampling.  From the constructor. */
void rc_heap_configure(size_t sample_bytes, unsigned stack_depth, bool counting);

/* Whether samples get stacks: the heap is tracked and sampled, with
 * RCSHIM_STACK_DEPTH above 0. */
bool rc_heap_wants_stacks(void);

/* A fork child with the shim off (rc_off): nothing is counted or sampled
 * from now on (the calling thread's paths close; the preload layer passes
 * allocations on as they are). */
void rc_heap_off(void);

/* From a signal handler's live cleanup: malloc_trim, which takes the
 * allocator's locks, is due at the next allocation instead (RC_DUE_TRIM,
 * run at the RC_AT_ALLOC safe point); the calling thread's next one takes
 * the general path.  Async-signal-safe. */
void rc_heap_trim_later(void);

/* Interposition is not active (another allocator replaces malloc, or the
 * program defines its own): the report says so, in @why. */
void rc_heap_set_inactive(const char *why);
/* NULL when tracking is active, else why not. */
const char *rc_heap_inactive_reason(void);

/* Exact totals over all threads: live blocks and usable bytes, and in
 * exact mode requested bytes (else 0). */
void rc_heap_totals(int64_t *blocks, int64_t *bytes, int64_t *requested);

/* Mean bytes between samples (1: every allocation). */
size_t rc_heap_sample_interval(void);

struct rc_heap_group {
	uint32_t stack;
	uint64_t samples;           /* sampled blocks live with this stack */
	uint64_t sampled_bytes;     /* their usable bytes */
	uint64_t sampled_requested; /* their requested bytes */
	double est_blocks;          /* scaled to the whole heap */
	double est_bytes;
	double est_requested;
};

/* The heap as a report shows it: exact totals, requested bytes (exact in
 * exact mode, else estimated), and the live samples grouped by stack,
 * largest estimated bytes first, scaled as sampling profilers scale (each
 * sample of c charged bytes stands for 1 / (1 - exp(-c / interval))
 * blocks like it) and never above the exact totals. */
struct rc_heap_summary {
	int64_t blocks, bytes;      /* exact */
	int64_t requested;          /* exact when requested_exact */
	bool requested_exact;
	bool exact_mode;
	size_t interval;
	uint64_t samples, sampled_bytes, sampled_requested;
	struct rc_heap_group *groups; /* from the arena (rc_free it) */
	size_t ngroups;
	double groups_bytes;          /* the groups' estimated bytes, summed */
};
void rc_heap_summarize(struct rc_heap_summary *s);

/* Number of live samples and the bookkeeping bytes the records take. */
size_t rc_heap_sample_count(void);
size_t rc_heap_sample_memory(void);

/* Called once per thread from its first allocation and from the key
 * destructor at its exit (tests call them directly). */
void rc_heap_thread_register(void);
void rc_heap_thread_exit(void);

/* Fork: called by the constructor's handlers, which take the shim's
 * other locks; nothing to do there (heap.c, "fork"). */
void rc_heap_fork_prepare(void);
void rc_heap_fork_parent(void);
void rc_heap_fork_child(void);
/* The heap's own fork handlers: its locks taken last, after the
 * unwinders drained; released after; in the child the other threads'
 * counters folded (those threads do not exist there). */
void rc_heap_fork_lock(void);
void rc_heap_fork_unlock(void);
void rc_heap_fork_unlock_child(void);

/* Forgets every record and zeroes the totals (unit tests). */
void rc_heap_reset(void);
