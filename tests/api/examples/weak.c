/* Built without -lrcshim: it runs unchanged without the shim, and with
 * LD_PRELOAD=librcshim.so its scope reclaims what it leaks.
 *
 *   cc weak.c -o weak
 *   ./weak
 *   LD_PRELOAD=librcshim.so ./weak
 */
#define RCSHIM_WEAK 1
#include <rcshim.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int
main(void)
{
	char dir[] = "/tmp/weak-XXXXXX";
	struct rcshim_result result;
	struct stat st;

	{
		/* Without the shim this opens nothing, and result says
		 * RCSHIM_DISABLED. */
		RCSHIM_SCOPE_EX("work", RCSHIM_MEDIUM, 0, &result);
		mkdtemp(dir);
	}
	printf("rcshim: %s\n", RCSHIM_PRESENT(rcshim_version) ? "present" : "absent");
	printf("scope: %s\n", RCSHIM_PRESENT(rcshim_status_name)
				      ? rcshim_status_name(result.status)
				      : (result.status == RCSHIM_DISABLED ? "disabled" : "?"));
	if (stat(dir, &st) == 0) {
		printf("temp dir: still there, removed by the program\n");
		rmdir(dir);
	} else {
		printf("temp dir: removed by the scope\n");
	}
	return 0;
}
