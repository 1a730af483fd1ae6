/* The parent creates a temp dir and a temp file; a forked child exits
 * normally (running exit handlers and destructors); the parent then
 * checks both still exist and prints "intact" or "removed". */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], file[4096];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/fork-XXXXXX", tmp ? tmp : "/tmp");
	snprintf(file, sizeof(file), "%s/forkfile-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir) || mkstemp(file) < 0) {
		return 1;
	}
	printf("%s\n%s\n", dir, file);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		/* The child makes one of its own, which is its to reclaim
		 * only in process mode. */
		exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("%s\n", stat(dir, &st) == 0 && stat(file, &st) == 0 ? "intact" : "removed");
	return 0;
}
