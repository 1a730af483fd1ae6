/* Acquires one resource of each kind from its own function and keeps them
 * to the end, so the report at exit names each acquiring call site:
 *   make_scratch_dir  — a temp dir (mkdtemp under $TMPDIR)
 *   open_log_file     — an fd (open)
 *   open_database     — a SQLite connection (sqlite3_open_v2)
 * With "fork" the fds are a fork child's: the child opens the log file
 * (open_log_file), copies that fd (copy_log_fd, dup) and one end of a
 * pipe the parent made (pipe_to_fd, dup2), prints its pid and exits
 * holding them; the parent waits for it and exits with its status.
 * With "snapshot" as argument it also writes rcshim_report() as JSON to
 * stdout (found with dlsym: the program runs unchanged without the shim).
 * With "trim" it frees a large heap and asks for a live MEDIUM cleanup,
 * printing the heap bytes it reclaimed.
 * With "scope-heap" ("scope-heap free") parse_records allocates five 1 MiB
 * blocks inside a scope (opened with RCSHIM_SCOPE_FREE_HEAP), frees two,
 * and the scope ends at HIGH: prints the heap counts of its result, the
 * MiB of mmapped chunks still held, and the line of the malloc call. */
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef HAVE_SQLITE
#include <sqlite3.h>
#endif

#include "rcshim.h"

static char dir_path[4096];

__attribute__((noinline)) static const char *
make_scratch_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir_path, sizeof(dir_path), "%s/acquire-XXXXXX", tmp ? tmp : "/tmp");
	return mkdtemp(dir_path);
}

__attribute__((noinline)) static int
open_log_file(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/log.txt", dir);
	return open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
}

__attribute__((noinline)) static int
copy_log_fd(int fd)
{
	return dup(fd);
}

__attribute__((noinline)) static int
pipe_to_fd(int fd)
{
	return dup2(fd, 40);
}

/* A shell's child, in short: the fds it opens and copies between fork and
 * exit are its first call sites, which the shim records unwalked. */
static int
forked(const char *dir)
{
	int p[2];
	if (pipe(p) != 0) {
		perror("pipe");
		return 1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		int fd = open_log_file(dir);
		if (fd < 0 || copy_log_fd(fd) < 0 || pipe_to_fd(p[1]) < 0) {
			perror("child");
			_exit(1);
		}
		printf("%d\n", (int)getpid());
		exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

#ifdef HAVE_SQLITE
__attribute__((noinline)) static sqlite3 *
open_database(const char *dir)
{
	char path[4200];
	sqlite3 *db = NULL;
	snprintf(path, sizeof(path), "%s/data.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		return NULL;
	}
	sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", NULL, NULL, NULL);
	return db;
}
#endif

static int
trim(void)
{
	enum { N = 200000 };
	static void *blocks[N];
	__typeof__(rcshim_clean) *clean =
		(__typeof__(rcshim_clean) *)dlsym(RTLD_DEFAULT, "rcshim_clean");
	for (int i = 0; i < N; i++) {
		blocks[i] = malloc(256);
		memset(blocks[i], 1, 256);
	}
	/* The last block, taken from the top of the heap, stays: the freed
	 * space lies below it, where only malloc_trim can return it. */
	void *sentinel = blocks[N - 1];
	for (int i = 0; i < N - 1; i++) {
		free(blocks[i]);
	}
	struct rcshim_result res;
	memset(&res, 0, sizeof(res));
	if (clean) {
		clean(RCSHIM_MEDIUM, &res);
	}
	printf("trimmed %d %llu\n", (int)res.kind[RCSHIM_KIND_HEAP].cleaned,
	       (unsigned long long)res.kind[RCSHIM_KIND_HEAP].bytes);
	free(sentinel);
	return 0;
}

static int alloc_line;

__attribute__((noinline, noclone)) static void
parse_records(void **keep, int n, size_t size)
{
	for (int i = 0; i < n; i++) {
		keep[i] = malloc(size); alloc_line = __LINE__;
		memset(keep[i], 'x', size);
	}
}

static int
scope_heap(bool free_heap)
{
	__typeof__(rcshim_scope_begin_flags) *begin =
		(__typeof__(rcshim_scope_begin_flags) *)dlsym(RTLD_DEFAULT, "rcshim_scope_begin_flags");
	__typeof__(rcshim_scope_end) *end =
		(__typeof__(rcshim_scope_end) *)dlsym(RTLD_DEFAULT, "rcshim_scope_end");
	enum { N = 5, SIZE = 1 << 20 };
	void *keep[N];
	struct rcshim_result res;

	if (!begin || !end) {
		fprintf(stderr, "no rcshim\n");
		return 1;
	}
	/* 1 MiB blocks are mmapped chunks: freeing one unmaps it. */
	struct mallinfo2 before = mallinfo2();
	rcshim_scope s = begin("parse", free_heap ? RCSHIM_SCOPE_FREE_HEAP : 0);
	parse_records(keep, N, SIZE);
	free(keep[0]);
	free(keep[1]);
	/* What the allocator holds for each: the heap's bytes are usable
	 * sizes (DESIGN §8). */
	size_t usable = malloc_usable_size(keep[2]);
	memset(&res, 0, sizeof(res));
	rcshim_status st = end(s, RCSHIM_HIGH, &res);
	struct mallinfo2 after = mallinfo2();
	printf("status %d heap cleaned %llu skipped %llu bytes %llu; mapped %ld MiB; line %d; "
	       "usable %zu\n",
	       (int)st, (unsigned long long)res.kind[RCSHIM_KIND_HEAP].cleaned,
	       (unsigned long long)res.kind[RCSHIM_KIND_HEAP].skipped,
	       (unsigned long long)res.kind[RCSHIM_KIND_HEAP].bytes,
	       ((long)after.hblkhd - (long)before.hblkhd + (SIZE / 2)) / SIZE, alloc_line, usable);
	if (!free_heap) {
		/* Kept: the program's to use and free. */
		for (int i = 2; i < N; i++) {
			if (((char *)keep[i])[SIZE - 1] != 'x') {
				return 3;
			}
			free(keep[i]);
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "scope-heap") == 0) {
		return scope_heap(argc > 2 && strcmp(argv[2], "free") == 0);
	}
	if (argc > 1 && strcmp(argv[1], "trim") == 0) {
		return trim();
	}
	const char *dir = make_scratch_dir();
	if (!dir) {
		perror("mkdtemp");
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], "fork") == 0) {
		return forked(dir);
	}
	int fd = open_log_file(dir);
	if (fd < 0) {
		perror("open");
		return 1;
	}
#ifdef HAVE_SQLITE
	if (!open_database(dir)) {
		fprintf(stderr, "sqlite3_open_v2 failed\n");
		return 1;
	}
#endif
	if (argc > 1 && strcmp(argv[1], "sigterm") == 0) {
		/* Ended by SIGTERM (default disposition): the shim's handler
		 * cleans up and reports, then the signal ends the process. */
		raise(SIGTERM);
		return 3;
	}
	if (argc > 1 && strcmp(argv[1], "snapshot") == 0) {
		__typeof__(rcshim_report) *report =
			(__typeof__(rcshim_report) *)dlsym(RTLD_DEFAULT, "rcshim_report");
		fflush(stdout);
		if (!report || report(1, RCSHIM_FORMAT_JSON) != 0) {
			fprintf(stderr, "rcshim_report failed\n");
			return 1;
		}
	}
	return 0;
}
