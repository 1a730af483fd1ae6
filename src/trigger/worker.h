/* The shim's own thread.  Work that is not async-signal-safe (closing a
 * SQLite connection, trimming the heap, writing a report) never runs inside
 * a signal handler: the handler hands it to this thread, which runs with
 * every signal blocked.  The same thread runs the periodic and
 * pressure-driven live cleanups (trigger/live.h), sleeping in between.
 *
 * It is started by the constructor when a live trigger is configured (the
 * live signal, the default; an interval; the pressure monitor), else
 * lazily by the first resource whose final cleanup needs it (a SQLite
 * connection). */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include "clean/engine.h"

/* Starts the thread if it is not running.  Not from a signal handler. */
bool rc_worker_ensure(void);
bool rc_worker_running(void);

/* Sanitizer runtimes (ASan, TSan, MSan) initialise after the preloaded
 * constructors and refuse a thread created before them: in such programs
 * the worker is started by the first tracked call instead. */
void rc_worker_start_or_defer(void);
extern atomic_bool rc_worker_deferred;
void rc_worker_start_deferred(void);
static inline void
rc_worker_start_if_deferred(void)
{
	if (__builtin_expect(atomic_load_explicit(&rc_worker_deferred, memory_order_relaxed), 0)) {
		rc_worker_start_deferred();
	}
}

/* From a signal handler: asks for the final cleanup @req and waits up to
 * @deadline_ms for it to finish.  True if it finished.  Async-signal-safe. */
bool rc_worker_request_wait(const struct rc_clean_req *req, unsigned deadline_ms);

/* Asks for a live cleanup at @prio without waiting; requests arriving
 * while one runs are folded into the next run, at the highest priority
 * asked for.  False if there is no worker.  Async-signal-safe. */
bool rc_worker_post_live(rcshim_priority prio, enum rc_reason reason);

/* Asks for the process's report to be written where `rcshim report PID`
 * looks for it (rc_live_report_path).  Async-signal-safe. */
bool rc_worker_post_report(void);
#define RC_WORKER_REPORT_BIT (1u << 8)

/* Wakes the worker, if running, to look at its schedule again (after
 * rc_live_init).  Async-signal-safe. */
void rc_worker_wake(void);

/* Live cleanups the worker has run, by reason (for reports and tests). */
unsigned long rc_worker_live_runs(enum rc_reason reason);

/* The fork child has no worker (threads do not survive fork). */
void rc_worker_after_fork_child(void);
