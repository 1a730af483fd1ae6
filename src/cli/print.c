/* `rcshim print REPORT [--process PID|CMD] [--kind K] [--json]`: a report,
 * filtered, the way heaptrack_print reads heaptrack's files back.
 *
 * REPORT is the launcher's gathered report (text or JSON), a process's own
 * report (text, or JSON Lines) as the shim writes it with RCSHIM_REPORT, or
 * a session id: "<journal dir>/<id>.report.txt" (or .json).
 *
 * Text in, text out: the report's own lines, the kept processes' sections
 * and summary lines, nothing rewritten.  JSON in: the JSON, filtered.  With
 * --json, whatever came in: one JSON document (docs/launcher.md, "rcshim
 * print").  JSON is read with jv.c, never with a parser of its own. */
#include "build-config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/session.h"

#define NK 6
static const char *const kinds[NK + 1] = { "heap", "temp", "fd", "sqlite", "gpu", "custom", NULL };

struct filter {
	const char *process; /* NULL: every process */
	int kind;            /* -1: every kind */
};

/* One process of the report. */
struct pproc {
	long pid;
	char *exe, *cmd;        /* NULL when the report does not say */
	uint64_t held[NK];
	bool kept;
	size_t first, end;      /* text: its lines [first, end) */
	const struct cli_jv *r; /* JSON: its report (object or array) */
};

struct procs {
	struct pproc *p;
	size_t n;
};

static struct pproc *
procs_add(struct procs *ps)
{
	ps->p = cli_xrealloc(ps->p, (ps->n + 1) * sizeof(*ps->p));
	struct pproc *p = &ps->p[ps->n++];
	memset(p, 0, sizeof(*p));
	return p;
}

static void
procs_free(struct procs *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		free(ps->p[i].exe);
		free(ps->p[i].cmd);
	}
	free(ps->p);
}

static int
kind_index(const char *s, size_t n)
{
	for (int k = 0; k < NK; k++) {
		if (strlen(kinds[k]) == n && !strncmp(s, kinds[k], n)) {
			return k;
		}
	}
	return -1;
}

/* --process: a pid exactly, else a substring of the command line or exe. */
static bool
process_matches(const struct filter *flt, const struct pproc *p)
{
	if (!flt->process) {
		return true;
	}
	char *end;
	errno = 0;
	long pid = strtol(flt->process, &end, 10);
	if (flt->process[0] && !*end && !errno) {
		return pid == p->pid;
	}
	return (p->cmd && strstr(p->cmd, flt->process)) || (p->exe && strstr(p->exe, flt->process));
}

static void
decide(const struct filter *flt, struct procs *ps, size_t *kept)
{
	*kept = 0;
	for (size_t i = 0; i < ps->n; i++) {
		struct pproc *p = &ps->p[i];
		p->kept = process_matches(flt, p) && (flt->kind < 0 || p->held[flt->kind] > 0);
		*kept += p->kept;
	}
}

static const struct pproc *
proc_by_pid(const struct procs *ps, long pid)
{
	for (size_t i = 0; i < ps->n; i++) {
		if (ps->p[i].pid == pid) {
			return &ps->p[i];
		}
	}
	return NULL;
}

/* ---- text -------------------------------------------------------------------------- */

struct lines {
	char **v;
	size_t n;
};

/* Splits @text (NUL-terminated, modified) into lines. */
static void
split_lines(char *text, struct lines *l)
{
	l->v = NULL;
	l->n = 0;
	for (char *p = text; *p;) {
		char *nl = strchr(p, '\n');
		l->v = cli_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n++] = p;
		if (!nl) {
			break;
		}
		*nl = '\0';
		p = nl + 1;
	}
}

static bool
starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* The kind a line of a report opens ("sqlite: 1 held"), or -1. */
static int
kind_line(const char *s)
{
	size_t n = strcspn(s, ": ");
	return s[n] == ':' && s[n + 1] == ' ' ? kind_index(s, n) : -1;
}

/* The processes of a text report: "=== process N ===" sections of the
 * gathered report, else each "== rcshim report: pid N" of a process's. */
static void
text_procs(const struct lines *l, struct procs *ps, size_t *preamble)
{
	bool gathered = false;
	for (size_t i = 0; i < l->n && !gathered; i++) {
		gathered = starts(l->v[i], "=== process ");
	}
	const char *mark = gathered ? "=== process " : "== rcshim report: pid ";
	*preamble = l->n;
	struct pproc *p = NULL;
	for (size_t i = 0; i < l->n; i++) {
		const char *s = l->v[i];
		if (starts(s, mark)) {
			if (p) {
				p->end = i;
			} else {
				*preamble = i;
			}
			p = procs_add(ps);
			p->first = i;
			p->end = l->n;
			p->pid = strtol(s + strlen(mark), NULL, 10);
		}
		if (!p) {
			continue;
		}
		if (starts(s, "== rcshim report: pid ") && !p->exe) {
			const char *o = strchr(s, '(');
			const char *c = o ? strstr(o, "), ") : NULL;
			if (o && c) {
				p->exe = strndup(o + 1, (size_t)(c - o - 1));
			}
		} else if (starts(s, "command: ") && !p->cmd) {
			p->cmd = strdup(s + strlen("command: "));
		} else {
			int k = kind_line(s);
			if (k >= 0) {
				/* A later report of the same process (a snapshot, then
				 * its exit) says what it held last. */
				const char *e = s + strlen(s);
				cli_figure(s + strlen(kinds[k]) + 2, e, &p->held[k]);
			}
		}
	}
}

/* The lines of section @p that the kind filter keeps: the report's header
 * lines, and the kind's block (its line and the indented ones below). */
static void
text_section(FILE *f, const struct lines *l, const struct pproc *p, int kind,
	     void (*put)(FILE *, const char *, bool *), bool *first)
{
	bool keep = true;
	for (size_t i = p->first; i < p->end; i++) {
		const char *s = l->v[i];
		if (s[0] != ' ' && s[0] != '\t' && s[0]) {
			int k = kind_line(s);
			keep = kind < 0 || k == kind || starts(s, "=== process ") ||
			       starts(s, "== rcshim report: ") || starts(s, "command: ");
		}
		if (keep) {
			put(f, s, first);
		}
	}
}

static void
put_text(FILE *f, const char *s, bool *first)
{
	(void)first;
	fprintf(f, "%s\n", s);
}

static void
put_json(FILE *f, const char *s, bool *first)
{
	fputs(*first ? "" : ", ", f);
	cli_json_string(f, s);
	*first = false;
}

/* The gathered report's header: kept whole; its summary: the lines of the
 * kept processes (all of them without --process and --kind); what the
 * launcher removed after the end: without --process, unless --kind names
 * another kind than temp. */
static void
text_preamble(FILE *f, const struct lines *l, size_t n, const struct procs *ps,
	      const struct filter *flt, void (*put)(FILE *, const char *, bool *), bool *first)
{
	enum { HEAD, SUMMARY, AFTER } mode = HEAD;
	bool unfiltered = !flt->process && flt->kind < 0;
	bool after = !flt->process && (flt->kind < 0 || !strcmp(kinds[flt->kind], "temp"));
	for (size_t i = 0; i < n; i++) {
		const char *s = l->v[i];
		if (starts(s, "summary (")) {
			mode = SUMMARY;
		} else if (starts(s, "after the last process ended")) {
			mode = AFTER;
		} else if (s[0] && s[0] != ' ') {
			mode = HEAD;
		}
		bool keep = true;
		if (mode == SUMMARY && starts(s, "  ")) {
			if (starts(s, "  pid ")) {
				const struct pproc *p = proc_by_pid(ps, strtol(s + 6, NULL, 10));
				keep = unfiltered || (p && p->kept);
			} else {
				keep = unfiltered;
			}
		} else if (mode == AFTER) {
			keep = after;
		}
		if (keep) {
			put(f, s, first);
		}
	}
}

/* ---- JSON -------------------------------------------------------------------------- */

/* The report object of a process's report value: itself, or in an array
 * (a report and its cleanup lines) the last one that has "kinds". */
static const struct cli_jv *
main_report(const struct cli_jv *r)
{
	if (r->t == CLI_J_OBJ) {
		return cli_jv_get(r, "kinds") ? r : NULL;
	}
	const struct cli_jv *last = NULL;
	for (size_t i = 0; r->t == CLI_J_ARR && i < r->n; i++) {
		if (r->items[i].t == CLI_J_OBJ && cli_jv_get(&r->items[i], "kinds")) {
			last = &r->items[i];
		}
	}
	return last;
}

static char *
join_words(const struct cli_jv *a)
{
	if (!a || a->t != CLI_J_ARR) {
		return NULL;
	}
	size_t len = 1;
	for (size_t i = 0; i < a->n; i++) {
		len += (a->items[i].t == CLI_J_STR ? strlen(a->items[i].str) : 1) + 1;
	}
	char *s = cli_xrealloc(NULL, len), *o = s;
	*o = '\0';
	for (size_t i = 0; i < a->n; i++) {
		o += sprintf(o, "%s%s", i ? " " : "", a->items[i].t == CLI_J_STR ? a->items[i].str : "?");
	}
	return s;
}

static void
json_proc(struct procs *ps, const struct cli_jv *r, long pid)
{
	const struct cli_jv *m = main_report(r);
	struct pproc *p = procs_add(ps);
	p->r = r;
	p->pid = pid ? pid : m ? (long)cli_jv_num(m, "pid") : 0;
	if (!m) {
		return;
	}
	const char *exe = cli_jv_str(m, "exe");
	p->exe = exe ? strdup(exe) : NULL;
	p->cmd = join_words(cli_jv_get(m, "cmdline"));
	const struct cli_jv *ks = cli_jv_get(m, "kinds");
	for (size_t i = 0; ks && ks->t == CLI_J_ARR && i < ks->n; i++) {
		const char *k = cli_jv_str(&ks->items[i], "kind");
		int ki = k ? kind_index(k, strlen(k)) : -1;
		if (ki >= 0) {
			double c = cli_jv_num(&ks->items[i], "count");
			p->held[ki] = c > 0 ? (uint64_t)c : 0;
		}
	}
}

/* The processes of a JSON report: "processes" of the gathered report, else
 * each report object of a process's JSON Lines (its cleanup lines go with
 * the report before them: they are left out under --kind). */
static const struct cli_jv *
json_procs(const struct cli_jv *all, struct procs *ps)
{
	const struct cli_jv *doc = all->n == 1 ? &all->items[0] : all;
	const struct cli_jv *procs = cli_jv_get(doc, "processes");
	if (procs && procs->t == CLI_J_ARR) {
		for (size_t i = 0; i < procs->n; i++) {
			const struct cli_jv *r = cli_jv_get(&procs->items[i], "report");
			if (r) {
				json_proc(ps, r, (long)cli_jv_num(&procs->items[i], "pid"));
			}
		}
		return doc;
	}
	for (size_t i = 0; i < all->n; i++) {
		if (cli_jv_get(&all->items[i], "kinds")) {
			json_proc(ps, &all->items[i], 0);
		}
	}
	return NULL;
}

struct ids {
	long *v;
	size_t n;
};

/* The "stack" ids under @v. */
static void
stack_ids(const struct cli_jv *v, struct ids *ids)
{
	for (size_t i = 0; (v->t == CLI_J_OBJ || v->t == CLI_J_ARR) && i < v->n; i++) {
		if (v->t == CLI_J_OBJ && !strcmp(v->keys[i], "stack") && v->items[i].t == CLI_J_NUM) {
			ids->v = cli_xrealloc(ids->v, (ids->n + 1) * sizeof(*ids->v));
			ids->v[ids->n++] = (long)v->items[i].num;
		} else {
			stack_ids(&v->items[i], ids);
		}
	}
}

static bool
has_id(const struct ids *ids, long id)
{
	for (size_t i = 0; i < ids->n; i++) {
		if (ids->v[i] == id) {
			return true;
		}
	}
	return false;
}

/* A report object with one kind: its identity, that kind, the stacks that
 * kind refers to; what it reclaimed and its cleanups, notes and
 * bookkeeping are left out. */
static void
json_report_kind(FILE *f, const struct cli_jv *o, int kind)
{
	static const char *const dropped[] = { "final", "cleanups", "cleanups_omitted", "notes",
					       "notes_omitted", "notes_hex", "shim_memory",
					       "timeline", NULL };
	struct ids ids = { NULL, 0 };
	const struct cli_jv *ks = cli_jv_get(o, "kinds");
	const struct cli_jv *kobj = NULL;
	for (size_t i = 0; ks && ks->t == CLI_J_ARR && i < ks->n; i++) {
		const char *k = cli_jv_str(&ks->items[i], "kind");
		if (k && !strcmp(k, kinds[kind])) {
			kobj = &ks->items[i];
			stack_ids(kobj, &ids);
		}
	}
	fputc('{', f);
	bool any = false;
	for (size_t i = 0; i < o->n; i++) {
		bool drop = false;
		for (size_t d = 0; dropped[d]; d++) {
			drop |= !strcmp(o->keys[i], dropped[d]);
		}
		if (drop) {
			continue;
		}
		fputs(any ? ", " : "", f);
		any = true;
		cli_json_string(f, o->keys[i]);
		fputs(": ", f);
		if (!strcmp(o->keys[i], "kinds")) {
			fputc('[', f);
			if (kobj) {
				cli_jv_write(f, kobj);
			}
			fputc(']', f);
		} else if (!strcmp(o->keys[i], "stacks") && o->items[i].t == CLI_J_ARR) {
			const struct cli_jv *st = &o->items[i];
			fputc('[', f);
			bool one = false;
			for (size_t j = 0; j < st->n; j++) {
				if (has_id(&ids, (long)cli_jv_num(&st->items[j], "id"))) {
					fputs(one ? ", " : "", f);
					cli_jv_write(f, &st->items[j]);
					one = true;
				}
			}
			fputc(']', f);
		} else {
			cli_jv_write(f, &o->items[i]);
		}
	}
	fputc('}', f);
	free(ids.v);
}

static void
json_report(FILE *f, const struct cli_jv *r, int kind)
{
	if (kind < 0) {
		cli_jv_write(f, r);
	} else if (r->t == CLI_J_OBJ) {
		json_report_kind(f, r, kind);
	} else {
		fputc('[', f);
		bool any = false;
		for (size_t i = 0; r->t == CLI_J_ARR && i < r->n; i++) {
			if (r->items[i].t == CLI_J_OBJ && cli_jv_get(&r->items[i], "kinds")) {
				fputs(any ? ", " : "", f);
				json_report_kind(f, &r->items[i], kind);
				any = true;
			}
		}
		fputc(']', f);
	}
}

/* ---- JSON read, text written ------------------------------------------------------- */

static void
text_frames(FILE *f, const struct cli_jv *report, long id)
{
	const struct cli_jv *st = cli_jv_get(report, "stacks");
	for (size_t i = 0; st && st->t == CLI_J_ARR && i < st->n; i++) {
		if ((long)cli_jv_num(&st->items[i], "id") != id) {
			continue;
		}
		const struct cli_jv *fr = cli_jv_get(&st->items[i], "frames");
		for (size_t j = 0; fr && fr->t == CLI_J_ARR && j < fr->n; j++) {
			const struct cli_jv *x = &fr->items[j];
			const char *fn = cli_jv_str(x, "function"), *obj = cli_jv_str(x, "object");
			const char *file = cli_jv_str(x, "file");
			fprintf(f, "      #%-2zu %s %s+0x%llx in %s", j, cli_jv_str(x, "pc") ? cli_jv_str(x, "pc") : "?",
				fn ? fn : "?", (unsigned long long)cli_jv_num(x, "offset"), obj ? obj : "?");
			if (file) {
				fprintf(f, " at %s:%lld", file, (long long)cli_jv_num(x, "line"));
			}
			fputc('\n', f);
		}
	}
}

/* A report object written in the layout of a text report (its figures as
 * the JSON has them: the text's own sentences are not in the JSON). */
static void
text_of_json(FILE *f, const struct cli_jv *m, int kind)
{
	const char *exe = cli_jv_str(m, "exe"), *ev = cli_jv_str(m, "event");
	const char *prio = cli_jv_str(m, "priority");
	fprintf(f, "== rcshim report: pid %lld (%s), %s%s%s; what it held:\n",
		(long long)cli_jv_num(m, "pid"), exe ? exe : "?",
		ev && !strcmp(ev, "exit") ? "at exit" : ev ? ev : "?", prio ? ", priority " : "",
		prio ? prio : "");
	char *cmd = join_words(cli_jv_get(m, "cmdline"));
	if (cmd) {
		fprintf(f, "command: %s\n", cmd);
		free(cmd);
	}
	const struct cli_jv *ks = cli_jv_get(m, "kinds");
	for (size_t i = 0; ks && ks->t == CLI_J_ARR && i < ks->n; i++) {
		const struct cli_jv *k = &ks->items[i];
		const char *name = cli_jv_str(k, "kind");
		if (!name || (kind >= 0 && strcmp(name, kinds[kind]))) {
			continue;
		}
		const struct cli_jv *tr = cli_jv_get(k, "tracked"), *pr = cli_jv_get(k, "present");
		unsigned long long c = (unsigned long long)cli_jv_num(k, "count");
		unsigned long long b = (unsigned long long)cli_jv_num(k, "bytes");
		bool heap = !strcmp(name, "heap");
		if (tr && tr->t == CLI_J_BOOL && !tr->num) {
			fprintf(f, "%s: not tracked\n", name);
			continue;
		}
		if (pr && pr->t == CLI_J_BOOL && !pr->num) {
			fprintf(f, "%s: absent (no CUDA driver)\n", name);
			continue;
		}
		if (heap) {
			fprintf(f, "heap: %llu blocks, %llu bytes still allocated\n", c, b);
		} else if (b) {
			fprintf(f, "%s: %llu held, %llu bytes\n", name, c, b);
		} else {
			fprintf(f, "%s: %llu held\n", name, c);
		}
		const struct cli_jv *gs = cli_jv_get(k, "groups");
		for (size_t g = 0; gs && gs->t == CLI_J_ARR && g < gs->n; g++) {
			const struct cli_jv *gr = &gs->items[g];
			if (heap) {
				fprintf(f, "  %llu blocks, %llu bytes (%llu samples), allocated at:\n",
					(unsigned long long)cli_jv_num(gr, "count"),
					(unsigned long long)cli_jv_num(gr, "bytes"),
					(unsigned long long)cli_jv_num(gr, "samples"));
			} else {
				fprintf(f, "  %llu, acquired at:\n", (unsigned long long)cli_jv_num(gr, "count"));
			}
			const struct cli_jv *its = cli_jv_get(gr, "items");
			for (size_t j = 0; its && its->t == CLI_J_ARR && j < its->n; j++) {
				const struct cli_jv *it = &its->items[j];
				const char *type = cli_jv_str(it, "type"), *h = cli_jv_str(it, "handle");
				const char *path = cli_jv_str(it, "path");
				if (!strcmp(name, "fd")) {
					fprintf(f, "    %s %lld", type && strcmp(type, "file_stream") ? "fd" : "FILE",
						(long long)cli_jv_num(it, "fd"));
				} else {
					fprintf(f, "    %s", h ? h : type ? type : "?");
				}
				fprintf(f, "%s%s\n", path ? " " : "", path ? path : "");
			}
			text_frames(f, m, (long)cli_jv_num(gr, "stack"));
		}
	}
	const struct cli_jv *fin = cli_jv_get(m, "final");
	if (kind < 0 && fin && fin->t == CLI_J_OBJ) {
		const char *st = cli_jv_str(fin, "status");
		fprintf(f, "final cleanup: %s; %llu cleaned, %llu failed, %llu left alone, %llu bytes\n",
			st ? st : "?", (unsigned long long)cli_jv_num(fin, "cleaned"),
			(unsigned long long)cli_jv_num(fin, "failed"),
			(unsigned long long)cli_jv_num(fin, "skipped"),
			(unsigned long long)cli_jv_num(fin, "bytes"));
		const struct cli_jv *its = cli_jv_get(fin, "items");
		for (size_t j = 0; its && its->t == CLI_J_ARR && j < its->n; j++) {
			const char *kk = cli_jv_str(&its->items[j], "kind");
			const char *w = cli_jv_str(&its->items[j], "what");
			fprintf(f, "  reclaimed: %s %s\n", kk ? kk : "?", w ? w : "?");
		}
	}
}

/* ---- the command ------------------------------------------------------------------- */

static bool
is_session_id(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");
	return n == 32 && !s[n];
}

/* A session id's gathered report, in the journal directories the launcher
 * uses ($XDG_RUNTIME_DIR/rcshim, /run/user/UID/rcshim, /tmp/rcshim-UID). */
static bool
session_report(const char *id, char *out, size_t len)
{
	char dirs[3][RC_SESSION_DIR_MAX + 16];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	snprintf(dirs[0], sizeof(dirs[0]), "%s/rcshim", xdg && xdg[0] == '/' ? xdg : "/nonexistent");
	snprintf(dirs[1], sizeof(dirs[1]), "/run/user/%u/rcshim", (unsigned)geteuid());
	snprintf(dirs[2], sizeof(dirs[2]), "/tmp/rcshim-%u", (unsigned)geteuid());
	for (int d = 0; d < 3; d++) {
		for (int j = 0; j < 2; j++) {
			struct stat st;
			snprintf(out, len, "%s/%.32s.report.%s", dirs[d], id, j ? "json" : "txt");
			if (!stat(out, &st) && S_ISREG(st.st_mode)) {
				return true;
			}
		}
	}
	return false;
}

/* "rcshim: print: @what@arg (the synopsis)". */
static int
print_usage(const char *what, const char *arg)
{
	return cli_usage_error("print: %s%s (rcshim print REPORT [--process PID|CMD] [--kind K] "
			       "[--json])", what, arg);
}

int
cli_print(int argc, char **argv)
{
	struct filter flt = { NULL, -1 };
	const char *in = NULL;
	bool json_out = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		const char *eq = strchr(a, '=');
		size_t an = eq && starts(a, "--") ? (size_t)(eq - a) : strlen(a);
		bool takes = (an == 9 && !strncmp(a, "--process", 9)) || (an == 6 && !strncmp(a, "--kind", 6));
		if (takes) {
			if (eq && an != strlen(a)) {
				val = eq + 1;
			} else if (i + 1 < argc) {
				val = argv[++i];
			} else {
				return print_usage("an argument is missing after ", a);
			}
		}
		if (an == 9 && !strncmp(a, "--process", 9)) {
			if (!val[0]) {
				return print_usage("an empty --process matches nothing", "");
			}
			flt.process = val;
		} else if (an == 6 && !strncmp(a, "--kind", 6)) {
			flt.kind = kind_index(val, strlen(val));
			if (flt.kind < 0) {
				char hint[64];
				return cli_usage_error("print: unknown kind '%s': heap, temp, fd, sqlite, gpu "
						       "or custom%s", val,
						       cli_did_you_mean(val, kinds, hint, sizeof(hint)));
			}
		} else if (!strcmp(a, "--json")) {
			json_out = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			cli_help(stdout);
			return fflush(stdout) == 0 ? 0 : 1;
		} else if (a[0] == '-' && a[1]) {
			return print_usage("unknown option ", a);
		} else if (in) {
			return print_usage("one report at a time, not a second: ", a);
		} else {
			in = a;
		}
	}
	if (!in) {
		return print_usage("no report given", "");
	}

	char path[1024];
	struct stat st;
	if (strcmp(in, "-") && stat(in, &st) && is_session_id(in)) {
		if (!session_report(in, path, sizeof(path))) {
			cli_msg("print: no report of session %s in the journal directories "
				"($XDG_RUNTIME_DIR/rcshim, /tmp/rcshim-%u)", in, (unsigned)geteuid());
			return CLI_EXIT_USAGE;
		}
		in = path;
	}
	size_t n;
	char *text = cli_read_file(in, &n);
	if (!text) {
		cli_msg("print: cannot read %s: %s", in, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	text = cli_xrealloc(text, n + 1);
	text[n] = '\0';

	struct procs ps = { NULL, 0 };
	struct cli_jv all = { 0 };
	struct lines l = { NULL, 0 };
	size_t preamble = 0, kept = 0;
	const struct cli_jv *doc = NULL;
	bool json_in = cli_jv_parse_all(text, n, &all);
	if (json_in) {
		doc = json_procs(&all, &ps);
	} else {
		split_lines(text, &l);
		text_procs(&l, &ps, &preamble);
	}
	int rc = 0;
	if (!ps.n) {
		cli_msg("print: %s is not an rcshim report (no process report in it)", in);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	decide(&flt, &ps, &kept);
	if (!kept) {
		cli_msg("print: no process of %s matches%s%s%s%s%s", in,
			flt.process ? " --process " : "", flt.process ? flt.process : "",
			flt.kind >= 0 ? " --kind " : "", flt.kind >= 0 ? kinds[flt.kind] : "",
			flt.kind >= 0 ? " (none held any)" : "");
		rc = 1;
		goto out;
	}

	FILE *f = stdout;
	bool first = true;
	if (json_out) {
		fprintf(f, "{\"rcshim\": \"%s\", \"print\": {\"source\": ", RCSHIM_VERSION);
		cli_json_string(f, in);
		fputs(", \"input\": ", f);
		fputs(json_in ? "\"json\"" : "\"text\"", f);
		fputs(", \"process\": ", f);
		if (flt.process) {
			cli_json_string(f, flt.process);
		} else {
			fputs("null", f);
		}
		fprintf(f, ", \"kind\": ");
		if (flt.kind >= 0) {
			fprintf(f, "\"%s\"", kinds[flt.kind]);
		} else {
			fputs("null", f);
		}
		fprintf(f, "},\n \"%s\": [", json_in ? "summary" : "header_lines");
		if (json_in) {
			const struct cli_jv *sum = doc ? cli_jv_get(doc, "summary") : NULL;
			for (size_t i = 0; sum && sum->t == CLI_J_ARR && i < sum->n; i++) {
				const struct pproc *p = proc_by_pid(&ps, (long)cli_jv_num(&sum->items[i], "pid"));
				if (p && p->kept) {
					fputs(first ? "" : ", ", f);
					cli_jv_write(f, &sum->items[i]);
					first = false;
				}
			}
		} else {
			/* Text: the kept lines of the header and summary. */
			text_preamble(f, &l, preamble, &ps, &flt, put_json, &first);
		}
		fputs("],\n \"processes\": [", f);
		first = true;
		for (size_t i = 0; i < ps.n; i++) {
			const struct pproc *p = &ps.p[i];
			if (!p->kept) {
				continue;
			}
			fprintf(f, "%s\n  {\"pid\": %ld, \"exe\": ", first ? "" : ",", p->pid);
			first = false;
			if (p->exe) {
				cli_json_string(f, p->exe);
			} else {
				fputs("null", f);
			}
			fputs(", \"command\": ", f);
			if (p->cmd) {
				cli_json_string(f, p->cmd);
			} else {
				fputs("null", f);
			}
			fputs(", \"held\": {", f);
			bool any = false;
			for (int k = 0; k < NK; k++) {
				if (flt.kind < 0 || flt.kind == k) {
					fprintf(f, "%s\"%s\": %llu", any ? ", " : "", kinds[k],
						(unsigned long long)p->held[k]);
					any = true;
				}
			}
			fputs("}, ", f);
			if (json_in) {
				fputs("\"report\": ", f);
				json_report(f, p->r, flt.kind);
			} else {
				/* Text: the report's own lines, as a list. */
				fputs("\"lines\": [", f);
				bool one = true;
				text_section(f, &l, p, flt.kind, put_json, &one);
				fputc(']', f);
			}
			fputc('}', f);
		}
		fputs("]}\n", f);
	} else if (!json_in) {
		text_preamble(f, &l, preamble, &ps, &flt, put_text, &first);
		for (size_t i = 0; i < ps.n; i++) {
			if (ps.p[i].kept) {
				text_section(f, &l, &ps.p[i], flt.kind, put_text, &first);
			}
		}
	} else {
		const struct cli_jv *sum = doc ? cli_jv_get(doc, "summary") : NULL;
		if (doc) {
			char *cmd = join_words(cli_jv_get(doc, "command"));
			const char *sid = cli_jv_str(doc, "session");
			fprintf(f, "rcshim report of: %s\nsession: %s\n\n", cmd ? cmd : "?", sid ? sid : "?");
			free(cmd);
		}
		if (sum && sum->t == CLI_J_ARR) {
			fputs("summary (what each process held at its end, most important first):\n", f);
			for (size_t i = 0; i < sum->n; i++) {
				const struct pproc *p = proc_by_pid(&ps, (long)cli_jv_num(&sum->items[i], "pid"));
				const char *line = cli_jv_str(&sum->items[i], "line");
				if (p && p->kept && line) {
					fprintf(f, "  %s\n", line);
				}
			}
			fputc('\n', f);
		}
		for (size_t i = 0; i < ps.n; i++) {
			const struct pproc *p = &ps.p[i];
			if (!p->kept) {
				continue;
			}
			if (doc) {
				fprintf(f, "=== process %ld ===\n", p->pid);
			}
			const struct cli_jv *r = p->r;
			for (size_t j = 0; j < (r->t == CLI_J_ARR ? r->n : 1); j++) {
				const struct cli_jv *m = r->t == CLI_J_ARR ? &r->items[j] : r;
				if (m->t == CLI_J_OBJ && cli_jv_get(m, "kinds")) {
					text_of_json(f, m, flt.kind);
				}
			}
			if (doc && flt.kind < 0) {
				fputc('\n', f);
			}
		}
	}
	if (fflush(f) != 0 || ferror(f)) {
		cli_msg("print: cannot write the output");
		rc = CLI_EXIT_FAILED;
	}
out:
	procs_free(&ps);
	cli_jv_free(&all);
	free(l.v);
	free(text);
	return rc;
}
