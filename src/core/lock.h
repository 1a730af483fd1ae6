/* A spinlock that needs no libc: usable before the constructor, in the
 * fork child, and (with trylock) on the crash path. */
#pragma once

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/sys.h"

struct rc_spinlock {
	atomic_int v;
};

#define RC_SPINLOCK_INIT { 0 }

static inline bool
rc_spin_trylock(struct rc_spinlock *l)
{
	int expected = 0;
	return atomic_compare_exchange_strong_explicit(&l->v, &expected, 1,
						       memory_order_acquire,
						       memory_order_relaxed);
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
}

/* After fork only the calling thread exists: a lock held by another thread
 * at that moment would never be released. */
static inline void
rc_spin_reset(struct rc_spinlock *l)
{
	atomic_store_explicit(&l->v, 0, memory_order_relaxed);
}
