/* Signals sent to the launcher: forwarded to the program when another
 * process sends them; not forwarded when the terminal sent them to the
 * whole foreground group (the program got its own). */
#include "build-config.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "common.h"
#include "test.h"

static const char sleeper[] =
	"import os, sys, tempfile, time\n"
	"d = tempfile.mkdtemp()\n"
	"open(sys.argv[1] + '.tmp', 'w').write('%d %s\\n' % (os.getpid(), d))\n"
	"os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
	"time.sleep(60)\n";

static double
now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* SIGTERM from another process: the program gets it (and, under the shim,
 * cleans up and dies of it); the launcher then dies of it too. */
START_TEST(sigterm_is_forwarded)
{
	struct cli_scratch s;
	char f[700], dir[600] = "";
	int pypid = 0;

	cli_scratch_init(&s);
	snprintf(f, sizeof(f), "%s/F", s.dir);
	const char *args[] = { "run", "--", "python3", "-c", sleeper, f, NULL };
	double t0 = now_s();
	pid_t launcher = spawn_rcshim(&s, "run", NULL, args);
	char *c = cli_wait_file(f, 60);
	ck_assert_msg(c, "the program did not start");
	ck_assert_int_eq(sscanf(c, "%d %599s", &pypid, dir), 2);
	free(c);
	ck_assert_int_eq(kill(launcher, SIGTERM), 0);
	int st = cli_wait(launcher, 30);
	ck_assert_killed_by(st, SIGTERM);
	ck_assert_msg(now_s() - t0 < 50, "the program was not stopped");
	ck_assert_msg(kill(pypid, 0) < 0 && errno == ESRCH, "python (%d) still runs", pypid);
	ck_assert_msg(!t_exists(dir), "%s is still there", dir);
	char errf[800];
	snprintf(errf, sizeof(errf), "%s/run.err", s.dir);
	char *err = t_read_file(errf);
	ck_assert_msg(cli_contains(err, "killed by signal 15 (SIGTERM)"), "stderr: %s", err);
	free(err);
	cli_scratch_fini(&s);
}
END_TEST

/* After CMD has ended, a signal goes to the descendants the launcher
 * waits for: it is how one stops waiting for them. */
START_TEST(sigterm_reaches_lingering_descendants)
{
	struct cli_scratch s;
	char errf[800];

	cli_scratch_init(&s);
	snprintf(errf, sizeof(errf), "%s/run.err", s.dir);
	const char *args[] = { "run", "--", "sh", "-c",
			       "(setsid sleep 60 </dev/null >/dev/null 2>&1 &); exit 4", NULL };
	double t0 = now_s();
	pid_t launcher = spawn_rcshim(&s, "run", NULL, args);
	char *err = NULL;
	for (int i = 0; i < 3000; i++) {
		free(err);
		err = t_read_file(errf);
		if (cli_contains(err, "waiting for the processes it left running")) {
			break;
		}
		usleep(10000);
	}
	ck_assert_msg(cli_contains(err, "rcshim: sh has ended; waiting for the processes it left "
					"running (") &&
			      cli_contains(err, " sleep) before cleaning up\n"),
		      "stderr: %s", err);
	free(err);
	ck_assert_int_eq(kill(launcher, SIGTERM), 0);
	int st = cli_wait(launcher, 30);
	/* The program's status, not the signal's: sh had exited with 4. */
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 4, "%s", t_status_str(st));
	ck_assert_msg(now_s() - t0 < 50, "the launcher waited for sleep to end by itself");
	cli_scratch_fini(&s);
}
END_TEST

/* Ctrl-C on a terminal: the program gets SIGINT from the kernel, once;
 * the launcher does not send it a second one, then dies of SIGINT as the
 * program did. */
START_TEST(ctrl_c_is_not_forwarded_twice)
{
	struct cli_scratch s;
	char f[700];
	static const char counter[] =
		"import os, signal, sys, tempfile, time\n"
		"n = 0\n"
		"def on_int(sig, frame):\n"
		"    global n\n"
		"    n += 1\n"
		"signal.signal(signal.SIGINT, on_int)\n"
		"d = tempfile.mkdtemp()\n"
		"open(sys.argv[1] + '.tmp', 'w').write(d + '\\n')\n"
		"os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
		"end = time.time() + 30\n"
		"while n == 0 and time.time() < end: time.sleep(0.01)\n"
		"end = time.time() + 1\n"
		"while time.time() < end: time.sleep(0.01)\n"
		"signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
		"if n == 1: os.kill(os.getpid(), signal.SIGINT)\n"
		"sys.exit(n)\n";

	cli_scratch_init(&s);
	snprintf(f, sizeof(f), "%s/F", s.dir);
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(master, 0);
	ck_assert_int_eq(grantpt(master), 0);
	ck_assert_int_eq(unlockpt(master), 0);
	char *slave_name = strdup(ptsname(master));

	const char *args[] = { "run", "--", "python3", "-c", counter, f, NULL };
	const char **argv = cli_argv(args);
	const char **envp = cli_full_env(&s, NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setsid();
		int sl = open(slave_name, O_RDWR);
		if (sl < 0 || ioctl(sl, TIOCSCTTY, 0) < 0) {
			_exit(99);
		}
		dup2(sl, 0);
		dup2(sl, 1);
		dup2(sl, 2);
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
	char *d = cli_wait_file(f, 60);
	ck_assert_msg(d, "the program did not start");
	d[strcspn(d, "\n")] = '\0';
	/* The terminal's interrupt character: SIGINT to the foreground group. */
	struct termios tio;
	ck_assert_int_eq(tcgetattr(master, &tio), 0);
	char intr = (char)tio.c_cc[VINTR];
	ck_assert_int_eq(write(master, &intr, 1), 1);

	char out[8192];
	size_t got = 0;
	int st = 0;
	/* 60 s by the clock: once the last slave fd is closed poll reports
	 * a hang-up at once, and the launcher may still be exiting (slowly,
	 * under a sanitizer on a loaded machine). */
	for (double end = now_s() + 60; now_s() < end;) {
		struct pollfd pf = { master, POLLIN, 0 };
		ssize_t n = 0;
		if (poll(&pf, 1, 10) > 0 && (pf.revents & POLLIN)) {
			n = read(master, out + got, sizeof(out) - 1 - got);
			if (n > 0) {
				got += (size_t)n;
			}
		}
		if (n <= 0 && (pf.revents & (POLLHUP | POLLERR))) {
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			pid = 0;
			break;
		}
	}
	out[got] = '\0';
	if (pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		ck_abort_msg("the launcher did not end; terminal: %s", out);
	}
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT,
		      "%s (exit 2: the program got SIGINT twice); terminal: %s", t_status_str(st),
		      out);
	ck_assert_msg(!t_exists(d), "%s is still there", d);
	close(master);
	free(d);
	free(slave_name);
	cli_scratch_fini(&s);
}
END_TEST

TEST_SUITE(cli_signals)
{
	ADD_TEST(s, sigterm_is_forwarded);
	ADD_TEST(s, sigterm_reaches_lingering_descendants);
	ADD_TEST(s, ctrl_c_is_not_forwarded_twice);
}
