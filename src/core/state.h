/* Process-wide state of the shim: configuration, readiness, the per-thread
 * recursion guard and current scope. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

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
	struct rc_heap_thread heap;
} __attribute__((aligned(64)));
extern RC_TLS struct rc_thread rc_self;

/* Non-zero while the shim itself is working on this thread: its own calls
 * into libc must not be tracked. */
#define rc_guard (rc_self.guard)
/* The innermost open scope of this thread (0 = none). */
extern RC_TLS uint32_t rc_scope_cur;

/* This process's pid, refreshed in the fork child. */
extern int32_t rc_pid_cached;

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
