/* rcshim run: the session root that outlives the program and reclaims
 * what it left behind, however it ended. */
#include "build-config.h"

#include <sys/resource.h>

#include "cli/cli.h"
#include "common.h"
#include "test.h"

/* The first example: the shell makes a temp dir and is SIGKILLed,
 * so no process of the program can clean up; the launcher does, and dies
 * of SIGKILL itself.  Bare under the shim, the same command leaves the
 * dir behind (the control). */
START_TEST(sigkill_temp_dir_is_removed)
{
	struct cli_scratch s;
	struct rc_run r;
	char f[700], script[1024];

	cli_scratch_init(&s);
	snprintf(f, sizeof(f), "%s/F", s.dir);
	snprintf(script, sizeof(script), "d=$(mktemp -d); echo \"$d\" > '%s'; kill -KILL $$", f);

	/* Control: the shim alone cannot, the root itself is killed. */
	struct rc_run bare;
	const char *benv[] = { s.env_tmpdir, s.env_roots, s.env_xdg, NULL };
	t_sh(&bare, true, benv, script);
	ck_assert_killed_by(bare.status, SIGKILL);
	char *d0 = cli_first_line(f);
	ck_assert_msg(d0[0] && t_exists(d0), "control: the dir '%s' should be left", d0);
	t_run_free(&bare);
	/* ... and so is its journal, which nobody will replay. */
	char *orphans = cli_leftovers(&s);
	ck_assert_msg(strstr(orphans, ".journal"), "control: no journal left: '%s'", orphans);
	free(orphans);
	struct rc_run rm;
	char rmcmd[800];
	snprintf(rmcmd, sizeof(rmcmd), "rm -f '%s'/*.journal", s.jdir);
	t_sh(&rm, false, NULL, rmcmd);
	t_run_free(&rm);

	const char *args[] = { "run", "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_killed_by(r.status, SIGKILL);
	char *d = cli_first_line(f);
	ck_assert_msg(strncmp(d, s.tmp, strlen(s.tmp)) == 0, "F names '%s'", d);
	ck_assert_msg(strcmp(d, d0) != 0, "same dir twice: %s", d);
	ck_assert_msg(!t_exists(d), "%s is still there; stderr: %s", d, r.err);
	ck_assert_msg(t_exists(d0), "the control's dir went too");
	/* The summary says what happened. */
	ck_assert_msg(cli_contains(r.err, "rcshim: sh was killed by signal 9 (SIGKILL)\n"),
		      "stderr: %s", r.err);
	ck_assert_msg(cli_contains(r.err, "rcshim: after it ended: removed 1 temp file or "
					  "directory left behind:\n"), "stderr: %s", r.err);
	/* ...and names it: a user sees at once that nothing of theirs went. */
	char named[1024];
	snprintf(named, sizeof(named), "rcshim:   %s\n", d);
	ck_assert_msg(cli_contains(r.err, named), "stderr: %s", r.err);
	/* No journal is left behind. */
	char *left = cli_leftovers(&s);
	ck_assert_msg(!*left, "left in %s: %s", s.jdir, left);
	free(left);
	free(d);
	free(d0);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* Exit codes pass through; a signal is re-raised, without a core dump of
 * the launcher's own. */
START_TEST(exit_status_passes_through)
{
	struct cli_scratch s;
	struct rc_run r;
	struct rlimit old, core;

	cli_scratch_init(&s);
	const char *a0[] = { "run", "--", "sh", "-c", "exit 3", NULL };
	run_rcshim(&r, &s, NULL, a0);
	ck_assert_exited(&r, 3);
	ck_assert_msg(cli_contains(r.err, "rcshim: sh exited with status 3\n"), "%s", r.err);
	t_run_free(&r);

	const char *a1[] = { "run", "--", "true", NULL };
	run_rcshim(&r, &s, NULL, a1);
	ck_assert_exited(&r, 0);
	t_run_free(&r);

	const char *a2[] = { "run", "--", "sh", "-c", "kill -TERM $$", NULL };
	run_rcshim(&r, &s, NULL, a2);
	ck_assert_killed_by(r.status, SIGTERM);
	t_run_free(&r);

	/* With core dumps allowed, the program may dump; the launcher must
	 * not dump a second one. */
	getrlimit(RLIMIT_CORE, &old);
	core = old;
	core.rlim_cur = core.rlim_max;
	setrlimit(RLIMIT_CORE, &core);
	char script[800];
	snprintf(script, sizeof(script), "cd '%s' && kill -SEGV $$", s.dir);
	const char *a3[] = { "run", "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, NULL, a3);
	setrlimit(RLIMIT_CORE, &old);
	ck_assert_killed_by(r.status, SIGSEGV);
	ck_assert_msg(!WCOREDUMP(r.status), "the launcher dumped core");
	ck_assert_msg(cli_contains(r.err, "rcshim: sh was killed by signal 11 (SIGSEGV)"),
		      "%s", r.err);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* A descendant that outlives the script, daemonised (setsid, double fork,
 * its output away from the launcher's pipes): the launcher waits for it,
 * its temp dir stays usable until it ends, then goes. */
START_TEST(waits_for_background_descendant)
{
	struct cli_scratch s;
	struct rc_run r;
	char f[700], g[700], script[2048];

	cli_scratch_init(&s);
	snprintf(f, sizeof(f), "%s/F", s.dir);
	snprintf(g, sizeof(g), "%s/G", s.dir);
	snprintf(script, sizeof(script),
		 "d=$(mktemp -d); echo \"$d\" > '%s'\n"
		 "( setsid sh -c 'sleep 1.5; echo late > \"$1/late\" && cat \"$1/late\" > \"$2\"' "
		 "_ \"$d\" '%s' </dev/null >/dev/null 2>&1 & )\n"
		 "exit 0\n",
		 f, g);
	const char *args[] = { "run", "--", "sh", "-c", script, NULL };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_rcshim(&r, &s, NULL, args);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_exited(&r, 0);
	double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(took >= 1.4, "returned after %.2f s, before the descendant ended", took);
	char *late = t_read_file(g);
	ck_assert_msg(late && !strcmp(late, "late\n"),
		      "the descendant could not use its temp dir: G = '%s'; stderr: %s",
		      late ? late : "(none)", r.err);
	char *d = cli_first_line(f);
	ck_assert_msg(d[0] && !t_exists(d), "'%s' is still there", d);
	ck_assert_msg(cli_contains(r.err, "rcshim: sh has ended; waiting for the processes it "
					  "left running ("), "stderr: %s", r.err);
	ck_assert_msg(cli_contains(r.err, "removed 1 temp file or directory"), "%s", r.err);
	free(d);
	free(late);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* What the program renamed out of the temp root is its own now, even when
 * it is then SIGKILLed; what it left in the root goes. */
START_TEST(renamed_out_of_the_temp_root_is_kept)
{
	struct cli_scratch s;
	struct rc_run r;
	char f[700], keep[700], keepdir[700], script[4096];

	cli_scratch_init(&s);
	snprintf(f, sizeof(f), "%s/F", s.dir);
	snprintf(keep, sizeof(keep), "%s/kept", s.dir);
	snprintf(keepdir, sizeof(keepdir), "%s/kept-dir", s.dir);
	snprintf(script, sizeof(script),
		 "f=$(mktemp); echo precious > \"$f\"; mv \"$f\" '%s'\n"
		 "d=$(mktemp -d); echo inside > \"$d/x\"; mv \"$d\" '%s'\n"
		 "g=$(mktemp); echo \"$g\" > '%s'\n"
		 "kill -KILL $$\n",
		 keep, keepdir, f);
	const char *args[] = { "run", "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_killed_by(r.status, SIGKILL);
	char *c = t_read_file(keep);
	ck_assert_msg(c && !strcmp(c, "precious\n"), "the renamed file: '%s'", c ? c : "(gone)");
	free(c);
	char x[800];
	snprintf(x, sizeof(x), "%s/x", keepdir);
	c = t_read_file(x);
	ck_assert_msg(c && !strcmp(c, "inside\n"), "the renamed dir: '%s'", c ? c : "(gone)");
	free(c);
	char *g = cli_first_line(f);
	ck_assert_msg(g[0] && !t_exists(g), "'%s' is still there", g);
	ck_assert_msg(cli_contains(r.err, "removed 1 temp file or directory left behind"),
		      "stderr: %s", r.err);
	free(g);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* A temp dir swapped for a symlink behind the shim's back (by a process
 * that tracks nothing): the replay leaves both the link and its target. */
START_TEST(swapped_for_a_symlink_is_left_alone)
{
	struct cli_scratch s;
	struct rc_run r;
	char precious[700], pfile[800], f[700], script[2048];

	cli_scratch_init(&s);
	snprintf(precious, sizeof(precious), "%s/precious", s.dir);
	snprintf(pfile, sizeof(pfile), "%s/keep", precious);
	ck_assert_int_eq(mkdir(precious, 0700), 0);
	t_write_file(pfile, "keep\n");
	snprintf(f, sizeof(f), "%s/F", s.dir);
	snprintf(script, sizeof(script),
		 "d=$(mktemp -d); echo \"$d\" > '%s'\n"
		 "RCSHIM_TRACK=none sh -c 'rmdir \"$1\" && ln -s \"$2\" \"$1\"' _ \"$d\" '%s'\n"
		 "kill -KILL $$\n",
		 f, precious);
	const char *args[] = { "run", "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_killed_by(r.status, SIGKILL);
	ck_assert_msg(t_exists(pfile), "the symlink's target was emptied");
	char *d = cli_first_line(f);
	struct stat st;
	ck_assert_msg(lstat(d, &st) == 0 && S_ISLNK(st.st_mode), "the symlink %s is gone", d);
	char named[1024];
	snprintf(named, sizeof(named),
		 "rcshim: left alone, the name now names something else:\nrcshim:   %s\n", d);
	ck_assert_msg(cli_contains(r.err, named), "stderr: %s", r.err);
	unlink(d);
	free(d);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* RCSHIM_TMP_OWNER=process: each process keeps its own journal; a
 * SIGKILLed one's is replayed by the launcher. */
START_TEST(process_mode_journal_of_a_killed_process)
{
	struct cli_scratch s;
	struct rc_run r;
	char f[700], script[1024];

	cli_scratch_init(&s);
	snprintf(f, sizeof(f), "%s/F", s.dir);
	snprintf(script, sizeof(script),
		 "import os, signal, tempfile\n"
		 "d = tempfile.mkdtemp()\n"
		 "open(os.path.join(d, 'x'), 'w').write('x')\n"
		 "open('%s', 'w').write(d + '\\n')\n"
		 "os.kill(os.getpid(), signal.SIGKILL)\n",
		 f);
	const char *args[] = { "run", "--tmp-owner", "process", "--", "python3", "-c", script,
			       NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_killed_by(r.status, SIGKILL);
	char *d = cli_first_line(f);
	ck_assert_msg(d[0] && !t_exists(d), "'%s' is still there; stderr: %s", d, r.err);
	char *left = cli_leftovers(&s);
	ck_assert_msg(!*left, "left in %s: %s", s.jdir, left);
	free(left);
	free(d);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* The child's environment: LD_PRELOAD keeps what was there and adds the
 * shim once; RCSHIM_SESSION is the launcher's own id, so the shell is a
 * member, not the root. */
START_TEST(child_environment)
{
	struct cli_scratch s;
	struct rc_run r;
	char expect[16384], pre[8300];
	const char *script = "echo \"$LD_PRELOAD\"; echo \"$RCSHIM_SESSION\"; echo \"$PPID\"";

	cli_scratch_init(&s);
	const char *rt = getenv("RCSHIM_TEST_ASAN_RT");
	/* Something harmless before the shim: the C library itself. */
	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s%slibc.so.6", rt && *rt ? rt : "",
		 rt && *rt ? ":" : "");
	const char *env[] = { pre, NULL };
	const char *args[] = { "run", "-q", "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, env, args);
	ck_assert_exited(&r, 0);
	char line[8192];
	snprintf(expect, sizeof(expect), "%s:%s", pre + 11, cli_lib());
	sscanf(r.out, "%8191[^\n]", line);
	ck_assert_str_eq(line, expect);
	/* "<32 hex digits>.<pid of the launcher>.<its start time>:<dir>" */
	char sid[1024] = "", ppid[32] = "", want[128];
	sscanf(r.out, "%*[^\n]\n%1023[^\n]\n%31[^\n]", sid, ppid);
	snprintf(want, sizeof(want), ".%s.", ppid);
	ck_assert_msg(strlen(ppid) && strspn(sid, "0123456789abcdef") == 32 &&
			      !strncmp(sid + 32, want, strlen(want)) && strchr(sid, ':'),
		      "session '%s', launcher %s", sid, ppid);
	ck_assert_msg(!strcmp(strchr(sid, ':') + 1, s.jdir), "session '%s', journals in %s", sid,
		      s.jdir);
	ck_assert_str_eq(r.err, "");
	t_run_free(&r);

	/* Already there: not added twice. */
	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s%s%s", rt && *rt ? rt : "", rt && *rt ? ":" : "",
		 cli_lib());
	run_rcshim(&r, &s, env, args);
	ck_assert_exited(&r, 0);
	sscanf(r.out, "%8191[^\n]", line);
	ck_assert_str_eq(line, pre + 11);
	t_run_free(&r);

	/* Nested launchers: the inner one is a member of the outer session
	 * and the root of its own; the shim is still loaded once. */
	const char *nested[] = { "run", "-q", "--", cli_rcshim(), "run", "-q", "--", "sh", "-c",
				 script, NULL };
	run_rcshim(&r, &s, NULL, nested);
	ck_assert_exited(&r, 0);
	sscanf(r.out, "%8191[^\n]", line);
	ck_assert_msg(strstr(line, cli_lib()) && !strstr(strstr(line, cli_lib()) + 1, cli_lib()),
		      "LD_PRELOAD=%s", line);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* Nested: the inner launcher's SIGKILLed shell is cleaned up by the inner
 * launcher, and the death passes through both. */
START_TEST(nested_launchers_pass_sigkill_through)
{
	struct cli_scratch s;
	struct rc_run r;
	char f[700], script[1024];

	cli_scratch_init(&s);
	snprintf(f, sizeof(f), "%s/F", s.dir);
	snprintf(script, sizeof(script), "d=$(mktemp -d); echo \"$d\" > '%s'; kill -KILL $$", f);
	const char *args[] = { "run", "--", cli_rcshim(), "run", "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_killed_by(r.status, SIGKILL);
	char *d = cli_first_line(f);
	ck_assert_msg(d[0] && !t_exists(d), "'%s' is still there; stderr: %s", d, r.err);
	ck_assert_msg(cli_contains(r.err, "rcshim: rcshim was killed by signal 9 (SIGKILL)"),
		      "stderr: %s", r.err);
	free(d);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* Each option sets its variable in the program's environment. */
START_TEST(options_set_the_variables)
{
	struct cli_scratch s;
	struct rc_run r;
	static const struct {
		const char *option, *value;
	} values[] = {
		{ "priority", "high" },	       { "exit-priority", "low" },
		{ "signal", "USR2" },	       { "signal-priority", "critical" },
		{ "interval", "0" },	       { "pressure", "off" },
		{ "track", "temp,fd" },	       { "tmp-roots", NULL },
		{ "tmp-owner", "session" },    { "tmp-idle", "10m" },
		{ "heap-sample", "64k" },      { "heap", "exact" },
		{ "stack-depth", "8" },
		{ "report", "" },	       { "report-format", "text" },
		{ "log", "warn" },	       { "timeline", "50ms" },
	};
	const char *args[64] = { "run" };
	size_t k = 1;
	char report[800];

	cli_scratch_init(&s);
	snprintf(report, sizeof(report), "%s/report.%%p", s.dir);
	for (size_t i = 0; i < cli_n_var_opts; i++) {
		const char *v = NULL;
		bool found = false;
		for (size_t j = 0; j < sizeof(values) / sizeof(values[0]); j++) {
			if (!strcmp(values[j].option, cli_var_opts[i].option)) {
				v = values[j].value ? values[j].value : s.tmp;
				if (v[0] == '\0') {
					v = report;
				}
				found = true;
			}
		}
		ck_assert_msg(found, "no test value for --%s", cli_var_opts[i].option);
		char *opt;
		ck_assert_int_ge(asprintf(&opt, "--%s=%s", cli_var_opts[i].option, v), 0);
		args[k++] = opt;
	}
	args[k++] = "--";
	args[k++] = "env";
	args[k] = NULL;
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	ck_assert_msg(!cli_contains(r.err, "not valid"), "stderr: %s", r.err);
	for (size_t i = 0; i < cli_n_var_opts; i++) {
		char want[1024];
		snprintf(want, sizeof(want), "\n%s=%s\n", cli_var_opts[i].var,
			 strchr(args[1 + i], '=') + 1);
		char *out;
		ck_assert_int_ge(asprintf(&out, "\n%s", r.out), 0);
		ck_assert_msg(strstr(out, want), "--%s: no %s in: %s", cli_var_opts[i].option,
			      want + 1, r.out);
		free(out);
	}
	for (size_t i = 1; i <= cli_n_var_opts; i++) {
		free((char *)args[i]);
	}
	t_run_free(&r);

	/* --json is --report-format json; the last of them wins. */
	const char *j1[] = { "run", "--report-format", "text", "--json", "--", "env", NULL };
	run_rcshim(&r, &s, NULL, j1);
	ck_assert_msg(cli_contains(r.out, "\nRCSHIM_REPORT_FORMAT=json\n"), "%s", r.out);
	t_run_free(&r);
	const char *j2[] = { "run", "--json", "--report-format=text", "--", "env", NULL };
	run_rcshim(&r, &s, NULL, j2);
	ck_assert_msg(cli_contains(r.out, "\nRCSHIM_REPORT_FORMAT=text\n"), "%s", r.out);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* A bad option value is an error of the launcher, with the shim's own
 * words, before anything runs; a bad value in the environment keeps the
 * shim's rule: reported once, and the program runs with the default. */
START_TEST(bad_value_reported_once)
{
	struct cli_scratch s;
	struct rc_run r;

	cli_scratch_init(&s);
	const char *args[] = { "run", "-q", "--priority", "bogus", "--", "sh", "-c",
			       "echo ran", NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 2);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "rcshim: run: --priority bogus: not valid (accepted: LOW, "
				"MEDIUM, HIGH, CRITICAL or 0-3)\n");
	t_run_free(&r);

	const char *penv[] = { "RCSHIM_PRIORITY=bogus", NULL };
	const char *a1[] = { "run", "-q", "--", "sh", "-c",
			     "true | cat; sh -c 'echo $RCSHIM_PRIORITY'", NULL };
	run_rcshim(&r, &s, penv, a1);
	ck_assert_exited(&r, 0);
	ck_assert_str_eq(r.out, "bogus\n");
	ck_assert_str_eq(r.err, "rcshim: RCSHIM_PRIORITY=bogus is not valid (accepted: LOW, "
				"MEDIUM, HIGH, CRITICAL or 0-3); using MEDIUM\n");
	t_run_free(&r);

	/* An unknown variable in the environment, once too. */
	const char *env[] = { "RCSHIM_PRIORTY=high", NULL };
	const char *a2[] = { "run", "-q", "--", "sh", "-c", "true | cat", NULL };
	run_rcshim(&r, &s, env, a2);
	ck_assert_exited(&r, 0);
	ck_assert_str_eq(r.err, "rcshim: RCSHIM_PRIORTY is not a known variable; ignored\n");
	t_run_free(&r);

	/* --log quiet silences the shim's lines, never a mistake in an
	 * option. */
	const char *a3[] = { "run", "--log", "quiet", "--priority", "bogus", "--", "true", NULL };
	run_rcshim(&r, &s, NULL, a3);
	ck_assert_exited(&r, 2);
	ck_assert_msg(cli_contains(r.err, "--priority bogus"), "%s", r.err);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* The examples: a typo in a value, a report file that cannot be
 * written.  Exit 2, one line that says what to type, and the program did
 * not run. */
START_TEST(mistakes_stop_before_the_run)
{
	struct cli_scratch s;
	struct rc_run r;
	char file[800];

	cli_scratch_init(&s);
	snprintf(file, sizeof(file), "%s/ran", s.dir);
	const char *a1[] = { "run", "--priority", "hihg", "--", "touch", file, NULL };
	run_rcshim(&r, &s, NULL, a1);
	ck_assert_exited(&r, 2);
	ck_assert_msg(cli_contains(r.err, "did you mean 'HIGH'?") &&
			      cli_contains(r.err, "--priority hihg"), "%s", r.err);
	ck_assert_msg(!strchr(r.err, '\n') || !strchr(r.err, '\n')[1], "more than a line: %s",
		      r.err);
	ck_assert_msg(!t_exists(file), "the program ran");
	t_run_free(&r);

	/* Near misses in other options and in a list; a far miss gets no
	 * guess. */
	const char *a2[] = { "run", "--tmp-owner", "Sesion", "--", "touch", file, NULL };
	run_rcshim(&r, &s, NULL, a2);
	ck_assert_exited(&r, 2);
	ck_assert_msg(cli_contains(r.err, "did you mean 'session'?"), "%s", r.err);
	t_run_free(&r);
	const char *a3[] = { "run", "--track", "temp,sqlit", "--", "touch", file, NULL };
	run_rcshim(&r, &s, NULL, a3);
	ck_assert_exited(&r, 2);
	ck_assert_msg(cli_contains(r.err, "'sqlit' -> 'sqlite'"), "%s", r.err);
	t_run_free(&r);
	const char *a4[] = { "run", "--log", "verbose", "--", "touch", file, NULL };
	run_rcshim(&r, &s, NULL, a4);
	ck_assert_exited(&r, 2);
	ck_assert_msg(!cli_contains(r.err, "did you mean"), "%s", r.err);
	t_run_free(&r);
	const char *a5[] = { "run", "--priority=", "--", "touch", file, NULL };
	run_rcshim(&r, &s, NULL, a5);
	ck_assert_exited(&r, 2);
	ck_assert_msg(cli_contains(r.err, "--priority needs a value"), "%s", r.err);
	t_run_free(&r);
	ck_assert_msg(!t_exists(file), "the program ran");

	/* --report into a missing directory: the launcher's error. */
	const char *a6[] = { "run", "--report", "/nonexistent/dir/r.txt", "--", "touch", file,
			     NULL };
	run_rcshim(&r, &s, NULL, a6);
	ck_assert_exited(&r, 2);
	ck_assert_msg(cli_contains(r.err, "--report /nonexistent/dir/r.txt") &&
			      cli_contains(r.err, "directory does not exist"), "%s", r.err);
	ck_assert_msg(!t_exists(file), "the program ran");
	t_run_free(&r);

	/* The same in the environment: a warning, and the run goes on. */
	const char *env[] = { "RCSHIM_REPORT=/nonexistent/dir/r.txt", NULL };
	const char *a7[] = { "run", "-q", "--", "touch", file, NULL };
	run_rcshim(&r, &s, env, a7);
	ck_assert_exited(&r, 0);
	ck_assert_msg(cli_contains(r.err, "report not written to /nonexistent/dir/r.txt"), "%s",
		      r.err);
	ck_assert_msg(t_exists(file), "the program did not run");
	t_run_free(&r);

	/* clean says the same about a priority. */
	const char *c1[] = { "clean", "--priority", "critcal", "1", NULL };
	run_rcshim(&r, &s, NULL, c1);
	ck_assert_exited(&r, 2);
	ck_assert_msg(cli_contains(r.err, "did you mean 'CRITICAL'?"), "%s", r.err);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* --version: the version, the library run preloads, the optional parts. */
START_TEST(version_names_the_library_and_parts)
{
	struct cli_scratch s;
	struct rc_run r;

	cli_scratch_init(&s);
	const char *a[] = { "--version", NULL };
	run_rcshim(&r, &s, NULL, a);
	ck_assert_exited(&r, 0);
	ck_assert_msg(!strncmp(r.out, "rcshim " RCSHIM_VERSION "\n", strlen(RCSHIM_VERSION) + 8),
		      "%s", r.out);
	char real[PATH_MAX];
	ck_assert_ptr_nonnull(realpath(getenv("RCSHIM_TEST_LIB"), real));
	char want[PATH_MAX + 32];
	snprintf(want, sizeof(want), "\nlibrary: %s", real);
	ck_assert_msg(cli_contains(r.out, want), "no %s in:\n%s", want + 1, r.out);
	static const char *const parts[] = { "symbolization (libdw): ", "(libunwind): built in",
					     "SQLite support: built in",
					     "CUDA support: built in" };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		ck_assert_msg(cli_contains(r.out, parts[i]), "no '%s' in:\n%s", parts[i], r.out);
	}
	ck_assert_str_eq(r.err, "");
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* Malformed usage: a clear message, status 2, nothing run, no crash. */
START_TEST(usage_errors)
{
	struct cli_scratch s;
	struct rc_run r;
	static const struct {
		const char *args[8];
		const char *says;
	} cases[] = {
		{ { NULL }, "no command given" },
		{ { "frobnicate", NULL }, "unknown command 'frobnicate'" },
		{ { "--frob", NULL }, "unknown option '--frob'" },
		{ { "run", NULL }, "missing CMD" },
		{ { "run", "--", NULL }, "missing CMD" },
		{ { "run", "-q", "--", NULL }, "missing CMD" },
		{ { "run", "--bogus", "--", "true", NULL }, "unknown or ambiguous option '--bogus'" },
		{ { "run", "-x", "true", NULL }, "unknown option '-x'" },
		{ { "run", "--priority", NULL }, "option '--priority' needs an argument (P)" },
		{ { "run", "--quiet=yes", "true", NULL }, "'--quiet=yes'" },
		{ { "clean", NULL }, "missing PID" },
		{ { "clean", "abc", NULL }, "'abc' is not a process id" },
		{ { "clean", "-5", NULL }, "unknown option '-5'" },
		{ { "clean", "1", "2", NULL }, "one PID only" },
		{ { "clean", "1", "--priority", "bogus", NULL }, "not a priority" },
		{ { "clean", "1", "--priority", NULL }, "needs an argument" },
		{ { "report", NULL }, "missing PID" },
		{ { "report", "1", "--timeout", "x", NULL }, "not a number of seconds" },
		{ { "report", "1", "--wait", NULL }, "unknown option '--wait'" },
	};

	cli_scratch_init(&s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_rcshim(&r, &s, NULL, cases[i].args);
		ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2,
			      "case %zu: %s; stderr: %s", i, t_status_str(r.status), r.err);
		ck_assert_msg(cli_contains(r.err, cases[i].says), "case %zu: stderr: %s", i,
			      r.err);
		/* A bad value is one line that says what is accepted; the
		 * others point to --help. */
		if (strcmp(cases[i].says, "not a priority") != 0) {
			ck_assert_msg(cli_contains(r.err, "rcshim --help"), "case %zu: %s", i,
				      r.err);
		}
		ck_assert_msg(!*r.out, "case %zu: stdout: %s", i, r.out);
		t_run_free(&r);
	}
	cli_scratch_fini(&s);
}
END_TEST

/* CMD that cannot run: 127 not found, 126 not executable, as env(1). */
START_TEST(exec_errors)
{
	struct cli_scratch s;
	struct rc_run r;
	char noexec[700];

	cli_scratch_init(&s);
	const char *a1[] = { "run", "--", "/nonexistent/program", NULL };
	run_rcshim(&r, &s, NULL, a1);
	ck_assert_exited(&r, 127);
	ck_assert_str_eq(r.err, "rcshim: cannot run /nonexistent/program: No such file or "
				"directory\n");
	t_run_free(&r);

	const char *a2[] = { "run", "--", "no-such-command-anywhere", NULL };
	run_rcshim(&r, &s, NULL, a2);
	ck_assert_exited(&r, 127);
	t_run_free(&r);

	snprintf(noexec, sizeof(noexec), "%s/noexec", s.dir);
	t_write_file(noexec, "#!/bin/sh\necho hi\n");
	chmod(noexec, 0600);
	const char *a3[] = { "run", "--", noexec, NULL };
	run_rcshim(&r, &s, NULL, a3);
	ck_assert_exited(&r, 126);
	ck_assert_msg(cli_contains(r.err, "Permission denied"), "%s", r.err);
	t_run_free(&r);

	/* The library cannot be found: the launcher's own failure. */
	const char *env[] = { "RCSHIM_LIB=/nonexistent/librcshim.so.0", NULL };
	const char *a4[] = { "run", "--", "true", NULL };
	run_rcshim(&r, &s, env, a4);
	ck_assert_exited(&r, 125);
	ck_assert_msg(cli_contains(r.err, "RCSHIM_LIB=/nonexistent/librcshim.so.0 cannot be "
					  "preloaded"), "%s", r.err);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* A static program: a warning, it runs all the same, and what its dynamic
 * children leave behind is still reclaimed. */
START_TEST(static_program_warns_and_still_cleans)
{
	struct cli_scratch s;
	struct rc_run r;
	char f[700], script[1024];
	const char *stat_prog = getenv("RCSHIM_TEST_STATIC");

	if (!stat_prog || !*stat_prog) {
		fprintf(stderr, "no static linking here: test not run\n");
		return;
	}
	cli_scratch_init(&s);
	snprintf(f, sizeof(f), "%s/F", s.dir);
	snprintf(script, sizeof(script), "d=$(mktemp -d); echo \"$d\" > '%s'; kill -KILL $$", f);
	const char *args[] = { "run", "--", stat_prog, "run", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 128 + SIGKILL);
	ck_assert_str_eq(r.out, "static ok\n");
	char want[1200];
	snprintf(want, sizeof(want), "rcshim: warning: %s is statically linked: there is no "
				     "dynamic loader to preload the shim; running it anyway, "
				     "but what it does itself is not tracked\n", stat_prog);
	ck_assert_msg(cli_contains(r.err, want), "stderr: %s", r.err);
	char *d = cli_first_line(f);
	ck_assert_msg(d[0] && !t_exists(d), "'%s' is still there", d);
	free(d);
	t_run_free(&r);

	/* A script whose interpreter is static, directly and through env. */
	char script_path[700], text[2048];
	snprintf(script_path, sizeof(script_path), "%s/script", s.dir);
	snprintf(text, sizeof(text), "#!%s\n", stat_prog);
	t_write_file(script_path, text);
	chmod(script_path, 0700);
	const char *a2[] = { "run", "-q", "--", script_path, NULL };
	run_rcshim(&r, &s, NULL, a2);
	ck_assert_exited(&r, 0);
	snprintf(want, sizeof(want), "rcshim: warning: %s runs %s, which is statically linked",
		 script_path, stat_prog);
	ck_assert_msg(cli_contains(r.err, want), "stderr: %s", r.err);
	t_run_free(&r);

	char dir[700], path_env[5000];
	snprintf(dir, sizeof(dir), "%s", stat_prog);
	*strrchr(dir, '/') = '\0';
	char *old_path = strdup(getenv("PATH"));
	snprintf(path_env, sizeof(path_env), "%s:%s", dir, old_path);
	snprintf(text, sizeof(text), "#!/usr/bin/env %s\n", strrchr(stat_prog, '/') + 1);
	t_write_file(script_path, text);
	setenv("PATH", path_env, 1);
	run_rcshim(&r, &s, NULL, a2);
	setenv("PATH", old_path, 1);
	free(old_path);
	ck_assert_exited(&r, 0);
	snprintf(want, sizeof(want), "rcshim: warning: %s runs %s, which is statically linked",
		 script_path, stat_prog);
	ck_assert_msg(cli_contains(r.err, want), "stderr: %s", r.err);
	t_run_free(&r);

	/* A dynamic script interpreter: no warning. */
	t_write_file(script_path, "#!/bin/sh\nexit 0\n");
	run_rcshim(&r, &s, NULL, a2);
	ck_assert_exited(&r, 0);
	ck_assert_str_eq(r.err, "");
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* A set-user-ID program that changes the user: the loader runs it in
 * secure mode and ignores LD_PRELOAD.  Needs root to make one. */
START_TEST(setuid_program_warns)
{
	struct cli_scratch s;
	struct rc_run r;
	char prog[700], want[1200];

	if (geteuid() != 0) {
		/* Checked on a setuid program of the system instead. */
		char why[512];
		const char *sys[] = { "/usr/bin/passwd", "/bin/su", "/usr/bin/mount", NULL };
		for (const char **p = sys; *p; p++) {
			struct stat st;
			if (stat(*p, &st) == 0 && (st.st_mode & S_ISUID) && st.st_uid != getuid()) {
				ck_assert(cli_check_preloadable(*p, cli_lib(), NULL, why,
								sizeof(why)));
				ck_assert_str_eq(why, "is set-user-ID: the dynamic loader ignores "
						      "LD_PRELOAD in it");
				return;
			}
		}
		fprintf(stderr, "not root and no setuid program: test not run\n");
		return;
	}
	cli_scratch_init(&s);
	/* Others must reach the copy: the build tree may be private. */
	chmod(s.dir, 0755);
	snprintf(prog, sizeof(prog), "%s/echo-suid", s.dir);
	struct rc_run cp;
	const char *cpargs[] = { "cp", "/bin/echo", prog, NULL };
	t_run(&cp, false, NULL, NULL, cpargs);
	ck_assert_int_eq(cp.status, 0);
	t_run_free(&cp);
	ck_assert_int_eq(chown(prog, 65534, 65534), 0);
	ck_assert_int_eq(chmod(prog, 04755), 0);
	const char *args[] = { "run", "-q", "--", prog, "hello", NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	ck_assert_str_eq(r.out, "hello\n");
	snprintf(want, sizeof(want), "rcshim: warning: %s is set-user-ID: the dynamic loader "
				     "ignores LD_PRELOAD in it; running it anyway, but what it "
				     "does itself is not tracked\n", prog);
	ck_assert_str_eq(r.err, want);
	t_run_free(&r);

	/* Owned by the one who runs it, the bit changes nothing: no warning. */
	ck_assert_int_eq(chown(prog, 0, 0), 0);
	ck_assert_int_eq(chmod(prog, 04755), 0);
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	ck_assert_str_eq(r.err, "");
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* --quiet: no summary; the program's own stderr is untouched. */
START_TEST(quiet_has_no_summary)
{
	struct cli_scratch s;
	struct rc_run r;

	cli_scratch_init(&s);
	const char *args[] = { "run", "--quiet", "--", "sh", "-c", "echo out; echo err >&2; "
			       "mktemp -d >/dev/null", NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	ck_assert_str_eq(r.out, "out\n");
	ck_assert_str_eq(r.err, "err\n");
	t_run_free(&r);

	const char *a2[] = { "run", "--", "sh", "-c", "echo err >&2", NULL };
	run_rcshim(&r, &s, NULL, a2);
	ck_assert_exited(&r, 0);
	const char *want = "err\nrcshim: sh exited with status 0\n"
			   "rcshim: after it ended: no temp files or directories were left behind by the processes it tracked\n";
	ck_assert_msg(!strncmp(r.err, want, strlen(want)),
		      "stderr: %s", r.err);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* A file size limit (`ulimit -f`, as a sandbox sets): the files every
 * process of a session appends to (the journal, the launcher's shared
 * report file) pass it in time, and a write past it raises SIGXFSZ, which
 * kills by default.  No process is killed: every mktemp and true exits 0,
 * the program's status is its own; the journal's temp files that fit are
 * removed after the end, and the user's file in the temp root keeps its
 * bytes. */
START_TEST(file_size_limit_kills_nothing)
{
	struct cli_scratch s;
	struct rc_run r;
	char keep[800];
	static const char script[] =
		"ulimit -f 4\n"
		"i=0\n"
		"while [ $i -lt 40 ]; do\n"
		"  f=$(mktemp) || echo \"mktemp $?\"\n"
		"  /bin/true || echo \"true $?\"\n"
		"  i=$((i + 1))\n"
		"done\n"
		"echo done\n"
		"exit 5\n";

	cli_scratch_init(&s);
	snprintf(keep, sizeof(keep), "%s/keep.txt", s.tmp);
	t_write_file(keep, "the user's\n");
	const char *args[] = { "run", "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 5);
	ck_assert_str_eq(r.out, "done\n");
	ck_assert_msg(cli_contains(r.err, "rcshim: after it ended: removed "), "%s", r.err);
	cli_assert_file_is(keep, "the user's\n");
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* A crash of the launcher after the program ended (a bug in the report,
 * the summary or the metrics; RCSHIM_INTERNAL_FAULT=report makes one):
 * one line says so, and the launcher still ends as the program did, its
 * exit code or its signal.  The cleanup ran before: the program's temp
 * dir is gone, its file outside the temp root keeps its bytes. */
START_TEST(crash_in_the_report_keeps_the_status)
{
	struct cli_scratch s;
	struct rc_run r;
	char keep[800], where[800], script[2000];
	const char *fault[] = { "RCSHIM_INTERNAL_FAULT=report", NULL };
	const char *line = "rcshim: internal error: SIGSEGV while gathering the run's report "
			   "(a bug in rcshim); the report may be incomplete; the program's exit "
			   "status is kept\n";

	cli_scratch_init(&s);
	snprintf(keep, sizeof(keep), "%s/kept.txt", s.dir);
	snprintf(where, sizeof(where), "%s/where.txt", s.dir);
	snprintf(script, sizeof(script),
		 "d=$(mktemp -d) && echo \"$d\" > '%s' && echo data > \"$d/f\" && "
		 "echo kept > '%s' && exit 7",
		 where, keep);
	const char *a0[] = { "run", "--", "sh", "-c", script, NULL };
	run_rcshim_as(&r, &s, fault, a0);
	ck_assert_exited(&r, 7);
	ck_assert_msg(strstr(r.err, line), "stderr: %s", r.err);
	char *d = t_read_file(where);
	d[strcspn(d, "\n")] = '\0';
	ck_assert_msg(strncmp(d, s.tmp, strlen(s.tmp)) == 0, "temp dir %s", d);
	ck_assert_msg(!t_exists(d), "%s is still there", d);
	free(d);
	char *k = t_read_file(keep);
	ck_assert_str_eq(k, "kept\n");
	free(k);
	t_run_free(&r);

	/* Killed by a signal: the launcher ends by the same one. */
	const char *a1[] = { "run", "--", "sh", "-c", "kill -TERM $$", NULL };
	run_rcshim_as(&r, &s, fault, a1);
	ck_assert_killed_by(r.status, SIGTERM);
	ck_assert_msg(strstr(r.err, line), "stderr: %s", r.err);
	t_run_free(&r);

	/* Status 0 stays 0. */
	const char *a2[] = { "run", "--", "true", NULL };
	run_rcshim_as(&r, &s, fault, a2);
	ck_assert_exited(&r, 0);
	t_run_free(&r);

	/* Without the fault: no such line (run_rcshim checks every run). */
	run_rcshim(&r, &s, NULL, a0);
	ck_assert_exited(&r, 7);
	ck_assert_msg(!strstr(r.err, "internal error"), "stderr: %s", r.err);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

TEST_SUITE(cli_run)
{
	ADD_TEST(s, sigkill_temp_dir_is_removed);
	ADD_TEST(s, exit_status_passes_through);
	ADD_TEST(s, crash_in_the_report_keeps_the_status);
	ADD_TEST(s, file_size_limit_kills_nothing);
	ADD_TEST(s, waits_for_background_descendant);
	ADD_TEST(s, renamed_out_of_the_temp_root_is_kept);
	ADD_TEST(s, swapped_for_a_symlink_is_left_alone);
	ADD_TEST(s, process_mode_journal_of_a_killed_process);
	ADD_TEST(s, child_environment);
	ADD_TEST(s, nested_launchers_pass_sigkill_through);
	ADD_TEST(s, options_set_the_variables);
	ADD_TEST(s, bad_value_reported_once);
	ADD_TEST(s, mistakes_stop_before_the_run);
	ADD_TEST(s, version_names_the_library_and_parts);
	ADD_TEST(s, usage_errors);
	ADD_TEST(s, exec_errors);
	ADD_TEST(s, static_program_warns_and_still_cleans);
	ADD_TEST(s, setuid_program_warns);
	ADD_TEST(s, quiet_has_no_summary);
}
