/* A spinlock that needs no libc: usable before the constructor, in the
 * fork child, and (with trylock) on the crash path.
 *
 * Each thread counts the shim's locks it holds (rc_self.locks): a signal
 * handler, or a fork from one, knows from it whether it interrupted the
 * shim inside a critical section of its own.  When the count drops to
 * zero, work deferred until then (a live request that arrived inside one)
 * runs: see rc_safe_point in core/state.h. */
#pragma once

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "core/state.h"
#include "core/sys.h"

struct rc_spinlock {
	atomic_int v;
};

#define RC_SPINLOCK_INIT { 0 }

/* A critical section of the shim that is not a spinlock (the unwinder). */
static inline void
rc_crit_enter(void)
{
	rc_self.locks++;
	/* Seen by a handler on this thread before what follows. */
	atomic_signal_fence(memory_order_seq_cst);
}

static inline void
rc_crit_leave(void)
{
	atomic_signal_fence(memory_order_seq_cst);
	if (--rc_self.locks == 0 &&
	    __builtin_expect(atomic_load_explicit(&rc_due, memory_order_relaxed) & RC_DUE_DRAIN,
			     0)) {
		rc_safe_point(RC_AT_UNLOCK);
	}
}

static inline bool
rc_spin_trylock(struct rc_spinlock *l)
{
	int expected = 0;
	/* Counted before the lock is taken: a handler (or a fork from one)
	 * that comes right after the exchange must see the lock as held by
	 * its own thread, or it would wait for itself. */
	rc_crit_enter();
	if (atomic_compare_exchange_strong_explicit(&l->v, &expected, 1, memory_order_acquire,
						    memory_order_relaxed)) {
		return true;
	}
	atomic_signal_fence(memory_order_seq_cst);
	rc_self.locks--;
	return false;
}

static inline void
rc_spin_lock(struct rc_spinlock *l)
{
	for (unsigned i = 0; !rc_spin_trylock(l); i++) {
		if (i > 64) {
			rc_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
		} else {
#if defined(__x86_64__) || defined(__i386__)
			__builtin_ia32_pause();
#endif
		}
	}
}

static inline void
rc_spin_unlock(struct rc_spinlock *l)
{
	atomic_store_explicit(&l->v, 0, memory_order_release);
	rc_crit_leave();
}

/* A trylock that keeps trying for about @ms milliseconds: for a handler
 * that must not wait on a lock whose holder might wait on something the
 * interrupted code holds (a lock held across a call into libc). */
static inline bool
rc_spin_trylock_for(struct rc_spinlock *l, unsigned ms)
{
	for (unsigned i = 0; i < ms * 10; i++) {
		if (rc_spin_trylock(l)) {
			return true;
		}
		struct timespec ts = { 0, 100000 };
		rc_sys(SYS_nanosleep, &ts, NULL, 0, 0, 0, 0);
	}
	return rc_spin_trylock(l);
}

/* After fork only the calling thread exists: a lock held by another thread
 * at that moment would never be released.  (A lock the calling thread
 * took before the fork is released with rc_spin_unlock, so that its count
 * stays right.) */
static inline void
rc_spin_reset(struct rc_spinlock *l)
{
	/* Written only when held: a fork child that writes a page copies it
	 * (a fault that costs more than the rest of the fork's work). */
	if (atomic_load_explicit(&l->v, memory_order_relaxed)) {
		atomic_store_explicit(&l->v, 0, memory_order_relaxed);
	}
}
