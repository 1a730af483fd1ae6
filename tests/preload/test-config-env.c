#include "build-config.h"

#include "common.h"
#include "test.h"

static const char script[] = "d=$(mktemp -d); echo hello; ls \"$d\" | wc -l; exit 3";

static void
run_with(const char *const *env, struct rc_run *bare, struct rc_run *shim)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	t_run(bare, false, env, NULL, argv);
	t_run(shim, true, env, NULL, argv);
	ck_assert_str_eq(shim->out, bare->out);
	ck_assert_str_eq(shim->out, "hello\n0\n");
	ck_assert_status_eq(shim->status, bare->status);
	ck_assert(WIFEXITED(shim->status) && WEXITSTATUS(shim->status) == 3);
}

START_TEST(invalid_priority_one_line_and_default)
{
	struct scratch s;
	struct rc_run bare, shim;
	scratch_init(&s);
	const char *env[] = { s.env_tmpdir, "RCSHIM_PRIORITY=bogus", NULL };
	run_with(env, &bare, &shim);
	/* One line for the one bad value, from the session root only (not
	 * again from mktemp, ls, wc). */
	ck_assert_msg(count_lines(shim.err) == 1, "stderr:\n%s", shim.err);
	ck_assert_int_eq(count_lines_with(shim.err, "RCSHIM_PRIORITY=bogus"), 1);
	ck_assert_ptr_nonnull(strstr(shim.err, "MEDIUM"));
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

START_TEST(several_invalid_values_one_line_each)
{
	struct scratch s;
	struct rc_run bare, shim;
	scratch_init(&s);
	const char *env[] = { s.env_tmpdir, "RCSHIM_PRIORITY=bogus", "RCSHIM_TMP_ROOTS=",
			      "RCSHIM_SIGNAL=KILL", "RCSHIM_INTERVAL=-1",
			      "RCSHIM_REPORT_FORMAT=xml", "RCSHIM_TRACK=temp,bogus", NULL };
	run_with(env, &bare, &shim);
	int lines = count_lines(shim.err);
	ck_assert_msg(lines == 6, "expected 6 lines, got:\n%s", shim.err);
	ck_assert_int_eq(count_lines_with(shim.err, "RCSHIM_PRIORITY=bogus"), 1);
	ck_assert_int_eq(count_lines_with(shim.err, "RCSHIM_TMP_ROOTS="), 1);
	ck_assert_int_eq(count_lines_with(shim.err, "RCSHIM_SIGNAL=KILL"), 1);
	ck_assert_int_eq(count_lines_with(shim.err, "RCSHIM_INTERVAL=-1"), 1);
	ck_assert_int_eq(count_lines_with(shim.err, "RCSHIM_REPORT_FORMAT=xml"), 1);
	ck_assert_int_eq(count_lines_with(shim.err, "RCSHIM_TRACK=temp,bogus"), 1);
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

START_TEST(valid_and_unset_variables_are_silent)
{
	struct scratch s;
	struct rc_run bare, shim;
	scratch_init(&s);
	const char *env[] = { s.env_tmpdir, "RCSHIM_PRIORITY=high", "RCSHIM_SIGNAL=none",
			      "RCSHIM_TRACK=temp,fd,sqlite", NULL };
	run_with(env, &bare, &shim);
	ck_assert_str_eq(shim.err, "");
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

START_TEST(track_without_temp_leaves_temps)
{
	struct scratch s;
	struct rc_run shim;
	char d[512];
	scratch_init(&s);
	const char *env[] = { s.env_tmpdir, "RCSHIM_TRACK=fd,sqlite", NULL };
	const char *argv[] = { "/bin/sh", "-c", "mktemp -d", NULL };
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(shim.status, 0);
	ck_assert(t_exists(nth_line(shim.out, 0, d, sizeof(d))));
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

START_TEST(log_quiet_silences_config_warnings)
{
	struct scratch s;
	struct rc_run bare, shim;
	scratch_init(&s);
	const char *env[] = { s.env_tmpdir, "RCSHIM_PRIORITY=bogus", "RCSHIM_LOG=quiet", NULL };
	run_with(env, &bare, &shim);
	ck_assert_str_eq(shim.err, "");
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

TEST_SUITE(config_env)
{
	ADD_TEST(s, invalid_priority_one_line_and_default);
	ADD_TEST(s, several_invalid_values_one_line_each);
	ADD_TEST(s, valid_and_unset_variables_are_silent);
	ADD_TEST(s, track_without_temp_leaves_temps);
	ADD_TEST(s, log_quiet_silences_config_warnings);
}
