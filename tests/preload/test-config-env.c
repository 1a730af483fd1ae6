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

/* The session root exports its id to its descendants once, in place of a
 * value that is not a session id, and leaves every other variable. */
START_TEST(session_variable_exported_once)
{
	const char *argv[] = { "/bin/sh", "-c",
			       "env | grep -c '^RCSHIM_SESSION='; env | grep '^MARK_'; env | wc -l",
			       NULL };
	const char *fresh[] = { "MARK_A=1", "MARK_B=two words", NULL };
	const char *bogus[] = { "MARK_A=1", "RCSHIM_SESSION=bogus", "MARK_B=two words", NULL };
	struct rc_run bare, shim;
	char line[64];

	t_run(&bare, false, fresh, NULL, argv);
	t_run(&shim, true, fresh, NULL, argv);
	ck_assert_str_eq(nth_line(shim.out, 0, line, sizeof(line)), "1");
	ck_assert_str_eq(nth_line(shim.out, 1, line, sizeof(line)), "MARK_A=1");
	ck_assert_str_eq(nth_line(shim.out, 2, line, sizeof(line)), "MARK_B=two words");
	/* Every variable the bare run had, plus LD_PRELOAD and the id
	 * (memcheck, which runs the shell in the valgrind setup, adds its
	 * own). */
	bool exact = !getenv("RCSHIM_TEST_VALGRIND");
	long n_bare = strtol(nth_line(bare.out, 3, line, sizeof(line)), NULL, 10);
	long n_shim = strtol(nth_line(shim.out, 3, line, sizeof(line)), NULL, 10);
	if (exact) {
		ck_assert_int_eq(n_shim, n_bare + 2);
	}
	ck_assert_str_eq(shim.err, "");
	t_run_free(&shim);

	t_run(&shim, true, bogus, NULL, argv);
	ck_assert_str_eq(nth_line(shim.out, 0, line, sizeof(line)), "1");
	ck_assert_int_eq(count_lines_with(shim.out, "bogus"), 0);
	if (exact) {
		ck_assert_int_eq(strtol(nth_line(shim.out, 3, line, sizeof(line)), NULL, 10),
				 n_bare + 2);
	}
	ck_assert_int_eq(count_lines_with(shim.err, "RCSHIM_SESSION=bogus"), 1);
	t_run_free(&bare);
	t_run_free(&shim);
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

/* A function in the program's .preinit_array runs before libc's and the
 * shim's initialisers, with environ still unset; AddressSanitizer's
 * __asan_init, which installs its handlers through the shim's sigaction,
 * is one.  The shim must not initialise from there: it would read no
 * settings and export its session variable into a fresh, empty
 * environment, which libc then kept when the shim's dlopen of libunwind
 * ran libc's initialiser (a launcher built with ASan started its children
 * with an empty environment).  The call itself must still work. */
START_TEST(preinit_sigaction_keeps_environment_and_settings)
{
	struct scratch s;
	struct rc_run bare, shim;
	char d[512];
	scratch_init(&s);
	/* No live signal, so no worker: the constructor opens libunwind
	 * itself (as in a sanitizer build, which defers the worker). */
	const char *env[] = { s.env_tmpdir, "VICTIM_MARKER=kept", "RCSHIM_PRIORITY=bogus",
			      "RCSHIM_SIGNAL=none", NULL };
	const char *argv[] = { t_victim("victim-preinit"), NULL };
	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(bare.status, 0);
	ck_assert_status_eq(shim.status, bare.status);
	/* Where a sanitizer runtime is preloaded before the shim (the ASan
	 * build), its interceptor answers that call, and fails it: it is not
	 * initialised yet (the same without the shim). */
	if (!strchr(t_preload(), ':')) {
		ck_assert_str_eq(nth_line(shim.out, 0, d, sizeof(d)), "preinit sigaction: 0");
		ck_assert_str_eq(nth_line(shim.out, 1, d, sizeof(d)), "handler kept: yes");
	}
	ck_assert_str_eq(nth_line(shim.out, 2, d, sizeof(d)), "marker: kept");
	ck_assert_str_eq(nth_line(shim.out, 3, d, sizeof(d)), "session: set");
	ck_assert_str_eq(nth_line(bare.out, 3, d, sizeof(d)), "session: unset");
	/* The settings were read: the bad value is reported, once. */
	ck_assert_msg(count_lines_with(shim.err, "RCSHIM_PRIORITY=bogus") == 1, "stderr:\n%s",
		      shim.err);
	/* And the shim tracks: the temp dir is gone at exit. */
	ck_assert(!t_exists(nth_line(shim.out, 4, d, sizeof(d))));
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
	ADD_TEST(s, session_variable_exported_once);
	ADD_TEST(s, track_without_temp_leaves_temps);
	ADD_TEST(s, log_quiet_silences_config_warnings);
	ADD_TEST(s, preinit_sigaction_keeps_environment_and_settings);
}
