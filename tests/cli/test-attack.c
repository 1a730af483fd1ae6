/* Attacks on the ownership model (issue 12), each with a second user: what
 * another user can plant or squat must never steer the cleanup into what
 * the victim keeps, nor change how the victim's programs run.
 *
 * The tests run as root (in CI) and make the second user with useradd;
 * where that is impossible the binary exits 77 (skipped) and says why.
 * The victim is root itself, with a HOME in the scratch tree.  Tests that
 * need namespaces (a private /tmp, PID namespaces) are added only where
 * unshare works, and the run says so otherwise. */
#include "build-config.h"

#include <stdarg.h>

#include "common.h"
#include "other-user.h"
#include "test.h"

static uid_t other_uid;
static gid_t other_gid;

static bool
sh_ok(const char *cmd)
{
	int st = system(cmd);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Before Check starts: root, a second user, or skip the whole binary. */
__attribute__((constructor)) static void
need_second_user(void)
{
	struct t_user u;
	char why[256];
	if (geteuid() != 0) {
		printf("skipped: the attacks act as a second user with setpriv, which needs root\n");
		exit(77);
	}
	if (!t_other_user(&u, why, sizeof(why))) {
		printf("skipped: %s\n", why);
		exit(77);
	}
	other_uid = u.uid;
	other_gid = u.gid;
}

/* A shell command, its output; fails the test unless it exits 0. */
static char *
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *
sh(const char *fmt, ...)
{
	char cmd[16384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	struct rc_run r;
	t_sh(&r, false, NULL, cmd);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "`%s`: %s\n%s", cmd,
		      t_status_str(r.status), r.err);
	free(r.err);
	return r.out;
}

/* What must come before the launcher on a shell line: in a sanitizer
 * build the programs it starts need the runtime first in LD_PRELOAD. */
static const char *
launcher_env(void)
{
	static char buf[4200];
	const char *rt = getenv("RCSHIM_TEST_ASAN_RT");
	snprintf(buf, sizeof(buf), rt && *rt ? "LD_PRELOAD='%s' " : "%s", rt && *rt ? rt : "");
	return buf;
}

/* A shared temp root like /tmp: sticky, writable by everyone. */
static void
shared_root(char *out, size_t n)
{
	snprintf(out, n, "/tmp/rcshim-attack-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(out));
	ck_assert_int_eq(chmod(out, 01777), 0);
}

static void
rm_rf(const char *path)
{
	free(sh("rm -rf '%s'", path));
}

static void
assert_content(const char *path, const char *want)
{
	char *c = t_read_file(path);
	ck_assert_msg(c, "%s is gone", path);
	ck_assert_msg(!strcmp(c, want), "%s holds '%s', not '%s'", path, c, want);
	free(c);
}

/* The first attack: a temp dir moved out of the root (seen by the
 * shim, or not), and another user plants a symlink at its old name. */
static void
moved_out_then_symlink(bool mv_seen)
{
	struct cli_scratch s;
	struct rc_run r;
	char root[64], env_tmp[128], env_roots[128], env_home[800], script[4096], runs[800];

	cli_scratch_init(&s);
	shared_root(root, sizeof(root));
	snprintf(runs, sizeof(runs), "%s/home/runs", s.dir);
	free(sh("mkdir -p '%s'", runs));
	snprintf(env_tmp, sizeof(env_tmp), "TMPDIR=%s", root);
	snprintf(env_roots, sizeof(env_roots), "RCSHIM_TMP_ROOTS=%s", root);
	snprintf(env_home, sizeof(env_home), "HOME=%s/home", s.dir);
	snprintf(script, sizeof(script),
		 "set -e; d=$(mktemp -d); mkdir \"$d/results\"; echo 42 > \"$d/results/r\"\n"
		 "%s mv \"$d\" '%s/r1'\n"
		 "setpriv --reuid=%u --regid=%u --clear-groups ln -s '%s/r1' \"$d\"\n"
		 "test -L \"$d\"\n",
		 mv_seen ? "" : "RCSHIM_TRACK=none", runs, (unsigned)other_uid,
		 (unsigned)other_gid, runs);
	const char *env[] = { env_tmp, env_roots, env_home, NULL };
	const char *args[] = { "run", "--", "sh", "-c", script, NULL };
	run_rcshim(&r, &s, env, args);
	ck_assert_exited(&r, 0);
	char p[1000];
	snprintf(p, sizeof(p), "%s/r1/results/r", runs);
	assert_content(p, "42\n");
	/* The planted link itself is the other user's: left too. */
	char *links = sh("find '%s' -type l | wc -l", root);
	ck_assert_str_eq(links, "1\n");
	free(links);
	if (!mv_seen) {
		ck_assert_msg(cli_contains(r.err, "left alone, the name now names something else"),
			      "stderr: %s", r.err);
	}
	t_run_free(&r);
	rm_rf(root);
	cli_scratch_fini(&s);
}

START_TEST(moved_out_seen_then_symlink)
{
	moved_out_then_symlink(true);
}
END_TEST

START_TEST(moved_out_unseen_then_symlink)
{
	moved_out_then_symlink(false);
}
END_TEST

/* TMPDIR reached through another user's symlink to the victim's home
 * (/tmp/a-tmp -> /home/a): not a root; the victim's work survives. */
START_TEST(tmpdir_through_another_users_symlink)
{
	struct cli_scratch s;
	struct rc_run r;
	char home[800], link[64], env_tmp[128], env_home[900];

	cli_scratch_init(&s);
	snprintf(home, sizeof(home), "%s/home", s.dir);
	free(sh("mkdir -p '%s'", home));
	snprintf(link, sizeof(link), "/tmp/rcshim-a-tmp-%d", (int)getpid());
	unlink(link);
	free(sh("setpriv --reuid=%u --regid=%u --clear-groups ln -s '%s' '%s'",
		(unsigned)other_uid, (unsigned)other_gid, home, link));
	snprintf(env_tmp, sizeof(env_tmp), "TMPDIR=%s", link);
	snprintf(env_home, sizeof(env_home), "HOME=%s", home);
	/* Only TMPDIR: the test's RCSHIM_TMP_ROOTS must not name a root. */
	const char *env[] = { env_tmp, env_home, "RCSHIM_TMP_ROOTS=", NULL };
	const char *args[] = { "run", "--", "sh", "-c",
			       "set -e; mkdir \"$TMPDIR/work\"; echo keep > \"$TMPDIR/work/f\"; "
			       "mktemp -d > /dev/null",
			       NULL };
	run_rcshim(&r, &s, env, args);
	ck_assert_exited(&r, 0);
	char p[1000];
	snprintf(p, sizeof(p), "%s/work/f", home);
	assert_content(p, "keep\n");
	ck_assert_msg(cli_contains(r.err, "reached through a symbolic link another user owns"),
		      "stderr: %s", r.err);
	/* ...said once, by the launcher, not by every process. */
	const char *first = strstr(r.err, "symbolic link another user owns");
	ck_assert_ptr_null(strstr(first + 1, "symbolic link another user owns"));
	unlink(link);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* RCSHIM_TMP_ROOTS naming the home, or an ancestor of it: dropped with one
 * line; mkdir and git clone there survive. */
START_TEST(home_as_a_root)
{
	struct cli_scratch s;
	char home[800], env_roots[900], env_home[900], script[2048];

	cli_scratch_init(&s);
	snprintf(home, sizeof(home), "%s/home", s.dir);
	free(sh("mkdir -p '%s' && cd '%s' && git init -q src && "
		"git -C src -c user.name=a -c user.email=a@b commit -q --allow-empty -m c1",
		home, s.dir));
	snprintf(env_home, sizeof(env_home), "HOME=%s", home);
	const char *roots[] = { home, s.dir };
	for (int i = 0; i < 2; i++) {
		struct rc_run r;
		snprintf(env_roots, sizeof(env_roots), "RCSHIM_TMP_ROOTS=%s", roots[i]);
		snprintf(script, sizeof(script),
			 "set -e; mkdir \"$HOME/work%d\"; git clone -q '%s/src' \"$HOME/proj%d\"", i,
			 s.dir, i);
		const char *env[] = { env_roots, env_home, NULL };
		const char *args[] = { "run", "--", "sh", "-c", script, NULL };
		run_rcshim(&r, &s, env, args);
		ck_assert_exited(&r, 0);
		ck_assert_msg(cli_contains(r.err, "is not used: it is the home directory or one of "
						  "its ancestors"),
			      "stderr: %s", r.err);
		char *log = sh("test -d '%s/work%d' && git -C '%s/proj%d' log --format=%%s", home, i,
			       home, i);
		ck_assert_str_eq(log, "c1\n");
		free(log);
		t_run_free(&r);
	}
	cli_scratch_fini(&s);
}
END_TEST

/* ---- with namespaces ---- */

/* Another user squats /tmp/rcshim-UID before the victim's first session
 * (in a private /tmp, so that the real one is not touched): the session
 * uses a fresh private directory, and `d=$(mktemp -d); echo > $d/f` works
 * as without the shim. */
START_TEST(squatted_journal_directory)
{
	char script[8192];
	snprintf(script, sizeof(script),
		 "set -e; mount --make-rprivate / 2>/dev/null || true\n"
		 "mount -t tmpfs tmpfs /tmp\n"
		 "setpriv --reuid=%u --regid=%u --clear-groups mkdir -m 0777 /tmp/rcshim-0\n"
		 "unset XDG_RUNTIME_DIR; export TMPDIR=/tmp RCSHIM_TMP_ROOTS=/tmp\n"
		 "out=$(LD_PRELOAD='%s' sh -c 'd=$(mktemp -d); echo hi > $d/f && cat $d/f') 2>/tmp/e1\n"
		 "test \"$out\" = hi\n"
		 "%s'%s' run -- sh -c 'd=$(mktemp -d); echo hi > $d/f && cat $d/f; echo $d > /tmp/D' "
		 "> /tmp/o2 2> /tmp/e2\n"
		 "test \"$(head -1 /tmp/o2)\" = hi\n"
		 "test ! -e \"$(cat /tmp/D)\"\n"
		 /* the squatter's directory: untouched, empty */
		 "test -z \"$(ls -A /tmp/rcshim-0)\"\n"
		 "test \"$(stat -c %%u /tmp/rcshim-0)\" = %u\n"
		 "grep -q 'is not a private directory of this user' /tmp/e2\n"
		 /* the fresh one is private */
		 "for d in /tmp/rcshim-0.*; do test \"$(stat -c %%a:%%u $d)\" = 700:0; done\n"
		 "echo ok\n",
		 (unsigned)other_uid, (unsigned)other_gid, t_preload(), launcher_env(), cli_rcshim(),
		 (unsigned)other_uid);
	struct rc_run r;
	const char *argv[] = { "unshare", "-m", "sh", "-c", script, NULL };
	t_run(&r, false, NULL, NULL, argv);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 &&
			      !strcmp(r.out, "ok\n"),
		      "%s\nout: %s\nerr: %s", t_status_str(r.status), r.out, r.err);
	t_run_free(&r);
}
END_TEST

/* Two containers (PID namespaces) sharing /tmp, started at once: the
 * launcher is pid 1 in each, with the same start time, and yet each has a
 * session of its own: the first to end removes none of the other's. */
START_TEST(containers_sharing_tmp)
{
	struct cli_scratch s;
	char root[64], a[6000], b[6000];

	cli_scratch_init(&s);
	shared_root(root, sizeof(root));
	snprintf(a, sizeof(a),
		 "TMPDIR=%s RCSHIM_TMP_ROOTS=%s XDG_RUNTIME_DIR=%s %sunshare -pf --mount-proc "
		 "'%s' run -q -- sh -c 'd=$(mktemp -d); echo $d > %s/A; sleep 2; "
		 "test -d $d && echo alive' > %s/A.out 2>&1 &\n",
		 root, root, s.run, launcher_env(), cli_rcshim(), s.dir, s.dir);
	snprintf(b, sizeof(b),
		 "TMPDIR=%s RCSHIM_TMP_ROOTS=%s XDG_RUNTIME_DIR=%s %sunshare -pf --mount-proc "
		 "'%s' run -q -- sh -c 'd=$(mktemp -d); echo $d > %s/B' &\n"
		 "wait\n",
		 root, root, s.run, launcher_env(), cli_rcshim(), s.dir);
	char *out = sh("%s%s cat '%s/A.out'", a, b, s.dir);
	ck_assert_msg(!strcmp(out, "alive\n"), "the first container's temp dir went: '%s'", out);
	free(out);
	char *dirs = sh("ls -A '%s'", root);
	ck_assert_msg(!strcmp(dirs, ""), "left in the root: %s", dirs);
	free(dirs);
	rm_rf(root);
	cli_scratch_fini(&s);
}
END_TEST

TEST_SUITE(attack)
{
	ADD_TEST(s, moved_out_seen_then_symlink);
	ADD_TEST(s, moved_out_unseen_then_symlink);
	ADD_TEST(s, tmpdir_through_another_users_symlink);
	ADD_TEST(s, home_as_a_root);
	if (sh_ok("unshare -m sh -c 'mount -t tmpfs tmpfs /tmp' >/dev/null 2>&1") &&
	    sh_ok("unshare -pf --mount-proc true >/dev/null 2>&1")) {
		ADD_TEST(s, squatted_journal_directory);
		ADD_TEST(s, containers_sharing_tmp);
	} else {
		printf("skipped: squatted_journal_directory, containers_sharing_tmp "
		       "(unshare -m / -pf is not permitted here)\n");
	}
}
