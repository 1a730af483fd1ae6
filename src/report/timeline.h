/* The timeline (RCSHIM_TIMELINE, `rcshim run --timeline`): what the
 * process holds, sampled by the worker at a fixed interval, and the
 * cleanups that ran, for `rcshim plot` (docs/report-format.md,
 * "Timeline").
 *
 * A cheap recorder in the process, the interpretation out of it: a
 * sample is a handful of counters the shim keeps anyway (the registry,
 * the fd table, the heap totals), a stat of each tracked temp file (at
 * most RC_TL_MAX_TEMP_STAT) and one open/read/close of /proc/self/statm
 * on the worker; no descriptor is kept.  Memory is bounded: a fixed array
 * of RC_TL_MAX_SAMPLES samples, which, when full, keeps every other one
 * and doubles the interval. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "clean/engine.h"
#include "report/internal.h"

#define RC_TL_MAX_SAMPLES 1024
#define RC_TL_MAX_EVENTS 128
#define RC_TL_MAX_TEMP_STAT 64

/* From rc_live_init: whether the timeline is on (the worker must run). */
bool rc_timeline_init(void);

/* On the worker, from rc_live_tick: takes a sample when one is due at
 * @now_ms (CLOCK_MONOTONIC); returns when the next one is due
 * (UINT64_MAX: off). */
uint64_t rc_timeline_tick(uint64_t now_ms);

/* The process ends (before its final cleanup): a last sample, and no
 * more after it. */
void rc_timeline_final(void);

/* On the worker, just before a live cleanup: a sample, so that the drop
 * shows where it happened whatever the interval. */
void rc_timeline_sample_now(void);

/* A cleanup ran (rc_report_cleanup): an event, and a sample soon after. */
void rc_timeline_event(const struct rc_clean_req *req, const struct rcshim_result *res);

/* Appends ,"timeline":{...} to a JSON report (nothing when off), and
 * one line "timeline: ..." to a text one. */
void rc_timeline_emit_json(struct rc_out *o);
void rc_timeline_emit_text(struct rc_out *o);

/* The fork child: the parent's samples are not its own; its sampler
 * starts again at its first tracked call. */
void rc_timeline_after_fork_child(void);
