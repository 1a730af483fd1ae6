/* Never remove what the user keeps (DESIGN §2, issue 12): ordinary work in
 * a temp root — a git repository, sed -i, the atomic-write idiom, a result
 * renamed away — under `rcshim run` and under a preloaded bash, each
 * followed by what the user would check: every commit there, every file
 * with its new content; and what is truly temporary still goes. */
#include "build-config.h"

#include <stdarg.h>

#include "common.h"
#include "test.h"

enum how { UNDER_LAUNCHER, UNDER_PRELOADED_BASH };

/* Runs @script with bash, the way @how says, in @s (TMPDIR and the only
 * temp root: s->tmp; HOME: <dir>/home; git configured there). */
static void
run_bash(struct rc_run *r, const struct cli_scratch *s, enum how how, const char *script)
{
	static char home[800], tmpdir[800], roots[800], xdg[800];
	snprintf(home, sizeof(home), "HOME=%s/home", s->dir);
	snprintf(tmpdir, sizeof(tmpdir), "TMPDIR=%s", s->tmp);
	snprintf(roots, sizeof(roots), "RCSHIM_TMP_ROOTS=%s", s->tmp);
	snprintf(xdg, sizeof(xdg), "XDG_RUNTIME_DIR=%s", s->run);
	const char *env[] = { home, "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C", NULL };
	if (how == UNDER_LAUNCHER) {
		const char *args[] = { "run", "--", "bash", "-c", script, NULL };
		run_rcshim(r, s, env, args);
	} else {
		const char *penv[] = { home, "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C", tmpdir, roots,
				       xdg, NULL };
		const char *argv[] = { "bash", "-c", script, NULL };
		t_run(r, true, penv, NULL, argv);
	}
}

/* A shell command run bare (setup and checks), in the scratch's HOME. */
static char *
bare(const struct cli_scratch *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *
bare(const struct cli_scratch *s, const char *fmt, ...)
{
	char cmd[8192], home[800];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(home, sizeof(home), "HOME=%s/home", s->dir);
	const char *env[] = { home, "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C", NULL };
	struct rc_run r;
	t_sh(&r, false, env, cmd);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "`%s`: %s\n%s", cmd,
		      t_status_str(r.status), r.err);
	free(r.err);
	return r.out;
}

static void
scratch_with_home(struct cli_scratch *s)
{
	char home[800];
	cli_scratch_init(s);
	snprintf(home, sizeof(home), "%s/home", s->dir);
	ck_assert_int_eq(mkdir(home, 0700), 0);
	free(bare(s, "git config --global user.name rcshim && "
		     "git config --global user.email rcshim@example.invalid && "
		     "git config --global init.defaultBranch main"));
}

static void
assert_content(const char *path, const char *want)
{
	char *c = t_read_file(path);
	ck_assert_msg(c, "%s is gone", path);
	ck_assert_msg(!strcmp(c, want), "%s holds '%s', not '%s'", path, c, want);
	free(c);
}

/* The scenario: a repository and config files in a temp root. */
static void
git_and_sed(enum how how)
{
	struct cli_scratch s;
	struct rc_run r;
	char script[4096], x[700], conf[800], yconf[800], f[800];

	scratch_with_home(&s);
	snprintf(x, sizeof(x), "%s/x", s.tmp);
	snprintf(conf, sizeof(conf), "%s/f.conf", x);
	snprintf(yconf, sizeof(yconf), "%s/y.conf", s.tmp);
	snprintf(f, sizeof(f), "%s/F", s.dir);
	free(bare(&s, "mkdir -p '%s' && cd '%s' && git init -q r && "
		      "git -C r commit -q --allow-empty -m c1 && echo x=1 > '%s' && echo y=1 > '%s'",
		  x, x, conf, yconf));

	snprintf(script, sizeof(script),
		 "set -e; cd '%s/r'; echo v > a; git add a; git commit -qm c2;\n"
		 "for i in 1 2 3; do echo $i >> a; git commit -qam c$((i + 2)); done\n"
		 "git gc -q; git tag v1\n"
		 "sed -i s/1/2/ '%s'; sed -i s/1/2/ '%s'\n"
		 /* and something truly temporary */
		 "d=$(mktemp -d); echo scratch > \"$d/s\"; echo \"$d\" > '%s'\n",
		 x, conf, yconf, f);
	run_bash(&r, &s, how, script);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s; stderr: %s",
		      t_status_str(r.status), r.err);

	/* Every commit there, the repository sound. */
	char *log = bare(&s, "cd '%s/r' && git fsck 2>/dev/null && git log --format=%%s && git tag", x);
	ck_assert_msg(!strcmp(log, "c5\nc4\nc3\nc2\nc1\nv1\n"), "git log: %s", log);
	free(log);
	char *st = bare(&s, "cd '%s/r' && git status --porcelain", x);
	ck_assert_msg(!strcmp(st, ""), "git status: %s", st);
	free(st);
	assert_content(conf, "x=2\n");
	assert_content(yconf, "y=2\n");
	/* The temp dir went, and the summary named it (launcher). */
	char *d = cli_first_line(f);
	ck_assert_msg(d[0] && !t_exists(d), "temp dir '%s' is still there", d);
	if (how == UNDER_LAUNCHER) {
		char named[1024];
		snprintf(named, sizeof(named), "rcshim:   %s\n", d);
		ck_assert_msg(cli_contains(r.err, named), "stderr: %s", r.err);
		ck_assert_msg(cli_contains(r.err, "removed 1 temp file or directory"), "stderr: %s",
			      r.err);
		/* ...and so does the run's report. */
		const char *rp = strstr(r.err, "report (");
		ck_assert_ptr_nonnull(rp);
		rp = strstr(rp, "): ");
		ck_assert_ptr_nonnull(rp);
		char report[1024];
		snprintf(report, sizeof(report), "%.*s", (int)strcspn(rp + 3, "\n"), rp + 3);
		char *text = t_read_file(report);
		ck_assert_msg(text, "no report at %s", report);
		snprintf(named, sizeof(named), "\n  removed: %s\n", d);
		ck_assert_msg(strstr(text, named), "report %s:\n%s", report, text);
		free(text);
	}
	/* Nothing else is gone from the root. */
	char *ls = bare(&s, "ls -A '%s'", s.tmp);
	ck_assert_msg(!strcmp(ls, "x\ny.conf\n"), "left in the root: %s", ls);
	free(ls);
	free(d);
	t_run_free(&r);
	cli_scratch_fini(&s);
}

START_TEST(git_and_sed_under_launcher)
{
	git_and_sed(UNDER_LAUNCHER);
}
END_TEST

START_TEST(git_and_sed_under_preloaded_bash)
{
	git_and_sed(UNDER_PRELOADED_BASH);
}
END_TEST

/* Python: the atomic write (NamedTemporaryFile(delete=False) + os.replace
 * over an existing file), in the root and in a directory of it; a result
 * made in a temp dir and renamed out; and what is temporary. */
static void
python_idioms(enum how how)
{
	struct cli_scratch s;
	struct rc_run r;
	char script[8192], f[800];

	scratch_with_home(&s);
	snprintf(f, sizeof(f), "%s/F", s.dir);
	free(bare(&s, "mkdir '%s/sub' '%s/out' && echo old > '%s/data.json' && "
		      "echo old > '%s/sub/data.json'",
		  s.tmp, s.dir, s.tmp, s.tmp));
	snprintf(script, sizeof(script),
		 "'%s' - <<'EOF'\n"
		 "import os, tempfile\n"
		 "root = os.environ['TMPDIR']\n"
		 "def atomic_write(path, text):\n"
		 "    d = os.path.dirname(path)\n"
		 "    with tempfile.NamedTemporaryFile('w', dir=d, delete=False) as t:\n"
		 "        t.write(text)\n"
		 "    os.replace(t.name, path)\n"
		 "atomic_write(os.path.join(root, 'data.json'), 'new\\n')\n"
		 "atomic_write(os.path.join(root, 'sub', 'data.json'), 'new sub\\n')\n"
		 "# a result made in a temp dir, kept by a rename out of it\n"
		 "w = tempfile.mkdtemp()\n"
		 "open(os.path.join(w, 'result'), 'w').write('42\\n')\n"
		 "os.rename(w, os.path.join('%s', 'out', 'run1'))\n"
		 "# temporary, left for the shim\n"
		 "t1 = tempfile.mkdtemp()\n"
		 "open(os.path.join(t1, 'x'), 'w').write('x')\n"
		 "t2 = tempfile.NamedTemporaryFile(delete=False)\n"
		 "t2.write(b'y'); t2.close()\n"
		 "fd, t3 = tempfile.mkstemp(suffix='.dat'); os.close(fd)\n"
		 "open('%s', 'w').write('\\n'.join([t1, t2.name, t3]) + '\\n')\n"
		 "EOF\n",
		 cli_python(), s.dir, f);
	run_bash(&r, &s, how, script);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s; stderr: %s",
		      t_status_str(r.status), r.err);

	char p[1200];
	snprintf(p, sizeof(p), "%s/data.json", s.tmp);
	assert_content(p, "new\n");
	snprintf(p, sizeof(p), "%s/sub/data.json", s.tmp);
	assert_content(p, "new sub\n");
	snprintf(p, sizeof(p), "%s/out/run1/result", s.dir);
	assert_content(p, "42\n");
	char *list = t_read_file(f);
	ck_assert_ptr_nonnull(list);
	int n = 0;
	for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n"), n++) {
		ck_assert_msg(!strncmp(line, s.tmp, strlen(s.tmp)), "%s not in the root", line);
		ck_assert_msg(!t_exists(line), "temp artifact %s is still there; stderr: %s", line,
			      r.err);
	}
	ck_assert_int_eq(n, 3);
	free(list);
	char *ls = bare(&s, "ls -A '%s'", s.tmp);
	ck_assert_msg(!strcmp(ls, "data.json\nsub\n"), "left in the root: %s", ls);
	free(ls);
	t_run_free(&r);
	cli_scratch_fini(&s);
}

START_TEST(python_idioms_under_launcher)
{
	python_idioms(UNDER_LAUNCHER);
}
END_TEST

START_TEST(python_idioms_under_preloaded_bash)
{
	python_idioms(UNDER_PRELOADED_BASH);
}
END_TEST

/* coreutils and friends: mktemp, a tar unpacked into a temp dir and the
 * dir moved out, a file made with `install` into the root and renamed. */
START_TEST(shell_tools_under_launcher)
{
	struct cli_scratch s;
	struct rc_run r;
	char script[4096];

	scratch_with_home(&s);
	free(bare(&s, "mkdir '%s/src' '%s/keep' && echo hello > '%s/src/a' && "
		      "tar -C '%s' -cf '%s/src.tar' src",
		  s.dir, s.dir, s.dir, s.dir, s.dir));
	snprintf(script, sizeof(script),
		 "set -e; d=$(mktemp -d); tar -C \"$d\" -xf '%s/src.tar'\n"
		 "mv \"$d/src\" '%s/keep/unpacked'\n"
		 "f=$(mktemp); echo report > \"$f\"; mv \"$f\" '%s/keep/report.txt'\n"
		 "g=$(mktemp); echo stays-in-root > \"$g\"; mv \"$g\" \"$TMPDIR/kept.txt\"\n"
		 "mktemp -d > /dev/null\n",
		 s.dir, s.dir, s.dir);
	run_bash(&r, &s, UNDER_LAUNCHER, script);
	ck_assert_exited(&r, 0);
	char p[1200];
	snprintf(p, sizeof(p), "%s/keep/unpacked/a", s.dir);
	assert_content(p, "hello\n");
	snprintf(p, sizeof(p), "%s/keep/report.txt", s.dir);
	assert_content(p, "report\n");
	/* Renamed within the root: the program's from then on. */
	snprintf(p, sizeof(p), "%s/kept.txt", s.tmp);
	assert_content(p, "stays-in-root\n");
	char *ls = bare(&s, "ls -A '%s'", s.tmp);
	ck_assert_msg(!strcmp(ls, "kept.txt\n"), "left in the root: %s", ls);
	free(ls);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* The program writes a forged line into its own journal: the launcher
 * refuses it, names it, and removes nothing for it. */
START_TEST(forged_journal_line_refused)
{
	struct cli_scratch s;
	struct rc_run r;
	char script[4096], vic[800];

	scratch_with_home(&s);
	snprintf(vic, sizeof(vic), "%s/home/vic", s.dir);
	free(bare(&s, "mkdir '%s' && echo precious > '%s/file'", vic, vic));
	snprintf(script, sizeof(script),
		 "set -e; j=\"${RCSHIM_SESSION##*:}/${RCSHIM_SESSION%%%%.*}.journal\"\n"
		 "d=$(mktemp -d)\n"
		 "ino=$(stat -c %%i '%s'); dev=$(stat -c %%d '%s')\n"
		 "printf '+ d %%s %%s 1 %%s/../home/vic\\n' $dev $ino \"$TMPDIR\" >> \"$j\"\n"
		 "printf '+ d %%s %%s 1 %%s\\n' $dev $ino '%s' >> \"$j\"\n",
		 vic, vic, vic);
	run_bash(&r, &s, UNDER_LAUNCHER, script);
	ck_assert_exited(&r, 0);
	char p[1200];
	snprintf(p, sizeof(p), "%s/file", vic);
	assert_content(p, "precious\n");
	ck_assert_msg(cli_contains(r.err, "journal lines refused"), "stderr: %s", r.err);
	ck_assert_msg(cli_contains(r.err, "/../home/vic (not directly inside an accepted "
					  "temp root)"),
		      "stderr: %s", r.err);
	/* The genuine temp dir still went. */
	ck_assert_msg(cli_contains(r.err, "removed 1 temp file or directory"), "stderr: %s",
		      r.err);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* A session that creates and removes a million temp files keeps a journal
 * under 1 MiB (compaction), and removes what it holds at the end. */
START_TEST(journal_stays_small)
{
	struct cli_scratch s;
	struct rc_run r;
	long n = 1000000;
	const char *pre = getenv("RCSHIM_TEST_PRELOAD");
	if (getenv("RCSHIM_TEST_VALGRIND")) {
		n = 5000;
	} else if (getenv("RCSHIM_TEST_ASAN_RT") || (pre && strstr(pre, "asan"))) {
		n = 100000;
	}
	char count[32];
	snprintf(count, sizeof(count), "%ld", n);
	cli_scratch_init(&s);
	const char *args[] = { "run", "--", t_victim("victim-tempchurn"), count, NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	long made = 0, biggest = -1;
	char *line = strstr(r.out, "made ");
	ck_assert_msg(line && sscanf(line, "made %ld, largest journal %ld", &made, &biggest) == 2,
		      "out: %s err: %s", r.out, r.err);
	ck_assert_int_eq(made, n);
	ck_assert_msg(biggest > 0 && biggest < 1024 * 1024, "journal reached %ld bytes", biggest);
	/* It kept ten of them: removed at the end. */
	ck_assert_msg(cli_contains(r.err, "removed 10 temp files and directories"), "stderr: %s",
		      r.err);
	DIR *d = opendir(s.tmp);
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		ck_assert_msg(e->d_name[0] == '.', "left in the root: %s", e->d_name);
	}
	closedir(d);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

TEST_SUITE(keep)
{
	ADD_TEST(s, git_and_sed_under_launcher);
	ADD_TEST(s, git_and_sed_under_preloaded_bash);
	ADD_TEST(s, python_idioms_under_launcher);
	ADD_TEST(s, python_idioms_under_preloaded_bash);
	ADD_TEST(s, shell_tools_under_launcher);
	ADD_TEST(s, forged_journal_line_refused);
	ADD_TEST_TIMEOUT(s, journal_stays_small, 900);
}
