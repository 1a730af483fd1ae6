/* A malloc/free-heavy loop: 1024 live slots, each iteration frees a random
 * slot and refills it with a random size in 16..528 bytes.  Prints the
 * nanoseconds per iteration of the loop alone (start-up excluded), so
 * the benchmark script can compare bare, the shim and heaptrack.
 *
 * The figure is CPU time (each thread's own clock, averaged over the
 * threads): on a shared machine, time spent descheduled is not counted.
 *
 * Usage: bench-malloc-loop THREADS ITERATIONS_PER_THREAD */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 1024

static long iters;
static double cpu_ns[64];

static double
thread_cpu_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void *
worker(void *arg)
{
	double t0 = thread_cpu_ns();
	uint64_t x = 0x9e3779b97f4a7c15ull ^ (uintptr_t)arg;
	void *slot[SLOTS];
	memset(slot, 0, sizeof(slot));
	for (long i = 0; i < iters; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned k = (unsigned)(x % SLOTS);
		size_t n = 16 + (size_t)((x >> 20) % 513);
		free(slot[k]);
		slot[k] = malloc(n);
		*(volatile char *)slot[k] = 1;
	}
	cpu_ns[(uintptr_t)arg - 1] = thread_cpu_ns() - t0;
	for (int k = 0; k < SLOTS; k++) {
		free(slot[k]);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 1;
	iters = argc > 2 ? atol(argv[2]) : 10000000;
	pthread_t t[64];

	if (threads < 1 || threads > 64) {
		return 2;
	}
	for (int i = 0; i < threads; i++) {
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
	}
	double ns = 0;
	for (int i = 0; i < threads; i++) {
		ns += cpu_ns[i];
	}
	printf("%.2f\n", ns / threads / (double)iters);
	return 0;
}
