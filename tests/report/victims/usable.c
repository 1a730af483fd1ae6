/* What the allocator says of a few blocks: malloc_usable_size of each
 * size on the command line.  With heap tracking off, the shim must leave
 * these answers (glibc's: the size rounded up to its chunk) as they are. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		size_t n = strtoul(argv[i], NULL, 10);
		void *p = malloc(n);
		if (!p) {
			return 2;
		}
		printf("%s%zu", i > 1 ? " " : "", malloc_usable_size(p));
		free(p);
	}
	printf("\n");
	return 0;
}
