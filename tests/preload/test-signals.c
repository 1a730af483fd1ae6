#include "build-config.h"

#include "common.h"
#include "test.h"

START_TEST(own_sigterm_handler_keeps_its_behaviour)
{
	struct scratch s;
	struct rc_run bare, shim;
	char d[512];
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { t_victim("victim-sigterm-handler"), "query", NULL };

	scratch_init(&s);
	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert(WIFEXITED(bare.status) && WEXITSTATUS(bare.status) == 42);
	ck_assert_status_eq(shim.status, bare.status);
	/* The program saw the default disposition before, and as the old
	 * action: the shim's handler is invisible. */
	ck_assert_str_eq(nth_line(shim.out, 0, d, sizeof(d)), "before: default");
	ck_assert_str_eq(nth_line(shim.out, 1, d, sizeof(d)), "old: default");
	ck_assert_str_eq(nth_line(shim.out, 3, d, sizeof(d)), "handler ran");
	/* exit(42) from the handler is a normal exit: temps go. */
	ck_assert(!t_exists(nth_line(shim.out, 2, d, sizeof(d))));
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* Python installs its SIGINT handler only over the default disposition:
 * KeyboardInterrupt must still happen under the shim. */
START_TEST(python_keyboard_interrupt_still_works)
{
	struct scratch s;
	struct rc_run bare, shim;
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { "python3", "-c",
			       "import os, signal, time\n"
			       "print(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)\n"
			       "try:\n"
			       "    os.kill(os.getpid(), signal.SIGINT); time.sleep(5)\n"
			       "except KeyboardInterrupt:\n"
			       "    print('caught')\n",
			       NULL };

	scratch_init(&s);
	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_str_eq(bare.out, "True\ncaught\n");
	ck_assert_str_eq(shim.out, bare.out);
	ck_assert_status_eq(shim.status, bare.status);
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* An ignored SIGTERM stays ignored. */
START_TEST(ignored_sigterm_stays_ignored)
{
	struct scratch s;
	struct rc_run shim;
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { "python3", "-c",
			       "import os, signal\n"
			       "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
			       "os.kill(os.getpid(), signal.SIGTERM)\n"
			       "print('alive')\n",
			       NULL };

	scratch_init(&s);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(shim.status, 0);
	ck_assert_str_eq(shim.out, "alive\n");
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* Signals ignored across exec (as nohup and a shell's `trap ''` leave
 * them) stay ignored: the shim installs its handlers in one call each,
 * with every signal blocked, and puts an ignored disposition back before
 * a signal can come through.  The inner shell starts under the shim with
 * SIGHUP and SIGTERM ignored, sends both to itself, and lives; its own
 * view (`trap`) is that they are ignored. */
START_TEST(signals_ignored_across_exec_stay_ignored)
{
	struct scratch s;
	struct rc_run bare, shim;
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { "sh", "-c",
			       "trap '' HUP TERM; exec sh -c "
			       "'kill -HUP $$; kill -TERM $$; trap; echo alive'",
			       NULL };

	scratch_init(&s);
	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(bare.status, 0);
	ck_assert_ptr_nonnull(strstr(bare.out, "alive\n"));
	ck_assert_status_eq(shim.status, bare.status);
	ck_assert_str_eq(shim.out, bare.out);
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* A handler set and then reset to SIG_DFL: the signal kills as default,
 * and the shim has taken it back up (the temp dir goes). */
START_TEST(handler_reset_to_default_still_cleans)
{
	struct scratch s;
	struct rc_run shim;
	char d[512];
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { "python3", "-c",
			       "import os, signal, sys, tempfile\n"
			       "signal.signal(signal.SIGHUP, lambda *a: None)\n"
			       "signal.signal(signal.SIGHUP, signal.SIG_DFL)\n"
			       "d = tempfile.mkdtemp(); print(d); sys.stdout.flush()\n"
			       "os.kill(os.getpid(), signal.SIGHUP)\n",
			       NULL };

	scratch_init(&s);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_killed_by(shim.status, SIGHUP);
	ck_assert(!t_exists(nth_line(shim.out, 0, d, sizeof(d))));
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

TEST_SUITE(signals)
{
	ADD_TEST(s, own_sigterm_handler_keeps_its_behaviour);
	ADD_TEST(s, python_keyboard_interrupt_still_works);
	ADD_TEST(s, ignored_sigterm_stays_ignored);
	ADD_TEST(s, signals_ignored_across_exec_stay_ignored);
	ADD_TEST(s, handler_reset_to_default_still_cleans);
}
