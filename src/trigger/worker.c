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
#include "core/heap.h"
#include "core/log.h"
#include "core/stack.h"
#include "core/state.h"
#include "core/sys.h"
#include "report/report.h"
#include "report/timeline.h"
#include "trigger/live.h"
#include "trigger/worker.h"

#define NREASONS (RC_REASON_PRESSURE + 1)

/* How long rc_worker_ensure waits for the new thread to run.  Only a
 * machine stalled for that long reaches it; the thread still starts, and
 * a fork meanwhile waits for it (rc_worker_fork_prepare). */
#define READY_WAIT_MS 10000

enum { W_STOPPED, W_STARTING, W_RUNNING };

static struct {
	struct rc_spinlock start_lock;
	atomic_int state;
	/* Futex words: the thread has started; it is working (not asleep
	 * waiting for work); forks in progress, which it waits out before
	 * it starts more work. */
	atomic_uint ready;
	atomic_uint busy;
	atomic_uint hold;
	/* Bumped by every requester: the word the worker sleeps on. */
	atomic_uint wake;
	/* The final request (termination signal) and its completion. */
	struct rc_spinlock slot_lock;
	struct rc_clean_req slot;
	atomic_uint final_seq;
	atomic_uint final_done;
	/* Live requests: bit p set = priority p asked for, plus the report
	 * bit; the reason of the latest one. */
	atomic_uint live_mask;
	atomic_int live_reason;
	atomic_ulong runs[NREASONS];
	pthread_t thread;
} W RC_HOT;

static RC_TLS bool on_worker;

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

static struct timespec
ms_to_ts(uint64_t ms)
{
	struct timespec rel = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
	return rel;
}

void
rc_worker_count_run(enum rc_reason reason)
{
	if ((unsigned)reason < NREASONS) {
		atomic_fetch_add(&W.runs[reason], 1);
	}
}

void
rc_worker_run_live(rcshim_priority prio, enum rc_reason reason)
{
	struct rc_clean_req req = { RC_MODE_LIVE, prio, reason, 0, 0 };
	struct rcshim_result res;
	struct rc_live_mark marks[RC_LIVE_ANSWER_SLOTS];
	size_t nmarks = rc_live_answers_mark(prio, marks);

	rc_timeline_sample_now();
	if (rc_clean(&req, &res) == RCSHIM_BUSY) {
		/* Another cleanup (an API call) is running: ask again after a
		 * moment rather than drop the request. */
		atomic_fetch_or(&W.live_mask, 1u << prio);
		struct timespec ts = { 0, 10 * 1000000 };
		rc_sys(SYS_nanosleep, &ts, NULL, 0, 0, 0, 0);
		return;
	}
	rc_worker_count_run(reason);
	rc_report_cleanup(&req, &res);
	rc_result_log(reason, 0, &res);
	rc_live_answers_send(marks, nmarks, prio, &res);
}

/* Around each piece of work: busy, unless a fork is in progress, which
 * the worker waits out first (a fork must not copy a lock it holds).  The
 * stores and loads of busy and hold are sequentially consistent: a fork
 * that finds busy clear is sure the worker sees its hold. */
static void
work_begin(void)
{
	for (;;) {
		atomic_store(&W.busy, 1);
		unsigned h = atomic_load(&W.hold);
		if (h == 0) {
			return;
		}
		atomic_store(&W.busy, 0);
		futex_wake(&W.busy);
		futex_wait(&W.hold, h, NULL);
	}
}

static void
work_end(void)
{
	atomic_store(&W.busy, 0);
	if (atomic_load(&W.hold)) {
		futex_wake(&W.busy);
	}
}

/* Runs whatever was asked for; false when nothing was. */
static bool
run_requests(unsigned *handled_final)
{
	unsigned fseq = atomic_load_explicit(&W.final_seq, memory_order_acquire);
	if (fseq != *handled_final) {
		struct rc_clean_req req;
		rc_spin_lock(&W.slot_lock);
		req = W.slot;
		rc_spin_unlock(&W.slot_lock);
		struct rcshim_result res;
		if (req.scope == 0 && req.reason == RC_REASON_SIGNAL) {
			/* The report says what was held before this cleanup,
			 * as at exit (rc_report_before_exit). */
			rc_report_before_exit();
		}
		rc_clean(&req, &res);
		rc_report_cleanup(&req, &res);
		*handled_final = fseq;
		atomic_store_explicit(&W.final_done, fseq, memory_order_release);
		futex_wake(&W.final_done);
		return true;
	}
	enum rc_reason reason;
	unsigned mask = rc_worker_take(&reason);
	if (mask & RC_WORKER_REPORT_BIT) {
		rc_live_write_requested_report();
		mask &= ~RC_WORKER_REPORT_BIT;
	}
	if (mask) {
		int prio = 31 - __builtin_clz(mask);
		rc_worker_run_live((rcshim_priority)prio, reason);
	}
	return mask != 0;
}

static void *
worker_main(void *arg)
{
	unsigned handled_final = atomic_load(&W.final_seq);

	(void)arg;
	rc_guard++; /* nothing this thread does is the program's */
	on_worker = true;
	/* Past the thread's start-up (a sanitizer runtime's included): the
	 * call that started it may return. */
	atomic_store(&W.busy, 1);
	atomic_store(&W.state, W_RUNNING);
	atomic_store(&W.ready, 1);
	futex_wake(&W.ready);
	work_end();
	for (;;) {
		unsigned wake = atomic_load_explicit(&W.wake, memory_order_acquire);
		work_begin();
		bool did = run_requests(&handled_final);
		/* Periodic and pressure-driven work; then sleep until it is
		 * due again or someone asks. */
		uint64_t next = did ? 0 : rc_live_tick(rc_now_ms());
		work_end();
		if (did || atomic_load(&W.wake) != wake) {
			continue;
		}
		if (next == UINT64_MAX) {
			futex_wait(&W.wake, wake, NULL);
		} else {
			struct timespec rel = ms_to_ts(next);
			futex_wait(&W.wake, wake, &rel);
		}
	}
	return NULL;
}

bool
rc_worker_running(void)
{
	return atomic_load_explicit(&W.state, memory_order_acquire) == W_RUNNING;
}

bool
rc_worker_is_self(void)
{
	return on_worker;
}

/* Waits until the thread has started, at most @ms; true if it has. */
static bool
wait_ready(uint64_t ms)
{
	uint64_t end = rc_now_ms() + ms;
	while (!atomic_load(&W.ready)) {
		uint64_t t = rc_now_ms();
		if (t >= end) {
			return false;
		}
		struct timespec rel = ms_to_ts(end - t);
		futex_wait(&W.ready, 0, &rel);
	}
	return true;
}

bool
rc_worker_ensure(void)
{
	if (rc_worker_running()) {
		return true;
	}
	/* Not in a fork child the shim has turned off, nor in a child that
	 * shares this memory (vfork): its thread would be the parent's. */
	if (atomic_load(&rc_off) || !rc_own_process()) {
		return false;
	}
	rc_spin_lock(&W.start_lock);
	int st = atomic_load(&W.state);
	if (st != W_STOPPED) {
		rc_spin_unlock(&W.start_lock);
		return st == W_RUNNING || wait_ready(READY_WAIT_MS);
	}
	pthread_attr_t attr;
	sigset_t all, old;
	bool ok = false;

	/* The process's second thread: heap stacks' last chance to get
	 * libunwind without entering the loader inside malloc. */
	if (rc_heap_wants_stacks()) {
		rc_guard++;
		rc_stack_before_threads();
		rc_guard--;
	}
	sigfillset(&all);
	atomic_store(&W.ready, 0);
	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		/* The thread inherits this mask: it never runs a handler. */
		pthread_sigmask(SIG_SETMASK, &all, &old);
		atomic_store(&W.state, W_STARTING);
		rc_guard++;
		ok = pthread_create(&W.thread, &attr, worker_main, NULL) == 0;
		rc_guard--;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
	}
	if (!ok) {
		atomic_store(&W.state, W_STOPPED);
		rc_debug("could not start the worker thread");
	} else if (!wait_ready(READY_WAIT_MS)) {
		rc_debug("the worker thread has not started after %u ms", READY_WAIT_MS);
	}
	rc_spin_unlock(&W.start_lock);
	return ok && rc_worker_running();
}

/* A start the constructor deferred: sanitizer runtimes (ASan, TSan, MSan)
 * initialise after the preloaded constructors and refuse a thread created
 * before them. */
static atomic_bool start_deferred;

static bool
under_sanitizer(void)
{
	static const char *const runtimes[] = { "__asan_init", "__tsan_init", "__msan_init" };
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(*runtimes); i++) {
		if (dlsym(RTLD_DEFAULT, runtimes[i])) {
			return true;
		}
	}
	return false;
}

void
rc_worker_start_deferred(void)
{
	if (atomic_exchange(&start_deferred, false)) {
		rc_worker_ensure();
	}
}

void
rc_worker_start_or_defer(void)
{
	if (under_sanitizer()) {
		atomic_store(&start_deferred, true);
		atomic_fetch_or(&rc_due, RC_DUE_START);
		return;
	}
	rc_worker_ensure();
}

void
rc_worker_start_later(void)
{
	atomic_store(&start_deferred, true);
	atomic_fetch_or(&rc_due, RC_DUE_START);
}

void
rc_worker_need(void)
{
	if (rc_worker_running()) {
		return;
	}
	/* Before the program runs (another library's constructor), under a
	 * sanitizer: at the first tracked call, as the constructor's own
	 * start.  Else now: the caller is the program, in its own code. */
	if (atomic_load(&rc_ready) != 2 && under_sanitizer()) {
		atomic_store(&start_deferred, true);
		atomic_fetch_or(&rc_due, RC_DUE_START);
		return;
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
		struct timespec rel = ms_to_ts(end - t);
		futex_wait(&W.final_done, done, &rel);
	}
}

void
rc_worker_queue(unsigned bits, enum rc_reason reason)
{
	if (bits & ~RC_WORKER_REPORT_BIT) {
		atomic_store(&W.live_reason, (int)reason);
	}
	atomic_fetch_or(&W.live_mask, bits);
}

unsigned
rc_worker_take(enum rc_reason *reason)
{
	unsigned mask = atomic_exchange(&W.live_mask, 0);
	*reason = (enum rc_reason)atomic_load(&W.live_reason);
	return mask;
}

unsigned
rc_worker_take_peek(void)
{
	return atomic_load(&W.live_mask);
}

bool
rc_worker_post(unsigned bits, enum rc_reason reason)
{
	if (!rc_worker_running()) {
		return false;
	}
	rc_worker_queue(bits, reason);
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

bool
rc_worker_fork_prepare(unsigned ms)
{
	uint64_t end = rc_now_ms() + ms;

	atomic_fetch_add(&W.hold, 1);
	/* A start in progress: the new thread must be past its start-up
	 * (under ASan it holds the allocator's lock there), and then it is
	 * busy until it reaches work_end. */
	if (atomic_load(&W.state) == W_STARTING) {
		uint64_t t = rc_now_ms();
		if (!wait_ready(t < end ? end - t : 0)) {
			return false;
		}
	}
	if (atomic_load(&W.state) == W_STOPPED) {
		return true;
	}
	while (atomic_load(&W.busy)) {
		uint64_t t = rc_now_ms();
		if (t >= end) {
			return false;
		}
		struct timespec rel = ms_to_ts(end - t);
		futex_wait(&W.busy, 1, &rel);
	}
	return true;
}

void
rc_worker_fork_parent(void)
{
	atomic_fetch_sub(&W.hold, 1);
	futex_wake(&W.hold);
}

/* Stores only what differs: a fork child pays a page copy for each page it
 * writes, and in a process that never started the worker nothing does. */
#define SET_IF(var, val)                                  \
	do {                                              \
		if (atomic_load(&(var)) != (val)) {       \
			atomic_store(&(var), (val));      \
		}                                         \
	} while (0)

void
rc_worker_after_fork_child(void)
{
	SET_IF(W.state, W_STOPPED);
	SET_IF(W.ready, 0);
	SET_IF(W.busy, 0);
	SET_IF(W.hold, 0);
	SET_IF(start_deferred, false);
	rc_spin_reset(&W.start_lock);
	rc_spin_reset(&W.slot_lock);
	SET_IF(W.final_done, atomic_load(&W.final_seq));
	SET_IF(W.live_mask, 0);
	if (on_worker) {
		on_worker = false;
	}
}
