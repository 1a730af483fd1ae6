/* Creates a temp dir, prints its path, then waits (up to 30 s) for it to
 * disappear — which a debugger calling rcshim_emergency_cleanup makes
 * happen — and prints "gone". */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/gdb-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(path)) {
		return 1;
	}
	printf("%s\n", path);
	fflush(stdout);
	for (int i = 0; i < 300; i++) {
		if (stat(path, &st) != 0) {
			printf("gone\n");
			return 0;
		}
		usleep(100000);
	}
	printf("still there\n");
	return 1;
}
