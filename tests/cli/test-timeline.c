/* rcshim run --timeline and rcshim plot (issue 18, part 3): a program that
 * leaks and is cleaned live twice; its samples rise and drop at both
 * cleanups, the events say what each reclaimed, and the plot has a chart
 * per kind and a marker per cleanup.  The JSON is read with python3. */
#include "build-config.h"

#include "common.h"
#include "test.h"

static char *
victim(void)
{
	static char path[4096];
	const char *b = getenv("RCSHIM_TEST_BUILDDIR");
	ck_assert_msg(b && *b, "RCSHIM_TEST_BUILDDIR is not set");
	snprintf(path, sizeof(path), "%s/tests/victim-timeline-leak", b);
	return path;
}

static int
count_substr(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) {
		n++;
	}
	return n;
}

/* Runs python3 -c @code REPORT; its stdout must be "ok". */
static void
python_check(const char *code, const char *path)
{
	struct rc_run py;
	/* HEAP: whether the shim tracks the heap here (not where ASan owns
	 * the allocator: the shim steps aside). */
	char *full;
	ck_assert_int_ge(asprintf(&full, "HEAP = %s\n%s", cli_heap_tracked() ? "True" : "False",
				  code), 0);
	const char *pargs[] = { cli_python(), "-c", full, path, NULL };
	t_run(&py, false, NULL, NULL, pargs);
	ck_assert_msg(py.status == 0 && !strcmp(py.out, "ok\n"), "%s%s", py.out, py.err);
	t_run_free(&py);
	free(full);
}

static const char check_two_drops[] =
	"import json, sys\n"
	"doc = json.load(open(sys.argv[1]))\n"
	"reps = []\n"
	"for p in doc['processes']:\n"
	"    r = p['report']\n"
	"    for d in (r if isinstance(r, list) else [r]):\n"
	"        if isinstance(d, dict) and 'timeline' in d: reps.append(d)\n"
	"assert len(reps) == 1, len(reps)\n"
	"r = reps[0]; s = r['timeline']; ev = r['events']; info = r['timeline_info']\n"
	"assert info['interval_ms'] == 50, info\n"
	"assert info['cmdline'][0].endswith('victim-timeline-leak'), info\n"
	"assert info['start_epoch_ms'] > 1e12, info\n"
	"assert len(s) >= 15, len(s)\n"
	"keys = {'t_ms','temp_count','temp_bytes','fds','sqlite','heap_bytes','gpu_bytes','rss_bytes'}\n"
	"assert all(set(x) == keys for x in s), s[0]\n"
	"t = [x['t_ms'] for x in s]\n"
	"assert t == sorted(t), t\n"
	"live = [e for e in ev if e['mode'] == 'live']\n"
	"assert len(live) == 2, ev\n"
	"for e in live:\n"
	"    assert e['trigger'] == 'live_signal' and e['priority'] == 'CRITICAL', e\n"
	"    k = e['reclaimed']['kinds']\n"
	"    assert k['temp']['cleaned'] == 10 and k['fd']['cleaned'] >= 10, e\n"
	"    assert e['reclaimed']['cleaned'] >= 20, e\n"
	"# Rises, then drops where each cleanup happened.\n"
	"drops = [i for i in range(1, len(s)) if s[i-1]['temp_count'] >= 8 and s[i]['temp_count'] == 0]\n"
	"assert len(drops) == 2, [(x['t_ms'], x['temp_count']) for x in s]\n"
	"for i, e in zip(drops, live):\n"
	"    assert s[i-1]['t_ms'] <= e['t_ms'] <= s[i]['t_ms'] + 5, (s[i-1], e['t_ms'], s[i])\n"
	"    assert s[i-1]['temp_bytes'] >= 8 * 8192 and s[i]['temp_bytes'] == 0, (s[i-1], s[i])\n"
	"    assert s[i]['fds'] <= s[i-1]['fds'] - 10, (s[i-1], s[i])\n"
	"assert max(x['temp_count'] for x in s[drops[1]:]) >= 8\n"
	"# The heap is the program's: it leaks on, the shim does not free it.\n"
	"assert not HEAP or s[-1]['heap_bytes'] >= 30 * 65536, s[-1]\n"
	"assert all(x['rss_bytes'] > 0 for x in s)\n"
	"print('ok')\n";

START_TEST(timeline_shows_two_live_cleanups)
{
	struct cli_scratch s;
	struct rc_run r;

	cli_scratch_init(&s);
	const char *args[] = { "run", "--timeline", "50ms", "--tmp-owner", "process",
			       "--", victim(), "3", "10", "40", NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	ck_assert_str_eq(r.out, "cleanups 2\n");
	char *path = cli_named_report(r.err);
	/* --timeline makes the gathered report JSON: rcshim plot reads it. */
	ck_assert_msg(strstr(path, ".report.json"), "report at '%s'; stderr: %s", path, r.err);
	python_check(check_two_drops, path);

	char svg[800], html[800];
	snprintf(svg, sizeof(svg), "%s/out.svg", s.dir);
	snprintf(html, sizeof(html), "%s/out.html", s.dir);
	struct rc_run p;
	const char *pa[] = { "plot", path, "-o", svg, NULL };
	run_rcshim(&p, &s, NULL, pa);
	ck_assert_exited(&p, 0);
	t_run_free(&p);
	const char *ph[] = { "plot", path, "-o", html, NULL };
	run_rcshim(&p, &s, NULL, ph);
	ck_assert_exited(&p, 0);
	t_run_free(&p);

	char *text = t_read_file(svg);
	ck_assert_ptr_nonnull(text);
	static const char *const charts[] = { "temp", "temp-bytes", "fds", "sqlite",
					      "heap", "gpu", "rss" };
	for (size_t i = 0; i < sizeof(charts) / sizeof(*charts); i++) {
		char cls[64];
		snprintf(cls, sizeof(cls), "<g class=\"chart chart-%s\"", charts[i]);
		ck_assert_msg(count_substr(text, cls) == 1, "no %s in the SVG", cls);
	}
	ck_assert_int_eq(count_substr(text, "<g class=\"event event-live\""), 2);
	ck_assert_msg(strstr(text, "live cleanup CRITICAL (live_signal, pid ") &&
			      strstr(text, "\xe2\x88\x92" "10 temp"),
		      "no event label in the SVG");
	/* A band in each chart that is not empty: temp, temp bytes, fds,
	 * heap (where the shim tracks it), rss; none in sqlite and gpu; the
	 * process named at each. */
	int bands = cli_heap_tracked() ? 5 : 4;
	ck_assert_int_eq(count_substr(text, "<path class=\"series\""), bands);
	ck_assert_int_eq(count_substr(text, "<text class=\"series-label\""), bands);
	ck_assert_msg(strstr(text, " victim-timeline-leak 3 10 40</text>"), "no label");
	free(text);

	text = t_read_file(html);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(!strncmp(text, "<!DOCTYPE html>", 15), "%.100s", text);
	ck_assert_msg(strstr(text, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"rcshim-timeline\""),
		      "no inline SVG");
	/* Self-contained: no script, nothing fetched. */
	ck_assert_msg(!strstr(text, "<script") && !strstr(text, "src=") && !strstr(text, "href="),
		      "the page loads something");
	free(text);
	python_check("import sys, xml.dom.minidom as m\n"
		     "d = m.parse(sys.argv[1])\n"
		     "assert d.documentElement.tagName == 'svg'\n"
		     "print('ok')\n", svg);
	free(path);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* Each process of a tree has its own timeline, and the plot a band per
 * process; a forked child (no exec) samples too. */
static const char check_tree[] =
	"import json, sys\n"
	"doc = json.load(open(sys.argv[1]))\n"
	"tl = {}\n"
	"for p in doc['processes']:\n"
	"    r = p['report']\n"
	"    for d in (r if isinstance(r, list) else [r]):\n"
	"        if isinstance(d, dict) and 'timeline' in d: tl[d['pid']] = d\n"
	"assert len(tl) >= 3, list(tl)\n"
	"names = sorted(d['timeline_info']['cmdline'][0].rsplit('/', 1)[-1] for d in tl.values())\n"
	"assert names.count('victim-timeline-leak') == 2, names\n"
	"# The two victims run for seconds: sampled more than once; the shell\n"
	"# (which may end as soon as they do) at least at its end.\n"
	"for d in tl.values():\n"
	"    leak = d['timeline_info']['cmdline'][0].endswith('victim-timeline-leak')\n"
	"    assert len(d['timeline']) >= (2 if leak else 1), d['timeline']\n"
	"print('ok')\n";

START_TEST(timeline_of_a_process_tree)
{
	struct cli_scratch s;
	struct rc_run r;
	char script[5000];

	cli_scratch_init(&s);
	snprintf(script, sizeof(script), "'%s' 2 4 20 & '%s' 1 6 20; wait", victim(), victim());
	const char *args[] = { "run", "--timeline=20ms", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	char *path = cli_named_report(r.err);
	ck_assert_msg(path[0], "no report; stderr: %s", r.err);
	python_check(check_tree, path);
	char svg[800];
	snprintf(svg, sizeof(svg), "%s/tree.svg", s.dir);
	struct rc_run p;
	const char *pa[] = { "plot", path, "-o", svg, NULL };
	run_rcshim(&p, &s, NULL, pa);
	ck_assert_exited(&p, 0);
	char *text = t_read_file(svg);
	ck_assert_ptr_nonnull(text);
	/* The rss chart has a band for every process. */
	const char *rss = strstr(text, "<g class=\"chart chart-rss\"");
	ck_assert_ptr_nonnull(rss);
	ck_assert_int_ge(count_substr(rss, "<path class=\"series\""), 3);
	ck_assert_int_ge(count_substr(text, "<g class=\"process\""), 3);
	free(text);
	t_run_free(&p);
	free(path);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* --timeline alone (100 ms), before "--" or CMD; a bad interval gets the
 * shim's one line and no timeline; without --timeline, no timeline and a
 * text report. */
START_TEST(timeline_option_forms)
{
	struct cli_scratch s;
	struct rc_run r;

	cli_scratch_init(&s);
	const char *a1[] = { "run", "--timeline", "--", "true", NULL };
	run_rcshim(&r, &s, NULL, a1);
	ck_assert_exited(&r, 0);
	char *path = cli_named_report(r.err);
	char *text = t_read_file(path);
	ck_assert_msg(text && strstr(text, "\"interval_ms\":100,"), "%s: %.300s", path,
		      text ? text : "(none)");
	free(text);
	free(path);
	t_run_free(&r);

	const char *a2[] = { "run", "--timeline", "true", NULL };
	run_rcshim(&r, &s, NULL, a2);
	ck_assert_exited(&r, 0);
	t_run_free(&r);

	const char *env[] = { "RCSHIM_TIMELINE=fast", NULL };
	const char *a3[] = { "run", "--", "true", NULL };
	run_rcshim(&r, &s, env, a3);
	ck_assert_exited(&r, 0);
	ck_assert_int_eq(count_substr(r.err, "RCSHIM_TIMELINE=fast is not valid"), 1);
	ck_assert_msg(strstr(r.err, "using off"), "%s", r.err);
	path = cli_named_report(r.err);
	ck_assert_msg(strstr(path, ".report.txt"), "%s", path);
	text = t_read_file(path);
	ck_assert_msg(text && !strstr(text, "timeline"), "%.300s", text ? text : "(none)");
	free(text);
	free(path);
	t_run_free(&r);

	/* A text report says where the samples are not. */
	const char *a4[] = { "run", "--timeline", "--report-format", "text", "--", "true", NULL };
	run_rcshim(&r, &s, NULL, a4);
	ck_assert_exited(&r, 0);
	path = cli_named_report(r.err);
	text = t_read_file(path);
	ck_assert_msg(text && strstr(text, "\ntimeline: ") && strstr(text, "samples (every 100 ms)"),
		      "%.300s", text ? text : "(none)");
	free(text);
	free(path);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

START_TEST(plot_refuses_what_it_cannot_draw)
{
	struct cli_scratch s;
	struct rc_run r;
	char in[800], out[800];

	cli_scratch_init(&s);
	snprintf(in, sizeof(in), "%s/r.json", s.dir);
	snprintf(out, sizeof(out), "%s/o.svg", s.dir);
	FILE *f = fopen(in, "w");
	fputs("{\"rcshim\": \"x\", \"processes\": [{\"pid\": 1, \"report\": {\"kinds\": []}}]}\n", f);
	fclose(f);
	const char *a1[] = { "plot", in, "-o", out, NULL };
	run_rcshim(&r, &s, NULL, a1);
	ck_assert_exited(&r, 1);
	ck_assert_msg(strstr(r.err, "has no timeline: run the program with rcshim run --timeline"),
		      "%s", r.err);
	t_run_free(&r);
	const char *a2[] = { "plot", in, NULL };
	run_rcshim(&r, &s, NULL, a2);
	ck_assert_exited(&r, 2);
	t_run_free(&r);
	const char *a3[] = { "plot", in, "-o", "x.png", NULL };
	run_rcshim(&r, &s, NULL, a3);
	ck_assert_exited(&r, 2);
	ck_assert_msg(strstr(r.err, "name it .html or .svg"), "%s", r.err);
	t_run_free(&r);
	f = fopen(in, "w");
	fputs("== rcshim report: pid 5, at exit\n", f);
	fclose(f);
	run_rcshim(&r, &s, NULL, a1);
	ck_assert_exited(&r, 1);
	ck_assert_msg(strstr(r.err, "is not a JSON report"), "%s", r.err);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

TEST_SUITE(cli_timeline)
{
	ADD_TEST(s, timeline_shows_two_live_cleanups);
	ADD_TEST(s, timeline_of_a_process_tree);
	ADD_TEST(s, timeline_option_forms);
	ADD_TEST(s, plot_refuses_what_it_cannot_draw);
}
