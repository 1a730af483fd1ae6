/* A child that goes through no fork handler of the shim's — made by
 * _Fork(), vfork(), or a raw clone system call — ends with exit(), which
 * runs the shim's destructor in it.  The parent's temp dir must survive
 * that (it is not the child's), and the parent's own end still removes it.
 * Usage: victim-nohandler-child _Fork|vfork|clone
 * Prints the parent's temp dir, then "intact" or "gone". */
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern pid_t _Fork(void);

int
main(int argc, char **argv)
{
	if (argc < 2) {
		return 2;
	}
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char d[PATH_MAX];
	snprintf(d, sizeof(d), "%s/parent-XXXXXX", tmp);
	if (!mkdtemp(d)) {
		perror("mkdtemp");
		return 1;
	}
	printf("%s\n", d);
	fflush(stdout);
	pid_t pid;
	if (!strcmp(argv[1], "_Fork")) {
		pid = _Fork();
	} else if (!strcmp(argv[1], "vfork")) {
		/* exit() in a vfork child is what the issue saw programs do. */
		pid = vfork();
	} else {
		pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	}
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	struct stat sb;
	printf("%s\n", stat(d, &sb) == 0 ? "intact" : "gone");
	return 0;
}
