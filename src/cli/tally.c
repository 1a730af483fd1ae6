/* The processes' own cleanups, from their report files (for metrics.c):
 * how many ran, by trigger and priority, and what they reclaimed, by kind.
 *
 * A report file under the launcher ("<dir>/<id>.<pid>.report") holds, in
 * either format (report/emit.c, docs/report-format.md):
 *   - a line for each live cleanup (RCSHIM_SIGNAL, timer, pressure,
 *     `rcshim clean`), appended at once: counted from it, as it comes;
 *   - at the end, the process's report: its final cleanup (at exit, or of
 *     the termination signal) and its cleanup log, which repeats the live
 *     ones (not counted again) and holds the final one of a signal (the
 *     report's "final" already): only the rest of the log is counted.
 * Snapshot reports ("now") are not counted: their log is a copy.
 *
 * The text format gives a cleanup's bytes only in total (the heap's trim
 * and the temp files' sizes together): from text, they count under kind
 * "unknown"; JSON gives them by kind.
 */
#include "build-config.h"

#include <string.h>

#include "cli/cli.h"
#include "core/config.h"

const char *
cli_tally_kind(int k)
{
	return k >= 0 && k < RCSHIM_KIND_COUNT ? rc_kind_name(k) : "unknown";
}

/* A name of the report's as a label value: [A-Za-z_] only, else "unknown". */
static void
name_copy(char *out, size_t len, const char *p, size_t n)
{
	bool ok = n > 0 && n < len;
	for (size_t i = 0; ok && i < n; i++) {
		char c = p[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
	}
	snprintf(out, len, "%.*s", ok ? (int)n : 7, ok ? p : "unknown");
}

static void
count(struct cli_tally *t, const char *trigger, const char *prio)
{
	size_t i = 0;
	while (i < t->nc && (strcmp(t->c[i].trigger, trigger) || strcmp(t->c[i].prio, prio))) {
		i++;
	}
	if (i == t->nc) {
		if (t->nc == CLI_TALLY_MAX) {
			return; /* 8 triggers by 4 priorities fit */
		}
		snprintf(t->c[i].trigger, sizeof(t->c[i].trigger), "%s", trigger);
		snprintf(t->c[i].prio, sizeof(t->c[i].prio), "%s", prio);
		t->nc++;
	}
	t->c[i].n++;
	t->changes++;
}

static void
reclaimed(struct cli_tally *t, int k, uint64_t cleaned, uint64_t bytes)
{
	uint64_t r;
	t->cleaned[k] = __builtin_add_overflow(t->cleaned[k], cleaned, &r) ? UINT64_MAX : r;
	t->bytes[k] = __builtin_add_overflow(t->bytes[k], bytes, &r) ? UINT64_MAX : r;
}

/* ---- JSON ------------------------------------------------------------------- */

struct span {
	const char *p, *end;
};

static const char *
ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
		p++;
	}
	return p;
}

/* The member @key of the object @obj (keys compared as written: ours have
 * no escapes).  False if @obj is not an object or has no such member. */
static bool
member(struct span obj, const char *key, struct span *out)
{
	const char *p = obj.p, *end = obj.end;
	size_t klen = strlen(key);
	if (p >= end || *p != '{') {
		return false;
	}
	p = ws(p + 1, end);
	while (p < end && *p == '"') {
		const char *ke = cli_json_skip(p, end);
		if (!ke) {
			return false;
		}
		bool match = (size_t)(ke - p) == klen + 2 && !memcmp(p + 1, key, klen);
		p = ws(ke, end);
		if (p >= end || *p != ':') {
			return false;
		}
		p = ws(p + 1, end);
		const char *ve = cli_json_skip(p, end);
		if (!ve) {
			return false;
		}
		if (match) {
			*out = (struct span){ p, ve };
			return true;
		}
		p = ws(ve, end);
		if (p >= end || *p != ',') {
			return false;
		}
		p = ws(p + 1, end);
	}
	return false;
}

/* The string member @key as a label value; "unknown" if absent. */
static void
member_name(struct span obj, const char *key, char *out, size_t len)
{
	struct span v;
	if (member(obj, key, &v) && v.end - v.p >= 2 && *v.p == '"') {
		name_copy(out, len, v.p + 1, (size_t)(v.end - v.p - 2));
	} else {
		snprintf(out, len, "unknown");
	}
}

static uint64_t
member_u64(struct span obj, const char *key)
{
	struct span v;
	uint64_t x = 0;
	if (member(obj, key, &v)) {
		cli_figure(v.p, v.end, &x);
	}
	return x;
}

/* A result object: {"status":..,"kinds":{"temp":{"cleaned":N,..,"bytes":B},..}}. */
static void
json_result(struct cli_tally *t, struct span res)
{
	struct span kinds, one;
	if (!member(res, "kinds", &kinds)) {
		return;
	}
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		if (member(kinds, rc_kind_name(k), &one)) {
			reclaimed(t, k, member_u64(one, "cleaned"), member_u64(one, "bytes"));
		}
	}
}

/* One entry of a cleanup log, or the cleanup of an event line; @all: a
 * live one counts too (an event line), else it was counted already. */
static void
json_cleanup(struct cli_tally *t, struct span c, bool all)
{
	char mode[16], trigger[16], prio[16];
	struct span res;
	member_name(c, "mode", mode, sizeof(mode));
	member_name(c, "reason", trigger, sizeof(trigger));
	member_name(c, "priority", prio, sizeof(prio));
	if (!all && (!strcmp(mode, "live") || (!strcmp(mode, "final") &&
					       !strcmp(trigger, "signal") &&
					       member_u64(c, "scope") == 0))) {
		return;
	}
	count(t, trigger, prio);
	if (member(c, "result", &res)) {
		json_result(t, res);
	}
}

static void
json_line(struct cli_tally *t, const char *p, const char *end)
{
	struct span obj = { p, cli_json_skip(p, end) }, v;
	char event[16];
	if (!obj.end) {
		return; /* not JSON (a truncated line): nothing counted */
	}
	if (member(obj, "format", &v) && v.end - v.p == 14 && !memcmp(v.p, "\"rcshim-event\"", 14)) {
		struct span c;
		char mode[16];
		if (member(obj, "cleanup", &c)) {
			member_name(c, "mode", mode, sizeof(mode));
			if (!strcmp(mode, "live")) {
				json_cleanup(t, c, true);
			}
		}
		return;
	}
	if (!member(obj, "format", &v) || v.end - v.p != 15 ||
	    memcmp(v.p, "\"rcshim-report\"", 15)) {
		return;
	}
	member_name(obj, "event", event, sizeof(event));
	if (strcmp(event, "exit") && strcmp(event, "signal")) {
		return; /* a snapshot */
	}
	struct span fin, log;
	if (member(obj, "final", &fin) && *fin.p == '{') {
		char prio[16];
		member_name(obj, "priority", prio, sizeof(prio));
		count(t, event, prio);
		json_result(t, fin);
	}
	if (!member(obj, "cleanups", &log) || *log.p != '[') {
		return;
	}
	for (const char *q = ws(log.p + 1, log.end); q < log.end && *q == '{';) {
		const char *e = cli_json_skip(q, log.end);
		if (!e) {
			return;
		}
		json_cleanup(t, (struct span){ q, e }, false);
		q = ws(e, log.end);
		if (q < log.end && *q == ',') {
			q = ws(q + 1, log.end);
		}
	}
}

/* ---- text ------------------------------------------------------------------- */

enum { TEXT_NONE, TEXT_FINAL, TEXT_LOG };

static bool
starts(const char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(end - p) >= n && !memcmp(p, lit, n);
}

/* The last @lit in [p, end), or NULL. */
static const char *
last(const char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	for (const char *q = end - n; q >= p; q--) {
		if (!memcmp(q, lit, n)) {
			return q;
		}
	}
	return NULL;
}

/* "STATUS; N cleaned, F failed, S left alone, B bytes (temp 1 (1 failed), fd 2)" */
static void
text_result(struct cli_tally *t, const char *p, const char *end)
{
	const char *s = last(p, end, " left alone, ");
	uint64_t bytes = 0, n;
	if (!s) {
		return;
	}
	s += 13;
	s += cli_figure(s, end, &bytes);
	if (!starts(s, end, " bytes (") || end[-1] != ')') {
		return;
	}
	reclaimed(t, RCSHIM_KIND_COUNT, 0, bytes);
	/* The kinds: "KIND N" with optional "(...)", separated by ", ". */
	for (s += 8; s < end - 1;) {
		const char *name = s;
		while (s < end && *s >= 'a' && *s <= 'z') {
			s++;
		}
		size_t len = (size_t)(s - name);
		if (s < end && *s == ' ' && cli_figure(s + 1, end, &n)) {
			for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
				if (strlen(rc_kind_name(k)) == len && !memcmp(rc_kind_name(k), name, len)) {
					reclaimed(t, k, n, 0);
				}
			}
		}
		const char *comma = s;
		while (comma < end - 1 && !(comma[0] == ',' && comma[1] == ' ')) {
			comma++;
		}
		s = comma + 2;
	}
}

/* "REASON MODE PRIO: RESULT" (a log entry) */
static void
text_log_entry(struct cli_tally *t, const char *p, const char *end)
{
	const char *sp1 = memchr(p, ' ', (size_t)(end - p));
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
	const char *colon = sp2 ? memchr(sp2 + 1, ':', (size_t)(end - sp2 - 1)) : NULL;
	char trigger[16], mode[16], prio[16];
	if (!colon) {
		return;
	}
	name_copy(trigger, sizeof(trigger), p, (size_t)(sp1 - p));
	name_copy(mode, sizeof(mode), sp1 + 1, (size_t)(sp2 - sp1 - 1));
	name_copy(prio, sizeof(prio), sp2 + 1, (size_t)(colon - sp2 - 1));
	if (!strcmp(mode, "live") || (!strcmp(mode, "final") && !strcmp(trigger, "signal"))) {
		return;
	}
	count(t, trigger, prio);
	text_result(t, colon + 2 < end ? colon + 2 : end, end);
}

static void
text_line(struct cli_tally *t, struct cli_tally_file *f, const char *p, const char *end)
{
	const char *s;
	char trigger[16], prio[16];

	if (starts(p, end, "rcshim[")) {
		/* "rcshim[PID]: live cleanup (REASON, PRIO): RESULT" */
		f->state = TEXT_NONE;
		const char *c = cli_digits(p + 7);
		if (!c || !starts(c, end, "]: live cleanup (")) {
			return;
		}
		c += 17;
		const char *comma = memchr(c, ',', (size_t)(end - c));
		const char *close = comma ? memchr(comma, ')', (size_t)(end - comma)) : NULL;
		if (!close || !starts(comma, end, ", ") || !starts(close, end, "): ")) {
			return;
		}
		name_copy(trigger, sizeof(trigger), c, (size_t)(comma - c));
		name_copy(prio, sizeof(prio), comma + 2, (size_t)(close - comma - 2));
		count(t, trigger, prio);
		text_result(t, close + 3, end);
		return;
	}
	if (starts(p, end, "== rcshim report: pid ")) {
		/* "..., at exit, priority LOW; what it held:" or "..., ended by
		 * signal 15, priority HIGH; what it held:"; ", now" for a
		 * snapshot.  The name before it is escaped, and may hold
		 * anything: the last match counts. */
		f->state = TEXT_NONE;
		const char *tail = last(p, end, "; what it held:");
		if (!tail || tail + 15 != end) {
			return;
		}
		if ((s = last(p, tail, ", at exit, priority ")) && s > p) {
			snprintf(f->trigger, sizeof(f->trigger), "exit");
			s += 20;
		} else if ((s = last(p, tail, ", ended by signal ")) && (s = cli_digits(s + 18)) &&
			   starts(s, tail, ", priority ")) {
			snprintf(f->trigger, sizeof(f->trigger), "signal");
			s += 11;
		} else {
			return;
		}
		name_copy(f->prio, sizeof(f->prio), s, (size_t)(tail - s));
		f->state = TEXT_FINAL;
		return;
	}
	if (f->state == TEXT_NONE) {
		return;
	}
	if (f->state == TEXT_LOG) {
		if (starts(p, end, "  ")) {
			if (!starts(p, end, "  (")) {
				text_log_entry(t, p + 2, end);
			}
			return;
		}
		f->state = TEXT_FINAL;
	}
	if (starts(p, end, "final cleanup: ")) {
		count(t, f->trigger, f->prio);
		text_result(t, p + 15, end);
	} else if ((size_t)(end - p) == 24 && starts(p, end, "cleanups (oldest first):")) {
		f->state = TEXT_LOG;
	}
}

void
cli_tally_line(struct cli_tally *t, struct cli_tally_file *f, const char *line, size_t len)
{
	const char *end = line + len;
	while (end > line && (end[-1] == '\n' || end[-1] == '\r')) {
		end--;
	}
	if (line < end && *line == '{') {
		f->state = TEXT_NONE;
		json_line(t, line, end);
	} else {
		text_line(t, f, line, end);
	}
}
