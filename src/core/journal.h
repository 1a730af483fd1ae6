/* The session journal (DESIGN §2).
 *
 * Every member of a session appends the temp artifacts it creates and
 * releases to one file in the session's private directory (core/session.h)
 * — <id>.journal, or <id>.p<pid>.journal with RCSHIM_TMP_OWNER=process — and
 * the owner replays it at the end (clean/journal.h).  Format, one line per
 * record, paths escaped ('\\' as "\\\\", newline as "\\n"):
 *
 *     #rcshim-journal 3 base=<12 digits>         first line
 *     S <root pid> <root start> <pidns> <boot id> the session (second line)
 *     R <dev> <ino> <root>                        an accepted temp root
 *     + <d|f> <dev> <ino> <pid> <root>/<name>     created
 *     - <d|f> <dev> <ino> <pid> <root>/<name>     released (removed, renamed)
 *
 * The S line lets `rcshim sweep` judge, once the root is gone, whether a
 * session is over (cli/sweep.c): the root's pid and start time (clock
 * ticks since boot), the inode of the PID namespace in which that pid
 * means the root (0 if the writer could not see the root), and the boot
 * id (/proc/sys/kernel/random/boot_id).  Whoever creates the file writes
 * it; compaction keeps it.  Version 2 journals (no S line) are still read
 * and replayed; the sweep leaves them alone, it cannot judge them.
 *
 * A line is a claim, not an order: replay removes a '+' line's object only
 * if its parent is a root of an R line that passes the root checks again,
 * its name is one component, and it still has the recorded identity.
 *
 * Appends open the file (no fd is kept) and make one write(2) of whole
 * lines, under a shared flock(2) of the file; compaction (when the file has grown to twice its size after the
 * last compaction, and at least RC_JOURNAL_COMPACT_MIN) takes the lock
 * exclusively, writes the live lines to a new file and renames it over
 * the journal.  An appender that finds the file it opened unlinked
 * (st_nlink 0) opens the new one.  A session's journal so stays proportional to what it
 * holds.  Raw system calls: async-signal-safe, except that a thread
 * interrupted while appending cannot append again from a signal handler
 * through the shared state (it then writes through a fresh open).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RC_JOURNAL_MAGIC "#rcshim-journal 3 base="
#define RC_JOURNAL_MAGIC_V2 "#rcshim-journal 2 base="
#define RC_JOURNAL_COMPACT_MIN (64u << 10)
/* Journals larger than this are not read (a runaway writer). */
#define RC_JOURNAL_MAX (256u << 20)

/* The journal file's name in the session directory, "" if there is none
 * ("<id>.journal", or "<id>.p<pid>.journal" in process mode with the
 * kernel's pid).  Async-signal-safe. */
const char *rc_journal_name(char *buf, size_t len);
/* Its full path, "" if none. */
const char *rc_journal_path(char *buf, size_t len);

/* Appends a '+' or '-' record of the artifact "<root>/<name>" at @path
 * under the root of index @root (core/roots.h; a '+' line goes with the
 * root's R line).  Returns 0 or -errno. */
int rc_journal_append(char op, bool dir, uint64_t dev, uint64_t ino, unsigned root,
		      const char *path);

/* The fork child: the lock of what the process knows of the journal. */
void rc_journal_after_fork_child(void);

/* Creates the journal (header and S line) if it is not there yet, so that
 * a session that journals nothing can still be judged by a sweep (the
 * launcher, after starting the program).  0 or -errno. */
int rc_journal_touch(void);

/* Compacts the journal now if it is worth it (tests). */
void rc_journal_compact_now(void);

/* ---- reading (replay, compaction, tests) ---- */

struct rc_jline {
	char op;   /* 'S', 'R', '+', '-' */
	char type; /* 'd', 'f' ('d' for R, 0 for S) */
	bool live; /* S, R: always; '+': not released by a later '-' of its identity */
	int32_t pid; /* S: the root's */
	uint64_t dev, ino; /* S: the root's start time, the PID namespace */
	const char *path; /* unescaped; S: the boot id */
	const char *raw;  /* the line as written, without its newline */
	size_t rawlen;
};

struct rc_jview {
	struct rc_jline *lines;
	size_t n;
	size_t bad; /* lines that are not records (torn or forged) */
	int version; /* 3, 2, or 0 without a header */
	void *map;
	size_t maplen;
};

/* Reads the journal open at @fd (from offset 0) and parses it.  Returns 0
 * or -errno (-EFBIG above RC_JOURNAL_MAX).  Async-signal-safe. */
int rc_jview_load(int fd, struct rc_jview *v);
/* The journal's first session line (S): written first after the header
 * when the journal is made, and first again after each compaction, so
 * usually in the first block read.  Reads the file a block at a time and
 * builds no view (rc_jview_load's line table is sixteen times the file).
 * 0 with *@l filled (its path, the boot id, copied to @boot), -ENOENT if
 * the journal has none, -EFBIG if none is found in its first
 * RC_JOURNAL_MAX bytes, else -errno.  For the sweep, which judges every
 * session of a directory and needs no other line. */
int rc_journal_session_line(int fd, struct rc_jline *l, char *boot, size_t blen);
void rc_jview_free(struct rc_jview *v);

/* Escapes @path into @out as the journal writes it; returns the length, or
 * 0 if it does not fit. */
size_t rc_journal_escape(const char *path, char *out, size_t len);
