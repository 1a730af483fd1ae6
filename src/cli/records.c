/* The session's shared report file under the launcher ("<id>.quiet.report"):
 * what the processes append to it at their end (report/report.c), read
 * back item by item.
 *
 *   == rcshim report: pid N held nothing (heap B blocks, Y bytes): EXE\n
 *   == rcshim record: pid N, LEN bytes, at SEC.NSEC\n
 *   <LEN bytes: the report>== rcshim end of record: pid N\n
 *
 * Each item is one write to a file opened for appending, so items never
 * interleave; but a write can be cut short (a full disk, a process killed
 * in it), and the next item then starts right after the cut, in the middle
 * of a line.  So a record is taken only with its end line where its length
 * says, and anything else is skipped up to the next place an item starts
 * ("== rcshim re", wherever it is): one damaged item never takes another
 * with it. */
#include "build-config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "report/dest.h"

#define QUIET_HEAD "== rcshim report: pid "
#define ANY_HEAD "== rcshim re"

static bool
starts(const char *p, size_t n, const char *head)
{
	size_t l = strlen(head);
	return n >= l && !memcmp(p, head, l);
}

/* Where the next item may start after @p (not at it): the end if none. */
static size_t
resync(const char *p, size_t n)
{
	const char *q = n > 1 ? memmem(p + 1, n - 1, ANY_HEAD, strlen(ANY_HEAD)) : NULL;
	return q ? (size_t)(q - p) : n;
}

/* Whether [p, p + n) could still become the start of an item (a head cut
 * by the end of what was read so far). */
static bool
head_prefix(const char *p, size_t n)
{
	return (n < strlen(QUIET_HEAD) && !memcmp(p, QUIET_HEAD, n)) ||
	       (n < strlen(RC_REPORT_RECORD_HEAD) && !memcmp(p, RC_REPORT_RECORD_HEAD, n));
}

size_t
cli_record_next(const char *p, size_t n, bool end, struct cli_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (!n) {
		return 0;
	}
	bool quiet = starts(p, n, QUIET_HEAD);
	bool record = starts(p, n, RC_REPORT_RECORD_HEAD);
	if (!quiet && !record) {
		if (!end && head_prefix(p, n)) {
			return 0;
		}
		size_t skip = resync(p, n);
		if (skip == n && !end) {
			/* The tail may be the start of a head: kept. */
			size_t keep = strlen(QUIET_HEAD) - 1 < n ? strlen(QUIET_HEAD) - 1 : n;
			while (keep && !head_prefix(p + n - keep, keep)) {
				keep--;
			}
			skip = n - keep;
		}
		rec->kind = CLI_REC_SKIPPED;
		return skip;
	}
	const char *nl = memchr(p, '\n', n);
	size_t line = nl ? (size_t)(nl - p) : n;
	/* Another item starting inside this line: this one was cut short. */
	size_t other = resync(p, line);
	if (other < line) {
		rec->kind = CLI_REC_SKIPPED;
		return other;
	}
	if (!nl) {
		if (!end) {
			return 0;
		}
		rec->kind = CLI_REC_SKIPPED;
		return n;
	}
	if (quiet) {
		rec->kind = CLI_REC_QUIET;
		rec->text = p;
		rec->len = line;
		return line + 1;
	}
	long pid;
	unsigned long long len;
	long long sec;
	long nsec;
	int used = 0;
	char head[128];
	snprintf(head, sizeof(head), "%.*s", (int)(line < sizeof(head) - 1 ? line : sizeof(head) - 1),
		 p);
	if (line >= sizeof(head) - 1 ||
	    sscanf(head, RC_REPORT_RECORD_HEAD "%ld, %llu bytes, at %lld.%ld%n", &pid, &len, &sec,
		   &nsec, &used) != 4 ||
	    (size_t)used != line || pid <= 0 || nsec < 0 || nsec > 999999999) {
		rec->kind = CLI_REC_SKIPPED;
		return resync(p, n);
	}
	char tail[64];
	size_t body = line + 1;
	size_t tl = (size_t)snprintf(tail, sizeof(tail), RC_REPORT_RECORD_END "%ld\n", pid);
	if (len > n - body || tl > n - body - len) {
		if (!end) {
			/* Still being written (a reader can see part of a
			 * write), or cut short with nothing after it yet. */
			return 0;
		}
		rec->kind = CLI_REC_SKIPPED;
		return resync(p, n);
	}
	size_t after = body + (size_t)len;
	if (memcmp(p + after, tail, tl)) {
		rec->kind = CLI_REC_SKIPPED; /* cut short: another item is inside it */
		return resync(p, n);
	}
	after += tl;
	rec->kind = CLI_REC_REPORT;
	rec->pid = pid;
	rec->at.tv_sec = (time_t)sec;
	rec->at.tv_nsec = nsec;
	rec->text = p + body;
	rec->len = (size_t)len;
	return after;
}
