/* Holds N small live allocations (16..64 bytes) and prints the resident
 * size in KiB (VmRSS), for the bookkeeping-memory benchmark.
 * Usage: victim-rss [N]  (default 10 000 000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000000;
	void **v = malloc((size_t)n * sizeof(*v));
	unsigned x = 1;
	for (long i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		v[i] = malloc(16 + (x >> 16) % 49);
		*(char *)v[i] = 1;
	}
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			printf("%ld\n", atol(line + 6));
		}
	}
	if (f) {
		fclose(f);
	}
	return 0;
}
