#include "build-config.h"

#include "common.h"
#include "test.h"

/* mktemp runs in a child process and exits at once: its directory belongs
 * to the session and must survive until the shell itself ends. */
static void
check_shell(const char *shell)
{
	struct scratch s;
	struct rc_run bare, shim;
	char d[512];
	const char *env[] = { s.env_tmpdir, NULL };
	const char *script = "d=$(mktemp -d); touch \"$d/f\"; test -f \"$d/f\" && echo \"$d\"";
	const char *argv[] = { shell, "-c", script, NULL };

	scratch_init(&s);
	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_status_eq(shim.status, bare.status);
	ck_assert_int_eq(shim.status, 0);
	nth_line(shim.out, 0, d, sizeof(d));
	/* The script printed the dir only if it and its file existed while
	 * it ran, after mktemp had exited. */
	ck_assert_msg(strncmp(d, s.tmp, strlen(s.tmp)) == 0, "script output: '%s' err '%s'",
		      shim.out, shim.err);
	ck_assert_msg(!t_exists(d), "%s survived the shell", d);
	ck_assert(t_exists(nth_line(bare.out, 0, d, sizeof(d))));
	ck_assert_str_eq(shim.err, "");
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}

START_TEST(dash_mktemp_dir_lives_with_the_session)
{
	check_shell("/bin/sh");
}
END_TEST

START_TEST(bash_mktemp_dir_lives_with_the_session)
{
	check_shell("bash");
}
END_TEST

START_TEST(pipeline_output_is_unchanged)
{
	struct scratch s;
	struct rc_run bare, shim;
	const char *env[] = { s.env_tmpdir, NULL };
	const char *script =
		"f=$(mktemp); seq 1 2000 > \"$f\"; exec 3<\"$f\"; read -r first <&3; exec 3<&-;"
		" sort -rn \"$f\" | head -3; echo first=$first; wc -l < \"$f\"; rm \"$f\";"
		" test -e \"$f\" || echo removed";
	const char *argv[] = { "/bin/sh", "-c", script, NULL };

	scratch_init(&s);
	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_str_eq(shim.out, bare.out);
	ck_assert_str_eq(shim.out, "2000\n1999\n1998\nfirst=1\n2000\nremoved\n");
	ck_assert_status_eq(shim.status, bare.status);
	ck_assert_str_eq(shim.err, "");
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

TEST_SUITE(shell)
{
	ADD_TEST(s, dash_mktemp_dir_lives_with_the_session);
	ADD_TEST(s, bash_mktemp_dir_lives_with_the_session);
	ADD_TEST(s, pipeline_output_is_unchanged);
}
