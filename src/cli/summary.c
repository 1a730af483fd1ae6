/* The gathered report's summary (DESIGN §8): one line per process that
 * held something at its end, most important first —
 *
 *   pid 12 /tmp/sq a: sqlite 1 (open_index at sq.c:5), temp 1 (main at sq.c:8),
 *     fd 2 (sqlite3PagerOpen), heap 1000 blocks 39.1 KiB (parse_record at sq.c:7);
 *     reclaimed: sqlite 1, temp 1
 *
 * read back from the processes' own reports (text or JSON, frames already
 * named by symbolize.c).  The line is made once and written into both the
 * text and the JSON report ("summary": [{..., "line": ...}]), so the two
 * say the same. */
#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/escape.h"
#include "core/log.h"

/* Kinds as the summary names them, in the order it names them. */
static const char *const kinds[] = { "sqlite", "temp", "gpu", "fd", "custom", "heap" };
#define NK (sizeof(kinds) / sizeof(kinds[0]))
#define HEAP (NK - 1)
#define TEMP 1

static int
kind_index(const char *k, size_t len)
{
	for (size_t i = 0; i < NK; i++) {
		if (strlen(kinds[i]) == len && !memcmp(kinds[i], k, len)) {
			return (int)i;
		}
	}
	return -1;
}

/* @s as text output escapes it (core/escape.h), malloc'd. */
static char *
escaped(const char *s)
{
	size_t n = strlen(s);
	char *e = cli_xrealloc(NULL, n * 4 + 1);
	rc_esc_text(e, n * 4 + 1, s, n);
	return e;
}

static void
add_item(struct cli_sum_proc *p, const char *kind, const char *what)
{
	p->items = cli_xrealloc(p->items, (p->nitems + 1) * sizeof(*p->items));
	size_t n = strlen(kind) + strlen(what) + 2;
	p->items[p->nitems] = cli_xrealloc(NULL, n);
	snprintf(p->items[p->nitems++], n, "%s %s", kind, what);
}

/* ---- frames: which function to name -------------------------------------- */

/* The C library, the dynamic loader, the shim: never the answer to
 * "who acquired it". */
static bool
plumbing(const char *object, size_t len)
{
	const char *b = object;
	for (size_t i = 0; i < len; i++) {
		if (object[i] == '/') {
			b = object + i + 1;
		}
	}
	size_t bl = len - (size_t)(b - object);
	static const char *const pre[] = { "libc.so", "libc-", "ld-linux", "ld-", "librcshim" };
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		if (bl >= strlen(pre[i]) && !memcmp(b, pre[i], strlen(pre[i]))) {
			return true;
		}
	}
	return false;
}

/* One frame, already split up. */
struct frame {
	const char *fn, *obj, *file;
	size_t fnl, objl, filel;
	long line;
	unsigned long off;
};

/* The choice over one stack: the first frame that is named and not
 * plumbing, else the first named one, else the first's object+offset. */
struct pick {
	char best[200], named[200], raw[200];
};

static void
pick_frame(struct pick *p, const struct frame *f)
{
	char where[200];
	const char *fb = f->file;
	size_t fbl = f->filel;
	for (size_t i = 0; i < f->filel; i++) {
		if (f->file[i] == '/') {
			fb = f->file + i + 1;
			fbl = f->filel - i - 1;
		}
	}
	if (!p->raw[0] && f->objl) {
		const char *ob = f->obj;
		for (size_t i = 0; i < f->objl; i++) {
			if (f->obj[i] == '/') {
				ob = f->obj + i + 1;
			}
		}
		snprintf(p->raw, sizeof(p->raw), "%.*s+0x%lx", (int)(f->objl - (size_t)(ob - f->obj)),
			 ob, f->off);
	}
	if (!f->fnl || (f->fnl == 1 && f->fn[0] == '?')) {
		return;
	}
	if (fbl) {
		snprintf(where, sizeof(where), "%.*s at %.*s:%ld", (int)f->fnl, f->fn, (int)fbl, fb,
			 f->line);
	} else {
		snprintf(where, sizeof(where), "%.*s", (int)f->fnl, f->fn);
	}
	if (!p->named[0]) {
		snprintf(p->named, sizeof(p->named), "%s", where);
	}
	if (!p->best[0] && !plumbing(f->obj, f->objl)) {
		snprintf(p->best, sizeof(p->best), "%s", where);
	}
}

static const char *
picked(const struct pick *p)
{
	return p->best[0] ? p->best : p->named[0] ? p->named : p->raw;
}

/* "      #0  0x55de34a071dc parse_record+0x15 in /tmp/sq at /tmp/sq.c:8"
 * (emit.c's text_frames). */
static bool
text_frame(const char *l, size_t len, struct frame *f)
{
	const char *end = l + len, *p = l;
	memset(f, 0, sizeof(*f));
	while (p < end && *p == ' ') {
		p++;
	}
	if (p >= end || *p != '#') {
		return false;
	}
	p = memchr(p, 'x', (size_t)(end - p)); /* the pc */
	p = p ? memchr(p, ' ', (size_t)(end - p)) : NULL;
	if (!p) {
		return false;
	}
	p++;
	const char *plus = NULL, *in = NULL, *at = NULL;
	for (const char *q = p; q + 4 <= end; q++) {
		if (!in && !plus && *q == '+' && q[1] == '0' && q[2] == 'x') {
			plus = q;
		} else if (!in && !memcmp(q, " in ", 4)) {
			in = q;
		} else if (in && q >= in + 4 && !memcmp(q, " at ", 4)) {
			at = q; /* the last one, after " in " ("in at x.so" is an object) */
		}
	}
	if (!plus) {
		return false;
	}
	f->fn = p;
	f->fnl = (size_t)(plus - p);
	f->off = strtoul(plus + 1, NULL, 16);
	if (in) {
		f->obj = in + 4;
		const char *oe = at ? at : end;
		const char *br = memchr(f->obj, '[', (size_t)(oe - f->obj));
		if (br && br > f->obj) {
			oe = br - 1; /* " [unsymbolized ...]" */
		}
		f->objl = (size_t)(oe - f->obj);
	}
	if (at) {
		const char *colon = NULL;
		for (const char *q = at + 4; q < end; q++) {
			colon = *q == ':' ? q : colon;
		}
		if (colon) {
			f->file = at + 4;
			f->filel = (size_t)(colon - f->file);
			f->line = strtol(colon + 1, NULL, 10);
		}
	}
	return true;
}

/* ---- a text report --------------------------------------------------------- */

static bool
starts(const char *l, size_t len, const char *w)
{
	size_t n = strlen(w);
	return len >= n && !memcmp(l, w, n);
}

/* The final cleanup's "(sqlite 1, temp 2 (1 failed))": what was reclaimed. */
static void
text_final(struct cli_sum_proc *p, const char *l, size_t len)
{
	const char *open = NULL;
	for (const char *q = l; q + 7 < l + len; q++) {
		if (!memcmp(q, " bytes (", 8)) {
			open = q + 8;
			break;
		}
	}
	for (const char *q = open; q && q < l + len;) {
		size_t wl = strcspn(q, " ,)\n");
		int k = kind_index(q, wl);
		if (k >= 0 && q[wl] == ' ') {
			p->reclaimed[k] += strtoull(q + wl + 1, NULL, 10);
		}
		const char *c = memchr(q, ',', (size_t)(l + len - q));
		q = c ? c + 2 : NULL;
	}
}

/* "  N, acquired at:" or a heap group's "  [about ]N blocks, M bytes". */
static bool
group_line(const char *l, unsigned long long *c, unsigned long long *b)
{
	int used = 0;
	if (sscanf(l, "  %llu, acquired at%n", c, &used) == 1 && used) {
		return true;
	}
	if (!strncmp(l, "  about ", 8)) {
		l += 6;
	}
	used = 0;
	return sscanf(l, "  %llu blocks, %llu bytes%n", c, b, &used) == 2 && used;
}

static void
parse_text(struct cli_sum_proc *p, const char *text, size_t n)
{
	/* The last report of the file: a process's file may also hold
	 * live cleanups' lines and snapshots. */
	const char *start = text;
	for (const char *q = text; (q = memmem(q, (size_t)(text + n - q), "== rcshim report", 16));
	     q += 16) {
		if (q == text || q[-1] == '\n') {
			start = q;
		}
	}
	int kind = -1;
	uint64_t group = 0, best = 0;
	bool in_group = false, frames_done = true;
	struct pick pk;
	for (const char *l = start, *end = text + n; l < end;) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		size_t len = nl ? (size_t)(nl - l) : (size_t)(end - l);
		long long c = 0, b = 0; /* a figure below zero counts as 0 (cli_figure's rule) */
		unsigned long long gc = 0, gb = 0;
		int used = 0;
		char kw[16];
		if (starts(l, len, "== rcshim report: pid ") && !p->cmd) {
			const char *o = memchr(l, '(', len), *cl = o ? memchr(o, ')', len - (size_t)(o - l)) : NULL;
			if (o && cl) {
				p->cmd = cli_xstrndup(o + 1, (size_t)(cl - o - 1));
			}
		} else if (starts(l, len, "command: ")) {
			free(p->cmd);
			p->cmd = cli_xstrndup(l + 9, len - 9);
		} else if (sscanf(l, "heap: %lld blocks, %lld bytes%n", &c, &b, &used) == 2 && used) {
			kind = (int)HEAP;
			p->count[HEAP] = c > 0 ? (uint64_t)c : 0;
			p->bytes[HEAP] = b > 0 ? (uint64_t)b : 0;
			best = 0;
		} else if (sscanf(l, "%15[a-z]: %lld held%n", kw, &c, &used) == 2 && used &&
			   kind_index(kw, strlen(kw)) >= 0) {
			kind = kind_index(kw, strlen(kw));
			p->count[kind] = c > 0 ? (uint64_t)c : 0;
			sscanf(l + used, ", %lld bytes", &b);
			p->bytes[kind] = b > 0 ? (uint64_t)b : 0;
			best = 0;
		} else if (starts(l, len, "final cleanup: ")) {
			kind = -1;
			text_final(p, l, len);
		} else if (starts(l, len, "  reclaimed: ")) {
			/* "KIND WHAT", escaped already. */
			p->items = cli_xrealloc(p->items, (p->nitems + 1) * sizeof(*p->items));
			p->items[p->nitems++] = cli_xstrndup(l + 13, len - 13);
		} else if (sscanf(l, "  and %llu more reclaimed", &c) == 1) {
			p->items_more = c;
		} else if (kind >= 0 && l[0] != ' ') {
			kind = -1; /* another section */
		} else if (kind >= 0 && group_line(l, &gc, &gb)) {
			group = kind == (int)HEAP ? gb : gc;
			in_group = true;
			frames_done = false;
			memset(&pk, 0, sizeof(pk));
		} else if (kind == TEMP && (starts(l, len, "    dir ") || starts(l, len, "    file "))) {
			const char *path = (const char *)memchr(l + 4, ' ', len - 4) + 1;
			p->temps = cli_xrealloc(p->temps, (p->ntemps + 1) * sizeof(*p->temps));
			p->temps[p->ntemps++] = cli_xstrndup(path, len - (size_t)(path - l));
		} else if (kind >= 0 && in_group && !frames_done && starts(l, len, "      #")) {
			struct frame f;
			if (text_frame(l, len, &f)) {
				pick_frame(&pk, &f);
			}
			const char *nx = nl ? nl + 1 : end;
			if (nx >= end || !starts(nx, (size_t)(end - nx), "      #")) {
				frames_done = true;
				if (group > best) {
					best = group;
					snprintf(p->where[kind], sizeof(p->where[kind]), "%s", picked(&pk));
				}
			}
		}
		l += len + 1;
	}
}

/* ---- a JSON report ---------------------------------------------------------- */

static const struct cli_jv *
json_stack(const struct cli_jv *rep, double id)
{
	const struct cli_jv *st = cli_jv_get(rep, "stacks");
	for (size_t i = 0; st && st->t == CLI_J_ARR && i < st->n; i++) {
		if (cli_jv_num(&st->items[i], "id") == id) {
			return cli_jv_get(&st->items[i], "frames");
		}
	}
	return NULL;
}

static void
json_where(char *out, size_t len, const struct cli_jv *frames)
{
	struct pick pk;
	memset(&pk, 0, sizeof(pk));
	for (size_t i = 0; frames && frames->t == CLI_J_ARR && i < frames->n; i++) {
		const struct cli_jv *fr = &frames->items[i];
		const char *fn = cli_jv_str(fr, "function"), *obj = cli_jv_str(fr, "object"),
			   *file = cli_jv_str(fr, "file");
		struct frame f = { fn ? fn : "?", obj ? obj : "", file ? file : "",
				   fn ? strlen(fn) : 1, obj ? strlen(obj) : 0, file ? strlen(file) : 0,
				   (long)cli_jv_num(fr, "line"), (unsigned long)cli_jv_num(fr, "offset") };
		pick_frame(&pk, &f);
	}
	/* Names in JSON are the bytes themselves: escaped as text is. */
	char *e = escaped(picked(&pk));
	snprintf(out, len, "%s", e);
	free(e);
}

/* The command line's words, each escaped as text, quoted as emit.c's
 * text_words does. */
static char *
words_line(const struct cli_jv *cmd)
{
	size_t cap = 64, n = 0;
	char *s = cli_xrealloc(NULL, cap);
	s[0] = '\0';
	for (size_t i = 0; i < cmd->n; i++) {
		const char *w = cmd->items[i].t == CLI_J_STR ? cmd->items[i].str : "";
		char *e = escaped(w);
		bool q = !*w || strpbrk(w, " '\"");
		size_t need = n + strlen(e) + 4;
		if (need >= cap) {
			cap = need * 2;
			s = cli_xrealloc(s, cap);
		}
		n += (size_t)snprintf(s + n, cap - n, "%s%s%s%s", i ? " " : "", q ? "'" : "", e,
				      q ? "'" : "");
		free(e);
	}
	return s;
}

static bool
parse_json(struct cli_sum_proc *p, const char *text, size_t n)
{
	struct cli_jv all;
	const struct cli_jv *rep = NULL;
	if (!cli_jv_parse_all(text, n, &all)) {
		cli_jv_free(&all);
		return false;
	}
	for (size_t i = 0; i < all.n; i++) {
		if (cli_jv_get(&all.items[i], "kinds")) {
			rep = &all.items[i]; /* the last report wins */
		}
	}
	if (!rep) {
		cli_jv_free(&all);
		return false;
	}
	const struct cli_jv *cmd = cli_jv_get(rep, "cmdline");
	if (cmd && cmd->t == CLI_J_ARR && cmd->n) {
		p->cmd = words_line(cmd);
	} else if (cli_jv_str(rep, "exe")) {
		p->cmd = escaped(cli_jv_str(rep, "exe"));
	}
	const struct cli_jv *ks = cli_jv_get(rep, "kinds");
	for (size_t i = 0; ks->t == CLI_J_ARR && i < ks->n; i++) {
		const struct cli_jv *k = &ks->items[i];
		const char *name = cli_jv_str(k, "kind");
		int ki = name ? kind_index(name, strlen(name)) : -1;
		if (ki < 0) {
			continue;
		}
		double cnt = cli_jv_num(k, "count"), byt = cli_jv_num(k, "bytes");
		/* Below zero is 0; a double beyond 2^64 would be undefined. */
		p->count[ki] = cnt > 0 ? (cnt < 1.8e19 ? (uint64_t)cnt : UINT64_MAX) : 0;
		p->bytes[ki] = byt > 0 ? (byt < 1.8e19 ? (uint64_t)byt : UINT64_MAX) : 0;
		const struct cli_jv *gs = cli_jv_get(k, "groups"), *bestg = NULL;
		double best = 0;
		for (size_t g = 0; gs && gs->t == CLI_J_ARR && g < gs->n; g++) {
			const struct cli_jv *gr = &gs->items[g];
			double v = cli_jv_num(gr, ki == (int)HEAP ? "bytes" : "count");
			if (v > best) {
				best = v;
				bestg = gr;
			}
			const struct cli_jv *its = cli_jv_get(gr, "items");
			for (size_t j = 0; ki == TEMP && its && its->t == CLI_J_ARR && j < its->n; j++) {
				const char *path = cli_jv_str(&its->items[j], "path");
				if (path) {
					p->temps = cli_xrealloc(p->temps, (p->ntemps + 1) * sizeof(*p->temps));
					p->temps[p->ntemps++] = escaped(path);
				}
			}
		}
		if (bestg) {
			json_where(p->where[ki], sizeof(p->where[ki]),
				   json_stack(rep, cli_jv_num(bestg, "stack")));
		}
	}
	const struct cli_jv *fin = cli_jv_get(rep, "final");
	const struct cli_jv *fk = cli_jv_get(fin, "kinds");
	for (size_t i = 0; fk && fk->t == CLI_J_OBJ && i < fk->n; i++) {
		int ki = kind_index(fk->keys[i], strlen(fk->keys[i]));
		if (ki >= 0) {
			p->reclaimed[ki] += (uint64_t)cli_jv_num(&fk->items[i], "cleaned");
		}
	}
	const struct cli_jv *its = cli_jv_get(fin, "items");
	for (size_t i = 0; its && its->t == CLI_J_ARR && i < its->n; i++) {
		const char *k = cli_jv_str(&its->items[i], "kind"), *w = cli_jv_str(&its->items[i], "what");
		char *e = escaped(w ? w : "?");
		add_item(p, k ? k : "?", e);
		free(e);
	}
	p->items_more = (uint64_t)cli_jv_num(fin, "items_omitted");
	cli_jv_free(&all);
	return true;
}

/* ---- the summary ------------------------------------------------------------- */

static uint64_t
others(const struct cli_sum_proc *p)
{
	uint64_t n = 0;
	for (size_t k = 0; k < HEAP; k++) {
		n += p->count[k];
	}
	return n;
}

/* Non-heap items first (a connection, a temp dir, an fd a user must act
 * on), then by their count, then by heap bytes. */
static int
by_importance(const void *a, const void *b)
{
	const struct cli_sum_proc *x = a, *y = b;
	uint64_t ox = others(x), oy = others(y);
	if ((ox > 0) != (oy > 0)) {
		return ox > 0 ? -1 : 1;
	}
	if (ox != oy) {
		return ox > oy ? -1 : 1;
	}
	if (x->bytes[HEAP] != y->bytes[HEAP]) {
		return x->bytes[HEAP] > y->bytes[HEAP] ? -1 : 1;
	}
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* A command line is shown up to this many bytes, then " ...": a
 * compiler's runs to kilobytes, and what it held must still fit after
 * it. */
#define CMD_SHOWN 1024

static void
make_line(struct cli_sum_proc *p)
{
	char buf[4096];
	size_t n = 0;
	const char *cmd = p->cmd ? p->cmd : "?";
	size_t cl = strlen(cmd);
	bool cut = cl > CMD_SHOWN;
	if (cut) {
		/* Not inside a character of UTF-8. */
		for (cl = CMD_SHOWN; cl && ((unsigned char)cmd[cl] & 0xc0) == 0x80; cl--) {
		}
	}
	/* rc_fmt returns what it wrote, never past the end: n stays in buf. */
	n += rc_fmt(buf + n, sizeof(buf) - n, "pid %ld %.*s%s:", p->pid, (int)cl, cmd,
		    cut ? " ..." : "");
	bool any = false;
	for (size_t k = 0; k < NK && n < sizeof(buf) - 300; k++) {
		if (!p->count[k]) {
			continue;
		}
		if (k == HEAP) {
			char hb[32];
			n += rc_fmt(buf + n, sizeof(buf) - n, "%s heap %llu blocks %s",
				    any ? "," : "", (unsigned long long)p->count[k],
				    cli_human_bytes(p->bytes[k], hb, sizeof(hb)));
		} else {
			n += rc_fmt(buf + n, sizeof(buf) - n, "%s %s %llu", any ? "," : "",
				    kinds[k], (unsigned long long)p->count[k]);
		}
		if (p->where[k][0]) {
			n += rc_fmt(buf + n, sizeof(buf) - n, " (%s)", p->where[k]);
		}
		any = true;
	}
	if (!any) {
		n += rc_fmt(buf + n, sizeof(buf) - n, " nothing held");
	}
	n += rc_fmt(buf + n, sizeof(buf) - n, "; reclaimed:");
	any = false;
	for (size_t k = 0; k < NK && n < sizeof(buf) - 40; k++) {
		if (p->reclaimed[k]) {
			n += rc_fmt(buf + n, sizeof(buf) - n, "%s %s %llu", any ? "," : "",
				    kinds[k], (unsigned long long)p->reclaimed[k]);
			any = true;
		}
	}
	if (!any) {
		n += rc_fmt(buf + n, sizeof(buf) - n, " nothing");
	}
	p->line = cli_xstrndup(buf, n);
}

void
cli_summary_add(struct cli_summary *s, long pid, const char *text, size_t n, bool json,
		const struct cli_paths *removed)
{
	s->p = cli_xrealloc(s->p, (s->n + 1) * sizeof(*s->p));
	struct cli_sum_proc *p = &s->p[s->n++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	if (!(json && parse_json(p, text, n))) {
		parse_text(p, text, n);
	}
	p->nown = p->nitems;
	/* The temp artifacts it held that the launcher removed after the
	 * run: reclaimed too, by name. */
	for (size_t i = 0; i < p->ntemps; i++) {
		for (size_t j = 0; j < removed->n; j++) {
			char *e = escaped(removed->v[j]);
			bool same = !strcmp(e, p->temps[i]);
			free(e);
			if (same) {
				p->reclaimed[TEMP]++;
				add_item(p, "temp", p->temps[i]);
				break;
			}
		}
	}
}

void
cli_summary_finish(struct cli_summary *s)
{
	if (s->n > 1) {
		qsort(s->p, s->n, sizeof(*s->p), by_importance);
	}
	for (size_t i = 0; i < s->n; i++) {
		make_line(&s->p[i]);
	}
}

void
cli_summary_text(FILE *f, const struct cli_summary *s)
{
	for (size_t i = 0; i < s->n; i++) {
		fprintf(f, "  %s\n", s->p[i].line);
	}
}

void
cli_summary_json(FILE *f, const struct cli_summary *s)
{
	fputs(",\n \"summary\": [", f);
	for (size_t i = 0; i < s->n; i++) {
		const struct cli_sum_proc *p = &s->p[i];
		fprintf(f, "%s\n  {\"pid\": %ld, \"command\": ", i ? "," : "", p->pid);
		/* Escaped as text: the words themselves are in the process's
		 * own "cmdline". */
		cli_json_string(f, p->cmd ? p->cmd : "");
		fputs(", \"held\": [", f);
		bool any = false;
		for (size_t k = 0; k < NK; k++) {
			if (!p->count[k]) {
				continue;
			}
			fprintf(f, "%s{\"kind\": \"%s\", \"count\": %llu, \"bytes\": %llu, \"where\": ",
				any ? ", " : "", kinds[k], (unsigned long long)p->count[k],
				(unsigned long long)p->bytes[k]);
			if (p->where[k][0]) {
				cli_json_string(f, p->where[k]);
			} else {
				fputs("null", f);
			}
			fputc('}', f);
			any = true;
		}
		fputs("], \"reclaimed\": {", f);
		any = false;
		for (size_t k = 0; k < NK; k++) {
			if (p->reclaimed[k]) {
				fprintf(f, "%s\"%s\": %llu", any ? ", " : "", kinds[k],
					(unsigned long long)p->reclaimed[k]);
				any = true;
			}
		}
		fputs("}, \"reclaimed_items\": [", f);
		for (size_t j = 0; j < p->nitems; j++) {
			fputs(j ? ", " : "", f);
			cli_json_string(f, p->items[j]);
		}
		fprintf(f, "], \"reclaimed_items_omitted\": %llu, \"line\": ",
			(unsigned long long)p->items_more);
		cli_json_string(f, p->line);
		fputc('}', f);
	}
	fprintf(f, "%s]", s->n ? "\n " : "");
}

void
cli_summary_free(struct cli_summary *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct cli_sum_proc *p = &s->p[i];
		for (size_t j = 0; j < p->nitems; j++) {
			free(p->items[j]);
		}
		for (size_t j = 0; j < p->ntemps; j++) {
			free(p->temps[j]);
		}
		free(p->items);
		free(p->temps);
		free(p->cmd);
		free(p->line);
	}
	free(s->p);
	memset(s, 0, sizeof(*s));
}
