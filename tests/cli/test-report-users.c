/* The report file against another user (DESIGN §5): a file or a symlink
 * that user planted in a shared, sticky directory (as /tmp is) at the path
 * a report will be written to.  The shim preloaded into python3, and the
 * launcher, as root: root can write any file, so only the shim's own
 * checks keep the report out.  What the other user planted keeps its
 * exact bytes, owner and mode; the program prints and ends as without the
 * shim.  Needs a second user: exits 77 (skipped) where there is none. */
#include "build-config.h"

#include "common.h"
#include "other-user.h"
#include "test.h"

static struct t_user other;

static int
count_lines_with(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; p && *p;) {
		const char *end = strchr(p, '\n');
		size_t l = end ? (size_t)(end - p) : strlen(p);
		char *line = strndup(p, l);
		n += strstr(line, needle) != NULL;
		free(line);
		p = end ? end + 1 : NULL;
	}
	return n;
}

static int
count_lines(const char *text)
{
	return count_lines_with(text, "");
}

/* A sticky directory everyone can write to, like /tmp, that the other
 * user can reach (the build tree may be private). */
static char *volatile public_kept;

static char *
public_dir(void)
{
	char *d = strdup("/tmp/rcshim-test-pub-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d));
	ck_assert_int_eq(chmod(d, 01777), 0);
	/* Reachable from here while the test runs: the second user's
	 * processes are forks of this one, and memcheck checks each for
	 * leaks at its exit (a pointer kept only in a register of the
	 * parent's frame counted as lost there, and failed the plant). */
	public_kept = d;
	return d;
}

struct plant {
	const char *path;
	const char *content; /* NULL: a symlink to target */
	const char *target;
	mode_t mode;
};

static int
plant_one(void *arg)
{
	const struct plant *p = arg;
	if (!p->content) {
		return symlink(p->target, p->path) == 0 ? 0 : 1;
	}
	int fd = open(p->path, O_WRONLY | O_CREAT | O_EXCL, p->mode);
	if (fd < 0 || fchmod(fd, p->mode) < 0) {
		return 1;
	}
	size_t n = strlen(p->content);
	return write(fd, p->content, n) == (ssize_t)n && close(fd) == 0 ? 0 : 1;
}

static void
plant(const char *path, const char *content, mode_t mode)
{
	struct plant p = { path, content, NULL, mode };
	ck_assert_msg(t_as_user(&other, plant_one, &p), "cannot plant %s as %s", path,
		      T_OTHER_USER);
}

/* The file as planted: same bytes, owner, mode. */
static void
assert_untouched(const char *path, const char *content, mode_t mode)
{
	struct stat st;
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, other.uid);
	ck_assert_uint_eq(st.st_mode & 07777, mode);
	char *got = t_read_file(path);
	ck_assert_msg(got && !strcmp(got, content), "%s now holds \"%.200s\"", path, got);
	free(got);
}

static void
run_python(const char *report, struct rc_run *shim)
{
	char env_report[900];
	struct rc_run bare;
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", report);
	const char *env[] = { env_report, NULL };
	const char *argv[] = { "python3", "-c", "import sys; print('out'); sys.exit(4)", NULL };
	t_run(&bare, false, env, NULL, argv);
	t_run(shim, true, env, NULL, argv);
	ck_assert_str_eq(shim->out, "out\n");
	ck_assert_str_eq(shim->out, bare.out);
	ck_assert_int_eq(shim->status, bare.status);
	t_run_free(&bare);
}

/* Files the other user made in the shared directory, whatever their mode
 * (0666: the report would be theirs to read; 0644 and 0600: root could
 * still write it): none receives a report. */
START_TEST(other_users_file_gets_no_report)
{
	struct rc_run r;
	char *pub = public_dir();
	static const struct { const char *name, *content; mode_t mode; } files[] = {
		{ "open.txt", "", 0666 },
		{ "data.txt", "their data\n", 0644 },
		{ "secret.txt", "their secret\n", 0600 },
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		char path[300], want[600];
		snprintf(path, sizeof(path), "%s/%s", pub, files[i].name);
		plant(path, files[i].content, files[i].mode);
		run_python(path, &r);
		assert_untouched(path, files[i].content, files[i].mode);
		snprintf(want, sizeof(want), "rcshim: report not written to %s: it belongs to "
					     "another user (uid %u)\n", path, (unsigned)other.uid);
		ck_assert_str_eq(r.err, want);
		t_run_free(&r);
	}
	t_scratch_free(pub);
}
END_TEST

/* The other user's symlink at the report's path, to a file of root's. */
START_TEST(other_users_symlink_not_followed)
{
	struct rc_run r;
	char *pub = public_dir();
	char *mine = t_scratch();
	char victim[700], link[300];

	snprintf(victim, sizeof(victim), "%s/victim.txt", mine);
	t_write_file(victim, "keep me\n");
	snprintf(link, sizeof(link), "%s/rcshim.txt", pub);
	struct plant p = { link, NULL, victim, 0 };
	ck_assert(t_as_user(&other, plant_one, &p));
	run_python(link, &r);
	char *got = t_read_file(victim);
	ck_assert_msg(got && !strcmp(got, "keep me\n"), "%s now holds \"%.200s\"", victim, got);
	free(got);
	struct stat st;
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_uint_eq(st.st_uid, other.uid);
	/* The kernel may refuse to follow it first (fs.protected_symlinks):
	 * either way, one line that says so. */
	ck_assert_msg(!strncmp(r.err, "rcshim: report not written to ", 30) &&
			      count_lines(r.err) == 1, "stderr: %s", r.err);
	t_run_free(&r);
	t_scratch_free(mine);
	t_scratch_free(pub);
}
END_TEST

/* /tmp/rcshim.%p.txt, the docs' example: the other user creates the file
 * for the pid the program will have (sh does it, as that user, for its
 * own pid, then execs python3 there under the shim). */
START_TEST(other_users_file_at_the_pid_path)
{
	struct rc_run r;
	char *pub = public_dir();
	char env_report[400], env_py[800], env_shim[8300], env_u[64];

	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s/rcshim.%%p.txt", pub);
	snprintf(env_py, sizeof(env_py), "PY=%s", cli_python());
	snprintf(env_shim, sizeof(env_shim), "SHIM=%s", t_preload());
	snprintf(env_u, sizeof(env_u), "U=%u:%u", (unsigned)other.uid, (unsigned)other.gid);
	const char *env[] = { env_report, env_py, env_shim, env_u, NULL };
	t_sh(&r, false, env,
	     "f=\"${RCSHIM_REPORT%/*}/rcshim.$$.txt\" && "
	     "if command -v setpriv >/dev/null; then "
	     "setpriv --reuid=${U%:*} --regid=${U#*:} --clear-groups "
	     "sh -c 'umask 0; : > \"$1\"' sh \"$f\"; "
	     "else : > \"$f\" && chmod 666 \"$f\" && chown \"$U\" \"$f\"; fi && "
	     "echo $$ && LD_PRELOAD=$SHIM exec \"$PY\" -c \"print('out')\"");
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	char path[400];
	snprintf(path, sizeof(path), "%s/rcshim.%d.txt", pub, atoi(r.out));
	ck_assert_str_eq(strchr(r.out, '\n') + 1, "out\n");
	assert_untouched(path, "", 0666);
	ck_assert_msg(strstr(r.err, ": it exists already") && count_lines(r.err) == 1, "%s",
		      r.err);
	t_run_free(&r);
	t_scratch_free(pub);
}
END_TEST

/* rcshim run --report at the other user's file: an error before the run,
 * in one line, and nothing runs.  The same path in RCSHIM_REPORT keeps the
 * shim's rule: one warning, and the run goes on without that file. */
START_TEST(launcher_refuses_other_users_file)
{
	struct cli_scratch s;
	struct rc_run r;
	char *pub = public_dir();
	char path[300], opt[400], want[800], envv[400];

	cli_scratch_init(&s);
	snprintf(path, sizeof(path), "%s/report.txt", pub);
	plant(path, "", 0666);
	snprintf(opt, sizeof(opt), "--report=%s", path);
	const char *args[] = { "run", opt, "--", "sh", "-c", "echo out; exit 3", NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 2);
	ck_assert_str_eq(r.out, "");
	assert_untouched(path, "", 0666);
	snprintf(want, sizeof(want), "rcshim: run: --report %s: not written there: it belongs to "
				     "another user (uid %u); nothing was run\n", path,
		 (unsigned)other.uid);
	ck_assert_str_eq(r.err, want);
	t_run_free(&r);

	snprintf(envv, sizeof(envv), "RCSHIM_REPORT=%s", path);
	const char *env[] = { envv, NULL };
	const char *a2[] = { "run", "--", "sh", "-c", "echo out; exit 3", NULL };
	run_rcshim(&r, &s, env, a2);
	ck_assert_exited(&r, 3);
	ck_assert_str_eq(r.out, "out\n");
	assert_untouched(path, "", 0666);
	snprintf(want, sizeof(want), "rcshim: warning: report not written to %s: it belongs to "
				     "another user (uid %u); the run's report is gathered as "
				     "without one\n", path, (unsigned)other.uid);
	ck_assert_msg(!strncmp(r.err, want, strlen(want)), "stderr: %s", r.err);
	ck_assert_msg(count_lines_with(r.err, "not written") == 1, "stderr: %s", r.err);
	t_run_free(&r);
	cli_scratch_fini(&s);
	t_scratch_free(pub);
}
END_TEST

TEST_SUITE(report_users)
{
	char why[200];
	if (!t_other_user(&other, why, sizeof(why))) {
		printf("report_users: %s: skipped\n", why);
		exit(77);
	}
	ADD_TEST(s, other_users_file_gets_no_report);
	ADD_TEST(s, other_users_symlink_not_followed);
	ADD_TEST(s, other_users_file_at_the_pid_path);
	ADD_TEST(s, launcher_refuses_other_users_file);
}
