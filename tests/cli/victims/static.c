/* A statically linked program (no dynamic loader, so no preloading): says
 * so; with "run CMD...", runs CMD, which is dynamic and does get the shim,
 * and exits with its status.  (As a #! interpreter it gets the script's
 * path as its argument and runs nothing.) */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	printf("static ok\n");
	fflush(stdout);
	if (argc < 3 || strcmp(argv[1], "run") != 0) {
		return 0;
	}
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) < 0) {
		return 125;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
