#include "build-config.h"

#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "clean/engine.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/state.h"
#include "core/sys.h"
#include "trigger/worker.h"

static struct {
	struct rc_spinlock start_lock;
	atomic_bool running;
	atomic_uint req_seq;  /* bumped by a requester */
	atomic_uint done_seq; /* the last request finished */
	struct rc_clean_req slot;
	struct rc_spinlock slot_lock;
	pthread_t thread;
} W;

static void
futex_wait(atomic_uint *addr, unsigned val, const struct timespec *rel)
{
	rc_sys_futex(addr, FUTEX_WAIT_PRIVATE, (int)val, rel);
}

static void
futex_wake(atomic_uint *addr)
{
	rc_sys_futex(addr, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL);
}

static void *
worker_main(void *arg)
{
	unsigned handled = atomic_load(&W.req_seq);

	(void)arg;
	rc_guard++; /* nothing this thread does is the program's */
	for (;;) {
		unsigned seq = atomic_load_explicit(&W.req_seq, memory_order_acquire);
		if (seq == handled) {
			futex_wait(&W.req_seq, seq, NULL);
			continue;
		}
		struct rc_clean_req req;
		rc_spin_lock(&W.slot_lock);
		req = W.slot;
		rc_spin_unlock(&W.slot_lock);
		struct rcshim_result res;
		rc_clean(&req, &res);
		handled = seq;
		atomic_store_explicit(&W.done_seq, seq, memory_order_release);
		futex_wake(&W.done_seq);
	}
	return NULL;
}

bool
rc_worker_running(void)
{
	return atomic_load_explicit(&W.running, memory_order_acquire);
}

bool
rc_worker_ensure(void)
{
	if (rc_worker_running()) {
		return true;
	}
	rc_spin_lock(&W.start_lock);
	if (rc_worker_running()) {
		rc_spin_unlock(&W.start_lock);
		return true;
	}
	pthread_attr_t attr;
	sigset_t all, old;
	bool ok = false;

	sigfillset(&all);
	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		/* The thread inherits this mask: it never runs a handler. */
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc_guard++;
		ok = pthread_create(&W.thread, &attr, worker_main, NULL) == 0;
		rc_guard--;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
	}
	if (ok) {
		atomic_store_explicit(&W.running, true, memory_order_release);
	} else {
		rc_debug("could not start the worker thread");
	}
	rc_spin_unlock(&W.start_lock);
	return ok;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool
rc_worker_request_wait(const struct rc_clean_req *req, unsigned deadline_ms)
{
	if (!rc_worker_running()) {
		return false;
	}
	/* The handler may have interrupted a thread inside slot_lock; a
	 * bounded try keeps the handler from spinning on itself. */
	bool locked = false;
	for (int i = 0; i < 1000 && !(locked = rc_spin_trylock(&W.slot_lock)); i++) {
		rc_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
	}
	if (!locked) {
		return false;
	}
	W.slot = *req;
	unsigned my = atomic_fetch_add_explicit(&W.req_seq, 1, memory_order_acq_rel) + 1;
	rc_spin_unlock(&W.slot_lock);
	futex_wake(&W.req_seq);

	uint64_t end = now_ms() + deadline_ms;
	for (;;) {
		unsigned done = atomic_load_explicit(&W.done_seq, memory_order_acquire);
		if ((int)(done - my) >= 0) {
			return true;
		}
		uint64_t t = now_ms();
		if (t >= end) {
			return false;
		}
		uint64_t left = end - t;
		struct timespec rel = { (time_t)(left / 1000), (long)(left % 1000) * 1000000 };
		futex_wait(&W.done_seq, done, &rel);
	}
}

void
rc_worker_after_fork_child(void)
{
	atomic_store(&W.running, false);
	rc_spin_reset(&W.start_lock);
	rc_spin_reset(&W.slot_lock);
	atomic_store(&W.done_seq, atomic_load(&W.req_seq));
}
