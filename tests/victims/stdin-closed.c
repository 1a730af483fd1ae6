/* With stdin closed, makes a temp dir (under the shim a stack is taken
 * for it, and libunwind is loaded), then opens /dev/null and prints the
 * fd it got (0, as without the shim) and its list of open fds (the same
 * as without the shim: the shim keeps none). */
#include <dirent.h>
#include <fcntl.h>
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
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d)) {
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
