/* A mkdir/rmdir loop in the temp root while a 5 ms SIGALRM handler forks
 * (each child exits at once, from the handler).  A fork from the handler
 * may interrupt the shim inside its registry lock (tracking the rmdir):
 * the fork must not wait for that lock.  Ends after argv[1] forks (default
 * 200) and prints "failed M" (children that did not exit 0). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t forks, failed;
static int want;

static void
on_alarm(int sig)
{
	int saved = errno;
	(void)sig;
	if (forks >= want) {
		/* Enough: the timer stops here, not only in main, which a
		 * handler slower than the interval would never let run. */
		struct itimerval off;
		memset(&off, 0, sizeof(off));
		setitimer(ITIMER_REAL, &off, NULL);
		errno = saved;
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		_exit(0);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		failed++;
	}
	forks++;
	errno = saved;
}

int
main(int argc, char **argv)
{
	want = argc > 1 ? atoi(argv[1]) : 200;
	const char *tmp = getenv("TMPDIR");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/alarm-fork-%d", tmp ? tmp : "/tmp", (int)getpid());

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0) {
		return 2;
	}
	struct itimerval it = { { 0, 5000 }, { 0, 5000 } };
	if (setitimer(ITIMER_REAL, &it, NULL) < 0) {
		return 2;
	}
	while (forks < want) {
		if (mkdir(dir, 0700) == 0) {
			rmdir(dir);
		}
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	printf("failed %d\n", (int)failed);
	return 0;
}
