/* A small DOM-style JSON reader (RFC 8259) for the launcher's subcommands
 * that read reports back: rcshim plot, rcshim print, the gathered report's
 * summary.  Numbers are doubles; strings are decoded (\u escapes as
 * UTF-8); a report's byte that is not UTF-8 comes back as the code point
 * of the same value, its "_hex" member beside it has the bytes. */
#include "build-config.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

struct jin {
	const char *p, *end;
	int depth;
};

static void
jws(struct jin *in)
{
	while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r')) {
		in->p++;
	}
}

void *
cli_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		abort();
	}
	return p;
}

char *
cli_xstrndup(const char *s, size_t n)
{
	char *d = cli_xrealloc(NULL, n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static void
put_utf8(char **o, unsigned c)
{
	unsigned char *u = (unsigned char *)*o;
	if (c < 0x80) {
		*u++ = (unsigned char)c;
	} else if (c < 0x800) {
		*u++ = (unsigned char)(0xc0 | c >> 6);
		*u++ = (unsigned char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		*u++ = (unsigned char)(0xe0 | c >> 12);
		*u++ = (unsigned char)(0x80 | (c >> 6 & 0x3f));
		*u++ = (unsigned char)(0x80 | (c & 0x3f));
	} else {
		*u++ = (unsigned char)(0xf0 | c >> 18);
		*u++ = (unsigned char)(0x80 | (c >> 12 & 0x3f));
		*u++ = (unsigned char)(0x80 | (c >> 6 & 0x3f));
		*u++ = (unsigned char)(0x80 | (c & 0x3f));
	}
	*o = (char *)u;
}

static int
hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
		if (d == 16) {
			return -1;
		}
		*v = *v << 4 | d;
	}
	return 0;
}

static char *
jstring(struct jin *in)
{
	if (in->p >= in->end || *in->p != '"') {
		return NULL;
	}
	const char *s = ++in->p;
	while (in->p < in->end && *in->p != '"') {
		in->p += *in->p == '\\' ? 2 : 1;
	}
	if (in->p >= in->end) {
		return NULL;
	}
	const char *e = in->p++;
	char *out = cli_xrealloc(NULL, (size_t)(e - s) * 2 + 1), *o = out;
	while (s < e) {
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		s++;
		char c = *s++;
		unsigned u, lo;
		switch (c) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'u':
			if (e - s < 4 || hex4(s, &u) < 0) {
				free(out);
				return NULL;
			}
			s += 4;
			if (u >= 0xd800 && u < 0xdc00 && e - s >= 6 && s[0] == '\\' && s[1] == 'u' &&
			    hex4(s + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
				u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			}
			put_utf8(&o, u);
			break;
		default: *o++ = c; break;
		}
	}
	*o = '\0';
	return out;
}

static bool jvalue(struct jin *in, struct cli_jv *v);

static bool
jcontainer(struct jin *in, struct cli_jv *v, bool obj)
{
	char close = obj ? '}' : ']';
	size_t cap = 0;
	in->p++;
	jws(in);
	if (in->p < in->end && *in->p == close) {
		in->p++;
		return true;
	}
	for (;;) {
		if (v->n == cap) {
			cap = cap ? cap * 2 : 8;
			v->items = cli_xrealloc(v->items, cap * sizeof(*v->items));
			if (obj) {
				v->keys = cli_xrealloc(v->keys, cap * sizeof(*v->keys));
			}
		}
		jws(in);
		if (obj) {
			char *k = jstring(in);
			if (!k) {
				return false;
			}
			v->keys[v->n] = k;
			jws(in);
			if (in->p >= in->end || *in->p++ != ':') {
				free(k);
				return false;
			}
		}
		memset(&v->items[v->n], 0, sizeof(*v->items));
		bool ok = jvalue(in, &v->items[v->n]);
		v->n++;
		if (!ok) {
			return false;
		}
		jws(in);
		if (in->p < in->end && *in->p == ',') {
			in->p++;
			continue;
		}
		if (in->p < in->end && *in->p == close) {
			in->p++;
			return true;
		}
		return false;
	}
}

static bool
jvalue(struct jin *in, struct cli_jv *v)
{
	jws(in);
	if (in->p >= in->end || in->depth > 256) {
		return false;
	}
	char c = *in->p;
	if (c == '{' || c == '[') {
		v->t = c == '{' ? CLI_J_OBJ : CLI_J_ARR;
		in->depth++;
		bool ok = jcontainer(in, v, c == '{');
		in->depth--;
		return ok;
	}
	if (c == '"') {
		v->t = CLI_J_STR;
		return (v->str = jstring(in)) != NULL;
	}
	static const struct { const char *w; enum cli_jt t; double n; } lits[] = {
		{ "null", CLI_J_NULL, 0 }, { "true", CLI_J_BOOL, 1 }, { "false", CLI_J_BOOL, 0 },
	};
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(lits[i].w);
		if ((size_t)(in->end - in->p) >= l && !memcmp(in->p, lits[i].w, l)) {
			in->p += l;
			v->t = lits[i].t;
			v->num = lits[i].n;
			return true;
		}
	}
	char buf[64];
	size_t l = 0;
	while (in->p + l < in->end && l < sizeof(buf) - 1 && strchr("+-.0123456789eE", in->p[l])) {
		buf[l] = in->p[l];
		l++;
	}
	if (!l) {
		return false;
	}
	buf[l] = '\0';
	char *end;
	v->t = CLI_J_NUM;
	v->num = strtod(buf, &end);
	in->p += l;
	/* 1e999: past a double, never written by rcshim; a bound or a step
	 * made from it would never be reached. */
	return end != buf && isfinite(v->num);
}

void
cli_jv_free(struct cli_jv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		cli_jv_free(&v->items[i]);
		if (v->keys) {
			free(v->keys[i]);
		}
	}
	free(v->items);
	free(v->keys);
	free(v->str);
}

const struct cli_jv *
cli_jv_get(const struct cli_jv *o, const char *key)
{
	if (!o || o->t != CLI_J_OBJ) {
		return NULL;
	}
	for (size_t i = 0; i < o->n; i++) {
		if (!strcmp(o->keys[i], key)) {
			return &o->items[i];
		}
	}
	return NULL;
}

double
cli_jv_num(const struct cli_jv *o, const char *key)
{
	const struct cli_jv *v = cli_jv_get(o, key);
	return v && v->t == CLI_J_NUM ? v->num : 0;
}

const char *
cli_jv_str(const struct cli_jv *o, const char *key)
{
	const struct cli_jv *v = cli_jv_get(o, key);
	return v && v->t == CLI_J_STR ? v->str : NULL;
}


char *
cli_read_file(const char *path, size_t *n)
{
	FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "rb");
	if (!f) {
		return NULL;
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = cli_xrealloc(NULL, cap);
	size_t r;
	while ((r = fread(buf + len, 1, cap - len, f)) > 0) {
		len += r;
		if (len == cap) {
			cap *= 2;
			buf = cli_xrealloc(buf, cap);
		}
	}
	bool err = ferror(f);
	if (f != stdin) {
		fclose(f);
	}
	if (err) {
		free(buf);
		return NULL;
	}
	*n = len;
	return buf;
}

bool
cli_jv_parse_all(const char *text, size_t n, struct cli_jv *all)
{
	struct jin in = { text, text + n, 0 };
	size_t cap = 0;
	bool ok = true;

	memset(all, 0, sizeof(*all));
	all->t = CLI_J_ARR;
	for (;;) {
		jws(&in);
		if (in.p >= in.end) {
			break;
		}
		if (all->n == cap) {
			cap = cap ? cap * 2 : 4;
			all->items = cli_xrealloc(all->items, cap * sizeof(*all->items));
		}
		memset(&all->items[all->n], 0, sizeof(*all->items));
		ok = jvalue(&in, &all->items[all->n]);
		all->n++;
		if (!ok) {
			break;
		}
	}
	return ok;
}

/* Integers (every number a report holds) as integers; strings as
 * cli_json_string writes them (a byte that was not UTF-8 was read as the
 * code point of its value and is written as that character: the "_hex"
 * member beside it keeps the bytes). */
void
cli_jv_write(FILE *f, const struct cli_jv *v)
{
	switch (v->t) {
	case CLI_J_NULL:
		fputs("null", f);
		break;
	case CLI_J_BOOL:
		fputs(v->num ? "true" : "false", f);
		break;
	case CLI_J_NUM:
		if (v->num == (double)(long long)v->num) {
			fprintf(f, "%lld", (long long)v->num);
		} else {
			fprintf(f, "%.17g", v->num);
		}
		break;
	case CLI_J_STR:
		cli_json_string(f, v->str);
		break;
	case CLI_J_ARR:
	case CLI_J_OBJ:
		fputc(v->t == CLI_J_OBJ ? '{' : '[', f);
		for (size_t i = 0; i < v->n; i++) {
			fputs(i ? ", " : "", f);
			if (v->t == CLI_J_OBJ) {
				cli_json_string(f, v->keys[i]);
				fputs(": ", f);
			}
			cli_jv_write(f, &v->items[i]);
		}
		fputc(v->t == CLI_J_OBJ ? '}' : ']', f);
		break;
	}
}
