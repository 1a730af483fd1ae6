/* Threads that allocate while others start and exit, and (with "fork")
 * fork children while they allocate.  Each worker thread leaks exactly
 * LEAKS blocks of LEAK_SIZE bytes from thread_leak(); everything else is
 * freed.  Prints a fixed line so runs can be compared with the bare
 * program.
 *
 * Usage: victim-heap-threads [threads|fork] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAVES 6
#define PER_WAVE 6
#define LEAKS 10
#define LEAK_SIZE 4321

static volatile int stop;

__attribute__((noinline)) static void
thread_leak(void)
{
	for (int i = 0; i < LEAKS; i++) {
		void *volatile p = malloc(LEAK_SIZE);
		memset(p, 7, LEAK_SIZE);
		p = NULL;
	}
}

static void
churn(unsigned seed, int rounds)
{
	void *slot[64] = { 0 };
	for (int i = 0; i < rounds; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned k = (seed >> 8) % 64;
		free(slot[k]);
		switch ((seed >> 16) % 4) {
		case 0: slot[k] = malloc(16 + (seed >> 20) % 600); break;
		case 1: slot[k] = calloc(1, 8 + (seed >> 20) % 300); break;
		case 2: slot[k] = realloc(NULL, 100); slot[k] = realloc(slot[k], 2000); break;
		default: slot[k] = aligned_alloc(64, 128); break;
		}
	}
	for (int k = 0; k < 64; k++) {
		free(slot[k]);
	}
}

static void *
worker(void *arg)
{
	churn((unsigned)(uintptr_t)arg, 20000);
	thread_leak();
	return NULL;
}

static void *
spinner(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	while (!stop) {
		churn(seed++, 200);
	}
	return NULL;
}

static int
forks(void)
{
	pthread_t t[3];
	int bad = 0;
	for (int i = 0; i < 3; i++) {
		pthread_create(&t[i], NULL, spinner, (void *)(uintptr_t)(i + 1));
	}
	/* Fewer under valgrind, where the spinners starve the forks
	 * (VICTIM_FORKS is set by the valgrind test setup). */
	int nforks = getenv("VICTIM_FORKS") ? atoi(getenv("VICTIM_FORKS")) : 40;
	for (int i = 0; i < nforks; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			/* The child allocates (and, sampled, unwinds) at once. */
			churn((unsigned)i, 500);
			if (i % 2) {
				exit(0);
			}
			_exit(0);
		}
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			bad++;
		}
	}
	stop = 1;
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
	}
	printf("forks: %d bad\n", bad);
	return bad != 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "fork") == 0) {
		return forks();
	}
	pthread_t t[PER_WAVE];
	for (int w = 0; w < WAVES; w++) {
		for (int i = 0; i < PER_WAVE; i++) {
			pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(w * PER_WAVE + i));
		}
		/* The main thread allocates while the wave runs and ends. */
		churn((unsigned)w, 5000);
		for (int i = 0; i < PER_WAVE; i++) {
			pthread_join(t[i], NULL);
		}
	}
	printf("threads: %d leaked %d blocks of %d bytes\n", WAVES * PER_WAVE,
	       WAVES * PER_WAVE * LEAKS, LEAK_SIZE);
	return 0;
}
