#include "build-config.h"

#include "common.h"
#include "test.h"

START_TEST(forked_child_exit_keeps_parent_temps)
{
	struct scratch s;
	struct rc_run shim;
	char d[512], f[512];
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { t_victim("victim-fork"), NULL };

	scratch_init(&s);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(shim.status, 0);
	ck_assert_str_eq(nth_line(shim.out, 2, d, sizeof(d)), "intact");
	/* ... and the parent's own exit reclaims them. */
	ck_assert(!t_exists(nth_line(shim.out, 0, d, sizeof(d))));
	ck_assert(!t_exists(nth_line(shim.out, 1, f, sizeof(f))));
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* The same in process mode, and with Python's os.fork + sys.exit. */
START_TEST(python_forked_child_exit_keeps_parent_temps_process_mode)
{
	struct scratch s;
	struct rc_run shim;
	const char *env[] = { s.env_tmpdir, "RCSHIM_TMP_OWNER=process", NULL };
	const char *argv[] = { "python3", "-c",
			       "import os, sys, tempfile\n"
			       "d = tempfile.mkdtemp()\n"
			       "pid = os.fork()\n"
			       "if pid == 0:\n"
			       "    c = tempfile.mkdtemp()\n"
			       "    open(os.path.join(d, 'child-made'), 'w').write(c)\n"
			       "    sys.exit(0)\n"
			       "os.waitpid(pid, 0)\n"
			       "c = open(os.path.join(d, 'child-made')).read()\n"
			       "print(os.path.isdir(d), os.path.exists(c))\n",
			       NULL };

	scratch_init(&s);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(shim.status, 0);
	/* Parent's dir intact; the child's own dir reclaimed at its exit. */
	ck_assert_str_eq(shim.out, "True False\n");
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* A child that went through no fork handler (_Fork, vfork, a raw clone)
 * and ends with exit(): the shim decides by the kernel's pid that it owns
 * nothing, and changes nothing of the parent's (issue 12).  In both modes. */
static void
nohandler_child(const char *how, bool process_mode)
{
	struct scratch s;
	struct rc_run shim;
	char d[512], verdict[32];
	const char *env[] = { s.env_tmpdir, process_mode ? "RCSHIM_TMP_OWNER=process" : NULL,
			      NULL };
	const char *argv[] = { t_victim("victim-nohandler-child"), how, NULL };

	scratch_init(&s);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_msg(shim.status == 0, "%s: %s; stderr: %s", how, t_status_str(shim.status),
		      shim.err);
	ck_assert_msg(!strcmp(nth_line(shim.out, 1, verdict, sizeof(verdict)), "intact"),
		      "%s%s: the parent's temp dir went with the child", how,
		      process_mode ? " (process mode)" : "");
	/* The parent's own end still removes it: its state was not changed.
	 * Not after vfork: exit() in a vfork child runs, and so consumes,
	 * the exit handlers the two share in memory (glibc's _dl_fini among
	 * them): the parent's destructors never run, with or without the
	 * shim (the launcher's replay is what removes it then). */
	nth_line(shim.out, 0, d, sizeof(d));
	if (strcmp(how, "vfork") != 0) {
		ck_assert_msg(!t_exists(d), "%s: %s left", how, d);
	} else {
		rmdir(d);
	}
	t_run_free(&shim);
	scratch_fini(&s);
}

START_TEST(nohandler_children_own_nothing)
{
	const char *hows[] = { "_Fork", "vfork", "clone" };
	for (int pm = 0; pm < 2; pm++) {
		for (size_t i = 0; i < 3; i++) {
			nohandler_child(hows[i], pm);
		}
	}
}
END_TEST

TEST_SUITE(fork)
{
	ADD_TEST(s, nohandler_children_own_nothing);
	ADD_TEST(s, forked_child_exit_keeps_parent_temps);
	ADD_TEST(s, python_forked_child_exit_keeps_parent_temps_process_mode);
}
