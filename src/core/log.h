/* Diagnostics: async-signal-safe, one write(2) per line, never malloc. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum rc_log_level {
	RC_LOG_QUIET = 0,
	RC_LOG_WARN = 1,
	RC_LOG_INFO = 2,
	RC_LOG_DEBUG = 3,
};

/* Current threshold; messages above it are dropped.  Set from RCSHIM_LOG. */
extern enum rc_log_level rc_log_threshold;
/* Where lines go; stderr unless a test redirects it. */
extern int rc_log_fd;

/* Formats a subset of printf: %s %d %i %u %ld %lu %lld %llu %zu %zd %x %lx
 * %llx %p %c %% with an optional '-' flag, width and '.*' precision for %s.
 * Always NUL-terminates; returns the length written (truncated to n - 1). */
size_t rc_vfmt(char *buf, size_t n, const char *fmt, va_list ap);
size_t rc_fmt(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records what fd 2 is now (one fstat): called once when the shim starts
 * in a process.  From then on the shim writes to fd 2 only while fd 2 is
 * still that file (DESIGN §5: a program that closed stderr and opened a
 * data file on fd 2 never gets shim text in its data).  Without the call
 * (the launcher, the tests) fd 2 is always written. */
void rc_log_stderr_init(void);

/* Whether fd 2 is still the file it was at rc_log_stderr_init (same
 * st_dev and st_ino); false when fd 2 was closed then.  Async-signal-safe. */
bool rc_log_stderr_ok(void);

/* "rcshim: <message>\n" on rc_log_fd when level <= threshold, the message
 * escaped as text (core/escape.h): one line, whatever the names in it.
 * Dropped when rc_log_fd is 2 and rc_log_stderr_ok() is false. */
void rc_log(enum rc_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define rc_warn(...) rc_log(RC_LOG_WARN, __VA_ARGS__)
#define rc_info(...) rc_log(RC_LOG_INFO, __VA_ARGS__)
#define rc_debug(...) rc_log(RC_LOG_DEBUG, __VA_ARGS__)
