/* Where a report may be written (DESIGN §5, docs/report-format.md "Where
 * a report may go").
 *
 * A report path comes from the environment and often names a shared
 * directory (the documented example is /tmp/rcshim.%p.txt), where another
 * user can plant a symlink or a file first; and the process writing it may
 * be root.  So a report file is opened with O_NOFOLLOW|O_CLOEXEC and kept
 * only when it is a regular file with one link, owned by the user the
 * process runs as, that neither its group nor others can write, and that
 * is empty or already an rcshim report.  A file the shim creates is 0600:
 * reports hold command lines, paths and stack traces.
 *
 * Raw system calls only: also used where the shim cannot call libc.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum rc_dest_mode {
	/* Created if absent, else appended to (a path shared by the
	 * processes of a session). */
	RC_DEST_APPEND = 0,
	/* Created new (O_EXCL): a path with %p.  If it exists, refused. */
	RC_DEST_NEW,
	/* The file this process created with RC_DEST_NEW: appended to only
	 * while the path still names it (@id). */
	RC_DEST_SAME,
	/* Only checked, never created or written (the launcher, before it
	 * starts the program): an absent file passes when its directory
	 * exists.  Returns 0, not an fd, when it passes. */
	RC_DEST_CHECK,
};

struct rc_dest_id {
	dev_t dev;
	ino_t ino;
};

/* Opens @path for appending a report as @mode says.  Returns the fd, or a
 * negative errno with @why (a phrase that completes "report not written to
 * PATH: ...") set.  @id: in for RC_DEST_SAME; out (the file's identity) on
 * success otherwise; may be NULL for RC_DEST_APPEND and RC_DEST_CHECK. */
int rc_report_dest_open(const char *path, enum rc_dest_mode mode, struct rc_dest_id *id,
			char *why, size_t why_len);

/* For a path whose file each process creates later (one with %p): whether
 * its directory exists.  0, or a negative errno with @why set. */
int rc_report_dest_check_dir(const char *path, char *why, size_t why_len);

/* Whether the @n bytes at @head (a file's first bytes) start an rcshim
 * report, cleanup line or scope entry, text or JSON, or a report the
 * launcher gathered. */
bool rc_report_is_rcshim(const char *head, size_t n);

/* Under the launcher, a full report appended to the session's shared file
 * (report.c; read back by cli/records.c) is framed by two lines:
 * RC_REPORT_RECORD_HEAD "PID, LEN bytes, at SEC.NSEC\n", the LEN bytes of
 * the report, then RC_REPORT_RECORD_END "PID\n". */
#define RC_REPORT_RECORD_HEAD "== rcshim record: pid "
#define RC_REPORT_RECORD_END "== rcshim end of record: pid "

/* How many bytes rc_report_is_rcshim needs to decide. */
#define RC_REPORT_HEAD 32
