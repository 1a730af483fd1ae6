/* Calls rcshim's hook symbol through a weak reference: built without
 * linking rcshim, it runs unchanged when the shim is absent, and asks for a
 * live cleanup when the shim is preloaded.
 *
 *   cc -I include docs/examples/hook-weak.c -o hook-weak
 *   ./hook-weak                                  # "rcshim is not loaded"
 *   LD_PRELOAD=build/src/librcshim.so ./hook-weak
 */
#define RCSHIM_WEAK 1
#include <rcshim.h>

#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	rcshim_priority prio = argc > 1 ? (rcshim_priority)atoi(argv[1]) : RCSHIM_MEDIUM;

	if (!rcshim_clean) {
		printf("rcshim is not loaded\n");
		return 0;
	}
	struct rcshim_result res;
	rcshim_status st = rcshim_clean(prio, &res);
	printf("rcshim %s: live cleanup status %d, %llu cleaned, %llu failed\n",
	       rcshim_version(), (int)st, (unsigned long long)res.cleaned,
	       (unsigned long long)res.failed);
	return 0;
}
