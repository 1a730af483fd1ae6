/* Process-wide state of the shim: configuration, readiness, the per-thread
 * recursion guard and current scope. */
#pragma once

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/sys.h"

#define RC_TLS __thread __attribute__((tls_model("initial-exec")))

/* Large zero-initialised tables, placed after .bss (the linker puts .lbss,
 * x86-64's large-data bss, at its end): between the shim's small
 * variables they would spread those over more pages, and every page a
 * process touches first costs start-up time.  Elsewhere, plain .bss. */
#if defined(__x86_64__)
#define RC_COLD_BSS __attribute__((section(".lbss")))
#else
#define RC_COLD_BSS
#endif

/* The little that every process writes (or reads) at start-up or exit,
 * even one that holds nothing: kept in .data, whose page the loader
 * writes anyway (relocations, and the zero fill past .data's end), so
 * that these cost no page fault of their own.  Then .bss holds only
 * small variables, and last rc_cfg (state.c is linked last), whose first
 * fields every start writes: two pages in all, where the same variables
 * spread over .bss took six (docs/performance.md, "the pages a process
 * touches").  Put here only what such a process touches, and keep it
 * small; anything large that it never touches belongs in RC_COLD_BSS.
 * scripts/bench-faults.sh shows a page more. */
#define RC_HOT __attribute__((section(".data.rc_hot")))

extern struct rc_config rc_cfg;

/* 0 before rc_state_init, 1 while it runs, 2 after. */
extern atomic_int rc_ready;
/* Set once the final cleanup at exit has run: nothing is tracked after. */
extern atomic_bool rc_finished;

enum rc_heap_thread_state {
	RC_HEAP_T_NEW = 0,    /* not yet registered */
	RC_HEAP_T_ACTIVE = 1, /* counting into its own counters */
	RC_HEAP_T_EXITED = 2, /* folded: counts go to the process totals */
};

/* A thread's heap counters and sampling state (core/heap.c owns them).
 * The bytes counted are "charged" bytes: a block's usable size plus 8, the
 * size of a chunk from a glibc arena, which the fast paths read in one
 * load from the chunk header.  Live charged bytes = base - countdown: the
 * countdown to the next sample falls by what each allocation charges, so
 * one subtraction both counts the bytes and decides the sample. */
struct rc_heap_thread {
	/* Written only by the owning thread; read by the reporter. */
	_Atomic int64_t blocks;    /* live blocks: +1 per allocation, -1 per free */
	_Atomic int64_t countdown; /* charged bytes until the next sample */
	_Atomic int64_t base;      /* minus the charge of every block freed */
	/* RCSHIM_HEAP=exact: usable - requested of the live blocks (the
	 * tags' sum: free subtracts the byte it reads). */
	_Atomic int64_t slack;
	/* The request in flight on the fast path, for its rarer ends: kept
	 * here rather than in a register saved across the allocator's call. */
	uint64_t pending;
	/* Odd while the owner rewrites countdown and base together (the
	 * next sample's interval), so that a reader never sees one
	 * without the other. */
	atomic_uint seq;
	uint8_t state;
	uint64_t rng;
	struct rc_heap_thread *next; /* the thread list, under its lock */
};

/* What the malloc and free fast paths read of the calling thread, in one
 * thread-local object: in a shared library every thread-local variable
 * costs its own load of a TLS offset.  The gate, the counters and the
 * countdown share its first cache line. */
struct rc_thread {
	union {
		struct {
			/* Zero: free's fast path for RCSHIM_HEAP=counts is
			 * open.  RC_HEAP_FREE_EXACT (core/heap.h): the one
			 * for RCSHIM_HEAP=exact.  Else (the thread is not
			 * counting into its own counters, or the allocator's
			 * chunk header is not glibc's) the general path. */
			uint8_t free_off;
			/* The same for the allocation paths, which also close
			 * while a scope is open or the heap is not tracked.
			 * Never zero while free_off is not. */
			uint8_t alloc_off;
			/* rc_guard. */
			uint16_t guard;
		};
		/* Zero: both fast paths of the default mode are open. */
		uint32_t gate;
	};
	/* The shim's spinlocks this thread holds (core/lock.h), plus one
	 * while it is inside the unwinder (which may hold the loader's
	 * locks): non-zero, a signal handler on this thread has
	 * interrupted the shim in a critical section of its own. */
	uint32_t locks;
	/* vfork()s in flight from this thread (preload/proc.c): the
	 * child shares this memory and must change nothing in it. */
	uint8_t vfork;
	/* Set while the thread does the shim's work inside a signal
	 * handler: only async-signal-safe steps (no loader, no malloc). */
	uint8_t signal_safe;
	struct rc_heap_thread heap;
} __attribute__((aligned(64)));
extern RC_TLS struct rc_thread rc_self;

/* Non-zero while the shim itself is working on this thread: its own calls
 * into libc must not be tracked. */
#define rc_guard (rc_self.guard)
/* The innermost open scope of this thread (0 = none). */
extern RC_TLS uint32_t rc_scope_cur;

/* This thread's errno, by an address kept per thread: __errno_location
 * is a call into a page of the C library's text that a shell's fork
 * child, between its fork and its exec, otherwise never reads (a page
 * fault per child that redirects).  A fork child is a copy of the
 * forking thread, its errno at the same address. */
extern RC_TLS int *rc_errno_at;
static inline int *
rc_errno(void)
{
	int *p = rc_errno_at;
	if (__builtin_expect(p == NULL, 0)) {
		p = rc_errno_at = &errno;
	}
	return p;
}

/* This process's pid, refreshed in the fork child.  Not refreshed in a
 * child that shares this memory (vfork, a raw clone) or that ran no fork
 * handler (_Fork): where it matters, compare it with the kernel's
 * (rc_sys_getpid) before acting. */
extern int32_t rc_pid_cached;

/* Whether the calling process is the one the shim's state belongs to:
 * false in a vfork or raw clone child (which shares the parent's memory
 * and must change nothing in it) and in a _Fork child (which ran no fork
 * handler and owns nothing).  A system call. */
static inline bool
rc_own_process(void)
{
	return rc_sys_getpid() == rc_pid_cached;
}

/* Set by the preload layer, whose fork handlers take and release every
 * module's locks in one order (preload/init.c); without it (the core
 * alone: unit tests) the modules with locks register their own. */
extern bool rc_fork_managed;

/* Set in a fork child that was made while its forking thread held one of
 * the shim's own locks (a fork from a signal handler that interrupted the
 * shim, or from inside a cleanup): the shim's state may be half-changed
 * there, so the child tracks nothing and does nothing at its end. */
extern atomic_bool rc_off;

/* Work waiting for a safe point, as bits (RC_DUE_*; the preload layer
 * defines them and the work): the core only calls the handler set with
 * rc_safe_point_set when it reaches one. */
extern atomic_uint rc_due;
#define RC_DUE_START 1u /* the worker's start, deferred: at a tracked call */
#define RC_DUE_DRAIN 2u /* live requests that arrived inside the shim */
#define RC_DUE_TRIM 4u  /* a heap trim asked for in a handler: at an allocation */
enum rc_safe_point_kind {
	RC_AT_UNLOCK, /* the thread released its last shim lock */
	RC_AT_CALL,   /* a tracked call, from the program, before any work */
	RC_AT_ALLOC,  /* the allocator's general path, before the allocation */
};
typedef void (*rc_safe_point_fn)(enum rc_safe_point_kind at);
void rc_safe_point_set(rc_safe_point_fn fn);
void rc_safe_point(enum rc_safe_point_kind at);

/* For a thread whose guard is up with rc_self.vfork set: false in the
 * vfork child (which must do nothing), true, with the mark and the guard
 * cleared, in a parent the mark was left set in (preload/proc.c clears
 * them itself when vfork returns to the parent). */
bool rc_vfork_over(void);
/* Parses the environment @envp (usually environ), applies RCSHIM_LOG and
 * the temp roots, and joins or starts the session.  Idempotent.  Returns
 * true when it started a new session (the caller exports its id). */
bool rc_state_init(char *const *envp);

/* Whether @kind is tracked: configured, initialised, and not finished. */
static inline bool
rc_tracking(int kind)
{
	return atomic_load_explicit(&rc_ready, memory_order_acquire) == 2 &&
	       (rc_cfg.track & (1u << kind)) &&
	       !atomic_load_explicit(&rc_finished, memory_order_relaxed);
}

/* Called in the fork child: it owns nothing it inherited. */
void rc_state_after_fork_child(void);
