/* Scopes through the public API, in a program that links librcshim.so:
 * what a scope reclaims at each priority, nesting and hand-over, the
 * macro, threads, fork, and misuse. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "test.h"

/* What one job leaks: a temp dir with a WAL database in it, an fd and a
 * FILE on files outside it. */
struct leak {
	char dir[128];
	sqlite3 *db;
	int fd;
	FILE *file;
	char file_path[256];
};

static void
leak_all(struct leak *l, const char *tag)
{
	char p[256];

	/* Directly inside the temp root (a sibling of the base): only that is
	 * a temp artifact (DESIGN §2). */
	snprintf(l->dir, sizeof(l->dir), "%s-%s-XXXXXX", t_base(), tag);
	ck_assert_ptr_nonnull(mkdtemp(l->dir));
	snprintf(p, sizeof(p), "%s/wal.db", l->dir);
	ck_assert_int_eq(sqlite3_open(p, &l->db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(l->db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x);"
					     "INSERT INTO t VALUES (1)", NULL, NULL, NULL),
			 SQLITE_OK);
	snprintf(p, sizeof(p), "%s/%s.raw", t_base(), tag);
	l->fd = open(p, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	ck_assert_int_gt(l->fd, 2);
	snprintf(l->file_path, sizeof(l->file_path), "%s/%s.log", t_base(), tag);
	l->file = fopen(l->file_path, "w");
	ck_assert_ptr_nonnull(l->file);
	/* Stays in the FILE's buffer: only fclose writes it. */
	fprintf(l->file, "unflushed %s\n", tag);
}

START_TEST(scope_reclaims_every_kind)
{
	struct rcshim_result r;
	struct leak l;
	char wal[300];

	t_base();
	int fds = t_open_fds();
	rcshim_scope s = rcshim_scope_begin("job");
	ck_assert_uint_ne(s, 0);
	ck_assert_uint_eq(rcshim_scope_current(), s);
	leak_all(&l, "job");
	snprintf(wal, sizeof(wal), "%s/wal.db-wal", l.dir);
	ck_assert(t_exists(wal));

	ck_assert_int_eq(rcshim_scope_end(s, RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_int_eq(r.status, RCSHIM_OK);
	ck_assert_kind(&r, RCSHIM_KIND_TEMP, 1, 0, 0);
	ck_assert_kind(&r, RCSHIM_KIND_FD, 2, 0, 0);
	ck_assert_kind(&r, RCSHIM_KIND_SQLITE, 1, 0, 0);
	ck_assert_uint_eq(r.cleaned, 4);
	ck_assert_uint_eq(rcshim_scope_current(), 0);

	ck_assert(!t_exists(l.dir));
	ck_assert(!t_is_open(l.fd));
	/* The FILE was flushed before it was closed. */
	ck_assert_str_eq(t_first_line(l.file_path), "unflushed job\n");
	ck_assert_int_eq(t_open_fds(), fds);
	/* The program closing the connection afterwards is harmless. */
	ck_assert_int_eq(sqlite3_close(l.db), SQLITE_OK);
}
END_TEST

START_TEST(scope_priorities)
{
	for (int p = RCSHIM_LOW; p <= RCSHIM_CRITICAL; p++) {
		struct rcshim_result r;
		struct leak l;
		char tag[16];

		t_base();
		snprintf(tag, sizeof(tag), "p%d", p);
		rcshim_scope s = rcshim_scope_begin(tag);
		leak_all(&l, tag);
		ck_assert_int_eq(rcshim_scope_end(s, (rcshim_priority)p, &r), RCSHIM_OK);
		/* LOW: temp artifacts only (the database file goes with its
		 * directory, the connection stays open on it). */
		ck_assert(!t_exists(l.dir));
		ck_assert_kind(&r, RCSHIM_KIND_TEMP, 1, 0, 0);
		if (p == RCSHIM_LOW) {
			ck_assert_kind(&r, RCSHIM_KIND_FD, 0, 0, 0);
			ck_assert_kind(&r, RCSHIM_KIND_SQLITE, 0, 0, 0);
			ck_assert(t_is_open(l.fd));
			ck_assert_int_eq(fclose(l.file), 0);
			ck_assert_int_eq(close(l.fd), 0);
			ck_assert_int_eq(sqlite3_close(l.db), SQLITE_OK);
		} else {
			ck_assert_kind(&r, RCSHIM_KIND_FD, 2, 0, 0);
			ck_assert_kind(&r, RCSHIM_KIND_SQLITE, 1, 0, 0);
			ck_assert(!t_is_open(l.fd));
		}
	}
}
END_TEST

START_TEST(scope_nested_hand_over)
{
	struct rcshim_result r;
	struct leak outer_l, inner_l;

	t_base();
	rcshim_scope outer = rcshim_scope_begin("outer");
	leak_all(&outer_l, "outer");
	rcshim_scope inner = rcshim_scope_begin("inner");
	ck_assert_uint_ne(inner, outer);
	ck_assert_uint_eq(rcshim_scope_current(), inner);
	leak_all(&inner_l, "inner");

	/* The inner scope keeps its fds and connection at LOW... */
	ck_assert_int_eq(rcshim_scope_end(inner, RCSHIM_LOW, &r), RCSHIM_OK);
	ck_assert_uint_eq(rcshim_scope_current(), outer);
	ck_assert(!t_exists(inner_l.dir));
	ck_assert(t_is_open(inner_l.fd));
	ck_assert(t_exists(outer_l.dir));
	ck_assert(t_is_open(outer_l.fd));

	/* ...and the outer one reclaims them with its own. */
	ck_assert_int_eq(rcshim_scope_end(outer, RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_kind(&r, RCSHIM_KIND_TEMP, 1, 0, 0);
	ck_assert_kind(&r, RCSHIM_KIND_FD, 4, 0, 0);
	ck_assert_kind(&r, RCSHIM_KIND_SQLITE, 2, 0, 0);
	ck_assert(!t_is_open(inner_l.fd));
	ck_assert(!t_is_open(outer_l.fd));
	ck_assert_str_eq(t_first_line(inner_l.file_path), "unflushed inner\n");
	ck_assert_uint_eq(rcshim_scope_current(), 0);
}
END_TEST

START_TEST(scope_inner_does_not_touch_outer)
{
	struct rcshim_result r;
	struct leak outer_l, inner_l;

	t_base();
	rcshim_scope outer = rcshim_scope_begin("outer");
	leak_all(&outer_l, "outer");
	rcshim_scope inner = rcshim_scope_begin("inner");
	leak_all(&inner_l, "inner");
	ck_assert_int_eq(rcshim_scope_end(inner, RCSHIM_CRITICAL, &r), RCSHIM_OK);
	ck_assert(!t_is_open(inner_l.fd));
	ck_assert(t_is_open(outer_l.fd));
	ck_assert(t_exists(outer_l.dir));
	ck_assert_int_eq(sqlite3_exec(outer_l.db, "INSERT INTO t VALUES (2)", NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(rcshim_scope_end(outer, RCSHIM_CRITICAL, &r), RCSHIM_OK);
	ck_assert_kind(&r, RCSHIM_KIND_SQLITE, 1, 0, 0);
}
END_TEST

START_TEST(scope_out_of_order_end)
{
	struct rcshim_result r;
	struct leak a, b;

	t_base();
	rcshim_scope outer = rcshim_scope_begin("outer");
	leak_all(&a, "a");
	rcshim_scope_begin("forgotten");
	leak_all(&b, "b");
	/* Ending the outer one ends the one left open inside it first. */
	ck_assert_int_eq(rcshim_scope_end(outer, RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_kind(&r, RCSHIM_KIND_TEMP, 2, 0, 0);
	ck_assert_kind(&r, RCSHIM_KIND_FD, 4, 0, 0);
	ck_assert_kind(&r, RCSHIM_KIND_SQLITE, 2, 0, 0);
	ck_assert_uint_eq(rcshim_scope_current(), 0);
	ck_assert(!t_is_open(a.fd));
	ck_assert(!t_is_open(b.fd));
}
END_TEST

/* --- RCSHIM_SCOPE ---------------------------------------------------------------- */

static int leaked_fd = -1;
static char leaked_dir[128];

static int
job_with_early_return(int fail, struct rcshim_result *r)
{
	RCSHIM_SCOPE_EX("early", RCSHIM_MEDIUM, 0, r);
	snprintf(leaked_dir, sizeof(leaked_dir), "%s-early-XXXXXX", t_base());
	mkdtemp(leaked_dir);
	leaked_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fail) {
		return -1;
	}
	return 0;
}

START_TEST(scope_macro)
{
	struct rcshim_result r;

	t_base();
	for (int fail = 0; fail <= 1; fail++) {
		memset(&r, 0xff, sizeof(r));
		job_with_early_return(fail, &r);
		ck_assert_int_eq(r.status, RCSHIM_OK);
		ck_assert_uint_eq(r.cleaned, 2);
		ck_assert(!t_exists(leaked_dir));
		ck_assert(!t_is_open(leaked_fd));
	}
	/* A plain block, left by break. */
	for (int i = 0; i < 3; i++) {
		RCSHIM_SCOPE("loop");
		leaked_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (i == 1) {
			break;
		}
	}
	ck_assert(!t_is_open(leaked_fd));
	ck_assert_uint_eq(rcshim_scope_current(), 0);
}
END_TEST

/* --- threads --------------------------------------------------------------------- */

struct foreign {
	rcshim_scope scope;
	rcshim_status status;
	struct rcshim_result result;
};

static void *
end_foreign(void *p)
{
	struct foreign *f = p;
	f->status = rcshim_scope_end(f->scope, RCSHIM_CRITICAL, &f->result);
	return NULL;
}

START_TEST(scope_ended_on_another_thread)
{
	struct rcshim_result r;
	struct leak l;
	pthread_t t;

	t_base();
	struct foreign f = { rcshim_scope_begin("mine"), RCSHIM_OK, { 0 } };
	leak_all(&l, "mine");
	ck_assert_int_eq(pthread_create(&t, NULL, end_foreign, &f), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	/* An error, and nothing touched: the scope is still open here. */
	ck_assert_int_eq(f.status, RCSHIM_INVALID);
	ck_assert_int_eq(f.result.status, RCSHIM_INVALID);
	ck_assert_uint_eq(f.result.cleaned, 0);
	ck_assert(t_exists(l.dir));
	ck_assert(t_is_open(l.fd));
	ck_assert_uint_eq(rcshim_scope_current(), f.scope);
	ck_assert_int_eq(rcshim_scope_end(f.scope, RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_uint_eq(r.cleaned, 4);
}
END_TEST

static void *
exit_inside_scope(void *p)
{
	int *fd = p;
	rcshim_scope_begin("never ended");
	*fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return NULL;
}

static void *
current_scope(void *p)
{
	*(rcshim_scope *)p = rcshim_scope_current();
	return NULL;
}

START_TEST(scope_thread_exits_inside)
{
	pthread_t t;
	int fd = -1;
	rcshim_scope seen = 1;

	rcshim_scope mine = rcshim_scope_begin("main");
	ck_assert_int_eq(pthread_create(&t, NULL, exit_inside_scope, &fd), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	/* What it held passes to the process: not closed. */
	ck_assert(t_is_open(fd));
	/* Scopes are per thread: a new thread has none, whatever main has. */
	ck_assert_int_eq(pthread_create(&t, NULL, current_scope, &seen), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_uint_eq(seen, 0);
	/* Not main's either. */
	struct rcshim_result r;
	ck_assert_int_eq(rcshim_scope_end(mine, RCSHIM_CRITICAL, &r), RCSHIM_OK);
	ck_assert(t_is_open(fd));
	close(fd);
}
END_TEST

/* --- misuse ------------------------------------------------------------------------- */

START_TEST(scope_invalid_use)
{
	struct rcshim_result r;

	ck_assert_int_eq(rcshim_scope_end(0, RCSHIM_MEDIUM, &r), RCSHIM_INVALID);
	ck_assert_int_eq(rcshim_scope_end(0xfffffff0u, RCSHIM_MEDIUM, &r), RCSHIM_INVALID);
	rcshim_scope s = rcshim_scope_begin(NULL);
	ck_assert_uint_ne(s, 0);
	ck_assert_int_eq(rcshim_scope_end(s, (rcshim_priority)7, &r), RCSHIM_INVALID);
	ck_assert_int_eq(rcshim_scope_end(s, (rcshim_priority)-1, NULL), RCSHIM_INVALID);
	ck_assert_uint_eq(rcshim_scope_current(), s);
	ck_assert_int_eq(rcshim_scope_end(s, RCSHIM_LOW, NULL), RCSHIM_OK);
	/* Twice. */
	ck_assert_int_eq(rcshim_scope_end(s, RCSHIM_LOW, &r), RCSHIM_INVALID);
	ck_assert_int_eq(r.status, RCSHIM_INVALID);

	errno = 0;
	ck_assert_uint_eq(rcshim_scope_begin_flags("bad", 0x80), 0);
	ck_assert_int_eq(errno, EINVAL);
	s = rcshim_scope_begin_flags("heap", RCSHIM_SCOPE_FREE_HEAP);
	ck_assert_uint_ne(s, 0);
	ck_assert_int_eq(rcshim_scope_end(s, RCSHIM_HIGH, NULL), RCSHIM_OK);

	/* A long name is cut, not refused. */
	char name[200];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	s = rcshim_scope_begin(name);
	ck_assert_uint_ne(s, 0);
	ck_assert_int_eq(rcshim_scope_end(s, RCSHIM_HIGH, NULL), RCSHIM_OK);
}
END_TEST

START_TEST(scope_ids_unique)
{
	rcshim_scope ids[64];

	for (int i = 0; i < 64; i++) {
		ids[i] = rcshim_scope_begin("deep");
		ck_assert_uint_ne(ids[i], 0);
		for (int j = 0; j < i; j++) {
			ck_assert_uint_ne(ids[i], ids[j]);
		}
	}
	for (int i = 63; i >= 0; i--) {
		ck_assert_uint_eq(rcshim_scope_current(), ids[i]);
		ck_assert_int_eq(rcshim_scope_end(ids[i], RCSHIM_LOW, NULL), RCSHIM_OK);
	}
}
END_TEST

/* --- threads: registration racing other threads' scope ends ------------------------- */

/* What the Python binding does (python/rcshim/_cleaner.py,
 * resource_cleanup_context), from 8 threads at once with no lock of its
 * own: the runtime owns fds, connections and GPU memory; two runtime
 * cleaners of the process's; per block, a scope, a directory made in the
 * temp root (with mkdtemp, which the shim tracks, or behind its back as
 * the binding's does when the library is not preloaded), registered by its
 * path, a runtime cleaner of the scope's, the directory registered again
 * at the block's end, and the scope ended at CRITICAL.  Each end must
 * remove its own directory and count it; another thread's directory, and
 * a file each thread keeps in the temp root all along, are never touched.
 *
 * Each round is a fresh process (this program again, run by the
 * constructor below before Check makes any file): its threads' first
 * directories are the process's first temp artifacts, and the first
 * questions about the temp roots come from all of them at once, as in a
 * Python program. */
#define RACE_THREADS 8

struct race {
	int id;
	int iterations;
	const char *base;
	char keep[128];
	atomic_int *failures;
	pthread_barrier_t *start;
	char first[256]; /* the first failure seen by this thread */
	int nfirst;
};

static long
runtime_cleaner(void *ctx)
{
	(void)ctx;
	return 0;
}

static void __attribute__((format(printf, 2, 3)))
race_fail(struct race *r, const char *fmt, ...)
{
	if (!r->nfirst++) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->first, sizeof(r->first), fmt, ap);
		va_end(ap);
	}
	atomic_fetch_add(r->failures, 1);
}

/* Raw system calls: the shim does not see them, so they ask it nothing. */
static bool
raw_mkdir(const char *path)
{
	return syscall(SYS_mkdirat, AT_FDCWD, path, 0700) == 0;
}

static void
race_job(struct race *r, int i)
{
	struct rcshim_result res;
	char dir[128];

	rcshim_scope s = rcshim_scope_begin("race");
	if (!s) {
		race_fail(r, "thread %d, job %d: scope_begin: %s", r->id, i, strerror(errno));
		return;
	}
	snprintf(dir, sizeof(dir), "%s-t%d-%d-XXXXXX", r->base, r->id, i);
	bool made;
	if (i % 2 == 0) {
		made = mkdtemp(dir) != NULL;
	} else {
		snprintf(dir + strlen(dir) - 6, 7, "%06x", (unsigned)(r->id << 16 | i) & 0xffffff);
		made = raw_mkdir(dir);
	}
	if (!made) {
		race_fail(r, "thread %d, job %d: mkdir %s: %s", r->id, i, dir, strerror(errno));
		rcshim_scope_end(s, RCSHIM_LOW, NULL);
		return;
	}
	if (!rcshim_register_temp_dir(dir, dir)) {
		race_fail(r, "thread %d, job %d: register %s: %s", r->id, i, dir, strerror(errno));
	}
	if (i % 3 == 0 &&
	    !rcshim_register_cleaner_flags(runtime_cleaner, NULL, RCSHIM_MEDIUM, "block",
					   RCSHIM_CLEANER_RUNTIME)) {
		race_fail(r, "thread %d, job %d: register_cleaner_flags: %s", r->id, i,
			  strerror(errno));
	}
	if (!t_exists(dir)) {
		race_fail(r, "thread %d, job %d: %s removed before its scope ended", r->id, i, dir);
	}
	if (!rcshim_register_temp_dir(dir, "context temp_dir")) {
		race_fail(r, "thread %d, job %d: register again %s: %s", r->id, i, dir,
			  strerror(errno));
	}
	rcshim_status st = rcshim_scope_end(s, RCSHIM_CRITICAL, &res);
	if (st != RCSHIM_OK) {
		race_fail(r, "thread %d, job %d: scope_end: status %d", r->id, i, (int)st);
	}
	if (res.kind[RCSHIM_KIND_TEMP].cleaned != 1 || res.kind[RCSHIM_KIND_TEMP].skipped) {
		race_fail(r, "thread %d, job %d: %s: temp cleaned %llu, left alone %llu", r->id, i,
			  dir, (unsigned long long)res.kind[RCSHIM_KIND_TEMP].cleaned,
			  (unsigned long long)res.kind[RCSHIM_KIND_TEMP].skipped);
	}
	if (t_exists(dir)) {
		race_fail(r, "thread %d, job %d: %s left after its scope ended", r->id, i, dir);
		rmdir(dir);
	}
	if (!t_exists(r->keep)) {
		race_fail(r, "thread %d, job %d: %s removed by another thread", r->id, i, r->keep);
	}
}

static void *
race_thread(void *p)
{
	struct race *r = p;
	/* All at once: the first jobs race for the first questions. */
	pthread_barrier_wait(r->start);
	for (int i = 0; i < r->iterations; i++) {
		race_job(r, i);
	}
	return NULL;
}

/* One round, in a fresh process: writes the first failure to @out; the
 * exit status is the number of failures (capped). */
static void
race_round(const char *base, int iterations, int out)
{
	struct race r[RACE_THREADS];
	pthread_t t[RACE_THREADS];
	atomic_int failures = 0;
	pthread_barrier_t start;
	int err = 0;

	pthread_barrier_init(&start, NULL, RACE_THREADS);
	rcshim_runtime_owns((1u << RCSHIM_KIND_FD) | (1u << RCSHIM_KIND_SQLITE) |
			    (1u << RCSHIM_KIND_GPU));
	err |= !rcshim_register_cleaner_flags(runtime_cleaner, NULL, RCSHIM_MEDIUM,
					      "python: files", RCSHIM_CLEANER_RUNTIME);
	err |= !rcshim_register_cleaner_flags(runtime_cleaner, NULL, RCSHIM_HIGH, "python: gpu",
					      RCSHIM_CLEANER_RUNTIME);
	for (int i = 0; i < RACE_THREADS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].id = i;
		r[i].iterations = iterations;
		r[i].base = base;
		r[i].failures = &failures;
		r[i].start = &start;
		/* Made by the test, unseen by the shim: no thread's. */
		snprintf(r[i].keep, sizeof(r[i].keep), "%s-keep-%d", base, i);
		err |= !raw_mkdir(r[i].keep);
	}
	for (int i = 0; i < RACE_THREADS && !err; i++) {
		if (pthread_create(&t[i], NULL, race_thread, &r[i]) != 0) {
			_exit(1); /* the others wait for it at the start */
		}
	}
	for (int i = 0; i < RACE_THREADS && !err; i++) {
		pthread_join(t[i], NULL);
	}
	char msg[256 + 32] = "";
	for (int i = 0; i < RACE_THREADS; i++) {
		if (r[i].nfirst && !msg[0]) {
			snprintf(msg, sizeof(msg), "%s", r[i].first);
		}
		rmdir(r[i].keep);
	}
	if (err) {
		snprintf(msg, sizeof(msg), "could not set the round up");
	}
	ssize_t w = write(out, msg, strlen(msg));
	(void)w;
	int n = err ? 1 : atomic_load(&failures);
	_exit(n > 100 ? 100 : n);
}

__attribute__((constructor)) static void
race_round_main(void)
{
	const char *arg = getenv("RCSHIM_TEST_RACE_ROUND");
	char base[64];
	int iterations, out;

	if (arg && sscanf(arg, "%63[^:]:%d:%d", base, &iterations, &out) == 3) {
		race_round(base, iterations, out);
	}
}

START_TEST(scope_threads_register_temp_dirs)
{
	const char *it = getenv("RCSHIM_TEST_ITERATIONS");
	int iterations = it ? atoi(it) : getenv("RCSHIM_TEST_VALGRIND") ? 5 : 25;
	int rounds = getenv("RCSHIM_TEST_VALGRIND") ? 2 : 16;
	char base[64];
	int failed = 0, failures = 0;
	char first[300] = "";

	/* Names directly inside the temp root. */
	snprintf(base, sizeof(base), "/tmp/rcshim-api-race-%d", (int)getpid());
	for (int round = 0; round < rounds; round++) {
		int p[2];
		ck_assert_int_eq(pipe(p), 0);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			char arg[128];
			close(p[0]);
			snprintf(arg, sizeof(arg), "%s:%d:%d", base, iterations, p[1]);
			setenv("RCSHIM_TEST_RACE_ROUND", arg, 1);
			/* By name, not /proc/self/exe: under valgrind that is
			 * the tool (which refuses to run), argv[0] the test. */
			extern char *program_invocation_name;
			const char *self = strchr(program_invocation_name, '/') ? program_invocation_name
										: "/proc/self/exe";
			execl(self, "test-api-race", (char *)NULL);
			_exit(99);
		}
		close(p[1]);
		char msg[300] = "";
		ssize_t n = read(p[0], msg, sizeof(msg) - 1);
		msg[n > 0 ? n : 0] = '\0';
		close(p[0]);
		int st;
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFEXITED(st), "round %d: died (status 0x%x)", round, st);
		if (WEXITSTATUS(st)) {
			failed++;
			failures += WEXITSTATUS(st);
			if (!first[0]) {
				snprintf(first, sizeof(first), "%s", msg);
			}
		}
	}
	ck_assert_msg(failed == 0, "%d of %d rounds (%d threads x %d jobs) failed, %d failures; "
		      "first: %s", failed, rounds, RACE_THREADS, iterations, failures, first);
}
END_TEST

/* --- fork ------------------------------------------------------------------------------ */

START_TEST(scope_fork_child_owns_its_own)
{
	struct rcshim_result r;
	int parent_fd, pipefd[2];

	t_base();
	rcshim_scope s = rcshim_scope_begin("forked");
	parent_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(pipe(pipefd), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* The child goes on inside the scope; ending it reclaims what
		 * the child made, never what it inherited. */
		int child_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		struct rcshim_result cr;
		int ok = rcshim_scope_end(s, RCSHIM_MEDIUM, &cr) == RCSHIM_OK &&
			 cr.kind[RCSHIM_KIND_FD].cleaned == 1 && !t_is_open(child_fd) &&
			 t_is_open(parent_fd);
		char c = ok ? 'y' : 'n';
		ssize_t w = write(pipefd[1], &c, 1);
		_exit(w == 1 ? 0 : 1);
	}
	close(pipefd[1]);
	char c = 0;
	ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(c == 'y', "the child's scope end did not do what it should");
	ck_assert(t_is_open(parent_fd));
	ck_assert_int_eq(rcshim_scope_end(s, RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_kind(&r, RCSHIM_KIND_FD, 1, 0, 0);
	ck_assert(!t_is_open(parent_fd));
}
END_TEST

TEST_SUITE(api_scope)
{
	ADD_TEST(s, scope_reclaims_every_kind);
	ADD_TEST(s, scope_priorities);
	ADD_TEST(s, scope_nested_hand_over);
	ADD_TEST(s, scope_inner_does_not_touch_outer);
	ADD_TEST(s, scope_out_of_order_end);
	ADD_TEST(s, scope_macro);
	ADD_TEST(s, scope_ended_on_another_thread);
	ADD_TEST(s, scope_thread_exits_inside);
	ADD_TEST(s, scope_invalid_use);
	ADD_TEST(s, scope_ids_unique);
	ADD_TEST(s, scope_fork_child_owns_its_own);
	ADD_TEST_TIMEOUT(s, scope_threads_register_temp_dirs, 300);
}
