/* Creates a temp dir (path printed on stdout), then dereferences NULL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/segv-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(path)) {
		perror("mkdtemp");
		return 1;
	}
	printf("%s\n", path);
	fflush(stdout);
	volatile int *p = NULL;
	return *p;
}
