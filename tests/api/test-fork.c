/* Fork right after the shim's first tracked call, 200 times a mode: the
 * child must never hang (tests/api/fork-alloc.c).  The hang this catches
 * came in about one run in twelve under AddressSanitizer. */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define RUNS 200

/* Runs the program once; its exit status, or -1 when it had not ended
 * after a minute (then killed). */
static int
run_once(const char *prog, const char *mode)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl(prog, prog, mode, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 6000; i++) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	/* Hung: the child (the program's fork) too. */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void
runs(const char *mode)
{
	const char *prog = getenv("RCSHIM_TEST_FORK_ALLOC");
	ck_assert_msg(prog, "RCSHIM_TEST_FORK_ALLOC is not set (run through meson test)");
	for (int i = 0; i < RUNS; i++) {
		int rc = run_once(prog, mode);
		ck_assert_msg(rc == 0, "run %d of %s %s: %s %d", i, prog, mode,
			      rc < 0 ? "hung" : "exit status", rc);
	}
}

START_TEST(fork_after_open_never_hangs)
{
	runs("open");
}
END_TEST

START_TEST(fork_after_the_thread_started_never_hangs)
{
	runs("cleaner");
}
END_TEST

TEST_SUITE(api_fork)
{
	TCase *tc = tcase_create("fork");
	/* 200 runs, each of which may wait a minute before it counts as
	 * hung. */
	tcase_set_timeout(tc, 3600);
	tcase_add_test(tc, fork_after_open_never_hangs);
	tcase_add_test(tc, fork_after_the_thread_started_never_hangs);
	suite_add_tcase(s, tc);
}
