/* 8 threads, each running nested scopes in a loop: every scope leaks a
 * temp directory holding a SQLite database, an fd, a FILE, a registered fd
 * and a cleaner; meanwhile the threads ask for live cleanups and try to
 * end each other's scopes.  Every scope must come back with exactly what
 * it leaked reclaimed, foreign ends must be refused, and at the end the
 * process holds as many fds as before and no directory is left.
 *
 * Built twice: linked with librcshim.so (test "threads"), and from the
 * shim's sources under ThreadSanitizer (test "threads-tsan").
 *
 * RCSHIM_TEST_ITERATIONS sets the loops per thread (default 100; 10
 * under valgrind). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rcshim.h>

#define NTHREADS 8

static char base[] = "/tmp/rcshim-threads-XXXXXX";
static int iterations = 100;
static _Atomic rcshim_scope published[NTHREADS];
static atomic_long cleaner_runs;
static atomic_int failures;

#define CHECK(cond, ...)                                                         \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "threads.c:%d: %s: ", __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                             \
			fputc('\n', stderr);                                      \
			atomic_fetch_add(&failures, 1);                           \
		}                                                                 \
	} while (0)

static long
count_run(void *ctx)
{
	atomic_fetch_add((atomic_long *)ctx, 1);
	return 1;
}

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (d && readdir(d)) {
		n++;
	}
	if (d) {
		closedir(d);
	}
	return n;
}

static void
one_job(int id, int i)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	struct rcshim_result r;
	sqlite3 *db = NULL;
	struct stat st;

	rcshim_scope outer = rcshim_scope_begin("job");
	CHECK(outer != 0, "scope_begin: %s", strerror(errno));
	atomic_store(&published[id], outer);

	snprintf(dir, sizeof(dir), "%s-t%d-%d-XXXXXX", base, id, i);
	CHECK(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/jobs.db", dir);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK, "sqlite3_open %s", path);
	sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)", NULL, NULL, NULL);
	snprintf(path, sizeof(path), "%s/raw", dir);
	int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	CHECK(fd > 2, "open %s", path);
	snprintf(path, sizeof(path), "%s/stream", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL, "fopen %s", path);
	fprintf(f, "%d %d\n", id, i);
	int reg = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(rcshim_register_fd(reg, "registered") != 0, "register_fd: %s", strerror(errno));

	rcshim_scope inner = rcshim_scope_begin("inner");
	int kept = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(rcshim_register_cleaner(count_run, &cleaner_runs, RCSHIM_LOW, "count") != 0,
	      "register_cleaner");
	/* LOW: the cleaner runs, the fd passes to the outer scope. */
	CHECK(rcshim_scope_end(inner, RCSHIM_LOW, &r) == RCSHIM_OK, "inner end: %d", r.status);
	CHECK(r.kind[RCSHIM_KIND_CUSTOM].cleaned >= 1, "inner cleaner did not run");
	CHECK(fcntl(kept, F_GETFD) != -1, "LOW closed an fd");

	if (i % 8 == 0) {
		/* Another thread's scope (open, or just ended): refused. */
		rcshim_scope other = atomic_load(&published[(id + 1) % NTHREADS]);
		if (other) {
			CHECK(rcshim_scope_end(other, RCSHIM_MEDIUM, NULL) == RCSHIM_INVALID,
			      "ended another thread's scope");
		}
	}
	if (i % 10 == 5) {
		struct rcshim_result live;
		rcshim_status ls = rcshim_clean(RCSHIM_LOW, &live);
		CHECK(ls == RCSHIM_OK || ls == RCSHIM_BUSY, "live clean: %d", ls);
	}

	atomic_store(&published[id], 0);
	CHECK(rcshim_scope_end(outer, RCSHIM_MEDIUM, &r) == RCSHIM_OK, "outer end: %d", r.status);
	CHECK(r.kind[RCSHIM_KIND_TEMP].cleaned == 1, "temp cleaned %llu",
	      (unsigned long long)r.kind[RCSHIM_KIND_TEMP].cleaned);
	CHECK(r.kind[RCSHIM_KIND_SQLITE].cleaned == 1, "sqlite cleaned %llu",
	      (unsigned long long)r.kind[RCSHIM_KIND_SQLITE].cleaned);
	/* raw, stream, registered and the one the inner scope handed over */
	CHECK(r.kind[RCSHIM_KIND_FD].cleaned == 4, "fd cleaned %llu",
	      (unsigned long long)r.kind[RCSHIM_KIND_FD].cleaned);
	CHECK(r.failed == 0 && r.skipped == 0, "failed %llu, skipped %llu",
	      (unsigned long long)r.failed, (unsigned long long)r.skipped);
	CHECK(stat(dir, &st) != 0, "%s still there", dir);
	CHECK(rcshim_scope_current() == 0, "a scope is still current");
}

static void *
worker(void *p)
{
	int id = (int)(intptr_t)p;
	for (int i = 0; i < iterations; i++) {
		one_job(id, i);
	}
	return NULL;
}

int
main(void)
{
	pthread_t t[NTHREADS];
	const char *it = getenv("RCSHIM_TEST_ITERATIONS");

	if (it) {
		iterations = atoi(it);
	} else if (getenv("RCSHIM_TEST_VALGRIND")) {
		iterations = 10;
	}
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 99;
	}
	/* Start-up (the worker thread, SQLite's own files) before counting. */
	one_job(0, -1);
	int before = open_fds();

	for (int i = 0; i < NTHREADS; i++) {
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
	}

	int after = open_fds();
	CHECK(after == before, "%d fds open before, %d after", before, after);
	long runs = atomic_load(&cleaner_runs);
	CHECK(runs >= (long)NTHREADS * iterations, "cleaners ran %ld times", runs);
	/* The jobs' directories are siblings of base in the temp root
	 * ("<base>-t<id>-<i>-XXXXXX"): none may be left. */
	const char *bname = strrchr(base, '/') + 1;
	size_t blen = strlen(bname);
	DIR *d = opendir("/tmp");
	int left = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		left += !strncmp(e->d_name, bname, blen) && e->d_name[blen] == '-';
	}
	if (d) {
		closedir(d);
	}
	CHECK(left == 0, "%d job directories left beside %s", left, base);
	rmdir(base);

	int n = atomic_load(&failures);
	printf("%d threads x %d nested scopes: %s (%ld cleaner runs, %d fds before and after)\n",
	       NTHREADS, iterations, n ? "FAILED" : "ok", runs, after);
	return n ? 1 : 0;
}
