/* rcshim sweep (issue 18): the sessions of a launcher that was itself
 * SIGKILLed.  What survives is asserted as hard as what goes. */
#include "build-config.h"

#include <dirent.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common.h"
#include "test.h"

/* Starts `rcshim run --no-sweep -- sh -c SCRIPT` in a session and process
 * group of its own (as a container or a job's cgroup would hold it). */
static pid_t
start_group(const struct cli_scratch *s, const char *script)
{
	const char *args[] = { "run", "--no-sweep", "--quiet", "--", "sh", "-c", script, NULL };
	const char **argv = cli_argv(args);
	const char **envp = cli_full_env(s, NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setsid();
		int n = open("/dev/null", O_RDWR);
		dup2(n, 0);
		dup2(n, 1);
		for (int sig = 1; sig < NSIG; sig++) {
			signal(sig, SIG_DFL);
		}
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvpe(argv[0], (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	free(argv);
	free(envp);
	return pid;
}

/* Waits (up to 30 s) until no process of group @pgid is alive: a killed
 * process keeps its memory, and with it the session variable the sweep
 * looks for, until it is scheduled to exit; a zombie has none. */
static void
wait_group_gone(pid_t pgid)
{
	for (int i = 0; i < 3000; i++) {
		bool alive = false;
		DIR *d = opendir("/proc");
		ck_assert_ptr_nonnull(d);
		struct dirent *e;
		while (!alive && (e = readdir(d))) {
			char path[300], buf[1024];
			if (e->d_name[0] < '1' || e->d_name[0] > '9') {
				continue;
			}
			snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
			FILE *f = fopen(path, "re");
			if (!f) {
				continue; /* gone meanwhile */
			}
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[n] = '\0';
			/* pid (comm) state ppid pgrp: comm may hold spaces. */
			const char *r = strrchr(buf, ')');
			char state;
			int ppid, pgrp;
			if (r && sscanf(r + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 &&
			    pgrp == pgid && state != 'Z' && state != 'X') {
				alive = true;
			}
		}
		closedir(d);
		if (!alive) {
			return;
		}
		usleep(10000);
	}
	ck_abort_msg("a process of group %d still runs 30 s after SIGKILL", (int)pgid);
}

static void
sweep(struct rc_run *r, const struct cli_scratch *s, const char *a1, const char *a2,
      const char *a3)
{
	const char *args[] = { "sweep", "--dir", s->jdir, a1, a2, a3, NULL };
	run_rcshim(r, s, NULL, args);
}

static bool
journal_in(const struct cli_scratch *s)
{
	char *l = cli_leftovers(s);
	bool j = strstr(l, ".journal") != NULL;
	free(l);
	return j;
}

/* The user's own things: made before any session, inside the temp root and
 * beside it.  Checked after every sweep. */
struct user_files {
	char in_root[800], dir_in_root[800], beside[800];
};

static void
user_files_make(const struct cli_scratch *s, struct user_files *u)
{
	snprintf(u->in_root, sizeof(u->in_root), "%s/keep.txt", s->tmp);
	snprintf(u->dir_in_root, sizeof(u->dir_in_root), "%s/user-dir", s->tmp);
	snprintf(u->beside, sizeof(u->beside), "%s/beside.txt", s->dir);
	t_write_file(u->in_root, "mine\n");
	ck_assert_int_eq(mkdir(u->dir_in_root, 0700), 0);
	char f[900];
	snprintf(f, sizeof(f), "%s/data", u->dir_in_root);
	t_write_file(f, "mine too\n");
	t_write_file(u->beside, "mine as well\n");
}

static void
user_files_intact(const struct user_files *u)
{
	char f[900];
	snprintf(f, sizeof(f), "%s/data", u->dir_in_root);
	const char *p[] = { u->in_root, f, u->beside };
	const char *want[] = { "mine\n", "mine too\n", "mine as well\n" };
	for (int i = 0; i < 3; i++) {
		char *c = t_read_file(p[i]);
		ck_assert_msg(c && !strcmp(c, want[i]), "%s lost or changed: '%s'", p[i], c ? c : "");
		free(c);
	}
}

/* The case: the launcher's whole process group is SIGKILLed
 * mid-run; then --dry-run lists without removing, and sweep removes every
 * temp artifact of the session and its journal, nothing else. */
START_TEST(sigkill_of_the_group_then_sweep)
{
	struct cli_scratch s;
	struct user_files u;
	struct rc_run r;
	char f[800], script[4096];

	cli_scratch_init(&s);
	user_files_make(&s, &u);
	snprintf(f, sizeof(f), "%s/F", s.dir);
	snprintf(script, sizeof(script),
		 "d=$(mktemp -d); e=$(mktemp); echo data > \"$d/inner\"; "
		 "printf '%%s\\n%%s\\n' \"$d\" \"$e\" > '%s.new'; mv '%s.new' '%s'; sleep 60",
		 f, f, f);
	pid_t pid = start_group(&s, script);
	char *names = cli_wait_file(f, 60);
	ck_assert_msg(names, "the program did not start");
	ck_assert_int_eq(kill(-pid, SIGKILL), 0);
	int st = cli_wait(pid, 30);
	ck_assert_killed_by(st, SIGKILL);
	char d[800], e[800];
	ck_assert_int_eq(sscanf(names, "%799s %799s", d, e), 2);
	wait_group_gone(pid); /* the sleep's death */
	/* Control: nothing replayed it. */
	ck_assert_msg(t_exists(d) && t_exists(e), "%s or %s went without a sweep", d, e);
	ck_assert_msg(journal_in(&s), "no journal left by the killed launcher");

	sweep(&r, &s, "--dry-run", NULL, NULL);
	ck_assert_exited(&r, 0);
	char line[1000];
	snprintf(line, sizeof(line), "  would remove %s\n", d);
	ck_assert_msg(cli_contains(r.out, line), "dry run: %s", r.out);
	ck_assert_msg(cli_contains(r.out, ": over (its root, pid "), "dry run: %s", r.out);
	ck_assert_msg(t_exists(d) && t_exists(e) && journal_in(&s), "the dry run removed");
	user_files_intact(&u);
	t_run_free(&r);

	sweep(&r, &s, NULL, NULL, NULL);
	ck_assert_exited(&r, 0);
	snprintf(line, sizeof(line), "  removed %s\n", d);
	ck_assert_msg(cli_contains(r.out, line), "sweep: %s", r.out);
	snprintf(line, sizeof(line), "  removed %s\n", e);
	ck_assert_msg(cli_contains(r.out, line), "sweep: %s", r.out);
	ck_assert_msg(!t_exists(d) && !t_exists(e), "sweep left %s or %s: %s", d, e, r.out);
	ck_assert_msg(!journal_in(&s), "the journal is still there: %s", r.out);
	ck_assert_msg(cli_contains(r.out, "sweep: 1 sessions over, 0 live"), "%s", r.out);
	user_files_intact(&u);
	t_run_free(&r);

	/* Once is enough: a second sweep finds nothing. */
	sweep(&r, &s, NULL, NULL, NULL);
	ck_assert_msg(cli_contains(r.out, "sweep: 0 sessions over"), "%s", r.out);
	user_files_intact(&u);
	t_run_free(&r);
	free(names);
	cli_scratch_fini(&s);
}
END_TEST

/* Only the launcher is killed: its program runs on, a member, and its
 * session is left alone until the member is gone too. */
START_TEST(live_member_keeps_the_session)
{
	struct cli_scratch s;
	struct user_files u;
	struct rc_run r;
	char f[800], script[4096];

	cli_scratch_init(&s);
	user_files_make(&s, &u);
	snprintf(f, sizeof(f), "%s/F", s.dir);
	snprintf(script, sizeof(script),
		 "d=$(mktemp -d); echo \"$d\" > '%s.new'; mv '%s.new' '%s'; exec sleep 60", f, f, f);
	pid_t pid = start_group(&s, script);
	char *d = cli_wait_file(f, 60);
	ck_assert_msg(d, "the program did not start");
	d[strcspn(d, "\n")] = '\0';
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	int st = cli_wait(pid, 30);
	ck_assert_killed_by(st, SIGKILL);

	sweep(&r, &s, NULL, NULL, NULL);
	ck_assert_exited(&r, 0);
	ck_assert_msg(cli_contains(r.out, ": live (process "), "%s", r.out);
	ck_assert_msg(t_exists(d) && journal_in(&s), "a live session was swept: %s", r.out);
	t_run_free(&r);

	kill(-pid, SIGKILL); /* the sleep */
	wait_group_gone(pid);
	sweep(&r, &s, NULL, NULL, NULL);
	ck_assert_msg(!t_exists(d) && !journal_in(&s), "not swept once over: %s", r.out);
	user_files_intact(&u);
	t_run_free(&r);
	free(d);
	cli_scratch_fini(&s);
}
END_TEST

/* A journal written by hand: its S line names @pid with @start; one temp
 * dir "<root>/victim" made now.  Returns the dir's path in @dir. */
static void
forge_session(const struct cli_scratch *s, const char *id, int version, pid_t pid,
	      uint64_t start, char *dir, size_t len)
{
	struct stat st, rt;
	char root[700], path[900], boot[64] = "-";

	mkdir(s->jdir, 0700);
	ck_assert_msg(realpath(s->tmp, root), "realpath");
	snprintf(dir, len, "%s/victim-%.8s", root, id);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/inner", dir);
	t_write_file(path, "x\n");
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(stat(root, &rt), 0);
	char *b = t_read_file("/proc/sys/kernel/random/boot_id");
	if (b) {
		snprintf(boot, sizeof(boot), "%.36s", b);
		free(b);
	}
	struct stat ns;
	ck_assert_int_eq(stat("/proc/self/ns/pid", &ns), 0);
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof(text), "#rcshim-journal %d base=000000000000\n",
				    version);
	if (version >= 3) {
		n += (size_t)snprintf(text + n, sizeof(text) - n, "S %d %llu %llu %s\n", (int)pid,
				      (unsigned long long)start, (unsigned long long)ns.st_ino, boot);
	}
	n += (size_t)snprintf(text + n, sizeof(text) - n, "R %llu %llu %s\n+ d %llu %llu %d %s\n",
			      (unsigned long long)rt.st_dev, (unsigned long long)rt.st_ino, root,
			      (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
			      (int)pid, dir);
	snprintf(path, sizeof(path), "%s/%s.journal", s->jdir, id);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
	close(fd);
}

static uint64_t
my_start(void)
{
	char *c = t_read_file("/proc/self/stat");
	char *p = strrchr(c, ')');
	int field = 2;
	for (; *p && field < 22; p++) {
		field += *p == ' ';
	}
	uint64_t v = strtoull(p, NULL, 10);
	free(c);
	return v;
}

/* pid + start time: the same pid with another start time is a reused pid,
 * not the root; with its own start time it is the root, alive. */
START_TEST(reused_pid_is_not_a_member)
{
	struct cli_scratch s;
	struct rc_run r;
	char live[800], reused[800];

	cli_scratch_init(&s);
	forge_session(&s, "11111111111111111111111111111111", 3, getpid(), my_start(), live,
		      sizeof(live));
	forge_session(&s, "22222222222222222222222222222222", 3, getpid(), my_start() + 1, reused,
		      sizeof(reused));
	sweep(&r, &s, NULL, NULL, NULL);
	ck_assert_exited(&r, 0);
	ck_assert_msg(cli_contains(r.out, "session 11111111111111111111111111111111: live (its "
					  "root, pid "), "%s", r.out);
	ck_assert_msg(t_exists(live), "the live session's dir went: %s", r.out);
	ck_assert_msg(!t_exists(reused), "the reused pid kept the session: %s", r.out);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* --older-than: an over session younger than that is left for later. */
START_TEST(older_than)
{
	struct cli_scratch s;
	struct rc_run r;
	char dir[800], j[900];

	cli_scratch_init(&s);
	forge_session(&s, "33333333333333333333333333333333", 3, getpid(), my_start() + 1, dir,
		      sizeof(dir));
	sweep(&r, &s, "--older-than", "1h", NULL);
	ck_assert_exited(&r, 0);
	ck_assert_msg(t_exists(dir) && journal_in(&s), "swept too young: %s", r.out);
	t_run_free(&r);
	snprintf(j, sizeof(j), "%s/33333333333333333333333333333333.journal", s.jdir);
	struct timespec old[2] = { { time(NULL) - 7200, 0 }, { time(NULL) - 7200, 0 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, j, old, 0), 0);
	sweep(&r, &s, "--older-than", "1h", NULL);
	ck_assert_msg(!t_exists(dir) && !journal_in(&s), "not swept when old: %s", r.out);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* The reports a killed launcher never gathered (its processes' files and
 * the session's shared file) go with the session once --keep-reports has
 * passed; younger ones and anything else in the directory stay. */
START_TEST(ungathered_reports_of_an_over_session)
{
	struct cli_scratch s;
	struct rc_run r;
	char dir[800], j[900], shared[900], own[900], other[900];
	const char *id = "88888888888888888888888888888888";

	cli_scratch_init(&s);
	forge_session(&s, id, 3, getpid(), my_start() + 1, dir, sizeof(dir));
	snprintf(j, sizeof(j), "%s/%s.journal", s.jdir, id);
	snprintf(shared, sizeof(shared), "%s/%s.quiet.report", s.jdir, id);
	snprintf(own, sizeof(own), "%s/%s.4242.report", s.jdir, id);
	snprintf(other, sizeof(other), "%s/%s.notes", s.jdir, id);
	t_write_file(shared, "== rcshim report: pid 1 held nothing (heap 0 blocks, 0 bytes): x\n");
	t_write_file(own, "== rcshim report: pid 4242, at exit\n");
	t_write_file(other, "the user's\n");
	/* Two hours old: past --older-than, not yet past --keep-reports. */
	struct timespec old[2] = { { time(NULL) - 7200, 0 }, { time(NULL) - 7200, 0 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, j, old, 0), 0);
	ck_assert_int_eq(utimensat(AT_FDCWD, shared, old, 0), 0);
	ck_assert_int_eq(utimensat(AT_FDCWD, own, old, 0), 0);
	sweep(&r, &s, "--keep-reports", "3h", NULL);
	ck_assert_exited(&r, 0);
	ck_assert_msg(!t_exists(dir) && !t_exists(j), "the over session stayed: %s", r.out);
	ck_assert_msg(t_exists(shared) && t_exists(own), "its reports went too soon: %s", r.out);
	t_run_free(&r);
	sweep(&r, &s, "--keep-reports", "1h", NULL);
	ck_assert_exited(&r, 0);
	ck_assert_msg(!t_exists(shared) && !t_exists(own), "its reports stayed: %s", r.out);
	ck_assert_msg(cli_contains(r.out, ".quiet.report"), "%s", r.out);
	cli_assert_file_is(other, "the user's\n");
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* A journal of the previous version says nothing of its root: left alone,
 * and said so. */
START_TEST(old_journal_cannot_be_judged)
{
	struct cli_scratch s;
	struct rc_run r;
	char dir[800];

	cli_scratch_init(&s);
	forge_session(&s, "44444444444444444444444444444444", 2, 999999, 1, dir, sizeof(dir));
	sweep(&r, &s, NULL, NULL, NULL);
	ck_assert_exited(&r, 0);
	ck_assert_msg(cli_contains(r.out, "cannot be judged (its journal has no session line"),
		      "%s", r.out);
	ck_assert_msg(t_exists(dir) && journal_in(&s), "an unjudged session was swept");
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* A new launcher sweeps the over sessions of its journal directory in the
 * background (older than a minute), silently. */
START_TEST(new_launcher_sweeps_in_the_background)
{
	struct cli_scratch s;
	struct rc_run r;
	char dir[800], young[800], j[900];

	cli_scratch_init(&s);
	forge_session(&s, "55555555555555555555555555555555", 3, getpid(), my_start() + 1, dir,
		      sizeof(dir));
	forge_session(&s, "66666666666666666666666666666666", 3, getpid(), my_start() + 1, young,
		      sizeof(young));
	snprintf(j, sizeof(j), "%s/55555555555555555555555555555555.journal", s.jdir);
	struct timespec old[2] = { { time(NULL) - 600, 0 }, { time(NULL) - 600, 0 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, j, old, 0), 0);
	const char *args[] = { "run", "--", "sh", "-c", "echo out; echo err >&2", NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	ck_assert_str_eq(r.out, "out\n");
	ck_assert_msg(!strstr(r.err, "sweep") && !strstr(r.err, "5555"), "stderr: %s", r.err);
	ck_assert_msg(!t_exists(dir), "the old over session was not swept");
	ck_assert_msg(t_exists(young), "a session over for less than a minute was swept");
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* At most one background sweep a minute per journal directory (a build's
 * thousand launchers swept the same directory a thousand times): a second
 * launcher right after the first leaves an over session alone; once the
 * stamp is a minute old, the next launcher sweeps it. */
START_TEST(background_sweep_at_most_once_a_minute)
{
	struct cli_scratch s;
	struct rc_run r;
	char dir[800], j[900], stamp[900];

	cli_scratch_init(&s);
	const char *args[] = { "run", "--", "true", NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	t_run_free(&r);
	snprintf(stamp, sizeof(stamp), "%s/sweep.stamp", s.jdir);
	ck_assert_msg(t_exists(stamp), "no sweep stamp after a launcher ran");

	forge_session(&s, "77777777777777777777777777777777", 3, getpid(), my_start() + 1, dir,
		      sizeof(dir));
	snprintf(j, sizeof(j), "%s/77777777777777777777777777777777.journal", s.jdir);
	struct timespec old[2] = { { time(NULL) - 600, 0 }, { time(NULL) - 600, 0 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, j, old, 0), 0);
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	t_run_free(&r);
	ck_assert_msg(t_exists(dir) && t_exists(j), "swept again within the minute");

	/* The stamp a minute old: the next launcher sweeps. */
	struct timespec ago[2] = { { time(NULL) - 61, 0 }, { time(NULL) - 61, 0 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, stamp, ago, 0), 0);
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	t_run_free(&r);
	ck_assert_msg(!t_exists(dir), "the old over session was not swept after a minute");
	cli_scratch_fini(&s);
}
END_TEST

START_TEST(usage)
{
	struct cli_scratch s;
	struct rc_run r;
	cli_scratch_init(&s);
	const char *a[] = { "sweep", "--older-than", "soon", NULL };
	run_rcshim(&r, &s, NULL, a);
	ck_assert_exited(&r, 2);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* The python of the tests, else Debian's (where apt puts the module), if
 * it has python3-prometheus-client; else the test is skipped (77). */
static const char *
prom_python(struct cli_scratch *s)
{
	const char *pys[] = { cli_python(), "/usr/bin/python3" };
	for (size_t i = 0; i < 2; i++) {
		struct rc_run probe;
		const char *pa[] = { pys[i], "-c", "import prometheus_client.parser", NULL };
		if (access(pys[i], X_OK) != 0 && strchr(pys[i], '/')) {
			continue;
		}
		t_run(&probe, false, NULL, NULL, pa);
		bool ok = WIFEXITED(probe.status) && WEXITSTATUS(probe.status) == 0;
		t_run_free(&probe);
		if (ok) {
			return pys[i];
		}
	}
	cli_scratch_fini(s);
	fprintf(stderr, "python3-prometheus-client is missing (scripts/deps.sh --test)\n");
	exit(77);
}

/* --metrics: a real parser (python3-prometheus-client) accepts the file,
 * and its numbers are the report's. */
START_TEST(metrics_parse_and_match_the_report)
{
	struct cli_scratch s;
	struct rc_run r, py;
	char mdir[800], other[900], fake[900], opt[900];

	cli_scratch_init(&s);
	const char *python = prom_python(&s);
	snprintf(mdir, sizeof(mdir), "%s/textfile", s.dir);
	ck_assert_int_eq(mkdir(mdir, 0755), 0);
	snprintf(other, sizeof(other), "%s/node.prom", mdir);
	t_write_file(other, "# someone else's\nnode_thing 1\n");
	snprintf(fake, sizeof(fake), "%s/rcshim_other.prom", mdir);
	t_write_file(fake, "not ours\n");
	snprintf(opt, sizeof(opt), "--metrics=%s", mdir);
	const char *args[] = { "run", "--json", opt, "--job", "a\"b\\c\nd", "--", "sh", "-c",
			       "mktemp -d >/dev/null; mktemp >/dev/null; exit 3", NULL };
	/* The reports of both runs. */
	char report[2][1000];
	for (int i = 0; i < 2; i++) {
		run_rcshim(&r, &s, NULL, args);
		ck_assert_exited(&r, 3);
		const char *rp = strstr(r.err, "report (");
		ck_assert_msg(rp && strstr(rp, "): "), "no report named: %s", r.err);
		snprintf(report[i], sizeof(report[i]), "%s", strstr(rp, "): ") + 3);
		report[i][strcspn(report[i], "\n")] = '\0';
		if (i == 0) {
			t_run_free(&r);
		}
	}
	/* The same job name as a file name. */
	char prom[900];
	snprintf(prom, sizeof(prom), "%s/rcshim_a_b_c_d.prom", mdir);
	ck_assert_msg(t_exists(prom), "no %s; stderr: %s", prom, r.err);
	const char *script =
		"import json,sys\n"
		"from prometheus_client.parser import text_string_to_metric_families as p\n"
		"m={}\n"
		"for fam in p(open(sys.argv[1]).read()):\n"
		"  for s in fam.samples:\n"
		"    m[(s.name,tuple(sorted(s.labels.items())))]=s.value\n"
		"job='a\"b\\\\c\\nd'\n"
		"r=json.load(open(sys.argv[3]))\n"
		"t=r['after_exit']['temp']\n"
		"def g(n,**l):\n"
		"  l['job']=job\n"
		"  return m[(n,tuple(sorted(l.items())))]\n"
		/* Each process's final cleanup at exit, from its report (the
		 * launcher's shared file or a file of its own), both runs. */
		"ex={}\n"
		"for f in sys.argv[2:4]:\n"
		"  for pr in json.load(open(f))['processes']:\n"
		"    rep=pr['report']; rep=rep if isinstance(rep,list) else [rep]\n"
		"    for o in rep:\n"
		"      if o['format']!='rcshim-event' and o['event']=='exit' and o['final']:\n"
		"        ex[o['priority']]=ex.get(o['priority'],0)+1\n"
		"assert ex.get('MEDIUM',0)>=4, ex\n"
		"got={k[1]:v for k,v in m.items() if k[0]=='rcshim_cleanups_total' and ('trigger','exit') in k[1]}\n"
		"want={tuple(sorted((('job',job),('priority',p),('trigger','exit')))):n for p,n in ex.items()}\n"
		"assert got==want,(got,want)\n"
		"assert g('rcshim_runs_total',status='exit_3')==2, m\n"
		"assert t['removed']==2, t\n"
		"assert g('rcshim_reclaimed_total',kind='temp')==2*t['removed'], m\n"
		"assert g('rcshim_left_alone_total',kind='temp')==2*(t['left_alone']+t['failed'])\n"
		"assert g('rcshim_last_run_exit_code')==3\n"
		"assert g('rcshim_cleanups_total',trigger='after_exit',priority='LOW')==2\n"
		"print('ok', len(m))\n";
	const char *pv[] = { python, "-c", script, prom, report[0], report[1], NULL };
	t_run(&py, false, NULL, NULL, pv);
	ck_assert_msg(WIFEXITED(py.status) && WEXITSTATUS(py.status) == 0, "parser: %s %s",
		      py.out, py.err);
	t_run_free(&py);
	/* Nothing of anyone else's touched; no temporary name left. */
	char *c = t_read_file(other);
	ck_assert_str_eq(c, "# someone else's\nnode_thing 1\n");
	free(c);
	c = t_read_file(fake);
	ck_assert_str_eq(c, "not ours\n");
	free(c);
	t_run_free(&r);
	/* A file of the job's name that is not ours is never replaced. */
	const char *a2[] = { "run", opt, "--job", "other", "--", "true", NULL };
	run_rcshim(&r, &s, NULL, a2);
	ck_assert_exited(&r, 0);
	ck_assert_msg(cli_contains(r.err, "is not a file rcshim wrote"), "%s", r.err);
	c = t_read_file(fake);
	ck_assert_str_eq(c, "not ours\n");
	free(c);
	DIR *d = opendir(mdir);
	struct dirent *e;
	while ((e = readdir(d))) {
		ck_assert_msg(!strstr(e->d_name, ".tmp"), "left: %s", e->d_name);
	}
	closedir(d);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* Holds a temp dir with a file and an fd; says its pid in argv[1]; after
 * argv[2] exists, another dir and fd; runs until argv[3] exists. */
static const char holder[] =
	"import os, sys, tempfile, time\n"
	"keep = []\n"
	"def hold():\n"
	"  d = tempfile.mkdtemp()\n"
	"  open(os.path.join(d, 'data'), 'w').write('x' * 4096)\n"
	"  keep.append(os.open(os.path.join(d, 'data'), os.O_RDONLY))\n"
	"def wait(p):\n"
	"  end = time.time() + 60\n"
	"  while not os.path.exists(p) and time.time() < end: time.sleep(0.02)\n"
	"hold()\n"
	"open(sys.argv[1] + '.tmp', 'w').write('%d\\n' % os.getpid())\n"
	"os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
	"wait(sys.argv[2])\n"
	"hold()\n"
	"wait(sys.argv[3])\n";

/* Waits (at most 10 s) until @path has the line @line (newline included). */
static bool
prom_has(const char *path, const char *line)
{
	for (int i = 0; i < 1000; i++) {
		char *c = t_read_file(path);
		bool yes = c && strstr(c, line);
		free(c);
		if (yes) {
			return true;
		}
		usleep(10000);
	}
	return false;
}

static void
clean_pid(const struct cli_scratch *s, const char *pid, const char *prio)
{
	struct rc_run r;
	const char *cl[] = { "clean", pid, "--priority", prio, NULL };
	run_rcshim(&r, s, NULL, cl);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "clean: %s %s", r.out,
		      r.err);
	t_run_free(&r);
}

/* --metrics at each live cleanup: python holds temp dirs and fds and is
 * cleaned live twice (rcshim clean) while the launcher runs; after each,
 * the file already counts it; at the end its counts are the JSON report's
 * (every cleanup by trigger and priority, reclaimed counts and bytes by
 * kind), the parser accepts it, and nothing else in DIR is touched. */
START_TEST(metrics_count_live_cleanups)
{
	struct cli_scratch s;
	struct rc_run py;
	char mdir[800], other[900], opt[900], ready[800], go1[800], go2[800], prom[900];

	cli_scratch_init(&s);
	const char *python = prom_python(&s);
	snprintf(mdir, sizeof(mdir), "%s/textfile", s.dir);
	ck_assert_int_eq(mkdir(mdir, 0755), 0);
	snprintf(other, sizeof(other), "%s/node.prom", mdir);
	t_write_file(other, "node_thing 1\n");
	snprintf(opt, sizeof(opt), "--metrics=%s", mdir);
	snprintf(prom, sizeof(prom), "%s/rcshim_live.prom", mdir);
	snprintf(ready, sizeof(ready), "%s/ready", s.dir);
	snprintf(go1, sizeof(go1), "%s/go1", s.dir);
	snprintf(go2, sizeof(go2), "%s/go2", s.dir);
	/* Its own temp dirs (not the session's, which no single process may
	 * remove): CRITICAL removes them live. */
	const char *args[] = { "run", "--json", "--tmp-owner", "process", opt, "--job", "live",
			       "--", "python3", "-c", holder, ready, go1, go2, NULL };
	pid_t launcher = spawn_rcshim(&s, "run", NULL, args);
	char *c = cli_wait_file(ready, 60);
	ck_assert_msg(c, "the program did not start");
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", atoi(c));
	free(c);

	clean_pid(&s, pid, "critical");
	ck_assert_msg(prom_has(prom, "rcshim_cleanups_total{job=\"live\",trigger=\"live_signal\","
				     "priority=\"CRITICAL\"} 1\n"),
		      "the first live cleanup is not in %s", prom);
	c = t_read_file(prom);
	ck_assert_msg(!strstr(c, "rcshim_runs_total"), "a run counted before its end:\n%s", c);
	free(c);
	t_write_file(go1, "go");
	usleep(300000); /* the second dir made */
	clean_pid(&s, pid, "high");
	ck_assert_msg(prom_has(prom, "rcshim_cleanups_total{job=\"live\",trigger=\"live_signal\","
				     "priority=\"HIGH\"} 1\n"),
		      "the second live cleanup is not in %s", prom);
	t_write_file(go2, "go");
	int st = cli_wait(launcher, 60);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", t_status_str(st));

	char errf[800], report[1024] = "";
	snprintf(errf, sizeof(errf), "%s/run.err", s.dir);
	char *err = t_read_file(errf);
	const char *at = err ? strstr(err, "rcshim: report (") : NULL;
	ck_assert_msg(at && strstr(at, "): "), "no report named: %s", err);
	sscanf(strstr(at, "): ") + 3, "%1023[^\n]", report);
	free(err);
	const char *script =
		"import json,sys\n"
		"from prometheus_client.parser import text_string_to_metric_families as p\n"
		"m={}\n"
		"for fam in p(open(sys.argv[1]).read()):\n"
		"  for s in fam.samples:\n"
		"    assert s.labels.pop('job')=='live', s\n"
		"    m[(s.name,tuple(sorted(s.labels.items())))]=s.value\n"
		"r=json.load(open(sys.argv[2]))\n"
		"cl={}; rec={}; by={}\n"
		"def one(t,pr,x):\n"
		"  cl[(t,pr)]=cl.get((t,pr),0)+1\n"
		"  for k,v in x['kinds'].items():\n"
		"    rec[k]=rec.get(k,0)+v['cleaned']; by[k]=by.get(k,0)+v['bytes']\n"
		"for pr in r['processes']:\n"
		"  rep=pr['report']; rep=rep if isinstance(rep,list) else [rep]\n"
		"  for o in rep:\n"
		"    if o['format']=='rcshim-event':\n"
		"      c=o.get('cleanup')\n"
		"      if c and c['mode']=='live': one(c['reason'],c['priority'],c['result'])\n"
		"    elif o['event'] in ('exit','signal'):\n"
		"      if o['final']: one(o['event'],o['priority'],o['final'])\n"
		"      for c in o['cleanups']:\n"
		"        if c['mode']=='live' or (c['mode'],c['reason'],c['scope'])==('final','signal',0):\n"
		"          continue\n"
		"        one(c['reason'],c['priority'],c['result'])\n"
		"cl[('after_exit','LOW')]=1\n"
		"rec['temp']+=r['after_exit']['temp']['removed']\n"
		"got={k[1]:v for k,v in m.items() if k[0]=='rcshim_cleanups_total'}\n"
		"want={(('priority',p),('trigger',t)):n for (t,p),n in cl.items()}\n"
		"assert got==want,(got,want)\n"
		"assert cl[('live_signal','CRITICAL')]==1 and cl[('live_signal','HIGH')]==1,cl\n"
		"assert any(t=='exit' for t,_ in cl),cl\n"
		"for k in rec:\n"
		"  assert m[('rcshim_reclaimed_total',(('kind',k),))]==rec[k],(k,rec,m)\n"
		"for k in by:\n"
		"  b=m[('rcshim_reclaimed_bytes_total',(('kind',k),))]\n"
		"  assert b==by[k] or (k=='temp' and b>=by[k]),(k,by,m)\n"
		"assert rec['temp']>=2 and rec['fd']>=1,rec\n"
		"assert m[('rcshim_runs_total',(('status','exit_0'),))]==1,m\n"
		"print('ok',sorted(cl.items()),rec)\n";
	const char *pv[] = { python, "-c", script, prom, report, NULL };
	t_run(&py, false, NULL, NULL, pv);
	ck_assert_msg(WIFEXITED(py.status) && WEXITSTATUS(py.status) == 0, "parser: %s %s",
		      py.out, py.err);
	t_run_free(&py);
	/* DIR: the other file as it was, ours and its lock, nothing else. */
	c = t_read_file(other);
	ck_assert_str_eq(c, "node_thing 1\n");
	free(c);
	DIR *d = opendir(mdir);
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		ck_assert_msg(!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "node.prom") ||
				      !strcmp(n, "rcshim_live.prom") || !strcmp(n, ".rcshim_live.lock"),
			      "in DIR: %s", n);
	}
	closedir(d);
	cli_scratch_fini(&s);
}
END_TEST

/* The names in DIR: "." and ".." left out, the rest joined by ' '. */
static void
dir_names(const char *dir, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	ck_assert_msg(d, "%s: %s", dir, strerror(errno));
	out[0] = '\0';
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s ", e->d_name);
			ck_assert_uint_lt(n, len);
		}
	}
	closedir(d);
}

/* A --metrics DIR or --job NAME too long to keep whole: cut, DIR would
 * name its parent and NAME another job's file.  The run says so in one
 * line, writes no metrics, and the program's status comes through; the
 * parent and the other job's file are as they were. */
START_TEST(metrics_names_too_long_to_keep)
{
	struct cli_scratch s;
	struct rc_run r;
	char *top = malloc(4096), *dir = malloc(4096), *opt = malloc(4200), names[4096];
	char mdir[800], other[1000], job[201], ojob[128];

	cli_scratch_init(&s);
	/* top: exactly 1023 bytes, in components of at most 200; dir below it. */
	size_t n = (size_t)snprintf(top, 4096, "%s/p", s.dir);
	ck_assert_int_eq(mkdir(top, 0755), 0);
	while (n < 1023) {
		size_t k = 1023 - n - 1 > 200 ? 200 : 1023 - n - 1;
		if (1023 - n - 1 - k == 1) {
			k--; /* no last component of nothing after its '/' */
		}
		top[n++] = '/';
		memset(top + n, 'd', k);
		n += k;
		top[n] = '\0';
		ck_assert_int_eq(mkdir(top, 0755), 0);
	}
	ck_assert_uint_eq(strlen(top), 1023);
	snprintf(dir, 4096, "%s/m", top);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(opt, 4200, "--metrics=%s", dir);
	const char *a1[] = { "run", opt, "--", "sh", "-c", "mktemp >/dev/null; exit 3", NULL };
	run_rcshim(&r, &s, NULL, a1);
	ck_assert_exited(&r, 3);
	ck_assert_msg(strstr(r.err, "metrics not written: the directory's name is longer than "
				    "1023 bytes\n"),
		      "stderr: %s", r.err);
	dir_names(top, names, sizeof(names));
	ck_assert_str_eq(names, "m ");
	dir_names(dir, names, sizeof(names));
	ck_assert_str_eq(names, "");
	t_run_free(&r);

	/* NAME: 200 bytes; the job of its first 127 has a file of its own. */
	snprintf(mdir, sizeof(mdir), "%s/textfile", s.dir);
	ck_assert_int_eq(mkdir(mdir, 0755), 0);
	memset(job, 'j', 200);
	job[200] = '\0';
	memset(ojob, 'j', 127);
	ojob[127] = '\0';
	snprintf(other, sizeof(other), "%s/rcshim_%s.prom", mdir, ojob);
	const char *kept = "# rcshim metrics (rcshim run --metrics); one file per job\n"
			   "rcshim_runs_total{job=\"jjj\",status=\"exit_0\"} 7\n";
	t_write_file(other, kept);
	snprintf(opt, 4200, "--metrics=%s", mdir);
	const char *a2[] = { "run", opt, "--job", job, "--", "sh", "-c", "exit 4", NULL };
	run_rcshim(&r, &s, NULL, a2);
	ck_assert_exited(&r, 4);
	ck_assert_msg(strstr(r.err, "metrics not written: the job's name is longer than 127 "
				    "bytes\n"),
		      "stderr: %s", r.err);
	char *c = t_read_file(other);
	ck_assert_str_eq(c, kept);
	free(c);
	char want[200];
	snprintf(want, sizeof(want), "%s ", strrchr(other, '/') + 1);
	dir_names(mdir, names, sizeof(names));
	ck_assert_str_eq(names, want);
	t_run_free(&r);

	/* The same DIR and a name that fits: written (the check is the length). */
	const char *a3[] = { "run", opt, "--job", "short", "--", "sh", "-c", "exit 0", NULL };
	run_rcshim(&r, &s, NULL, a3);
	ck_assert_exited(&r, 0);
	snprintf(other, sizeof(other), "%s/rcshim_short.prom", mdir);
	ck_assert_msg(t_exists(other), "no %s: %s", other, r.err);
	t_run_free(&r);
	free(top);
	free(dir);
	free(opt);
	cli_scratch_fini(&s);
}
END_TEST

TEST_SUITE(sweep)
{
	ADD_TEST(s, sigkill_of_the_group_then_sweep);
	ADD_TEST(s, live_member_keeps_the_session);
	ADD_TEST(s, reused_pid_is_not_a_member);
	ADD_TEST(s, older_than);
	ADD_TEST(s, ungathered_reports_of_an_over_session);
	ADD_TEST(s, old_journal_cannot_be_judged);
	ADD_TEST(s, new_launcher_sweeps_in_the_background);
	ADD_TEST(s, background_sweep_at_most_once_a_minute);
	ADD_TEST(s, usage);
	ADD_TEST(s, metrics_parse_and_match_the_report);
	ADD_TEST(s, metrics_count_live_cleanups);
	ADD_TEST(s, metrics_names_too_long_to_keep);
}
