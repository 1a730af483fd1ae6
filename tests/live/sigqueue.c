/* sigqueue PID SIGNAL VALUE [COUNT]: sends SIGNAL with VALUE, COUNT times. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s PID SIGNAL VALUE [COUNT]\n", argv[0]);
		return 2;
	}
	union sigval v = { .sival_int = atoi(argv[3]) };
	long n = argc > 4 ? atol(argv[4]) : 1;
	for (long i = 0; i < n; i++) {
		if (sigqueue(atoi(argv[1]), atoi(argv[2]), v) != 0) {
			perror("sigqueue");
			return 1;
		}
	}
	return 0;
}
