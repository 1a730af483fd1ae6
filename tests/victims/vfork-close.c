/* Opens /dev/null inside a scope, then a vfork child closes that fd
 * and exits: the child's close is in the child's fd table only, so the
 * scope's end (MEDIUM) must still find the parent's fd and close it.
 * Prints "closed" or "open" for the fd after the scope's end, and the fds
 * the scope closed.  Uses the API through dlsym: run it under the shim. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rcshim.h"

int
main(void)
{
	__typeof__(rcshim_scope_begin) *begin =
		(__typeof__(rcshim_scope_begin) *)dlsym(RTLD_DEFAULT, "rcshim_scope_begin");
	__typeof__(rcshim_scope_end) *end =
		(__typeof__(rcshim_scope_end) *)dlsym(RTLD_DEFAULT, "rcshim_scope_end");
	if (!begin || !end) {
		printf("no shim\n");
		return 0;
	}
	rcshim_scope s = begin("vfork");
	int fd = open("/dev/null", O_RDONLY);
	if (fd < 0) {
		return 2;
	}
	pid_t pid = vfork();
	if (pid == 0) {
		close(fd);
		_exit(0);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid) {
		return 2;
	}
	struct rcshim_result res;
	end(s, RCSHIM_MEDIUM, &res);
	printf("%s %lu\n", fcntl(fd, F_GETFD) < 0 ? "closed" : "open",
	       (unsigned long)res.kind[RCSHIM_KIND_FD].cleaned);
	return 0;
}
