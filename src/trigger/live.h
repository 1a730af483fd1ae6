/* Live triggers (DESIGN §4): the live signal, the interval timer, the
 * memory-pressure monitor.  The cleanups themselves run on the worker. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clean/engine.h"

/* From the constructor: reads RCSHIM_INTERVAL and RCSHIM_PRESSURE.
 * Returns true if periodic work is configured (the worker must run). */
bool rc_live_init(void);

/* Runs what is due at @now_ms (interval, pressure poll); returns the ms
 * until the next due work, UINT64_MAX if none.  Worker thread only. */
uint64_t rc_live_tick(uint64_t now_ms);

/* The API's timer and pressure monitor (rcshim_set_interval,
 * rcshim_set_pressure): the worker takes the change at its next tick (it
 * is started if needed).  Not from a signal handler. */
rcshim_status rc_live_set_interval(unsigned ms, rcshim_priority prio);
rcshim_status rc_live_set_pressure(const char *spec);

/* Runs one live cleanup on the worker and records it. */
void rc_worker_run_live(rcshim_priority prio, enum rc_reason reason);

/* CLOCK_MONOTONIC in ms.  Async-signal-safe. */
uint64_t rc_now_ms(void);

/* The live-signal handler (installed by trigger/signals.c): hands the
 * request to the worker, or without one does it right there with the
 * async-signal-safe steps (rc_live_drain). */
void rc_live_on_signal(int sig, int code, int value);

/* Runs the live requests queued for the worker, on this thread, with the
 * async-signal-safe steps only.  From a signal handler (with every signal
 * blocked) or a safe point; if this thread is inside one of the shim's
 * critical sections, it runs when that ends instead (RC_DUE_DRAIN). */
void rc_live_drain(void);

/* The sigqueue value that asks for a report instead of a cleanup. */
#define RC_LIVE_REPORT_VALUE 5

/* Where a requested report of process @pid goes: "<journal dir>/report-<pid>"
 * ("" if there is no journal directory).  The launcher's `rcshim report`
 * reads it from there. */
const char *rc_live_report_path(int pid, char *buf, size_t len);
/* Writes the requested report there (atomically: a temporary name, then
 * rename).  The worker, or rc_live_drain. */
void rc_live_write_requested_report(void);

/* A clean request that wants its result (`rcshim clean PID`): the sigqueue
 * value is 2^30 + ID * 8 + P, ID 1 to 2^27 - 1 (the launcher's request id),
 * P 0 (the process's own signal priority) or 1-4 (LOW to CRITICAL); any
 * other value above 5 is refused as before.  The answer goes to
 * "<journal dir>/clean-<pid>-<ID>" (rc_live_answer_path), written by the
 * cleanup that ran for it. */
#define RC_LIVE_ANSWER_FLAG (1u << 30)
#define RC_LIVE_ANSWER_SHIFT 3
#define RC_LIVE_ANSWER_MAX_ID ((1u << 27) - 1)

/* The requests waiting for an answer that a cleanup at @prio serves (asked
 * at @prio or below): their slots, in @marks (at least
 * RC_LIVE_ANSWER_SLOTS); returns how many.  Taken before the cleanup runs,
 * so that only a cleanup that began after the request answers it.
 * rc_live_answers_send writes the result @res of that cleanup (NULL: it did
 * not run, another cleanup held the engine) to each one still waiting.
 * Async-signal-safe. */
#define RC_LIVE_ANSWER_SLOTS 8
struct rc_live_mark {
	unsigned slot, value;
};
size_t rc_live_answers_mark(rcshim_priority prio, struct rc_live_mark *marks);
void rc_live_answers_send(const struct rc_live_mark *marks, size_t n, rcshim_priority prio,
			  const struct rcshim_result *res);

/* "<journal dir>/clean-<pid>-<id>" ("" without a journal directory). */
const char *rc_live_answer_path(int pid, unsigned id, char *buf, size_t len);

/* Counters for reports and tests. */
unsigned long rc_live_signals_received(void);
unsigned long rc_live_signals_refused(void);
