#include "build-config.h"

#include <sys/stat.h>

#include "common.h"
#include "test.h"

static const char kill_self[] =
	"import os, signal, sys, tempfile\n"
	"d = tempfile.mkdtemp()\n"
	"open(os.path.join(d, 'data'), 'w').write('x' * 1000)\n"
	"f = tempfile.NamedTemporaryFile(delete=False)\n"
	"f.write(b'hello'); f.flush()\n"
	"print(d); print(f.name); sys.stdout.flush()\n"
	"os.kill(os.getpid(), signal.SIGTERM)\n"
	"print('not reached')\n";

START_TEST(python_sigterm_removes_mkdtemp_and_named_tempfile)
{
	struct scratch s;
	struct rc_run bare, shim;
	char d[512], f[512];
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { "python3", "-c", kill_self, NULL };

	scratch_init(&s);
	t_run(&bare, false, env, NULL, argv);
	ck_assert_killed_by(bare.status, SIGTERM);
	/* Without the shim both are left behind. */
	ck_assert(t_exists(nth_line(bare.out, 0, d, sizeof(d))));
	ck_assert(t_exists(nth_line(bare.out, 1, f, sizeof(f))));

	t_run(&shim, true, env, NULL, argv);
	ck_assert_status_eq(shim.status, bare.status);
	nth_line(shim.out, 0, d, sizeof(d));
	nth_line(shim.out, 1, f, sizeof(f));
	ck_assert_str_ne(d, "");
	ck_assert_str_ne(f, "");
	ck_assert_msg(!t_exists(d), "%s survived (stderr: %s)", d, shim.err);
	ck_assert_msg(!t_exists(f), "%s survived (stderr: %s)", f, shim.err);
	ck_assert_ptr_null(strstr(shim.out, "not reached"));
	ck_assert_str_eq(shim.err, "");
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

START_TEST(python_normal_exit_keeps_status_and_removes_temps)
{
	struct scratch s;
	struct rc_run bare, shim;
	char d[512];
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { "python3", "-c",
			       "import tempfile, sys\n"
			       "d = tempfile.mkdtemp(); print(d)\n"
			       "sys.exit(3)\n",
			       NULL };

	scratch_init(&s);
	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_status_eq(shim.status, bare.status);
	ck_assert(WIFEXITED(shim.status) && WEXITSTATUS(shim.status) == 3);
	ck_assert(t_exists(nth_line(bare.out, 0, d, sizeof(d))));
	ck_assert_msg(!t_exists(nth_line(shim.out, 0, d, sizeof(d))), "%s survived", d);
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

START_TEST(python_files_outside_temp_roots_are_untouched)
{
	struct scratch s;
	struct rc_run shim;
	char keep[600], script[2048];
	/* The roots named explicitly: the scratch dir may itself lie under
	 * /tmp (a clone checked out there). */
	const char *env[] = { s.env_tmpdir, s.env_roots, NULL };

	scratch_init(&s);
	snprintf(keep, sizeof(keep), "%s/kept", s.dir);
	snprintf(script, sizeof(script),
		 "import os\n"
		 "os.mkdir('%s')\n"
		 "open('%s/result.txt', 'x').write('precious')\n",
		 keep, keep);
	const char *argv[] = { "python3", "-c", script, NULL };
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(shim.status, 0);
	char path[700];
	snprintf(path, sizeof(path), "%s/result.txt", keep);
	char *content = t_read_file(path);
	ck_assert_ptr_nonnull(content);
	ck_assert_str_eq(content, "precious");
	free(content);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

TEST_SUITE(python)
{
	ADD_TEST(s, python_sigterm_removes_mkdtemp_and_named_tempfile);
	ADD_TEST(s, python_normal_exit_keeps_status_and_removes_temps);
	ADD_TEST(s, python_files_outside_temp_roots_are_untouched);
}
