/* open+close of one temp file in a loop, for the benchmark.
 * Usage: victim-openclose FILE COUNT */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s FILE COUNT\n", argv[0]);
		return 2;
	}
	long n = atol(argv[2]);
	for (long i = 0; i < n; i++) {
		int fd = open(argv[1], O_RDONLY);
		if (fd < 0) {
			perror("open");
			return 1;
		}
		close(fd);
	}
	return 0;
}
