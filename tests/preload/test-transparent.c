/* The shim is transparent to the program (DESIGN §4): one thread only where
 * needed, forks that never inherit its locks, vfork children that change
 * nothing in their parent, no fd taken from the program. */
#include "build-config.h"

#include <signal.h>
#include <unistd.h>

#include "common.h"
#include "test.h"

/* Python's subprocess children are vfork children, which reset every
 * signal handler to the default before exec: through the shim's sigaction,
 * that once made the shim believe it held SIGTERM in the parent, which
 * then dropped the parent's own sigaction(SIGTERM, SIG_DFL) and lived on
 * after SIGTERM ("Signal 15 ignored", exit status 0). */
START_TEST(vfork_child_leaves_parent_signals_alone)
{
	struct scratch s;
	struct rc_run bare, shim;
	static const char script[] =
		"import os, signal, subprocess\n"
		"signal.signal(signal.SIGTERM, lambda s, f: None)\n"
		"subprocess.run(['/bin/true'], check=True)\n"
		"signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
		"os.kill(os.getpid(), signal.SIGTERM)\n"
		"print('alive')\n";

	scratch_init(&s);
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { "python3", "-c", script, NULL };
	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_killed_by(bare.status, SIGTERM);
	ck_assert_msg(WIFSIGNALED(shim.status) && WTERMSIG(shim.status) == SIGTERM,
		      "under the shim: %s, out: %s, err: %s", t_status_str(shim.status), shim.out,
		      shim.err);
	ck_assert_str_eq(shim.out, "");
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* A vfork child's close is its own: the parent's fd stays tracked, and its
 * scope's end still closes it. */
START_TEST(vfork_child_close_leaves_parent_fd_tracked)
{
	struct scratch s;
	struct rc_run shim;

	scratch_init(&s);
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { t_victim("victim-vfork-close"), NULL };
	t_run(&shim, true, env, NULL, argv);
	ck_assert_msg(shim.status == 0, "%s: %s", t_status_str(shim.status), shim.err);
	ck_assert_str_eq(shim.out, "closed 1\n");
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* With stdin closed, a program's next open gets fd 0, also after the shim
 * loaded libunwind (which would keep a pipe open for good), and its list
 * of open fds is the one it has bare. */
START_TEST(stdin_closed_next_open_gets_fd_0)
{
	struct scratch s;
	struct rc_run bare, shim;

	scratch_init(&s);
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { t_victim("victim-stdin-closed"), NULL };
	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_msg(strncmp(bare.out, "0\n", 2) == 0, "%s", bare.out);
	ck_assert_msg(shim.status == 0, "%s: %s", t_status_str(shim.status), shim.err);
	ck_assert_str_eq(shim.out, bare.out);
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* A process holding only temp artifacts and fds has no thread of the
 * shim's. */
START_TEST(temp_and_fds_only_one_thread)
{
	struct scratch s;
	struct rc_run shim;

	scratch_init(&s);
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { t_victim("victim-temp-only"), NULL };
	t_run(&shim, true, env, NULL, argv);
	ck_assert_msg(shim.status == 0, "%s: %s", t_status_str(shim.status), shim.err);
	ck_assert_str_eq(shim.out, "threads 1\n");
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* A 5 ms SIGALRM handler that forks, while the program makes and removes a
 * temp dir in a loop: a fork that interrupted the shim inside its registry
 * lock must not wait for it.  The program ends, as it does bare. */
START_TEST(fork_from_handler_inside_the_shim_ends)
{
	struct scratch s;
	struct rc_run bare, shim;

	scratch_init(&s);
	const char *forks = getenv("RCSHIM_TEST_VALGRIND") ? "20" : "300";
	const char *env[] = { s.env_tmpdir, s.env_roots, NULL };
	const char *argv[] = { t_victim("victim-alarm-fork"), forks, NULL };
	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_msg(bare.status == 0, "bare: %s", t_status_str(bare.status));
	ck_assert_msg(shim.status == 0, "%s: %s", t_status_str(shim.status), shim.err);
	ck_assert_str_eq(bare.out, "failed 0\n");
	ck_assert_str_eq(shim.out, bare.out);
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* A fork from inside the shim's own work (here a cleaner, which the engine
 * runs holding its lock): the child runs with tracking off, its exit does
 * nothing, and the parent's report says so. */
START_TEST(fork_inside_a_cleaner_child_untracked)
{
	struct scratch s;
	struct rc_run shim;
	char report[700], env_report[800];

	scratch_init(&s);
	snprintf(report, sizeof(report), "%s/report.txt", s.dir);
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", report);
	const char *env[] = { s.env_tmpdir, s.env_roots, env_report, NULL };
	const char *argv[] = { t_victim("victim-fork-in-cleaner"), NULL };
	t_run(&shim, true, env, NULL, argv);
	ck_assert_msg(shim.status == 0, "%s: %s", t_status_str(shim.status), shim.err);
	ck_assert_str_eq(shim.out, "child 0, cleaned 1\n");
	char *text = t_read_file(report);
	ck_assert_msg(text, "no report at %s", report);
	ck_assert_msg(strstr(text, "1 fork child was made inside the shim's own work") &&
			      strstr(text, "tracking was off in it"), "%s", text);
	/* One report: the child wrote none. */
	ck_assert_int_eq(count_lines_with(text, "== rcshim report: pid"), 1);
	free(text);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* Waits up to 60 s for @path to exist. */
static bool
wait_for(const char *path)
{
	for (int i = 0; i < 3000; i++) {
		if (t_exists(path)) {
			return true;
		}
		usleep(20000);
	}
	return false;
}

/* `rcshim report PID` of a process without the shim's thread: the handler
 * writes the report itself (async-signal-safe), naming the function that
 * made the temp dir, and the process is still single-threaded after. */
START_TEST(report_of_a_process_without_the_thread)
{
	struct scratch s;
	char ready[700], go[800], rcshim[4200];

	scratch_init(&s);
	snprintf(ready, sizeof(ready), "%s/ready", s.dir);
	snprintf(go, sizeof(go), "%s.go", ready);
	snprintf(rcshim, sizeof(rcshim), "%s/src/rcshim", getenv("RCSHIM_TEST_BUILDDIR"));
	int out[2];
	ck_assert_int_eq(pipe(out), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		setenv("LD_PRELOAD", t_preload(), 1);
		setenv("TMPDIR", s.tmp, 1);
		setenv("RCSHIM_TMP_ROOTS", s.tmp, 1);
		signal(SIGUSR1, SIG_DFL);
		execl(t_victim("victim-temp-only"), "victim-temp-only", "wait", ready, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	ck_assert_msg(wait_for(ready), "the program did not start");
	char *c = t_read_file(ready);
	int vpid = 0;
	ck_assert_int_eq(sscanf(c, "%d", &vpid), 1);
	free(c);
	char pidarg[32];
	snprintf(pidarg, sizeof(pidarg), "%d", vpid);

	struct rc_run rep;
	const char *argv[] = { rcshim, "report", pidarg, "--timeout", "30", NULL };
	t_run(&rep, false, NULL, NULL, argv);
	ck_assert_msg(rep.status == 0, "%s: %s", t_status_str(rep.status), rep.err);
	ck_assert_msg(strstr(rep.out, pidarg), "%s", rep.out);
	ck_assert_msg(strstr(rep.out, "make_the_scratch_dir"), "%s", rep.out);
	t_run_free(&rep);

	/* A live cleanup too, with the heap trim it asks for at MEDIUM. */
	const char *clean[] = { rcshim, "clean", pidarg, "--priority", "medium", NULL };
	t_run(&rep, false, NULL, NULL, clean);
	ck_assert_msg(rep.status == 0, "%s: %s", t_status_str(rep.status), rep.err);
	t_run_free(&rep);

	t_write_file(go, "go");
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", t_status_str(st));
	char text[256] = "";
	ssize_t n = read(out[0], text, sizeof(text) - 1);
	close(out[0]);
	text[n > 0 ? n : 0] = '\0';
	ck_assert_str_eq(text, "threads 1\nthreads 1\n");
	scratch_fini(&s);
}
END_TEST

TEST_SUITE(transparent)
{
	ADD_TEST(s, vfork_child_leaves_parent_signals_alone);
	ADD_TEST(s, vfork_child_close_leaves_parent_fd_tracked);
	ADD_TEST(s, stdin_closed_next_open_gets_fd_0);
	ADD_TEST(s, temp_and_fds_only_one_thread);
	ADD_TEST(s, fork_from_handler_inside_the_shim_ends);
	ADD_TEST(s, fork_inside_a_cleaner_child_untracked);
	ADD_TEST(s, report_of_a_process_without_the_thread);
}
