/* With stdin closed, makes a temp dir (under the shim a stack is taken
 * for it, and libunwind is loaded), then opens /dev/null and prints the
 * fd it got (0, as without the shim) and its list of open fds (the same
 * as without the shim: the shim keeps none).  Fds at or above the soft
 * RLIMIT_NOFILE are left out: valgrind keeps its own there, and lowers
 * the limit the program sees below them. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/stdin-closed-XXXXXX", tmp ? tmp : "/tmp");
	close(0);
	if (!mkdtemp(dir)) {
		return 2;
	}
	int fd = open("/dev/null", O_RDONLY);
	printf("%d\n", fd);
	struct rlimit lim;
	long limit = getrlimit(RLIMIT_NOFILE, &lim) == 0 ? (long)lim.rlim_cur : 1024;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d) && atol(e->d_name) < limit) {
			printf("%s ", e->d_name);
		}
	}
	printf("\n");
	if (d) {
		closedir(d);
	}
	rmdir(dir);
	return 0;
}
