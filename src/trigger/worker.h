/* The shim's own thread.  Work that is not async-signal-safe (closing a
 * SQLite connection, running a custom cleaner, freeing GPU memory,
 * trimming the heap) never runs inside a signal handler: the handler hands
 * it to this thread, which runs with every signal blocked.  The same
 * thread runs the periodic and pressure-driven live cleanups (trigger/
 * live.h), sleeping in between.
 *
 * It exists only where it is needed (DESIGN §4): started when the process
 * first holds something whose cleanup needs it (a SQLite connection, GPU
 * memory, a registered resource or cleaner, an open scope: the preload
 * layer calls rc_worker_need), or by the constructor when a timer or a
 * pressure monitor is configured.  A process holding only temp artifacts
 * and fds stays single-threaded; its live requests are answered inside the
 * signal handler with the async-signal-safe steps (trigger/live.h).
 *
 * The thread is ready — past its own start-up, a sanitizer runtime's
 * included — before the call that started it returns, and it never holds
 * anything across a fork: it marks itself busy around its work, and a fork
 * waits (bounded) until it is idle (rc_worker_fork_prepare). */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include "clean/engine.h"

/* Starts the thread if it is not running and waits until it runs.  Not
 * from a signal handler.  False if it could not be started. */
bool rc_worker_ensure(void);
bool rc_worker_running(void);
/* Whether the calling thread is the worker. */
bool rc_worker_is_self(void);

/* The process now holds something whose cleanup needs the worker: starts
 * it (or, in the constructor of a program under a sanitizer runtime, which
 * refuses threads created before it initialises, at the first tracked
 * call).  Not from a signal handler. */
void rc_worker_need(void);

/* The constructor, with a timer or pressure monitor configured. */
void rc_worker_start_or_defer(void);
/* The start at the next tracked call (a fork child's sampler). */
void rc_worker_start_later(void);
/* A start deferred by rc_worker_start_or_defer, at a safe point. */
void rc_worker_start_deferred(void);

/* From a signal handler: asks for the final cleanup @req and waits up to
 * @deadline_ms for it to finish.  True if it finished.  Async-signal-safe. */
bool rc_worker_request_wait(const struct rc_clean_req *req, unsigned deadline_ms);

/* Live requests, as bits: bit p = a cleanup at priority p, the report bit
 * = the report `rcshim report PID` waits for.  Requests arriving while
 * one runs are folded into the next run, at the highest priority asked
 * for.  rc_worker_post queues @bits for the worker and wakes it; false
 * (nothing queued) when there is no worker.  rc_worker_queue only queues
 * (for whoever drains: the worker, or trigger/live.c without one), and
 * rc_worker_take takes everything queued.  Async-signal-safe. */
#define RC_WORKER_REPORT_BIT (1u << 8)
bool rc_worker_post(unsigned bits, enum rc_reason reason);
void rc_worker_queue(unsigned bits, enum rc_reason reason);
unsigned rc_worker_take(enum rc_reason *reason);
/* Whether anything is queued. */
unsigned rc_worker_take_peek(void);

/* Wakes the worker, if running, to look at its schedule again (after
 * rc_live_init).  Async-signal-safe. */
void rc_worker_wake(void);

/* Live cleanups run, by reason (for reports and tests): by the worker, or
 * counted by whoever ran one for it (rc_worker_count_run). */
unsigned long rc_worker_live_runs(enum rc_reason reason);
void rc_worker_count_run(enum rc_reason reason);

/* Around fork (preload/init.c).  prepare waits for a start in progress
 * and then until the worker is idle, and keeps it from starting more work
 * until parent or child is called; at most @ms milliseconds in all.
 * False when the worker was still busy then (the child cannot trust what
 * the worker may have held).  The child has no worker (threads do not
 * survive fork). */
bool rc_worker_fork_prepare(unsigned ms);
void rc_worker_fork_parent(void);
void rc_worker_after_fork_child(void);
