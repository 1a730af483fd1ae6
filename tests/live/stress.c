/* Two threads allocate, open and close files while, with "send", a third
 * sends the process 10 000 SIGUSR1.  Prints a checksum of the work, which
 * must not depend on the signals. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUNDS 20000
#define SIGNALS 10000

static const char *file;

static void *
work(void *arg)
{
	unsigned long sum = (unsigned long)(uintptr_t)arg;
	for (int i = 0; i < ROUNDS; i++) {
		size_t n = 16 + (size_t)(i * 37 % 512);
		char *p = malloc(n);
		if (!p) {
			abort();
		}
		memset(p, i & 0xff, n);
		int fd = open(file, O_RDONLY);
		if (fd < 0) {
			perror("open");
			exit(1);
		}
		char c;
		ssize_t r;
		do {
			r = read(fd, &c, 1);
		} while (r < 0);
		sum = sum * 31 + (unsigned char)p[n - 1] + (unsigned long)r + (unsigned char)c;
		close(fd);
		free(p);
	}
	return (void *)(uintptr_t)sum;
}

static void *
sender(void *arg)
{
	(void)arg;
	for (int i = 0; i < SIGNALS; i++) {
		kill(getpid(), SIGUSR1);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t a, b, s;
	void *ra, *rb;

	if (argc < 2) {
		return 2;
	}
	file = argv[1];
	bool send = argc > 2 && strcmp(argv[2], "send") == 0;
	pthread_create(&a, NULL, work, (void *)1);
	pthread_create(&b, NULL, work, (void *)2);
	if (send) {
		pthread_create(&s, NULL, sender, NULL);
		pthread_join(s, NULL);
	}
	pthread_join(a, &ra);
	pthread_join(b, &rb);
	printf("%lx %lx\n", (unsigned long)(uintptr_t)ra, (unsigned long)(uintptr_t)rb);
	return 0;
}
