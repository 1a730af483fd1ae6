#include "build-config.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "test.h"

START_TEST(temp_dir_swapped_for_symlink_leaves_target_alone)
{
	struct scratch s;
	struct rc_run shim;
	char outside[600], keep[700], tracked[512], moved[512];
	const char *env[] = { s.env_tmpdir, NULL };

	scratch_init(&s);
	snprintf(outside, sizeof(outside), "%s/outside", s.dir);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	snprintf(keep, sizeof(keep), "%s/precious.txt", outside);
	t_write_file(keep, "keep me");

	const char *argv[] = { t_victim("victim-symlink-swap"), outside, NULL };
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(shim.status, 0);
	nth_line(shim.out, 0, tracked, sizeof(tracked));
	nth_line(shim.out, 1, moved, sizeof(moved));

	char *content = t_read_file(keep);
	ck_assert_ptr_nonnull(content);
	ck_assert_str_eq(content, "keep me");
	free(content);
	struct stat st;
	ck_assert_int_eq(stat(outside, &st), 0);
	/* The symlink now at the tracked name is not what was created. */
	ck_assert_int_eq(lstat(tracked, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* Same through a termination signal (the journal replayed in the handler's
 * async-signal-safe path). */
START_TEST(swapped_dir_left_alone_on_sigterm)
{
	struct scratch s;
	struct rc_run shim;
	char outside[600], keep[700], script[2048];
	const char *env[] = { s.env_tmpdir, NULL };

	scratch_init(&s);
	snprintf(outside, sizeof(outside), "%s/outside", s.dir);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	snprintf(keep, sizeof(keep), "%s/precious.txt", outside);
	t_write_file(keep, "keep me");
	snprintf(script, sizeof(script),
		 "import ctypes, os, signal, tempfile\n"
		 "libc = ctypes.CDLL(None, use_errno=True)\n"
		 "d = tempfile.mkdtemp()\n"
		 "libc.syscall(82, d.encode(), (d + '.moved').encode())\n" /* SYS_rename */
		 "os.symlink('%s', d)\n"
		 "os.kill(os.getpid(), signal.SIGTERM)\n",
		 outside);
	const char *argv[] = { "python3", "-c", script, NULL };
	t_run(&shim, true, env, NULL, argv);
	ck_assert_killed_by(shim.status, SIGTERM);
	char *content = t_read_file(keep);
	ck_assert_ptr_nonnull(content);
	ck_assert_str_eq(content, "keep me");
	free(content);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

TEST_SUITE(symlink)
{
	ADD_TEST(s, temp_dir_swapped_for_symlink_leaves_target_alone);
	ADD_TEST(s, swapped_dir_left_alone_on_sigterm);
}
