/* Installs its own SIGUSR1 handler, then raises SIGUSR1 N times: every one
 * must reach the handler, as without the shim.  Prints the count. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void
on_usr1(int sig)
{
	(void)sig;
	got++;
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < n; i++) {
		raise(SIGUSR1); /* delivered before raise returns */
	}
	union sigval v = { .sival_int = 2 };
	sigqueue(getpid(), SIGUSR1, v);
	/* Delivered at once on Linux; under valgrind a moment later. */
	for (int i = 0; i < 200 && got < n + 1; i++) {
		usleep(10000);
	}
	printf("%d\n", (int)got);
	return 0;
}
