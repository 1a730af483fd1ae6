/* A cleaner that forks: the engine runs it holding its own lock, so the
 * fork is made inside the shim's work.  The child exits through exit()
 * (its exit handlers and the shim's destructor run there).  Prints the
 * child's exit status and how many items the live cleanup cleaned.  Uses
 * the API through dlsym: run it under the shim. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rcshim.h"

static int child_status = -1;

static long
forking_cleaner(void *ctx)
{
	(void)ctx;
	pid_t pid = fork();
	if (pid == 0) {
		exit(0);
	}
	int st;
	if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st)) {
		child_status = WEXITSTATUS(st);
	}
	return 1;
}

int
main(void)
{
	__typeof__(rcshim_register_cleaner) *reg =
		(__typeof__(rcshim_register_cleaner) *)dlsym(RTLD_DEFAULT, "rcshim_register_cleaner");
	__typeof__(rcshim_clean) *clean = (__typeof__(rcshim_clean) *)dlsym(RTLD_DEFAULT, "rcshim_clean");
	if (!reg || !clean) {
		printf("no shim\n");
		return 0;
	}
	if (!reg(forking_cleaner, NULL, RCSHIM_LOW, "forks")) {
		return 2;
	}
	struct rcshim_result res;
	clean(RCSHIM_LOW, &res);
	printf("child %d, cleaned %lu\n", child_status,
	       (unsigned long)res.kind[RCSHIM_KIND_CUSTOM].cleaned);
	/* The exit's cleanup runs the cleaner again: its child must not
	 * flush a copy of this line. */
	fflush(stdout);
	return 0;
}
