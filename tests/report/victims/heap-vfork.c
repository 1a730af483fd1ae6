/* Blocks that cross a vfork: the child allocates in its parent's heap
 * (as dash does for execve's environment), the parent frees what the
 * child left; the child frees a block of the parent's.  Everything is
 * freed, then exactly 100 blocks of 1000 bytes leak, as in heap-leak.c:
 * the report must say 100 blocks and the usable bytes printed, whatever
 * crossed the vforks.  No stdio streams (their buffers would blur the
 * figures): snprintf and write.
 *
 * Usage: victim-heap-vfork [ROUNDS] [exec] — with "exec" the child
 * execs /bin/true instead of calling _exit. */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the child hands its parent: the memory is shared. */
static void *volatile from_child[6];
static void *volatile from_parent;
static void *keep[100];

__attribute__((noinline)) static void
child_allocates(void)
{
	/* Small, calloc'ed and grown past 4 KiB (the shim's record limit),
	 * aligned, mapped by glibc on its own, and a pair freed in the
	 * child itself. */
	from_child[0] = malloc(664);
	char *c = calloc(3, 100);
	from_child[1] = realloc(c, 5000);
	void *a = NULL;
	if (posix_memalign(&a, 64, 200) != 0) {
		_exit(3);
	}
	from_child[2] = a;
	from_child[3] = malloc(300000);
	from_child[4] = realloc(malloc(40), 80);
	from_child[5] = aligned_alloc(32, 96);
	free(malloc(123));
	/* And one of the parent's, freed here. */
	free(from_parent);
	from_parent = NULL;
}

static int
round_trip(bool exec)
{
	from_parent = malloc(333);
	pid_t pid = vfork();
	if (pid == 0) {
		child_allocates();
		if (exec) {
			static char *const argv[] = { "true", NULL };
			static char *const envp[] = { NULL };
			execve("/bin/true", argv, envp);
		}
		_exit(0);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		return 2;
	}
	if (from_parent) {
		return 4;
	}
	for (size_t i = 0; i < sizeof(from_child) / sizeof(*from_child); i++) {
		if (!from_child[i]) {
			return 5;
		}
		free(from_child[i]);
		from_child[i] = NULL;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 50;
	bool exec = argc > 2 && strcmp(argv[2], "exec") == 0;
	for (int i = 0; i < rounds; i++) {
		int rc = round_trip(exec);
		if (rc) {
			return rc;
		}
	}
	/* Their usable size, as the allocator says: after the churn above,
	 * glibc may hand out a chunk a little larger than asked for. */
	size_t usable = 0;
	for (int i = 0; i < 100; i++) {
		keep[i] = malloc(1000);
		memset(keep[i], i, 1000);
		usable += malloc_usable_size(keep[i]);
	}
	memset(keep, 0, sizeof(keep));
	char msg[64];
	int len = snprintf(msg, sizeof(msg), "leaked 100 blocks, %zu usable bytes\n", usable);
	if (write(1, msg, (size_t)len) < 0) {
		return 1;
	}
	return 0;
}
