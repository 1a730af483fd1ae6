#include "build-config.h"

#include <dlfcn.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "clean/engine.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/stack.h"
#include "core/state.h"
#include "core/sys.h"
#include "report/report.h"
#include "trigger/live.h"
#include "trigger/worker.h"

#define NREASONS (RC_REASON_PRESSURE + 1)

static struct {
	struct rc_spinlock start_lock;
	atomic_bool running;
	/* Bumped by every requester: the word the worker sleeps on. */
	atomic_uint wake;
	/* The final request (termination signal) and its completion. */
	struct rc_spinlock slot_lock;
	struct rc_clean_req slot;
	atomic_uint final_seq;
	atomic_uint final_done;
	/* Live requests: bit p set = priority p asked for; the reason of the
	 * latest one. */
	atomic_uint live_mask;
	atomic_int live_reason;
	atomic_ulong runs[NREASONS];
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

uint64_t
rc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
rc_worker_run_live(rcshim_priority prio, enum rc_reason reason)
{
	struct rc_clean_req req = { RC_MODE_LIVE, prio, reason, 0, 0 };
	struct rcshim_result res;

	if (rc_clean(&req, &res) == RCSHIM_BUSY) {
		/* Another cleanup (an API call) is running: ask again after a
		 * moment rather than drop the request. */
		atomic_fetch_or(&W.live_mask, 1u << prio);
		struct timespec ts = { 0, 10 * 1000000 };
		rc_sys(SYS_nanosleep, &ts, NULL, 0, 0, 0, 0);
		return;
	}
	if ((unsigned)reason < NREASONS) {
		atomic_fetch_add(&W.runs[reason], 1);
	}
	rc_report_cleanup(&req, &res);
	rc_result_log(reason, 0, &res);
}

static void *
worker_main(void *arg)
{
	unsigned handled_final = atomic_load(&W.final_seq);

	(void)arg;
	rc_guard++; /* nothing this thread does is the program's */
	/* Here, not inside the program's malloc: captures wait for it
	 * (core/stack.h).  After final_seq was read: a request made
	 * meanwhile is still seen as new. */
	if (rc_cfg.stack_depth) {
		rc_stack_load();
	}
	for (;;) {
		unsigned wake = atomic_load_explicit(&W.wake, memory_order_acquire);

		unsigned fseq = atomic_load_explicit(&W.final_seq, memory_order_acquire);
		if (fseq != handled_final) {
			struct rc_clean_req req;
			rc_spin_lock(&W.slot_lock);
			req = W.slot;
			rc_spin_unlock(&W.slot_lock);
			struct rcshim_result res;
			rc_clean(&req, &res);
			rc_report_cleanup(&req, &res);
			handled_final = fseq;
			atomic_store_explicit(&W.final_done, fseq, memory_order_release);
			futex_wake(&W.final_done);
			continue;
		}

		unsigned mask = atomic_exchange(&W.live_mask, 0);
		if (mask & RC_WORKER_REPORT_BIT) {
			rc_live_write_requested_report();
			mask &= ~RC_WORKER_REPORT_BIT;
		}
		if (mask) {
			int prio = 31 - __builtin_clz(mask);
			rc_worker_run_live((rcshim_priority)prio,
					   (enum rc_reason)atomic_load(&W.live_reason));
			continue;
		}

		/* Periodic and pressure-driven work; then sleep until it is
		 * due again or someone asks. */
		uint64_t next = rc_live_tick(rc_now_ms());
		if (atomic_load(&W.wake) != wake) {
			continue;
		}
		if (next == UINT64_MAX) {
			futex_wait(&W.wake, wake, NULL);
		} else {
			struct timespec rel = { (time_t)(next / 1000), (long)(next % 1000) * 1000000 };
			futex_wait(&W.wake, wake, &rel);
		}
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

atomic_bool rc_worker_deferred;

void
rc_worker_start_deferred(void)
{
	if (atomic_exchange(&rc_worker_deferred, false)) {
		rc_worker_ensure();
	}
}

void
rc_worker_start_or_defer(void)
{
	static const char *const runtimes[] = { "__asan_init", "__tsan_init", "__msan_init" };
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(*runtimes); i++) {
		if (dlsym(RTLD_DEFAULT, runtimes[i])) {
			atomic_store(&rc_worker_deferred, true);
			return;
		}
	}
	rc_worker_ensure();
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
	unsigned my = atomic_fetch_add_explicit(&W.final_seq, 1, memory_order_acq_rel) + 1;
	rc_spin_unlock(&W.slot_lock);
	atomic_fetch_add(&W.wake, 1);
	futex_wake(&W.wake);

	uint64_t end = rc_now_ms() + deadline_ms;
	for (;;) {
		unsigned done = atomic_load_explicit(&W.final_done, memory_order_acquire);
		if ((int)(done - my) >= 0) {
			return true;
		}
		uint64_t t = rc_now_ms();
		if (t >= end) {
			return false;
		}
		uint64_t left = end - t;
		struct timespec rel = { (time_t)(left / 1000), (long)(left % 1000) * 1000000 };
		futex_wait(&W.final_done, done, &rel);
	}
}

bool
rc_worker_post_live(rcshim_priority prio, enum rc_reason reason)
{
	if (!rc_worker_running() || prio < RCSHIM_LOW || prio > RCSHIM_CRITICAL) {
		return false;
	}
	atomic_store(&W.live_reason, (int)reason);
	atomic_fetch_or(&W.live_mask, 1u << prio);
	atomic_fetch_add(&W.wake, 1);
	futex_wake(&W.wake);
	return true;
}

bool
rc_worker_post_report(void)
{
	if (!rc_worker_running()) {
		return false;
	}
	atomic_fetch_or(&W.live_mask, RC_WORKER_REPORT_BIT);
	atomic_fetch_add(&W.wake, 1);
	futex_wake(&W.wake);
	return true;
}

void
rc_worker_wake(void)
{
	if (rc_worker_running()) {
		atomic_fetch_add(&W.wake, 1);
		futex_wake(&W.wake);
	}
}

unsigned long
rc_worker_live_runs(enum rc_reason reason)
{
	return (unsigned)reason < NREASONS ? atomic_load(&W.runs[reason]) : 0;
}

void
rc_worker_after_fork_child(void)
{
	atomic_store(&W.running, false);
	rc_spin_reset(&W.start_lock);
	rc_spin_reset(&W.slot_lock);
	atomic_store(&W.final_done, atomic_load(&W.final_seq));
	atomic_store(&W.live_mask, 0);
}
