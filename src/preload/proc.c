/* pthread_create (DESIGN §4): the first pthread_create ends the time where the heap sampler may open
 * libunwind inside malloc (core/stack.h: no other thread can then hold the
 * loader's locks against it): where heap stacks are wanted, it is opened
 * here, before the second thread exists. */
#include "build-config.h"

#include <errno.h>
#include <pthread.h>
#include <sys/single_threaded.h>

#include "core/heap.h"
#include "core/stack.h"
#include "preload/real.h"

/* --- pthread_create ----------------------------------------------------------- */

REAL(int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *), pthread_create);

RC_EXPORT int
pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg)
{
	if (__builtin_expect(!real_pthread_create, 0)) {
		real_pthread_create = (__typeof__(real_pthread_create))rc_real_next("pthread_create");
		if (!real_pthread_create) {
			return EAGAIN;
		}
	}
	/* The program's first thread: after it, a heap sample inside malloc
	 * no longer opens libunwind itself. */
	if (__builtin_expect(__libc_single_threaded, 0) && rc_guard == 0 &&
	    atomic_load_explicit(&rc_ready, memory_order_acquire) == 2 && rc_heap_wants_stacks()) {
		int saved_errno = errno;
		rc_guard++;
		rc_stack_before_threads();
		rc_guard--;
		errno = saved_errno;
	}
	return real_pthread_create(thread, attr, start, arg);
}
