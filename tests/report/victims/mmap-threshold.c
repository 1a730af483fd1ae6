/* Where glibc places a 200 000-byte block: above its default mmap
 * threshold (128 KiB), so in a mapping of its own, until a freed mapped
 * block raises the threshold.  The shim must not move that point (its
 * allocator probe once did, by freeing a mapped block of its own). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

static int
mapped_after_malloc(void)
{
	struct mallinfo2 before = mallinfo2();
	char *p = malloc(200000);
	if (!p) {
		exit(2);
	}
	p[0] = 1;
	struct mallinfo2 after = mallinfo2();
	int mapped = after.hblks > before.hblks;
	free(p);
	return mapped;
}

int
main(void)
{
	int first = mapped_after_malloc();
	int second = mapped_after_malloc();
	printf("first block mapped: %d, second: %d\n", first, second);
	return 0;
}
