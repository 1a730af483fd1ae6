/* Resolving the functions the shim interposes.
 *
 * Each interposer holds the next definition in a static pointer resolved on
 * first use (calls can come before the constructor, from other libraries'
 * constructors).  Resolution is idempotent, so a race only resolves twice.
 */
#pragma once

#include <stddef.h>

#include "core/state.h"
#include "core/track.h"

#define RC_EXPORT __attribute__((visibility("default")))

/* dlsym(RTLD_NEXT, name); logs and returns NULL when absent. */
void *rc_real_next(const char *name);
/* Finds @name as seen from the object containing @caller (for libraries
 * loaded RTLD_LOCAL, such as libsqlite3 under Python), falling back to
 * RTLD_NEXT.  Never returns the shim's own definition. */
void *rc_real_from_caller(const char *name, const void *caller);

/* Declares the pointer to the next @name with type @type. */
#define REAL(type, name) static __typeof__(type) real_##name

/* Resolves real_##name or makes the enclosing function fail with ENOSYS. */
#define RESOLVE(name, fail)                                                       \
	do {                                                                      \
		if (__builtin_expect(!real_##name, 0)) {                          \
			real_##name = (__typeof__(real_##name))rc_real_next(#name); \
			if (!real_##name) {                                       \
				errno = ENOSYS;                                   \
				return fail;                                      \
			}                                                         \
		}                                                                 \
	} while (0)

/* Marks the caller for reports. */
#define CALLER() (rc_track_caller = __builtin_return_address(0))

/* The shim's initialisation, from the constructor or from the first hook
 * that needs it; not from a hook called before libc's own initialisation
 * (from the program's .preinit_array): those pass through until the
 * constructor runs. */
void rc_preload_init(void);

/* Resolves the fd calls a fork child makes before it execs (preload/fd.c). */
void rc_preload_fd_resolve(void);

static inline void
rc_ensure_init(void)
{
	if (__builtin_expect(atomic_load_explicit(&rc_ready, memory_order_acquire) != 2, 0)) {
		rc_preload_init();
	}
}
