/* rcshim clean PID and rcshim report PID against running python3
 * programs under the launcher. */
#include "build-config.h"

#include <ctype.h>

#include "common.h"
#include "test.h"

/* Makes a temp dir, says "<pid> <dir>" in argv[1], and runs until argv[2]
 * exists.  With a third argument it handles the live signal itself. */
static const char waiter[] =
	"import os, signal, sys, tempfile, time\n"
	"if len(sys.argv) > 3: signal.signal(signal.SIGUSR1, lambda s, f: None)\n"
	"d = tempfile.mkdtemp()\n"
	"open(sys.argv[1] + '.tmp', 'w').write('%d %s\\n' % (os.getpid(), d))\n"
	"os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
	"end = time.time() + 60\n"
	"while not os.path.exists(sys.argv[2]) and time.time() < end: time.sleep(0.02)\n";

struct prog {
	struct cli_scratch s;
	char ready[700], go[700], dir[600];
	pid_t launcher;
	int pid; /* python's */
};

static void
prog_start(struct prog *p, const char *const *opts, bool own_handler)
{
	const char *args[32] = { "run" };
	size_t k = 1;

	cli_scratch_init(&p->s);
	snprintf(p->ready, sizeof(p->ready), "%s/ready", p->s.dir);
	snprintf(p->go, sizeof(p->go), "%s/go", p->s.dir);
	for (const char *const *o = opts; o && *o; o++) {
		args[k++] = *o;
	}
	args[k++] = "--";
	args[k++] = "python3";
	args[k++] = "-c";
	args[k++] = waiter;
	args[k++] = p->ready;
	args[k++] = p->go;
	if (own_handler) {
		args[k++] = "own";
	}
	args[k] = NULL;
	p->launcher = spawn_rcshim(&p->s, "run", NULL, args);
	char *c = cli_wait_file(p->ready, 60);
	ck_assert_msg(c, "the program did not start");
	ck_assert_int_eq(sscanf(c, "%d %599s", &p->pid, p->dir), 2);
	free(c);
}

/* Lets the program end; returns the launcher's status. */
static int
prog_finish(struct prog *p)
{
	t_write_file(p->go, "go");
	return cli_wait(p->launcher, 60);
}

static void
prog_free(struct prog *p)
{
	cli_scratch_fini(&p->s);
}

static bool
gone_within(const char *path, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (!t_exists(path)) {
			return true;
		}
		usleep(10000);
	}
	return !t_exists(path);
}

/* A line of @text with every word of @words in it. */
static bool
has_line_with(const char *text, const char *const *words)
{
	for (const char *p = text; p && *p;) {
		const char *end = strchr(p, '\n');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *line = strndup(p, n);
		bool all = true;
		for (const char *const *w = words; *w; w++) {
			all &= strcasestr(line, *w) != NULL;
		}
		free(line);
		if (all) {
			return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* The example: a live cleanup asked for from outside, seen in the
 * process's report (and in the run's report at the end). */
START_TEST(clean_then_report_a_running_python)
{
	struct prog p;
	struct rc_run r;
	char pid[32];
	static const char *const live_critical[] = { "live", "CRITICAL", NULL };

	/* The temp dir is python's own (not the session's, which no single
	 * process may remove): CRITICAL removes it while python runs. */
	const char *opts[] = { "--tmp-owner", "process", NULL };
	prog_start(&p, opts, false);
	snprintf(pid, sizeof(pid), "%d", p.pid);

	const char *rep[] = { "report", pid, NULL };
	run_rcshim(&r, &p.s, NULL, rep);
	ck_assert_exited(&r, 0);
	ck_assert_msg(cli_contains(r.out, pid), "the report does not name pid %s: %s", pid, r.out);
	ck_assert_msg(!has_line_with(r.out, live_critical), "a live cleanup before any: %s",
		      r.out);
	t_run_free(&r);
	ck_assert_msg(t_exists(p.dir), "%s went before the cleanup", p.dir);

	const char *cl[] = { "clean", pid, "--priority", "critical", NULL };
	run_rcshim(&r, &p.s, NULL, cl);
	ck_assert_exited(&r, 0);
	/* The result, as the process reports it: the temp dir removed. */
	char head[128];
	snprintf(head, sizeof(head), "process %s: live cleanup at CRITICAL ran (ok)", pid);
	ck_assert_msg(!strncmp(r.out, head, strlen(head)), "%s", r.out);
	ck_assert_msg(cli_contains(r.out, "\n  temp: removed 1"), "%s", r.out);
	ck_assert_msg(!cli_contains(r.out, "left alone: "), "%s", r.out);
	ck_assert_str_eq(r.err, "");
	t_run_free(&r);
	/* CRITICAL is destructive: the temp dir goes while python runs (and
	 * was gone when the result came). */
	ck_assert_msg(!t_exists(p.dir), "%s is still there", p.dir);

	run_rcshim(&r, &p.s, NULL, rep);
	ck_assert_exited(&r, 0);
	ck_assert_msg(has_line_with(r.out, live_critical),
		      "the report does not show the live CRITICAL cleanup:\n%s", r.out);
	t_run_free(&r);

	int st = prog_finish(&p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", t_status_str(st));
	/* The launcher's report of the run has it too. */
	char errf[800];
	snprintf(errf, sizeof(errf), "%s/run.err", p.s.dir);
	char *err = t_read_file(errf);
	const char *at = err ? strstr(err, "rcshim: report (") : NULL;
	ck_assert_msg(at, "no report named: %s", err);
	char path[1024] = "";
	sscanf(strstr(at, "): ") + 3, "%1023[^\n]", path);
	char *merged = t_read_file(path);
	ck_assert_msg(merged && has_line_with(merged, live_critical), "%s: %s", path,
		      merged ? merged : "(none)");
	free(merged);
	free(err);
	prog_free(&p);
}
END_TEST

/* RCSHIM_SIGNAL and RCSHIM_SIGNAL_PRIORITY are read from the process:
 * with --signal USR2 a SIGUSR1 would kill it; without --priority the
 * process's own signal priority applies. */
START_TEST(clean_uses_the_process_settings)
{
	struct prog p;
	struct rc_run r;
	char pid[32];

	const char *opts[] = { "--signal", "USR2", "--signal-priority", "CRITICAL", "--tmp-owner",
			       "process", NULL };
	prog_start(&p, opts, false);
	snprintf(pid, sizeof(pid), "%d", p.pid);
	const char *cl[] = { "clean", pid, NULL };
	run_rcshim(&r, &p.s, NULL, cl);
	ck_assert_exited(&r, 0);
	t_run_free(&r);
	ck_assert_msg(gone_within(p.dir, 10000), "%s is still there", p.dir);
	int st = prog_finish(&p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", t_status_str(st));
	prog_free(&p);
}
END_TEST

/* A LOW request changes nothing for a fresh temp dir: the priority given
 * is the one used. */
START_TEST(clean_low_keeps_the_temp_dir)
{
	struct prog p;
	struct rc_run r;
	char pid[32];

	prog_start(&p, NULL, false);
	snprintf(pid, sizeof(pid), "%d", p.pid);
	const char *cl[] = { "clean", "--priority", "LOW", pid, NULL };
	run_rcshim(&r, &p.s, NULL, cl);
	ck_assert_exited(&r, 0);
	t_run_free(&r);
	const char *rep[] = { "report", pid, NULL };
	run_rcshim(&r, &p.s, NULL, rep);
	ck_assert_exited(&r, 0);
	static const char *const live_low[] = { "live", "LOW", NULL };
	ck_assert_msg(has_line_with(r.out, live_low), "%s", r.out);
	t_run_free(&r);
	ck_assert_msg(t_exists(p.dir), "LOW removed %s", p.dir);
	int st = prog_finish(&p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", t_status_str(st));
	ck_assert_msg(!t_exists(p.dir), "%s was left behind", p.dir);
	prog_free(&p);
}
END_TEST

/* Holds a temp dir (the session's) and an open file in it; says "<pid>
 * <dir>" in argv[1] and runs until argv[2] exists. */
static const char holder[] =
	"import os, sys, tempfile, time\n"
	"d = tempfile.mkdtemp()\n"
	"f = open(os.path.join(d, 'data'), 'w')\n"
	"open(sys.argv[1] + '.tmp', 'w').write('%d %s\\n' % (os.getpid(), d))\n"
	"os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
	"end = time.time() + 60\n"
	"while not os.path.exists(sys.argv[2]) and time.time() < end: time.sleep(0.02)\n"
	"f.write('still open'); f.close()\n";

/* The case: `rcshim clean PID` on a program under the launcher
 * prints what the cleanup did and what it left alone, and why: the temp
 * dir belongs to the session, which the launcher ends. */
START_TEST(clean_prints_the_result)
{
	struct cli_scratch s;
	struct rc_run r;
	char ready[700], go[700], dir[600], pid[32];
	int ipid;

	cli_scratch_init(&s);
	snprintf(ready, sizeof(ready), "%s/ready", s.dir);
	snprintf(go, sizeof(go), "%s/go", s.dir);
	const char *args[] = { "run", "--", "python3", "-c", holder, ready, go, NULL };
	pid_t launcher = spawn_rcshim(&s, "run", NULL, args);
	char *c = cli_wait_file(ready, 60);
	ck_assert_msg(c, "the program did not start");
	ck_assert_int_eq(sscanf(c, "%d %599s", &ipid, dir), 2);
	free(c);
	snprintf(pid, sizeof(pid), "%d", ipid);

	for (int round = 0; round < 2; round++) {
		const char *cl[] = { "clean", pid, "--priority", round ? "critical" : "medium",
				     NULL };
		run_rcshim(&r, &s, NULL, cl);
		ck_assert_exited(&r, 0);
		char head[128];
		snprintf(head, sizeof(head), "process %s: live cleanup at %s ran (", pid,
			 round ? "CRITICAL" : "MEDIUM");
		ck_assert_msg(!strncmp(r.out, head, strlen(head)), "%s", r.out);
		ck_assert_msg(cli_contains(r.out, "\nleft alone: 1 temp file or directory, owned "
						  "by the session"), "%s", r.out);
		char line[700];
		snprintf(line, sizeof(line), "\n  %s\n", dir);
		ck_assert_msg(cli_contains(r.out, line), "no %s in:\n%s", dir, r.out);
		ck_assert_str_eq(r.err, "");
		t_run_free(&r);
		ck_assert_msg(t_exists(dir), "a live cleanup removed the session's %s", dir);
	}

	/* --no-wait: sent, and back at once, with nothing to say. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	const char *nw[] = { "clean", "--no-wait", pid, NULL };
	run_rcshim(&r, &s, NULL, nw);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_exited(&r, 0);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "");
	t_run_free(&r);
	double took = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* Under memcheck rcshim's own start and exit (a leak scan of a
	 * binary that links libdw) take seconds on a loaded machine: the
	 * bound is scaled as the test timeouts are (CK_TIMEOUT_MULTIPLIER). */
	double bound = getenv("RCSHIM_TEST_VALGRIND") ? 20 : 2;
	ck_assert_msg(took < bound, "--no-wait took %.2f s", took);

	t_write_file(go, "go");
	int st = cli_wait(launcher, 60);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", t_status_str(st));
	/* The launcher removed it at the end, as the result said. */
	ck_assert_msg(!t_exists(dir), "%s was left behind", dir);
	/* No answer file stays in the journal directory. */
	cli_scratch_fini(&s);
}
END_TEST

/* The live trigger is lost (the program handles SIGUSR1 itself): clean
 * says it got no answer, status 3, after its --timeout. */
START_TEST(clean_without_an_answer)
{
	struct prog p;
	struct rc_run r;
	char pid[32];

	prog_start(&p, NULL, true);
	snprintf(pid, sizeof(pid), "%d", p.pid);
	const char *cl[] = { "clean", pid, "--timeout", "0.5", NULL };
	run_rcshim(&r, &p.s, NULL, cl);
	ck_assert_exited(&r, 3);
	ck_assert_msg(cli_contains(r.err, "no answer from process") &&
			      cli_contains(r.err, "after 0.5 s"), "%s", r.err);
	ck_assert_str_eq(r.out, "");
	t_run_free(&r);
	int st = prog_finish(&p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", t_status_str(st));
	prog_free(&p);
}
END_TEST

START_TEST(clean_refuses_without_a_live_trigger)
{
	struct prog p;
	struct rc_run r;
	char pid[32];

	const char *opts[] = { "--signal", "none", NULL };
	prog_start(&p, opts, false);
	snprintf(pid, sizeof(pid), "%d", p.pid);
	const char *cl[] = { "clean", pid, NULL };
	run_rcshim(&r, &p.s, NULL, cl);
	ck_assert_exited(&r, 1);
	char want[128];
	snprintf(want, sizeof(want), "rcshim: process %s has no live trigger (RCSHIM_SIGNAL=none)\n",
		 pid);
	ck_assert_str_eq(r.err, want);
	t_run_free(&r);
	const char *rep[] = { "report", pid, NULL };
	run_rcshim(&r, &p.s, NULL, rep);
	ck_assert_exited(&r, 1);
	t_run_free(&r);
	int st = prog_finish(&p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", t_status_str(st));
	prog_free(&p);
}
END_TEST

/* A process without the shim is not signalled: SIGUSR1 would kill it. */
START_TEST(clean_refuses_a_process_without_the_shim)
{
	struct cli_scratch s;
	struct rc_run r;
	char pid[32];

	cli_scratch_init(&s);
	pid_t sl = fork();
	ck_assert_int_ge(sl, 0);
	if (sl == 0) {
		signal(SIGUSR1, SIG_DFL);
		execlp("sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	/* Until it is sleep, not this test's copy. */
	for (int i = 0; i < 500; i++) {
		char path[64], comm[32] = "";
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)sl);
		FILE *f = fopen(path, "r");
		if (f) {
			if (!fgets(comm, sizeof(comm), f)) {
				comm[0] = '\0';
			}
			fclose(f);
		}
		if (!strcmp(comm, "sleep\n")) {
			break;
		}
		usleep(10000);
	}
	snprintf(pid, sizeof(pid), "%d", (int)sl);
	const char *cl[] = { "clean", pid, NULL };
	run_rcshim(&r, &s, NULL, cl);
	ck_assert_exited(&r, 1);
	ck_assert_msg(cli_contains(r.err, "does not run the shim"), "%s", r.err);
	t_run_free(&r);
	const char *rep[] = { "report", pid, NULL };
	run_rcshim(&r, &s, NULL, rep);
	ck_assert_exited(&r, 1);
	t_run_free(&r);
	int st;
	ck_assert_int_eq(waitpid(sl, &st, WNOHANG), 0); /* still alive */
	kill(sl, SIGKILL);
	waitpid(sl, &st, 0);

	const char *none[] = { "clean", "2000000000", NULL }; /* above any pid_max */
	run_rcshim(&r, &s, NULL, none);
	ck_assert_exited(&r, 1);
	ck_assert_str_eq(r.err, "rcshim: no process 2000000000\n");
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* The program handles SIGUSR1 itself: the trigger is lost, and `rcshim
 * report` says so after its timeout instead of waiting forever. */
START_TEST(report_times_out_when_the_trigger_is_lost)
{
	struct prog p;
	struct rc_run r;
	char pid[32];

	prog_start(&p, NULL, true);
	snprintf(pid, sizeof(pid), "%d", p.pid);
	const char *rep[] = { "report", pid, "--timeout", "0.5", NULL };
	run_rcshim(&r, &p.s, NULL, rep);
	ck_assert_exited(&r, 1);
	ck_assert_msg(cli_contains(r.err, "no report from process") &&
			      cli_contains(r.err, "after 0.5 s"), "%s", r.err);
	ck_assert_str_eq(r.out, "");
	t_run_free(&r);
	int st = prog_finish(&p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", t_status_str(st));
	prog_free(&p);
}
END_TEST

TEST_SUITE(cli_remote)
{
	ADD_TEST(s, clean_then_report_a_running_python);
	ADD_TEST(s, clean_uses_the_process_settings);
	ADD_TEST(s, clean_low_keeps_the_temp_dir);
	ADD_TEST(s, clean_prints_the_result);
	ADD_TEST(s, clean_without_an_answer);
	ADD_TEST(s, clean_refuses_without_a_live_trigger);
	ADD_TEST(s, clean_refuses_a_process_without_the_shim);
	ADD_TEST(s, report_times_out_when_the_trigger_is_lost);
}
