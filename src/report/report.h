/* Reports (DESIGN §8): what each kind holds now, or leaked at exit, grouped
 * by acquisition stack; and a log of the cleanups that ran.  Text for
 * people, JSON for programs (docs/report-format.md). */
#pragma once

#include <stdarg.h>

#include "clean/engine.h"
#include "core/config.h"

/* Writes the current state to @fd.  Returns 0 or -errno. */
int rc_report_write(int fd, enum rc_report_format fmt);

/* Records a cleanup that ran (final or live): when, why, at what priority,
 * what it reclaimed.  Appended to RCSHIM_REPORT when one is configured,
 * and kept for the final report.  A final cleanup of the whole process
 * for a termination signal (the process ends right after, no destructor
 * runs) also writes the final report. */
void rc_report_cleanup(const struct rc_clean_req *req, const struct rcshim_result *res);

/* A note for the report ("the program installed its own SIGUSR1 handler:
 * the live trigger is lost"). */
void rc_report_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* At the end of scope @scope (its name still known), the heap blocks
 * allocated inside it and still live: @blocks, @bytes in total, @ng groups
 * by call-site stack; @freed, or kept and handed to @parent (0: the
 * process).  Always a note for the final report; at @prio HIGH and above
 * also an entry with the symbolized stacks appended to RCSHIM_REPORT
 * (DESIGN §3: "heap leak report with stacks" at HIGH). */
struct rc_heap_scope_group;
void rc_report_scope_heap(uint32_t scope, uint32_t parent, rcshim_priority prio, bool freed,
			  uint64_t blocks, uint64_t bytes, const struct rc_heap_scope_group *g,
			  size_t ng);

/* At process end, before the final cleanup: remembers what every kind
 * holds, with its stacks, for the final report (the cleanup then takes
 * those records).  Without it the final report shows what is left after
 * the cleanup. */
void rc_report_before_exit(void);

/* At process end: the final report (what leaked) to RCSHIM_REPORT. */
void rc_report_at_exit(const struct rcshim_result *final);
/* The launcher gathers this process's report when rc_cfg.gather is set
 * (RCSHIM_INTERNAL_GATHER): a process that held nothing at its exit adds
 * one line to that file (the session's "<id>.quiet.report", a string that
 * outlives the process's use of it) instead of writing a report file of
 * its own, and frames are named by the launcher (report/symbol.h).  Kept
 * in the configuration, whose page start-up writes anyway. */

/* The path RCSHIM_REPORT names for this process ("%p" expanded) in @buf;
 * "" when none is configured, "-" for stderr. */
const char *rc_report_path(char *buf, size_t len);
