/* RCSHIM_* environment variables (DESIGN §6), parsed and validated once.
 *
 * Every invalid value produces one line naming the variable, the value,
 * what is accepted and the default used; the program then runs with the
 * default.  Parsing never allocates from the program's heap.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcshim.h"

#define RC_MAX_TMP_ROOTS 16
#define RC_TMP_ROOTS_BUF 4096

enum rc_tmp_owner {
	RC_TMP_OWNER_SESSION = 0,
	RC_TMP_OWNER_PROCESS = 1,
};

enum rc_report_format {
	RC_REPORT_TEXT = 0,
	RC_REPORT_JSON = 1,
};

struct rc_config {
	rcshim_priority priority;        /* RCSHIM_PRIORITY, default MEDIUM */
	rcshim_priority exit_priority;   /* RCSHIM_EXIT_PRIORITY, else priority */
	rcshim_priority signal_priority; /* RCSHIM_SIGNAL_PRIORITY, else priority */
	int live_signal;                 /* RCSHIM_SIGNAL; 0 = none */
	unsigned interval_ms;            /* RCSHIM_INTERVAL (seconds, may be fractional); 0 = off */
	bool pressure;                   /* RCSHIM_PRESSURE */
	unsigned track;                  /* RCSHIM_TRACK: bit (1 << RCSHIM_KIND_x) */
	size_t n_tmp_roots;              /* RCSHIM_TMP_ROOTS, else $TMPDIR,/tmp,/var/tmp,/dev/shm */
	const char *tmp_roots[RC_MAX_TMP_ROOTS];
	enum rc_tmp_owner tmp_owner;     /* RCSHIM_TMP_OWNER */
	unsigned tmp_idle_s;             /* RCSHIM_TMP_IDLE; 0 = off */
	size_t heap_sample;              /* RCSHIM_HEAP_SAMPLE, mean bytes between samples */
	bool heap_exact;                 /* RCSHIM_HEAP=exact: exact requested bytes */
	unsigned stack_depth;            /* RCSHIM_STACK_DEPTH */
	/* Under the launcher: the session's quiet file, which a process that
	 * held nothing appends one line to (RCSHIM_INTERNAL_GATHER, set by
	 * the preload layer; not a setting: see report/report.h). */
	const char *gather;
	enum rc_report_format report_format; /* RCSHIM_REPORT_FORMAT */
	int log_level;                   /* RCSHIM_LOG as enum rc_log_level */
	unsigned timeline_ms;            /* RCSHIM_TIMELINE sample interval; 0 = off */

	/* The text, last: a process reads and writes only what it was given,
	 * so the pages past the fields above stay untouched at start-up. */
	char pressure_spec[128];          /* RCSHIM_PRESSURE's value when not a plain on/off */
	char report[1024];                /* RCSHIM_REPORT; "" = none, "-" = stderr */
	char roots_buf[RC_TMP_ROOTS_BUF]; /* storage for tmp_roots */
};

/* Called once per problem with a complete line (no trailing newline). */
typedef void (*rc_config_warn_fn)(void *ctx, const char *line);

/* Fills *cfg from the NULL-terminated environment array envp (usually
 * environ).  Returns the number of invalid values found; each was reported
 * through warn (if not NULL) and replaced by its default. */
int rc_config_load(struct rc_config *cfg, char *const *envp,
		   rc_config_warn_fn warn, void *ctx);

/* RCSHIM_TRACK alone, as rc_config_load would set it, without a word on
 * stderr: for what must decide before the configuration is loaded (the
 * malloc family's first call may come before the constructor). */
unsigned rc_config_track_of(char *const *envp);
/* RCSHIM_HEAP=exact, the same way (the malloc family's mode is chosen at
 * its first call, once for the life of the process). */
bool rc_config_heap_exact_of(char *const *envp);

/* The defaults alone, as if the environment were empty. */
void rc_config_defaults(struct rc_config *cfg);

/* Parses "LOW".."CRITICAL" (any case) or "0".."3".  -1 if invalid. */
int rc_parse_priority(const char *s);

/* Parses a signal name ("USR1", "SIGUSR1", "RTMIN+3", a number) or "none"
 * (0).  -1 if invalid. */
int rc_parse_signal(const char *s);

/* Parses an RCSHIM_TIMELINE value: on/yes/true (100 ms), off/no/false/0,
 * or an interval "50ms", "0.5s", "2" (seconds, as RCSHIM_INTERVAL) from
 * RC_TIMELINE_MIN_MS to RC_TIMELINE_MAX_MS.  False if invalid. */
bool rc_parse_timeline(const char *s, unsigned *ms);
#define RC_TIMELINE_DEFAULT_MS 100
#define RC_TIMELINE_MIN_MS 10
#define RC_TIMELINE_MAX_MS 3600000

/* Name of a priority: "LOW".."CRITICAL". */
const char *rc_priority_name(int p);
/* Name of a kind: "temp", "fd", ... */
const char *rc_kind_name(int kind);

#define RC_DEFAULT_STACK_DEPTH 16
#define RC_DEFAULT_HEAP_SAMPLE (512 * 1024)
/* RCSHIM_TRACK's default: every kind. */
#define RC_TRACK_ALL ((1u << RCSHIM_KIND_COUNT) - 1u)
