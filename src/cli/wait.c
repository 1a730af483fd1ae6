/* The subreaper's wait: for CMD, then for every descendant it left, with
 * termination signals passed on; then the exit as CMD's. */
#include "build-config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

/* How long descendants may outlive CMD before the launcher says it waits. */
#define LINGER_NOTICE_S 1

pid_t cli_wait_helper = -1;

static int io_fd = -1;
static bool (*io_fn)(void *);
static void *io_ctx;

void
cli_wait_on_io(int fd, bool (*fn)(void *), void *ctx)
{
	io_fd = fd;
	io_fn = fn;
	io_ctx = ctx;
}

/* The launcher's live children (after CMD has ended: the descendants it
 * left running, reparented here), its own helper aside.  Returns how many
 * were stored. */
static size_t
children(pid_t *out, size_t max)
{
	char path[64], buf[4096];
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	FILE *f = fopen(path, "re");
	if (!f) {
		return 0;
	}
	size_t got = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[got] = '\0';
	for (char *p = buf; *p && n < max;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p) {
			break;
		}
		if ((pid_t)v != cli_wait_helper) {
			out[n++] = (pid_t)v;
		}
		p = end;
	}
	return n;
}

/* False when there is nothing to say yet (only the launcher's helper runs). */
static bool
say_lingering(const char *name)
{
	pid_t pids[8];
	size_t n = children(pids, 8);
	char list[512] = "";
	size_t len = 0;

	if (n == 0 && cli_wait_helper > 0) {
		return false; /* only the launcher's own helper: nothing of the program's */
	}
	for (size_t i = 0; i < n && len < sizeof(list) - 64; i++) {
		char path[64], comm[32] = "?";
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pids[i]);
		FILE *f = fopen(path, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f)) {
				comm[strcspn(comm, "\n")] = '\0';
			}
			fclose(f);
		}
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%d %s",
					i ? ", " : "", (int)pids[i], comm);
	}
	cli_msg("%s has ended; waiting for the processes it left running (%s) before "
		"cleaning up", name, n ? list : "pids unknown");
	return true;
}

/* A termination signal sent to the launcher goes to the program: to CMD
 * while it runs, then to the descendants the launcher waits for. */
static void
forward(int sig, const siginfo_t *si, pid_t child, bool child_done)
{
	/* From the terminal (Ctrl-C, hangup): the whole foreground process
	 * group got it already. */
	if (si->si_code == SI_KERNEL) {
		return;
	}
	if (!child_done) {
		kill(child, sig);
		return;
	}
	pid_t pids[256];
	size_t n = children(pids, 256);
	for (size_t i = 0; i < n; i++) {
		kill(pids[i], sig);
	}
}

int
cli_wait_all(pid_t child, const sigset_t *set, const char *name, bool talk)
{
	int child_status = 0;
	bool child_done = false, noticed = false;
	time_t child_end = 0;

	bool more = false; /* io_fn has more to do */

	for (;;) {
		siginfo_t si;
		int sig;
		if (more || (child_done && !noticed && talk)) {
			struct timespec ts = { more ? 0 : 1, 0 };
			sig = sigtimedwait(set, &si, &ts);
			if (sig < 0 && errno == EAGAIN) {
				if (more) {
					more = io_fn(io_ctx);
				} else if (time(NULL) - child_end >= LINGER_NOTICE_S) {
					noticed = say_lingering(name);
				}
				continue;
			}
		} else {
			sig = sigwaitinfo(set, &si);
		}
		if (sig < 0) {
			continue; /* EINTR: a stop and continue */
		}
		if (sig == SIGIO && io_fn && si.si_code > 0 && si.si_fd == io_fd) {
			more = io_fn(io_ctx);
			continue;
		}
		if (sig != SIGCHLD) {
			forward(sig, &si, child, child_done);
			continue;
		}
		for (;;) {
			int st;
			pid_t p = waitpid(-1, &st, WNOHANG | __WALL);
			if (p > 0) {
				if (p == child) {
					child_status = st;
					child_done = true;
					child_end = time(NULL);
				}
				if (p == cli_wait_helper) {
					cli_wait_helper = -1;
				}
				continue;
			}
			if (p < 0 && errno == EINTR) {
				continue;
			}
			if (p < 0 && errno == ECHILD) {
				return child_status;
			}
			break; /* 0: some still run */
		}
	}
}

/* Death by CMD's signal @sig, without a core dump of the launcher's own.
 * Async-signal-safe (the guard below calls it from its handler). */
static void __attribute__((noreturn))
die_like(int sig)
{
	struct rlimit zero = { 0, 0 };
	setrlimit(RLIMIT_CORE, &zero);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	kill(getpid(), sig);
	/* A signal whose default action does not end a process. */
	_exit(128 + sig);
}

void
cli_exit_like(int status)
{
	fflush(NULL);
	if (!WIFSIGNALED(status)) {
		exit(WIFEXITED(status) ? WEXITSTATUS(status) : CLI_EXIT_FAILED);
	}
	die_like(WTERMSIG(status));
}

/* ---- the guard of the launcher's last phase -------------------------------------- */

/* The program's status, for a crash of the launcher after the program
 * ended (cli_guard_status). */
static volatile sig_atomic_t guard_status;
static char guard_stack[64 * 1024] __attribute__((aligned(16)));

static void
put_err(const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(STDERR_FILENO, s, n);
		if (w <= 0) {
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

static void
guard_handler(int sig)
{
	const char *name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS"
			 : sig == SIGILL ? "SIGILL" : sig == SIGFPE ? "SIGFPE"
			 : sig == SIGABRT ? "SIGABRT" : "SIGSYS";
	put_err("rcshim: internal error: ");
	put_err(name);
	put_err(" while gathering the run's report (a bug in rcshim); the report may be "
		"incomplete; the program's exit status is kept\n");

	/* cli_exit_like, without its stdio: only async-signal-safe calls. */
	int status = guard_status;
	if (!WIFSIGNALED(status)) {
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : CLI_EXIT_FAILED);
	}
	die_like(WTERMSIG(status));
}

void
cli_guard_status(int status)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS };
	stack_t ss = { .ss_sp = guard_stack, .ss_size = sizeof(guard_stack), .ss_flags = 0 };
	struct sigaction sa;

	guard_status = status;
	/* A crash from a stack overflow still has a stack to run on. */
	sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = guard_handler;
	sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		sigaction(fatal[i], &sa, NULL);
	}
}
