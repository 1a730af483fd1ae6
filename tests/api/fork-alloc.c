/* A single-threaded program linked with the shim: makes a call the shim
 * tracks, then forks, and the child allocates and exits.  "open": an open
 * (the shim must not start a thread for it); "cleaner": a registered
 * cleaner first (the shim's thread starts, and is past its start-up before
 * the registration returns).  Under AddressSanitizer the child once hung
 * at its exit, on locks of ASan's (its thread registry's, its allocator's)
 * that the shim's thread held in its start-up at the moment of the fork.
 * Exits 0 when the child did. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rcshim.h"

static long
nothing(void *ctx)
{
	(void)ctx;
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "cleaner") == 0 &&
	    !rcshim_register_cleaner(nothing, NULL, RCSHIM_LOW, "nothing")) {
		return 2;
	}
	int fd = open("/dev/null", O_RDONLY);
	if (fd < 0) {
		return 2;
	}
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 1; i < 64; i++) {
			char *volatile p = malloc((size_t)i * 100);
			if (p) {
				p[0] = 1;
			}
			free(p);
		}
		/* exit, not _exit: under ASan, LeakSanitizer's check at exit
		 * takes the thread registry's and the allocator's locks. */
		exit(0);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid) {
		return 3;
	}
	close(fd);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 4;
}
