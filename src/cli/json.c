/* Just enough JSON to merge the processes' reports into one document: a
 * syntax check (RFC 8259) that counts the values a file holds, and string
 * quoting.  A report that is not JSON is embedded as a string. */
#include "build-config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/escape.h"

#define MAX_DEPTH 256

struct in {
	const char *p, *end;
};

static void
ws(struct in *in)
{
	while (in->p < in->end &&
	       (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r')) {
		in->p++;
	}
}

static bool
lit(struct in *in, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(in->end - in->p) < n || memcmp(in->p, word, n) != 0) {
		return false;
	}
	in->p += n;
	return true;
}

static bool
is_digit(const struct in *in)
{
	return in->p < in->end && *in->p >= '0' && *in->p <= '9';
}

static bool
number(struct in *in)
{
	if (in->p < in->end && *in->p == '-') {
		in->p++;
	}
	if (!is_digit(in)) {
		return false;
	}
	if (*in->p == '0') {
		in->p++;
	} else {
		while (is_digit(in)) {
			in->p++;
		}
	}
	if (in->p < in->end && *in->p == '.') {
		in->p++;
		if (!is_digit(in)) {
			return false;
		}
		while (is_digit(in)) {
			in->p++;
		}
	}
	if (in->p < in->end && (*in->p == 'e' || *in->p == 'E')) {
		in->p++;
		if (in->p < in->end && (*in->p == '+' || *in->p == '-')) {
			in->p++;
		}
		if (!is_digit(in)) {
			return false;
		}
		while (is_digit(in)) {
			in->p++;
		}
	}
	return true;
}

static bool
string(struct in *in)
{
	if (in->p >= in->end || *in->p != '"') {
		return false;
	}
	for (in->p++; in->p < in->end; in->p++) {
		unsigned char c = (unsigned char)*in->p;
		if (c == '"') {
			in->p++;
			return true;
		}
		if (c < 0x20) {
			return false;
		}
		if (c == '\\') {
			if (++in->p >= in->end) {
				return false;
			}
			if (*in->p == 'u') {
				for (int i = 0; i < 4; i++) {
					if (++in->p >= in->end || !strchr("0123456789abcdefABCDEF", *in->p)) {
						return false;
					}
				}
			} else if (!strchr("\"\\/bfnrt", *in->p)) {
				return false;
			}
		}
	}
	return false;
}

static bool value(struct in *in, int depth);

static bool
members(struct in *in, int depth, char close, bool object)
{
	in->p++;
	ws(in);
	if (in->p < in->end && *in->p == close) {
		in->p++;
		return true;
	}
	for (;;) {
		if (object) {
			if (!string(in)) {
				return false;
			}
			ws(in);
			if (in->p >= in->end || *in->p != ':') {
				return false;
			}
			in->p++;
			ws(in);
		}
		if (!value(in, depth + 1)) {
			return false;
		}
		ws(in);
		if (in->p >= in->end) {
			return false;
		}
		if (*in->p == close) {
			in->p++;
			return true;
		}
		if (*in->p != ',') {
			return false;
		}
		in->p++;
		ws(in);
	}
}

static bool
value(struct in *in, int depth)
{
	if (in->p >= in->end || depth > MAX_DEPTH) {
		return false;
	}
	switch (*in->p) {
	case '{':
		return members(in, depth, '}', true);
	case '[':
		return members(in, depth, ']', false);
	case '"':
		return string(in);
	case 't':
		return lit(in, "true");
	case 'f':
		return lit(in, "false");
	case 'n':
		return lit(in, "null");
	default:
		return number(in);
	}
}

int
cli_json_values(const char *p, size_t n)
{
	struct in in = { p, p + n };
	int count = 0;

	for (;;) {
		ws(&in);
		if (in.p >= in.end) {
			return count;
		}
		/* Numbers and literals must be followed by a separator. */
		if (!value(&in, 0) ||
		    (in.p < in.end && !strchr(" \t\r\n", *in.p) && in.p[-1] != '}' &&
		     in.p[-1] != ']' && in.p[-1] != '"')) {
			return -1;
		}
		count++;
	}
}

const char *
cli_json_skip(const char *p, const char *end)
{
	struct in in = { p, end };
	return value(&in, 0) ? in.p : NULL;
}

/* ---- the "kinds" of a report ------------------------------------------------ */

/* Where a value sits: in the report object, in its "kinds" array, in one
 * kind's object, or anywhere else. */
enum role { ANY, REPORT, KINDS, KIND };

struct kind_acc {
	struct cli_kind_count k;
	bool named;
};

static bool scan(struct in *in, int depth, enum role role, struct cli_kinds *out);

/* A count in a report: never wrapped around (held.c, cli_figure). */
static uint64_t
to_u64(const char *p, const char *end)
{
	uint64_t v;
	cli_figure(p, end, &v);
	return v;
}

static bool
scan_object(struct in *in, int depth, enum role role, struct cli_kinds *out)
{
	struct kind_acc acc = { 0 };
	in->p++;
	ws(in);
	if (in->p < in->end && *in->p == '}') {
		in->p++;
		return true;
	}
	for (;;) {
		const char *key = in->p + 1;
		if (!string(in)) {
			return false;
		}
		size_t klen = (size_t)(in->p - 1 - key);
		ws(in);
		if (in->p >= in->end || *in->p != ':') {
			return false;
		}
		in->p++;
		ws(in);
		enum role sub = ANY;
		if (role == REPORT && klen == 5 && !memcmp(key, "kinds", 5)) {
			sub = KINDS;
			out->n = 0; /* the last report of a file wins */
			out->found = true;
		}
		const char *v = in->p;
		if (!scan(in, depth + 1, sub, out)) {
			return false;
		}
		if (role == KIND) {
			if (klen == 4 && !memcmp(key, "kind", 4) && *v == '"') {
				snprintf(acc.k.kind, sizeof(acc.k.kind), "%.*s",
					 (int)(in->p - v - 2), v + 1);
				acc.named = true;
			} else if (klen == 5 && !memcmp(key, "count", 5)) {
				acc.k.count = to_u64(v, in->p);
			} else if (klen == 5 && !memcmp(key, "bytes", 5)) {
				acc.k.bytes = to_u64(v, in->p);
			}
		}
		ws(in);
		if (in->p >= in->end) {
			return false;
		}
		if (*in->p == '}') {
			in->p++;
			if (role == KIND && acc.named && out->n < CLI_MAX_KINDS) {
				out->k[out->n++] = acc.k;
			}
			return true;
		}
		if (*in->p != ',') {
			return false;
		}
		in->p++;
		ws(in);
	}
}

static bool
scan(struct in *in, int depth, enum role role, struct cli_kinds *out)
{
	if (in->p >= in->end || depth > MAX_DEPTH) {
		return false;
	}
	if (*in->p == '{') {
		return scan_object(in, depth, role, out);
	}
	if (*in->p != '[') {
		return value(in, depth);
	}
	in->p++;
	ws(in);
	if (in->p < in->end && *in->p == ']') {
		in->p++;
		return true;
	}
	for (;;) {
		if (!scan(in, depth + 1, role == KINDS ? KIND : ANY, out)) {
			return false;
		}
		ws(in);
		if (in->p >= in->end) {
			return false;
		}
		if (*in->p == ']') {
			in->p++;
			return true;
		}
		if (*in->p != ',') {
			return false;
		}
		in->p++;
		ws(in);
	}
}

bool
cli_json_report_kinds(const char *p, size_t n, struct cli_kinds *out)
{
	struct in in = { p, p + n };
	memset(out, 0, sizeof(*out));
	if (cli_json_values(p, n) < 0) {
		return false;
	}
	for (;;) {
		ws(&in);
		if (in.p >= in.end) {
			return out->found;
		}
		if (!scan(&in, 0, REPORT, out)) {
			return false;
		}
	}
}

bool
cli_json_write_values(FILE *f, const char *p, size_t n)
{
	int count = cli_json_values(p, n);
	if (count <= 0) {
		return false;
	}
	struct in in = { p, p + n };
	if (count > 1) {
		fputc('[', f);
	}
	for (int i = 0; i < count; i++) {
		ws(&in);
		const char *start = in.p;
		value(&in, 0);
		fprintf(f, "%s%.*s", i ? ", " : "", (int)(in.p - start), start);
	}
	if (count > 1) {
		fputc(']', f);
	}
	return true;
}

void
cli_json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + strlen(s);
	fputc('"', f);
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				fprintf(f, "\\u%04x", *p);
			} else if (*p < 0x80) {
				fputc(*p, f);
			} else {
				/* File names need not be UTF-8; JSON must be. */
				size_t n = rc_utf8_len(p, (size_t)(end - p));
				if (n) {
					fwrite(p, 1, n, f);
					p += n - 1;
				} else {
					fprintf(f, "\\u%04x", *p);
				}
			}
		}
	}
	fputc('"', f);
}

bool
cli_json_needs_hex(const char *s)
{
	return !rc_utf8_valid(s, strlen(s));
}

void
cli_json_hex(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		fprintf(f, "%02x", *p);
	}
	fputc('"', f);
}
