/* The report of a run: by default each process writes its own into the
 * journal directory and the launcher gathers them into one file; a path
 * the user chose is left as it is and named in the summary.  The process
 * reports here are written by the program itself, under a pid no process
 * can have, so that the test does not depend on what the shim writes. */
#include "build-config.h"

#include <limits.h>

#include "common.h"
#include "test.h"

#define FAKE_PID "99999999" /* above any pid_max */

static int
count_substr(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) {
		n++;
	}
	return n;
}

/* Runs the launcher with @args (exit status 0 expected) and returns its
 * gathered report's text, its path in *@path. */
static char *
run_gathered(const struct cli_scratch *s, struct rc_run *r, const char *const *args, char **path)
{
	run_rcshim(r, s, NULL, args);
	ck_assert_exited(r, 0);
	*path = cli_named_report(r->err);
	char *text = t_read_file(*path);
	ck_assert_msg(text, "no report at '%s'; stderr: %s", *path, r->err);
	return text;
}

static void
assert_nothing_left(const struct cli_scratch *s)
{
	char *left = cli_leftovers(s);
	ck_assert_msg(!*left, "left in %s: %s", s->jdir, left);
	free(left);
}

START_TEST(default_report_gathers_the_processes)
{
	struct cli_scratch s;
	struct rc_run r;
	static const char script[] =
		"echo \"$RCSHIM_REPORT\"\n"
		"f=$(printf %s \"$RCSHIM_REPORT\" | sed 's/%p/" FAKE_PID "/')\n"
		"printf '== rcshim report: pid " FAKE_PID ", at exit\\nheap: 5 blocks, 5000 "
		"bytes still allocated (exact)\\nfd: 2 held\\nsqlite: 1 held\\n' > \"$f\"\n"
		"d=$(mktemp -d)\n";

	cli_scratch_init(&s);
	const char *args[] = { "run", "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	/* The pattern the launcher set: private, per session, per pid. */
	ck_assert_msg(!strncmp(r.out, s.jdir, strlen(s.jdir)) &&
			      strstr(r.out, ".%p.report\n"), "RCSHIM_REPORT=%s", r.out);
	char *path = cli_named_report(r.err);
	ck_assert_msg(path[0], "no report in the summary: %s", r.err);
	ck_assert_msg(!strncmp(path, s.jdir, strlen(s.jdir)) &&
			      strstr(path, ".report.txt"), "report at %s", path);
	char *text = t_read_file(path);
	ck_assert_ptr_nonnull(text);
	/* The script's newlines escaped: the command line is one line. */
	ck_assert_msg(!strncmp(text, "rcshim report of: sh -c $'echo \"$RCSHIM_REPORT\"\\nf=", 46),
		      "%.300s", text);
	ck_assert_msg(strstr(text, "\nstatus: exited with status 0\n") &&
			      strstr(text, "the launcher removed 1 temp file or directory") &&
			      strstr(text, "\n=== process " FAKE_PID " ===\n== rcshim report: pid "
					   FAKE_PID ", at exit\nheap: 5 blocks"),
		      "%s", text);
	/* Its numbers are in the summary (added to what the shim's own reports
	 * say, if they exist). */
	const char *held = strstr(r.err, "rcshim: in use when its processes ended: heap ");
	ck_assert_msg(held, "stderr: %s", r.err);
	unsigned long blocks = strtoul(held + strlen("rcshim: in use when its processes ended: "
						     "heap "), NULL, 10);
	ck_assert_msg(blocks >= 5, "stderr: %s", r.err);
	ck_assert_msg(strstr(held, ", fd ") && strstr(held, ", sqlite "), "stderr: %s", r.err);
	assert_nothing_left(&s);
	free(text);
	free(path);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* --json: one JSON document for the run; a process report in JSON Lines
 * becomes an array, one that is not JSON a string. */
START_TEST(default_report_in_json)
{
	struct cli_scratch s;
	struct rc_run r, py;
	static const char script[] =
		"f=$(printf %s \"$RCSHIM_REPORT\" | sed 's/%p/" FAKE_PID "/')\n"
		"printf '{\"format\":\"rcshim-report\",\"kinds\":[{\"kind\":\"fd\",\"count\":3,"
		"\"bytes\":0}]}\\n{\"format\":\"rcshim-event\"}\\n' > \"$f\"\n"
		"g=$(printf %s \"$RCSHIM_REPORT\" | sed 's/%p/99999998/')\n"
		"printf '{broken' > \"$g\"\n";
	static const char check[] =
		"import json, sys\n"
		"r = json.load(open(sys.argv[1]))\n"
		"p = {x['pid']: x['report'] for x in r['processes']}\n"
		"assert r['command'][0] == 'sh', r['command']\n"
		"assert r['status'] == {'exit_code': 7}, r['status']\n"
		"assert r['after_exit']['temp']['removed'] == 0\n"
		"assert isinstance(p[" FAKE_PID "], list) and len(p[" FAKE_PID "]) == 2\n"
		"assert p[" FAKE_PID "][0]['kinds'][0]['count'] == 3\n"
		"assert p[99999998] == '{broken', p[99999998]\n"
		"print('ok')\n";

	cli_scratch_init(&s);
	char full[2048];
	snprintf(full, sizeof(full), "%sexit 7\n", script);
	const char *args[] = { "run", "--json", "--", "sh", "-c", full, NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 7);
	char *path = cli_named_report(r.err);
	ck_assert_msg(strstr(path, ".report.json"), "stderr: %s", r.err);
	const char *pargs[] = { "python3", "-c", check, path, NULL };
	t_run(&py, false, NULL, NULL, pargs);
	ck_assert_msg(py.status == 0 && !strcmp(py.out, "ok\n"), "%s%s", py.out, py.err);
	const char *held = strstr(r.err, "rcshim: in use when its processes ended: ");
	ck_assert_msg(held && strstr(held, "fd "), "stderr: %s", r.err);
	t_run_free(&py);
	free(path);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* The user's own path: used as given, named in the summary when this run
 * wrote to it; no merged report. */
START_TEST(user_report_path)
{
	struct cli_scratch s;
	struct rc_run r;
	char pattern[800], opt[900], script[2048], want[1200];

	cli_scratch_init(&s);
	snprintf(pattern, sizeof(pattern), "%s/r.%%p.txt", s.dir);
	snprintf(opt, sizeof(opt), "--report=%s", pattern);
	snprintf(script, sizeof(script), "echo \"$RCSHIM_REPORT\"; echo x > '%s/r." FAKE_PID ".txt'",
		 s.dir);
	const char *args[] = { "run", opt, "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	snprintf(want, sizeof(want), "%s\n", pattern);
	ck_assert_str_eq(r.out, want);
	snprintf(want, sizeof(want), " files): %s\n", pattern);
	ck_assert_msg(cli_contains(r.err, "rcshim: reports (") && cli_contains(r.err, want),
		      "stderr: %s", r.err);
	ck_assert_msg(!cli_contains(r.err, "rcshim: report ("), "stderr: %s", r.err);
	t_run_free(&r);

	/* Set in the environment, without %p. */
	char envv[900], one[800];
	snprintf(one, sizeof(one), "%s/one.txt", s.dir);
	snprintf(envv, sizeof(envv), "RCSHIM_REPORT=%s", one);
	snprintf(script, sizeof(script), "echo x >> '%s'", one);
	const char *env[] = { envv, NULL };
	const char *a2[] = { "run", "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, env, a2);
	ck_assert_exited(&r, 0);
	snprintf(want, sizeof(want), "rcshim: report: %s\n", one);
	ck_assert_msg(cli_contains(r.err, want), "stderr: %s", r.err);
	t_run_free(&r);

	/* Empty: no report at all. */
	const char *a3[] = { "run", "--report", "", "--", "sh", "-c", "echo \"[$RCSHIM_REPORT]\"",
			     NULL };
	run_rcshim(&r, &s, NULL, a3);
	ck_assert_exited(&r, 0);
	ck_assert_str_eq(r.out, "[]\n");
	ck_assert_msg(!cli_contains(r.err, "report"), "stderr: %s", r.err);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* As root, `rcshim run --report /etc/passwd` appended a report to it.  A
 * scratch file with its content stands for it: refused before the program
 * starts, in one line, exit 2, and nothing runs.  In RCSHIM_REPORT (the
 * environment, not an option) the shim's rule stays: one line, the program
 * runs and ends as it would, and the run's report is gathered instead. */
START_TEST(report_path_refused_before_the_run)
{
	struct cli_scratch s;
	struct rc_run r;
	char passwd[800], opt[1000], want[2000], envv[1000];
	static const char content[] = "root:x:0:0:root:/root:/bin/bash\n";

	cli_scratch_init(&s);
	snprintf(passwd, sizeof(passwd), "%s/passwd", s.dir);
	t_write_file(passwd, content);
	ck_assert_int_eq(chmod(passwd, 0644), 0);
	snprintf(opt, sizeof(opt), "--report=%s", passwd);
	const char *args[] = { "run", opt, "--", "sh", "-c", "echo out; /bin/true; exit 3", NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 2);
	ck_assert_str_eq(r.out, "");
	cli_assert_file_is(passwd, content);
	snprintf(want, sizeof(want), "rcshim: run: --report %s: not written there: it is not an "
				     "rcshim report (a file of another kind is never appended "
				     "to); nothing was run\n", passwd);
	ck_assert_str_eq(r.err, want);
	t_run_free(&r);

	snprintf(envv, sizeof(envv), "RCSHIM_REPORT=%s", passwd);
	const char *env[] = { envv, NULL };
	const char *a2[] = { "run", "--", "sh", "-c", "echo out; /bin/true; exit 3", NULL };
	run_rcshim(&r, &s, env, a2);
	ck_assert_exited(&r, 3);
	ck_assert_str_eq(r.out, "out\n");
	cli_assert_file_is(passwd, content);
	snprintf(want, sizeof(want), "rcshim: warning: report not written to %s: it is not an "
				     "rcshim report (a file of another kind is never appended "
				     "to); the run's report is gathered as without one\n", passwd);
	ck_assert_msg(!strncmp(r.err, want, strlen(want)), "stderr: %s", r.err);
	ck_assert_msg(!strstr(r.err + strlen(want), "not written"), "stderr: %s", r.err);
	char *path = cli_named_report(r.err);
	ck_assert_msg(path[0] && strstr(path, ".report.txt"), "stderr: %s", r.err);
	free(path);
	t_run_free(&r);

	/* A symlink to it: the same. */
	char link[900];
	snprintf(link, sizeof(link), "%s/report.txt", s.dir);
	ck_assert_int_eq(symlink(passwd, link), 0);
	snprintf(opt, sizeof(opt), "--report=%s", link);
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 2);
	cli_assert_file_is(passwd, content);
	snprintf(want, sizeof(want), "rcshim: run: --report %s: not written there: it is a "
				     "symbolic link (a report never follows one); nothing was run\n",
		 link);
	ck_assert_str_eq(r.err, want);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* --report none: not a path; the launcher's error, nothing run.  In the
 * environment: the shim's one line (the launcher is the session root), no
 * report, no file named "none" where the program runs. */
START_TEST(report_value_not_a_path)
{
	struct cli_scratch s;
	struct rc_run r;
	char script[1200], none[800];

	cli_scratch_init(&s);
	snprintf(script, sizeof(script), "cd '%s' && /bin/true && echo out", s.dir);
	const char *args[] = { "run", "--report", "none", "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 2);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(cli_contains(r.err, "rcshim: run: --report none: not valid (not a path: no "
					  "'/' in it; "), "stderr: %s", r.err);
	t_run_free(&r);

	const char *env[] = { "RCSHIM_REPORT=none", NULL };
	const char *a2[] = { "run", "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, env, a2);
	ck_assert_exited(&r, 0);
	ck_assert_str_eq(r.out, "out\n");
	ck_assert_msg(!strncmp(r.err, "rcshim: RCSHIM_REPORT=none is not valid (not a path: no "
				      "'/' in it; ", 63) &&
			      count_substr(r.err, "RCSHIM_REPORT") == 1 &&
			      !strstr(r.err, "report: ") && !strstr(r.err, "report ("),
		      "stderr: %s", r.err);
	snprintf(none, sizeof(none), "%s/none", s.dir);
	ck_assert(!t_exists(none));
	ck_assert(!t_exists("none"));
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* The launcher's own lines and its report of the run: a newline in a word
 * of the command line does not start a line. */
START_TEST(launcher_text_escapes_names)
{
	struct cli_scratch s;
	struct rc_run r;

	cli_scratch_init(&s);
	const char *a1[] = { "run", "--", "/nonexistent/no\nrcshim: forged", NULL };
	run_rcshim(&r, &s, NULL, a1);
	ck_assert_exited(&r, 127);
	ck_assert_str_eq(r.err, "rcshim: cannot run /nonexistent/no\\nrcshim: forged: No such "
				"file or directory\n");
	t_run_free(&r);

	const char *a2[] = { "run", "--", "sh", "-c", "/bin/true", "a\nstatus: forged\x1b[2J",
			     "it's", NULL };
	run_rcshim(&r, &s, NULL, a2);
	ck_assert_exited(&r, 0);
	char *path = cli_named_report(r.err);
	ck_assert_msg(path[0], "stderr: %s", r.err);
	char *text = t_read_file(path);
	ck_assert_msg(!strncmp(text, "rcshim report of: sh -c /bin/true $'a\\nstatus: forged"
				     "\\x1b[2J' 'it'\\''s'\nsession: ", 72), "%s", text);
	ck_assert_msg(!strstr(text, "\nstatus: forged"), "%s", text);
	free(text);
	free(path);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* --json: a word that is not UTF-8 keeps its bytes, in "command_hex". */
START_TEST(launcher_json_keeps_every_byte)
{
	struct cli_scratch s;
	struct rc_run r, py;
	static const char check[] =
		"import json, sys\n"
		"r = json.load(open(sys.argv[1], encoding='utf-8'))\n"
		"assert r['command'][:3] == ['sh', '-c', 'true'], r['command']\n"
		"assert r['command_hex'][:3] == [None, None, None], r\n"
		"assert bytes.fromhex(r['command_hex'][3]) == b'caf\\xe9\\n\\xff', r\n"
		"assert r['command'][4] == 'caf\\xe9' and r['command_hex'][4] is None, r\n"
		"print('ok')\n";

	cli_scratch_init(&s);
	const char *args[] = { "run", "--json", "--", "sh", "-c", "true", "caf\xe9\n\xff",
			       "caf\xc3\xa9", NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	char *path = cli_named_report(r.err);
	ck_assert_msg(strstr(path, ".report.json"), "stderr: %s", r.err);
	const char *pargs[] = { "python3", "-c", check, path, NULL };
	t_run(&py, false, NULL, NULL, pargs);
	ck_assert_msg(py.status == 0 && !strcmp(py.out, "ok\n"), "%s%s", py.out, py.err);
	t_run_free(&py);
	free(path);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* A process that held nothing at its end writes one line, not a report
 * of its own; the gathered report collapses them into one line by
 * program (text) or a "held_nothing" object (JSON), and the summary
 * still counts every process. */
START_TEST(processes_that_held_nothing_collapse)
{
	struct cli_scratch s;
	struct rc_run r, py;
	static const char script[] = "for i in 1 2 3 4; do /bin/true; done; mktemp -d >/dev/null";
	static const char check[] =
		"import json, sys\n"
		"r = json.load(open(sys.argv[1]))\n"
		"q = r['held_nothing']\n"
		"progs = {p['exe'].rsplit('/', 1)[1]: p['processes'] for p in q['programs']}\n"
		"assert progs.get('true') == 4, q\n"
		"assert q['processes'] >= 4 and q['heap']['count'] >= 0, q\n"
		"one = lambda p: p['report'][0] if isinstance(p['report'], list) else p['report']\n"
		"exes = [one(p)['exe'] for p in r['processes']]\n"
		"assert len([e for e in exes if e.endswith('/mktemp')]) == 1, exes\n"
		"assert not [e for e in exes if e.endswith('/true')], exes\n"
		"print('ok')\n";

	cli_scratch_init(&s);
	const char *args[] = { "run", "--", "sh", "-c", script, NULL };
	char *path;
	char *text = run_gathered(&s, &r, args, &path);
	/* The one that held its temp dir has a report of its own; the four
	 * that held nothing, one line. */
	ck_assert_msg(strstr(text, "(/usr/bin/mktemp), at exit") || strstr(text, "(/bin/mktemp), at exit"),
		      "%s", text);
	ck_assert_msg(!strstr(text, "bin/true), at exit"), "%s", text);
	const char *q = strstr(text, " held nothing: ");
	ck_assert_msg(q && strstr(q, "bin/true (4)"), "%s", text);
	unsigned long n = 0;
	const char *c = strstr(r.err, "rcshim: report (");
	ck_assert_msg(c && sscanf(c, "rcshim: report (%lu processes)", &n) == 1 && n >= 6,
		      "stderr: %s", r.err);
	assert_nothing_left(&s);
	free(text);
	free(path);
	t_run_free(&r);

	const char *jargs[] = { "run", "--json", "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, NULL, jargs);
	ck_assert_exited(&r, 0);
	path = cli_named_report(r.err);
	const char *pargs[] = { "python3", "-c", check, path, NULL };
	t_run(&py, false, NULL, NULL, pargs);
	ck_assert_msg(py.status == 0 && !strcmp(py.out, "ok\n"), "%s%s", py.out, py.err);
	t_run_free(&py);
	free(path);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* Processes that end together, each holding something: their reports go,
 * whole, into the session's one shared file (no file of their own), and
 * the gathered report has each of them, text and JSON. */
START_TEST(reports_share_one_file)
{
	struct cli_scratch s;
	struct rc_run r, py;
	char out[700];
	static const char script[] =
		"r=$RCSHIM_REPORT; d=${r%/*}; b=${r##*/}; id=${b%%.*}\n"
		"i=0; while [ $i -lt 24 ]; do mktemp >/dev/null & i=$((i+1)); done; wait\n"
		"ls \"$d\" | grep \"^$id\\.\" > \"$1/ls\"\n"
		"cp \"$d/$id.quiet.report\" \"$1/shared\"\n";
	static const char check[] =
		"import json, sys\n"
		"r = json.load(open(sys.argv[1]))\n"
		"one = lambda p: p['report'] if isinstance(p['report'], list) else [p['report']]\n"
		"mk = [o for p in r['processes'] for o in one(p) if o['exe'].endswith('/mktemp')]\n"
		"assert len(mk) == 24, len(mk)\n"
		"assert len({o['pid'] for o in mk}) == 24, mk\n"
		"temp = lambda o: [k for k in o['kinds'] if k['kind'] == 'temp'][0]\n"
		"assert all(o['event'] == 'exit' and temp(o)['count'] == 1 for o in mk), mk\n"
		"assert r['after_exit']['temp']['removed'] == 24, r['after_exit']\n"
		"print('ok')\n";

	cli_scratch_init(&s);
	snprintf(out, sizeof(out), "%s", s.dir);
	for (int json = 0; json < 2; json++) {
		const char *args[] = { "run", json ? "--json" : "--log=warn", "--", "sh", "-c", script,
				       "sh", out, NULL };
		run_rcshim(&r, &s, NULL, args);
		ck_assert_exited(&r, 0);
		char p[800];
		snprintf(p, sizeof(p), "%s/ls", out);
		char *ls = t_read_file(p);
		ck_assert_ptr_nonnull(ls);
		/* The session's files while it ran: its journal and the shared
		 * file, no "<id>.<pid>.report". */
		ck_assert_msg(strstr(ls, ".quiet.report\n"), "%s", ls);
		for (char *l = ls; *l; l = strchr(l, '\n') + 1) {
			const char *dot = strchr(l, '.');
			ck_assert_msg(!(dot && dot[1] >= '0' && dot[1] <= '9'), "a file of its own: %s",
				      ls);
		}
		free(ls);
		snprintf(p, sizeof(p), "%s/shared", out);
		char *sh = t_read_file(p);
		ck_assert_ptr_nonnull(sh);
		/* The 24 mktemps, and any other process with a heap sample. */
		int recs = count_substr(sh, "== rcshim record: pid ");
		ck_assert_int_ge(recs, 24);
		ck_assert_int_eq(count_substr(sh, "== rcshim end of record: pid "), recs);
		ck_assert_int_eq(count_substr(sh, json ? "/mktemp\",\"cmdline\"" :
							 "mktemp), at exit, priority "), 24);
		free(sh);
		char *path = cli_named_report(r.err);
		ck_assert_msg(path[0], "no report named: %s", r.err);
		if (!json) {
			char *text = t_read_file(path);
			ck_assert_ptr_nonnull(text);
			ck_assert_int_eq(count_substr(text, "mktemp), at exit, priority "), 24);
			ck_assert_int_eq(count_substr(text, "\ntemp: 1 held\n"), 24);
			ck_assert_msg(strstr(text, "the launcher removed 24 temp files"), "%s", text);
			free(text);
		} else {
			const char *pargs[] = { "python3", "-c", check, path, NULL };
			t_run(&py, false, NULL, NULL, pargs);
			ck_assert_msg(py.status == 0 && !strcmp(py.out, "ok\n"), "%s%s", py.out,
				      py.err);
			t_run_free(&py);
		}
		free(path);
		assert_nothing_left(&s);
		t_run_free(&r);
	}
	cli_scratch_fini(&s);
}
END_TEST

/* A quiet line names the program by the path it was started by (no
 * /proc/self/exe to read in every process), and by /proc/self/exe where
 * that path was relative. */
START_TEST(quiet_line_names_the_program_as_started)
{
	struct cli_scratch s;
	struct rc_run r;
	char canon[PATH_MAX], want[PATH_MAX + 64];
	static const char script[] = "/bin/true; /bin/true; cd /bin && ./true";

	ck_assert_msg(realpath("/bin/true", canon), "no /bin/true");
	cli_scratch_init(&s);
	const char *args[] = { "run", "--", "sh", "-c", script, NULL };
	char *path;
	char *text = run_gathered(&s, &r, args, &path);
	const char *q = strstr(text, " held nothing: ");
	ck_assert_msg(q, "%s", text);
	if (strcmp(canon, "/bin/true")) {
		/* /bin a link (merged /usr): the two as started, the
		 * relative one by its file. */
		ck_assert_msg(strstr(q, " /bin/true (2)") || strstr(q, ": /bin/true (2)"), "%s", q);
		snprintf(want, sizeof(want), " %s", canon);
		ck_assert_msg(strstr(q, want), "%s", q);
	} else {
		ck_assert_msg(strstr(q, "/bin/true (3)"), "%s", q);
	}
	free(text);
	free(path);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* The shared file is read a piece at a time, with no cap on the whole: 3 000
 * reports (3 MiB, past the first piece) written by the program itself under
 * pids no process can have, one of them cut short in the middle: the other
 * 2 999 are all in the gathered report, the cut one is not, and its
 * neighbours are whole. */
START_TEST(shared_file_read_in_pieces)
{
	struct cli_scratch s;
	struct rc_run r;
	static const char script[] =
		"import os\n"
		"p = os.environ['RCSHIM_INTERNAL_GATHER']\n"
		"with open(p, 'ab') as f:\n"
		"  for i in range(3000):\n"
		"    pid = 90000000 + i\n"
		"    body = ('== rcshim report: pid %d, at exit\\nfd: 1 held\\n%s\\n' % (pid, 'x' * 900)).encode()\n"
		"    rec = ('== rcshim record: pid %d, %d bytes, at 1765000000.%09d\\n' % (pid, len(body), i)).encode()\n"
		"    rec += body + ('== rcshim end of record: pid %d\\n' % pid).encode()\n"
		"    f.write(rec[:len(rec) // 2] if i == 1500 else rec)\n";

	cli_scratch_init(&s);
	const char *args[] = { "run", "--", "python3", "-c", script, NULL };
	char *path;
	char *text = run_gathered(&s, &r, args, &path);
	ck_assert_int_eq(count_substr(text, "\n=== process 9000"), 2999);
	ck_assert_int_eq(count_substr(text, "\nfd: 1 held\nxxxxxxxxxx"), 2999);
	ck_assert_msg(!strstr(text, "=== process 90001500 ==="), "the cut report is in");
	ck_assert_msg(strstr(text, "=== process 90001499 ===\n== rcshim report: pid 90001499, at "
				   "exit\nfd: 1 held\n") &&
			      strstr(text, "=== process 90001501 ===\n== rcshim report: pid 90001501, "
					   "at exit\nfd: 1 held\n"),
		      "a neighbour of the cut one is not whole");
	assert_nothing_left(&s);
	free(text);
	free(path);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

TEST_SUITE(cli_report)
{
	ADD_TEST(s, default_report_gathers_the_processes);
	ADD_TEST(s, default_report_in_json);
	ADD_TEST(s, user_report_path);
	ADD_TEST(s, report_path_refused_before_the_run);
	ADD_TEST(s, report_value_not_a_path);
	ADD_TEST(s, launcher_text_escapes_names);
	ADD_TEST(s, launcher_json_keeps_every_byte);
	ADD_TEST(s, processes_that_held_nothing_collapse);
	ADD_TEST(s, reports_share_one_file);
	ADD_TEST(s, quiet_line_names_the_program_as_started);
	ADD_TEST(s, shared_file_read_in_pieces);
}
