/* What the program's processes still held when they ended, from their
 * reports: the summary's "held at the end" line.
 *
 * A figure is read as a count that never wraps around: a process's report
 * that says it held fewer than nothing (a miscount of the shim's, as the
 * heap's once was in dash, docs/design-notes.md) holds nothing here, and
 * a sum past 2^64 - 1 stays there.  strtoull and sscanf's %llu would take
 * "-250" for 2^64 - 250. */
#include "build-config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void
put(struct cli_kinds *out, const char *kind, size_t len, uint64_t count, uint64_t bytes)
{
	if (out->n < CLI_MAX_KINDS && len < sizeof(out->k[0].kind)) {
		struct cli_kind_count *k = &out->k[out->n++];
		memcpy(k->kind, kind, len);
		k->kind[len] = '\0';
		k->count = count;
		k->bytes = bytes;
	}
}

size_t
cli_figure(const char *p, const char *end, uint64_t *v)
{
	const char *s = p;
	bool negative = s < end && *s == '-';
	uint64_t x = 0;
	s += negative;
	const char *digits = s;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (__builtin_mul_overflow(x, 10, &x) ||
		    __builtin_add_overflow(x, (uint64_t)(*s - '0'), &x)) {
			x = UINT64_MAX;
		}
	}
	if (s == digits) {
		*v = 0;
		return 0;
	}
	*v = negative ? 0 : x;
	return (size_t)(s - p);
}

/* The figure at *@s (in the NUL-terminated line), then @lit: advances *@s
 * past both.  False when either is not there. */
static bool
figure_then(const char **s, const char *lit, uint64_t *v)
{
	size_t used = cli_figure(*s, *s + strlen(*s), v);
	if (!used || strncmp(*s + used, lit, strlen(lit)) != 0) {
		return false;
	}
	*s += used + strlen(lit);
	return true;
}

bool
cli_text_report_kinds(const char *p, size_t n, struct cli_kinds *out)
{
	memset(out, 0, sizeof(*out));
	for (const char *end = p + n; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[256];
		snprintf(line, sizeof(line), "%.*s", (int)(len < 255 ? len : 255), p);
		p += len + 1;

		uint64_t c = 0, b = 0;
		const char *s = line + strspn(line, "abcdefghijklmnopqrstuvwxyz");
		size_t klen = (size_t)(s - line);
		if (!strncmp(line, "== rcshim report", 16)) {
			out->n = 0; /* the last report of a file wins */
			out->found = true;
			continue;
		}
		if (klen == 0 || klen > 15 || strncmp(s, ": ", 2) != 0) {
			continue;
		}
		s += 2;
		if (klen == 4 && !memcmp(line, "heap", 4)) {
			if (figure_then(&s, " blocks, ", &c) && figure_then(&s, " bytes", &b)) {
				put(out, "heap", 4, c, b);
			}
		} else if (figure_then(&s, " held", &c)) {
			if (strncmp(s, ", ", 2) != 0 || (s += 2, !figure_then(&s, " bytes", &b))) {
				b = 0;
			}
			put(out, line, klen, c, b);
		}
	}
	return out->found;
}

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

void
cli_kinds_add(struct cli_kinds *sum, const struct cli_kinds *one)
{
	for (size_t i = 0; i < one->n; i++) {
		size_t j = 0;
		while (j < sum->n && strcmp(sum->k[j].kind, one->k[i].kind)) {
			j++;
		}
		if (j == sum->n) {
			if (j == CLI_MAX_KINDS) {
				continue;
			}
			sum->k[sum->n++] = one->k[i];
			continue;
		}
		sum->k[j].count = add_sat(sum->k[j].count, one->k[i].count);
		sum->k[j].bytes = add_sat(sum->k[j].bytes, one->k[i].bytes);
	}
	sum->found = true;
}
