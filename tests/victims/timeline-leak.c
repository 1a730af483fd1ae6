/* Leaks in phases for the timeline (tests/cli/test-timeline.c,
 * scripts/timeline-demo.sh): in each of PHASES phases, STEPS times every
 * STEP_MS milliseconds, a temp file (8 KiB written, its fd kept open), an
 * fd of /dev/null and 64 KiB of heap that are never given back.  After
 * each phase but the last it asks itself for a CRITICAL live cleanup
 * (sigqueue SIGUSR1, value 4) and waits until the cleanup has closed the
 * phase's fds (at most 5 s), so the leaks rise and drop PHASES - 1 times.
 * Prints "cleanups N" (the cleanups it saw) at the end.
 *
 * Usage: victim-timeline-leak [PHASES [STEPS [STEP_MS]]] (default 3 10 40) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

int
main(int argc, char **argv)
{
	int phases = argc > 1 ? atoi(argv[1]) : 3;
	int steps = argc > 2 ? atoi(argv[2]) : 10;
	long step_ms = argc > 3 ? atol(argv[3]) : 40;
	const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	static char data[8192];
	int seen = 0;

	memset(data, 'x', sizeof(data));
	for (int p = 0; p < phases; p++) {
		int first = -1;
		for (int s = 0; s < steps; s++) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/timeline-leak.XXXXXX", tmp);
			int fd = mkstemp(path);
			if (fd >= 0 && write(fd, data, sizeof(data)) < 0) {
				perror("write");
			}
			if (first < 0) {
				first = fd;
			}
			if (open("/dev/null", O_RDONLY) < 0) {
				perror("open");
			}
			char *leak = malloc(64 * 1024);
			if (leak) {
				memset(leak, p + 1, 64 * 1024);
			}
			__asm__ volatile("" : : "r"(leak) : "memory");
			sleep_ms(step_ms);
		}
		if (p == phases - 1) {
			break;
		}
		union sigval v = { .sival_int = 4 }; /* CRITICAL */
		if (sigqueue(getpid(), SIGUSR1, v) < 0) {
			perror("sigqueue");
		}
		for (int i = 0; i < 500 && first >= 0 && fcntl(first, F_GETFD) >= 0; i++) {
			sleep_ms(10);
		}
		seen += first >= 0 && fcntl(first, F_GETFD) < 0;
		sleep_ms(step_ms * 3);
	}
	printf("cleanups %d\n", seen);
	return 0;
}
