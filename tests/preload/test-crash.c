#include "build-config.h"

#include <sys/resource.h>

#include "common.h"
#include "test.h"

static void
no_core_files(void)
{
	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_CORE, &rl);
}

START_TEST(segv_removes_temp_dir_and_still_dies_of_segv)
{
	struct scratch s;
	struct rc_run bare, shim;
	char d[512];
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { t_victim("victim-segv"), NULL };

	no_core_files();
	scratch_init(&s);
	t_run(&bare, false, env, NULL, argv);
	ck_assert_killed_by(bare.status, SIGSEGV);
	ck_assert(t_exists(nth_line(bare.out, 0, d, sizeof(d))));

	t_run(&shim, true, env, NULL, argv);
	ck_assert_killed_by(shim.status, SIGSEGV);
	ck_assert_status_eq(shim.status, bare.status);
	nth_line(shim.out, 0, d, sizeof(d));
	ck_assert_str_ne(d, "");
	ck_assert_msg(!t_exists(d), "%s survived the crash", d);
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

START_TEST(abort_removes_temp_dir_and_still_dies_of_sigabrt)
{
	struct scratch s;
	struct rc_run shim;
	char d[512];
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { "python3", "-c",
			       "import os, sys, tempfile\n"
			       "d = tempfile.mkdtemp(); print(d); sys.stdout.flush()\n"
			       "os.abort()\n",
			       NULL };

	no_core_files();
	scratch_init(&s);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_killed_by(shim.status, SIGABRT);
	ck_assert_msg(!t_exists(nth_line(shim.out, 0, d, sizeof(d))), "%s survived", d);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* SIGSEGV sent by another process (not a fault) is re-raised too. */
START_TEST(segv_sent_by_kill_is_reraised)
{
	struct scratch s;
	struct rc_run shim;
	char d[512];
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { "python3", "-c",
			       "import os, signal, sys, tempfile\n"
			       "d = tempfile.mkdtemp(); print(d); sys.stdout.flush()\n"
			       "os.kill(os.getpid(), signal.SIGSEGV)\n"
			       "print('not reached')\n",
			       NULL };

	no_core_files();
	scratch_init(&s);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_killed_by(shim.status, SIGSEGV);
	ck_assert_ptr_null(strstr(shim.out, "not reached"));
	ck_assert(!t_exists(nth_line(shim.out, 0, d, sizeof(d))));
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

TEST_SUITE(crash)
{
	ADD_TEST(s, segv_removes_temp_dir_and_still_dies_of_segv);
	ADD_TEST(s, abort_removes_temp_dir_and_still_dies_of_sigabrt);
	ADD_TEST(s, segv_sent_by_kill_is_reraised);
}
