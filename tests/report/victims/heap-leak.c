/* Leaks exactly 100 blocks of 1000 bytes (or of the size given) from one
 * function and frees everything else.  No stdio: libc's own buffers would
 * still be allocated at exit and blur the comparison with valgrind.
 *
 * Usage: victim-heap-leak [SIZE] */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *keep[100];
static size_t leak_size = 1000;

__attribute__((noinline)) static void
leak_hundred_blocks(void)
{
	for (int i = 0; i < 100; i++) {
		keep[i] = malloc(leak_size);
		memset(keep[i], i, leak_size);
	}
	/* Dropped: the blocks are unreachable now. */
	memset(keep, 0, sizeof(keep));
}

__attribute__((noinline)) static void
churn(void)
{
	/* Every other allocation function, everything freed. */
	for (int i = 0; i < 1000; i++) {
		char *a = malloc((size_t)(i % 700) + 1);
		char *b = calloc(3, (size_t)i + 1);
		/* Zeroed, and contents kept by realloc, wherever the block
		 * lives (a sampled one moves to the shim's side blocks). */
		for (size_t k = 0; k < 3 * ((size_t)i + 1); k++) {
			if (b[k]) {
				_exit(4);
			}
		}
		char *c = realloc(NULL, 40);
		memset(c, 0x5a, 40);
		c = realloc(c, (size_t)i * 3 + 50);
		for (int k = 0; k < 40; k++) {
			if (c[k] != 0x5a) {
				_exit(5);
			}
		}
		void *d = NULL;
		if (posix_memalign(&d, 64, 100) != 0) {
			_exit(3);
		}
		void *e = aligned_alloc(32, 96);
		char *f = reallocarray(NULL, 10, (size_t)i + 1);
		a[0] = b[0] = c[0] = f[0] = 1;
		free(a);
		free(b);
		free(c);
		free(d);
		free(e);
		free(f);
	}
	void *g = realloc(malloc(10), 0);
	free(g);
	/* Blocks glibc maps on their own (above its mmap threshold), and
	 * reallocations into and out of them; every size near a chunk
	 * boundary, where the slack is smallest and largest. */
	for (int i = 0; i < 40; i++) {
		char *m = malloc(200000 + (size_t)i * 4093);
		m[0] = 1;
		m = realloc(m, 50 + (size_t)i);
		m = realloc(m, 300000 + (size_t)i);
		m = realloc(m, (size_t)i + 1);
		free(m);
	}
	for (size_t n = 1; n < 300; n++) {
		char *m = malloc(n);
		m = realloc(m, n + 1);
		m = realloc(m, n);
		free(m);
	}
}

int
main(int argc, char **argv)
{
	if (argc > 1) {
		leak_size = strtoul(argv[1], NULL, 10);
	}
	churn();
	leak_hundred_blocks();
	static const char msg[] = "done\n";
	if (write(1, msg, sizeof(msg) - 1) < 0) {
		return 1;
	}
	return 0;
}
