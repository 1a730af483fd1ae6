/* rcshim plot REPORT -o OUT.html|OUT.svg: a --timeline report drawn.
 *
 * Reads the launcher's gathered JSON report (or one process's report
 * file) and writes a self-contained SVG — or an HTML page holding it
 * inline, with a few lines of CSS and no script — that needs nothing from
 * the network to be viewed: one stacked area chart per kind (temp count,
 * temp bytes, fds, SQLite connections, heap, GPU, resident size), a color
 * per process with its pid and command written at its band, and each
 * cleanup as a vertical line with what it reclaimed
 * (docs/report-format.md, "Timeline"; docs/launcher.md, "rcshim plot").
 *
 * The elements have stable classes for tests and style sheets: the
 * charts are <g class="chart chart-KIND" id="chart-KIND">, a process's
 * band <path class="series" data-pid="PID">, its label <text
 * class="series-label">, a cleanup <g class="event event-MODE"
 * id="event-N"> with a <line> and a <text class="event-label">. */
#include "build-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"

/* ---- --timeline's optional argument ---------------------------------------- */

bool
cli_opt_optional(const char *name)
{
	return !strcmp(name, "timeline");
}

const char *
cli_opt_optarg(const char *name, int argc, char **argv)
{
	unsigned ms;
	(void)name;
	/* "--timeline 50ms CMD": the next word is taken only if it is an
	 * interval; "--timeline CMD" and "--timeline -- CMD" leave it. */
	if (optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9' &&
	    rc_parse_timeline(argv[optind], &ms)) {
		return argv[optind++];
	}
	return "on";
}

bool
cli_timeline_wants_json(char *const *envp)
{
	const char *t = cli_env_get(envp, "RCSHIM_TIMELINE");
	const char *f = cli_env_get(envp, "RCSHIM_REPORT_FORMAT");
	unsigned ms = 0;
	return t && rc_parse_timeline(t, &ms) && ms && (!f || !*f);
}

/* ---- the processes ---------------------------------------------------------- */

#define NKINDS 7
static const struct {
	const char *id, *title, *field;
	bool bytes;
} kinds[NKINDS] = {
	{ "temp", "temp files and directories", "temp_count", false },
	{ "temp-bytes", "temp file bytes", "temp_bytes", true },
	{ "fds", "file descriptors", "fds", false },
	{ "sqlite", "SQLite connections", "sqlite", false },
	{ "heap", "heap bytes (live blocks)", "heap_bytes", true },
	{ "gpu", "GPU memory", "gpu_bytes", true },
	{ "rss", "resident size", "rss_bytes", true },
};

struct proc {
	long pid;
	char label[200];
	double start;  /* ms since the earliest process's start */
	double epoch;  /* its start_epoch_ms */
	size_t n;
	double *t;     /* ms, on the common axis */
	double *v[NKINDS];
	const struct cli_jv *events;
};

struct plot {
	struct proc *p;
	size_t np;
};

static void
add_process(struct plot *pl, const struct cli_jv *rep, long pid_hint)
{
	const struct cli_jv *tl = cli_jv_get(rep, "timeline");
	const struct cli_jv *info = cli_jv_get(rep, "timeline_info");
	if (!tl || tl->t != CLI_J_ARR) {
		return;
	}
	pl->p = cli_xrealloc(pl->p, (pl->np + 1) * sizeof(*pl->p));
	struct proc *p = &pl->p[pl->np++];
	memset(p, 0, sizeof(*p));
	p->pid = cli_jv_get(rep, "pid") ? (long)cli_jv_num(rep, "pid") : pid_hint;
	p->epoch = cli_jv_num(info, "start_epoch_ms");
	size_t len = (size_t)snprintf(p->label, sizeof(p->label), "%ld", p->pid);
	const struct cli_jv *cmd = cli_jv_get(info, "cmdline");
	size_t words = 0;
	for (size_t i = 0; cmd && cmd->t == CLI_J_ARR && i < cmd->n && len + 2 < sizeof(p->label); i++) {
		const char *w = cmd->items[i].t == CLI_J_STR ? cmd->items[i].str : "";
		/* The program's name, not its directory. */
		if (i == 0 && strrchr(w, '/')) {
			w = strrchr(w, '/') + 1;
		}
		len += (size_t)snprintf(p->label + len, sizeof(p->label) - len, " %s", w);
		words++;
	}
	if (!words && cli_jv_str(rep, "exe")) {
		const char *e = cli_jv_str(rep, "exe");
		snprintf(p->label + len, sizeof(p->label) - len, " %s",
			 strrchr(e, '/') ? strrchr(e, '/') + 1 : e);
	}
	if (len >= 60) {
		memcpy(p->label + 57, "...", 4);
	}
	p->n = tl->n;
	p->t = cli_xrealloc(NULL, (p->n ? p->n : 1) * sizeof(double));
	for (int k = 0; k < NKINDS; k++) {
		p->v[k] = cli_xrealloc(NULL, (p->n ? p->n : 1) * sizeof(double));
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct cli_jv *s = &tl->items[i];
		p->t[i] = cli_jv_num(s, "t_ms");
		for (int k = 0; k < NKINDS; k++) {
			p->v[k][i] = cli_jv_num(s, kinds[k].field);
		}
	}
	p->events = cli_jv_get(rep, "events");
}

/* A process's report as gathered: one document, or an array of them (a
 * report and its cleanup lines). */
static void
add_report(struct plot *pl, const struct cli_jv *r, long pid)
{
	if (r->t == CLI_J_OBJ) {
		add_process(pl, r, pid);
		return;
	}
	/* Several processes may append to one report file: each report
	 * with a timeline is a process. */
	for (size_t i = 0; r->t == CLI_J_ARR && i < r->n; i++) {
		if (cli_jv_get(&r->items[i], "timeline")) {
			add_process(pl, &r->items[i], pid);
		}
	}
}

/* ---- drawing ------------------------------------------------------------------ */

static const char *const palette[] = {
	"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
	"#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
};
#define NCOLORS (sizeof(palette) / sizeof(*palette))

#define W 1100
#define LEFT 80
#define RIGHT 260
#define CHART_H 130
#define CHART_GAP 46
#define TOP 110

static void
xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			/* XML 1.0 has no place for control characters. */
			fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
		}
	}
}

static void
human(char *buf, size_t n, double v, bool bytes)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	if (!bytes) {
		snprintf(buf, n, "%.0f", v);
		return;
	}
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, n, v < 10 && i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

/* A step of 1, 2 or 5 times a power of ten giving about @want ticks. */
static double
nice_step(double range, int want)
{
	double raw = range / want, p = 1;
	while (p * 10 <= raw) {
		p *= 10;
	}
	while (p > raw) {
		p /= 10;
	}
	double m = raw / p;
	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* The value of process @p's kind @k at time @t: the last sample at or
 * before it; 0 before its first sample and after its last. */
static double
value_at(const struct proc *p, int k, double t, size_t *hint)
{
	if (!p->n || t < p->t[0] || t > p->t[p->n - 1]) {
		return 0;
	}
	size_t i = *hint;
	if (i >= p->n || p->t[i] > t) {
		i = 0;
	}
	while (i + 1 < p->n && p->t[i + 1] <= t) {
		i++;
	}
	*hint = i;
	return p->v[k][i];
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct label {
	double y;
	size_t proc;
};

static int
cmp_label(const void *a, const void *b)
{
	const struct label *x = a, *y = b;
	return x->y < y->y ? -1 : x->y > y->y;
}

/* What a cleanup reclaimed, in a few words: "−3 temp, −5 fd, −1.2 MiB". */
static void
reclaimed_text(const struct cli_jv *ev, char *buf, size_t n)
{
	const struct cli_jv *rec = cli_jv_get(ev, "reclaimed");
	const struct cli_jv *ks = cli_jv_get(rec, "kinds");
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; ks && ks->t == CLI_J_OBJ && i < ks->n && len + 24 < n; i++) {
		double c = cli_jv_num(&ks->items[i], "cleaned");
		if (c > 0) {
			len += (size_t)snprintf(buf + len, n - len, "%s\xe2\x88\x92%.0f %s",
						len ? ", " : "", c, ks->keys[i]);
		}
	}
	double b = cli_jv_num(rec, "bytes");
	if (b > 0 && len + 24 < n) {
		char h[32];
		human(h, sizeof(h), b, true);
		len += (size_t)snprintf(buf + len, n - len, "%s\xe2\x88\x92%s", len ? ", " : "", h);
	}
	if (!len) {
		snprintf(buf, n, "nothing reclaimed");
	}
}

static void
draw(FILE *f, struct plot *pl, const char *title)
{
	/* The common time axis: every sample time, capped. */
	size_t ng = 0;
	for (size_t i = 0; i < pl->np; i++) {
		ng += pl->p[i].n;
	}
	double *grid = cli_xrealloc(NULL, (ng ? ng : 1) * sizeof(double));
	ng = 0;
	double tmax = 1;
	for (size_t i = 0; i < pl->np; i++) {
		for (size_t j = 0; j < pl->p[i].n; j++) {
			grid[ng++] = pl->p[i].t[j];
			tmax = pl->p[i].t[j] > tmax ? pl->p[i].t[j] : tmax;
		}
	}
	qsort(grid, ng, sizeof(double), cmp_double);
	size_t u = 0;
	for (size_t i = 0; i < ng; i++) {
		if (!u || grid[i] != grid[u - 1]) {
			grid[u++] = grid[i];
		}
	}
	ng = u;
	if (ng > 4000) {
		for (size_t i = 0; i < 4000; i++) {
			grid[i] = tmax * (double)i / 3999;
		}
		ng = 4000;
	}
	size_t nev = 0;
	for (size_t i = 0; i < pl->np; i++) {
		nev += pl->p[i].events && pl->p[i].events->t == CLI_J_ARR ? pl->p[i].events->n : 0;
	}
	int lanes = nev > 4 ? 4 : (int)nev;
	int top = TOP + lanes * 14 + 12;
	int plot_w = W - LEFT - RIGHT;
	int h = top + NKINDS * (CHART_H + CHART_GAP) + 30;
#define X(t) (LEFT + (t) / tmax * plot_w)

	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"rcshim-timeline\" "
		   "class=\"timeline\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		   "font-family=\"sans-serif\" font-size=\"12\">\n", W, h, W, h);
	fprintf(f, "<rect class=\"background\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
		   "fill=\"#ffffff\"/>\n", W, h);
	fputs("<text class=\"title\" x=\"16\" y=\"26\" font-size=\"17\" font-weight=\"bold\">", f);
	xml_text(f, title);
	fputs("</text>\n", f);
	char dur[64];
	snprintf(dur, sizeof(dur), "%.1f s", tmax / 1000);
	fprintf(f, "<text class=\"subtitle\" x=\"16\" y=\"46\" fill=\"#555\">%zu process%s, %s; "
		   "each band is one process, stacked; dashed lines are cleanups</text>\n",
		pl->np, pl->np == 1 ? "" : "es", dur);
	/* The processes once at the top too, with their colors. */
	fputs("<g class=\"processes\">\n", f);
	double px = 16, py = 68;
	for (size_t i = 0; i < pl->np; i++) {
		double wlen = 22 + 6.5 * (double)strlen(pl->p[i].label);
		if (px + wlen > W - 16) {
			px = 16;
			py += 16;
		}
		fprintf(f, "<g class=\"process\" data-pid=\"%ld\"><rect x=\"%.0f\" y=\"%.0f\" "
			   "width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%.0f\" y=\"%.0f\">",
			pl->p[i].pid, px, py - 10, palette[i % NCOLORS], px + 16, py);
		xml_text(f, pl->p[i].label);
		fputs("</text></g>\n", f);
		px += wlen + 14;
	}
	fputs("</g>\n", f);

	double *cum = cli_xrealloc(NULL, (pl->np + 1) * ng * sizeof(double));
	size_t *hint = cli_xrealloc(NULL, (pl->np ? pl->np : 1) * sizeof(size_t));
	struct label *labels = cli_xrealloc(NULL, (pl->np ? pl->np : 1) * sizeof(*labels));
	double tstep = nice_step(tmax, 10);
	for (int k = 0; k < NKINDS; k++) {
		int y0 = top + k * (CHART_H + CHART_GAP); /* the chart's top */
		int yb = y0 + CHART_H;
		/* Stacked: cum[(i + 1) * ng + g] = sum of processes 0..i. */
		memset(hint, 0, pl->np * sizeof(size_t));
		double vmax = 0;
		for (size_t g = 0; g < ng; g++) {
			cum[g] = 0;
			for (size_t i = 0; i < pl->np; i++) {
				cum[(i + 1) * ng + g] = cum[i * ng + g] + value_at(&pl->p[i], k, grid[g], &hint[i]);
			}
			vmax = cum[pl->np * ng + g] > vmax ? cum[pl->np * ng + g] : vmax;
		}
		/* Bytes step in whole KiB, MiB, ...: 256 KiB, not 262144. */
		double unit = 1;
		while (kinds[k].bytes && vmax / unit >= 1024) {
			unit *= 1024;
		}
		double vstep = vmax > 0 ? nice_step(vmax / unit, 4) * unit : 1;
		if (!kinds[k].bytes && vstep < 1) {
			vstep = 1;
		}
		double vtop = vstep;
		while (vtop < vmax) {
			vtop += vstep;
		}
#define Y(v) (yb - (v) / vtop * CHART_H)
		fprintf(f, "<g class=\"chart chart-%s\" id=\"chart-%s\">\n", kinds[k].id, kinds[k].id);
		char peak[32];
		human(peak, sizeof(peak), vmax, kinds[k].bytes);
		fprintf(f, "<text class=\"chart-title\" x=\"%d\" y=\"%d\" font-size=\"14\" "
			   "font-weight=\"bold\">%s</text><text class=\"chart-peak\" x=\"%d\" y=\"%d\" "
			   "text-anchor=\"end\" fill=\"#555\">peak %s</text>\n",
			LEFT, y0 - 8, kinds[k].title, W - RIGHT, y0 - 8, peak);
		fprintf(f, "<rect class=\"plot-area\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
			   "fill=\"#fafafa\" stroke=\"#ccc\"/>\n", LEFT, y0, plot_w, CHART_H);
		if (vmax <= 0) {
			fprintf(f, "<text class=\"chart-empty\" x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
				   "fill=\"#888\">none held</text>\n", LEFT + plot_w / 2, y0 + CHART_H / 2);
		}
		for (double v = 0; v <= vtop + vstep / 2; v += vmax > 0 ? vstep : 2 * vtop) {
			char lab[32];
			human(lab, sizeof(lab), v, kinds[k].bytes);
			fprintf(f, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
				   "stroke=\"#e4e4e4\"/><text class=\"tick\" x=\"%d\" y=\"%.1f\" "
				   "text-anchor=\"end\" fill=\"#444\">%s</text>\n",
				LEFT, W - RIGHT, Y(v), Y(v), LEFT - 6, Y(v) + 4, lab);
		}
		for (double t = 0; t <= tmax + 1e-9; t += tstep) {
			fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
				   "fill=\"#444\">%g s</text>\n", X(t), yb + 14, t / 1000);
		}
		size_t nl = 0;
		for (size_t i = 0; i < pl->np; i++) {
			const double *lo = &cum[i * ng], *hi = &cum[(i + 1) * ng];
			bool any = false;
			size_t last = 0;
			for (size_t g = 0; g < ng; g++) {
				if (hi[g] > lo[g]) {
					any = true;
					last = g;
				}
			}
			if (!any) {
				continue;
			}
			fprintf(f, "<path class=\"series\" data-pid=\"%ld\" fill=\"%s\" "
				   "fill-opacity=\"0.85\" stroke=\"%s\" stroke-width=\"1\" d=\"",
				pl->p[i].pid, palette[i % NCOLORS], palette[i % NCOLORS]);
			for (size_t g = 0; g < ng; g++) {
				fprintf(f, "%s%.1f %.1f", g ? " L" : "M", X(grid[g]), Y(hi[g]));
			}
			for (size_t g = ng; g-- > 0;) {
				fprintf(f, " L%.1f %.1f", X(grid[g]), Y(lo[g]));
			}
			fputs(" Z\"/>\n", f);
			labels[nl].y = (Y(hi[last]) + Y(lo[last])) / 2;
			labels[nl].proc = i;
			nl++;
		}
		/* Each process's name beside its band, the labels kept apart. */
		qsort(labels, nl, sizeof(*labels), cmp_label);
		for (size_t j = 1; j < nl; j++) {
			if (labels[j].y < labels[j - 1].y + 13) {
				labels[j].y = labels[j - 1].y + 13;
			}
		}
		for (size_t j = 0; j < nl; j++) {
			size_t i = labels[j].proc;
			fprintf(f, "<text class=\"series-label\" data-pid=\"%ld\" x=\"%d\" y=\"%.1f\" "
				   "fill=\"%s\" font-weight=\"bold\">", pl->p[i].pid, W - RIGHT + 8,
				labels[j].y + 4, palette[i % NCOLORS]);
			xml_text(f, pl->p[i].label);
			fputs("</text>\n", f);
		}
		fputs("</g>\n", f);
#undef Y
	}

	/* The cleanups: a line through every chart, labelled at the top. */
	size_t ev_no = 0;
	double *ev_x = cli_xrealloc(NULL, (nev ? nev : 1) * sizeof(double));
	for (size_t i = 0; i < pl->np; i++) {
		const struct cli_jv *evs = pl->p[i].events;
		for (size_t j = 0; evs && evs->t == CLI_J_ARR && j < evs->n; j++) {
			const struct cli_jv *ev = &evs->items[j];
			double t = cli_jv_num(ev, "t_ms") + pl->p[i].start;
			const char *mode = cli_jv_str(ev, "mode") ? cli_jv_str(ev, "mode") : "live";
			const char *trig = cli_jv_str(ev, "trigger") ? cli_jv_str(ev, "trigger") : "?";
			const char *prio = cli_jv_str(ev, "priority") ? cli_jv_str(ev, "priority") : "?";
			char what[200], text[400];
			reclaimed_text(ev, what, sizeof(what));
			snprintf(text, sizeof(text), "%s cleanup %s (%s, pid %ld): %s", mode, prio, trig,
				 pl->p[i].pid, what);
			double x = X(t > tmax ? tmax : t);
			int lane = lanes ? (int)(ev_no % (size_t)lanes) : 0;
			double ly = TOP - 4 + lane * 14;
			bool right = x > LEFT + plot_w * 0.6;
			ev_x[ev_no] = x;
			ev_no++;
			fprintf(f, "<g class=\"event event-%s\" id=\"event-%zu\" data-pid=\"%ld\" "
				   "data-t-ms=\"%.0f\">\n<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%d\" "
				   "stroke=\"#c00000\" stroke-width=\"2\" stroke-dasharray=\"6 3\"/>\n"
				   "<text class=\"event-label\" x=\"%.1f\" y=\"%.1f\" fill=\"#c00000\" "
				   "text-anchor=\"%s\">",
				mode, ev_no, pl->p[i].pid, t, x, x, ly + 3, h - 30, right ? x - 4 : x + 4, ly,
				right ? "end" : "start");
			xml_text(f, text);
			fputs("</text>\n</g>\n", f);
		}
	}
	fputs("</svg>\n", f);
	free(ev_x);
	free(labels);
	free(hint);
	free(cum);
	free(grid);
#undef X
}

/* ---- the subcommand ------------------------------------------------------------- */

int
cli_plot(int argc, char **argv)
{
	const char *in_path = NULL, *out_path = NULL, *format = NULL, *title = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if ((!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--format") ||
		     !strcmp(a, "--title")) && i + 1 < argc) {
			const char **dst = a[1] == 'o' || a[2] == 'o' ? &out_path
					 : a[2] == 'f' ? &format : &title;
			*dst = argv[++i];
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			cli_help(stdout);
			return fflush(stdout) == 0 ? 0 : 1;
		} else if (a[0] == '-' && a[1]) {
			return cli_usage_error("plot: unknown option or missing argument '%s'", a);
		} else if (!in_path) {
			in_path = a;
		} else {
			return cli_usage_error("plot: more than one REPORT ('%s')", a);
		}
	}
	if (!in_path || !out_path) {
		return cli_usage_error("plot: usage: rcshim plot REPORT -o OUT.html|OUT.svg");
	}
	if (!format) {
		const char *dot = strrchr(out_path, '.');
		format = dot && (!strcmp(dot, ".html") || !strcmp(dot, ".htm")) ? "html"
			 : dot && !strcmp(dot, ".svg") ? "svg" : NULL;
		if (!format) {
			return cli_usage_error("plot: cannot tell the format of '%s': name it .html or "
					       ".svg, or say --format html|svg", out_path);
		}
	} else if (strcmp(format, "html") && strcmp(format, "svg")) {
		return cli_usage_error("plot: --format is html or svg, not '%s'", format);
	}

	size_t n;
	char *text = cli_read_file(in_path, &n);
	if (!text) {
		cli_msg("plot: cannot read %s: %s", in_path, strerror(errno));
		return 1;
	}
	/* One document, or several (JSON Lines: one process's report file). */
	struct cli_jv all;
	bool ok = cli_jv_parse_all(text, n, &all);
	free(text);
	if (!ok || !all.n) {
		cli_msg("plot: %s is not a JSON report (a --timeline run's report is JSON: "
			"rcshim run --timeline --json)", in_path);
		cli_jv_free(&all);
		return 1;
	}
	struct plot pl = { NULL, 0 };
	const struct cli_jv *doc = all.n == 1 ? &all.items[0] : &all;
	const struct cli_jv *procs = cli_jv_get(doc, "processes");
	if (procs && procs->t == CLI_J_ARR) {
		for (size_t i = 0; i < procs->n; i++) {
			const struct cli_jv *r = cli_jv_get(&procs->items[i], "report");
			if (r) {
				add_report(&pl, r, (long)cli_jv_num(&procs->items[i], "pid"));
			}
		}
	} else {
		add_report(&pl, doc, 0);
	}
	if (!pl.np) {
		cli_msg("plot: %s has no timeline: run the program with rcshim run --timeline", in_path);
		cli_jv_free(&all);
		return 1;
	}
	/* One time axis: from the first process's start. */
	double t0 = pl.p[0].epoch;
	for (size_t i = 1; i < pl.np; i++) {
		t0 = pl.p[i].epoch < t0 ? pl.p[i].epoch : t0;
	}
	for (size_t i = 0; i < pl.np; i++) {
		pl.p[i].start = pl.p[i].epoch - t0;
		for (size_t j = 0; j < pl.p[i].n; j++) {
			pl.p[i].t[j] += pl.p[i].start;
		}
	}
	char deftitle[300];
	if (!title) {
		const struct cli_jv *cmd = cli_jv_get(doc, "command");
		size_t len = (size_t)snprintf(deftitle, sizeof(deftitle), "rcshim timeline:");
		for (size_t i = 0; cmd && cmd->t == CLI_J_ARR && i < cmd->n && len + 2 < sizeof(deftitle); i++) {
			len += (size_t)snprintf(deftitle + len, sizeof(deftitle) - len, " %s",
						cmd->items[i].t == CLI_J_STR ? cmd->items[i].str : "?");
		}
		if (!cmd) {
			snprintf(deftitle + len, sizeof(deftitle) - len, " %s", pl.p[0].label);
		}
		title = deftitle;
	}

	FILE *f = !strcmp(out_path, "-") ? stdout : fopen(out_path, "w");
	if (!f) {
		cli_msg("plot: cannot write %s: %s", out_path, strerror(errno));
		cli_jv_free(&all);
		return 1;
	}
	if (!strcmp(format, "html")) {
		fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
		xml_text(f, title);
		fputs("</title>\n<style>\nbody { margin: 16px; background: #fff; color: #222; "
		      "font-family: sans-serif; }\nsvg { max-width: 100%; height: auto; }\n"
		      ".event:hover line { stroke-width: 4; }\n</style>\n</head>\n<body>\n", f);
	} else {
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	}
	draw(f, &pl, title);
	if (!strcmp(format, "html")) {
		fputs("</body>\n</html>\n", f);
	}
	bool werr = ferror(f) != 0;
	if (f != stdout) {
		werr |= fclose(f) != 0;
	} else {
		werr |= fflush(f) != 0;
	}
	for (size_t i = 0; i < pl.np; i++) {
		free(pl.p[i].t);
		for (int k = 0; k < NKINDS; k++) {
			free(pl.p[i].v[k]);
		}
	}
	free(pl.p);
	cli_jv_free(&all);
	if (werr) {
		cli_msg("plot: cannot write %s", out_path);
		return 1;
	}
	return 0;
}
