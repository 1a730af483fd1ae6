/* Registration and custom cleaners through the public API. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "test.h"

#define GPU_PTR ((uint64_t)0x7f3a00000000)

/* The four registrations of the original cleaner's example. */
struct four {
	char dir[128];
	FILE *file;
	int file_fd;
	sqlite3 *db;
	rcshim_id ids[4];
};

static void
register_four(struct four *f)
{
	char p[256];

	snprintf(f->dir, sizeof(f->dir), "%s/frames-XXXXXX", t_base());
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	f->ids[0] = rcshim_register_temp_dir(f->dir, "frames");
	snprintf(p, sizeof(p), "%s/current.raw", t_base());
	f->file = fopen(p, "w");
	ck_assert_ptr_nonnull(f->file);
	fputs("frame\n", f->file);
	f->file_fd = fileno(f->file);
	f->ids[1] = rcshim_register_file(f->file, "current frame");
	f->ids[2] = rcshim_register_gpu_buffer(GPU_PTR, 64 << 20, "decoder output");
	ck_assert_int_eq(sqlite3_open(":memory:", &f->db), SQLITE_OK);
	f->ids[3] = rcshim_register_db(f->db, "index");
	for (int i = 0; i < 4; i++) {
		ck_assert_uint_ne(f->ids[i], 0);
		for (int j = 0; j < i; j++) {
			ck_assert_uint_ne(f->ids[i], f->ids[j]);
		}
	}
}

/* The counts a user expects: LOW the temp dir; MEDIUM + the file and the
 * database; HIGH + the GPU buffer, which is kept (skipped) until GPU
 * tracking frees GPU memory. */
START_TEST(original_example_counts)
{
	static const int cleaned[] = { 1, 3, 3, 3 };
	static const int kept[] = { 0, 0, 1, 1 };

	for (int p = RCSHIM_LOW; p <= RCSHIM_CRITICAL; p++) {
		struct rcshim_result r;
		struct four f;

		t_base();
		rcshim_scope round = rcshim_scope_begin("round");
		register_four(&f);
		ck_assert_int_eq(rcshim_clean((rcshim_priority)p, &r), RCSHIM_OK);
		/* Per kind: the cleanup's own work (the heap trim at MEDIUM
		 * and above) is counted under other kinds. */
		uint64_t c = 0, k = 0;
		for (int kind = RCSHIM_KIND_TEMP; kind <= RCSHIM_KIND_GPU; kind++) {
			c += r.kind[kind].cleaned;
			k += r.kind[kind].skipped;
		}
		char text[512];
		rcshim_result_format(&r, RCSHIM_FORMAT_TEXT, text, sizeof(text));
		ck_assert_msg(c == (uint64_t)cleaned[p] && k == (uint64_t)kept[p], "clean(%s): %s",
			      rcshim_priority_name(p), text);
		ck_assert_uint_eq(r.failed, 0);
		ck_assert(!t_exists(f.dir));
		ck_assert_kind(&r, RCSHIM_KIND_TEMP, 1, 0, 0);
		if (p >= RCSHIM_MEDIUM) {
			ck_assert_kind(&r, RCSHIM_KIND_FD, 1, 0, 0);
			ck_assert_kind(&r, RCSHIM_KIND_SQLITE, 1, 0, 0);
			ck_assert(!t_is_open(f.file_fd));
			ck_assert_str_eq(t_first_line(t_path("current.raw")), "frame\n");
		} else {
			ck_assert(t_is_open(f.file_fd));
		}
		if (p >= RCSHIM_HIGH) {
			ck_assert_kind(&r, RCSHIM_KIND_GPU, 0, 0, 1);
		}
		/* What the round still holds goes at its end. */
		ck_assert_int_eq(rcshim_scope_end(round, RCSHIM_CRITICAL, &r), RCSHIM_OK);
		if (p == RCSHIM_LOW) {
			ck_assert_kind(&r, RCSHIM_KIND_FD, 1, 0, 0);
			ck_assert_kind(&r, RCSHIM_KIND_SQLITE, 1, 0, 0);
			ck_assert(!t_is_open(f.file_fd));
		}
		/* Closing after the shim did is recognised and harmless. */
		ck_assert_int_eq(sqlite3_close(f.db), SQLITE_OK);
		unlink(t_path("current.raw"));
	}
}
END_TEST

START_TEST(register_errors)
{
	char p[256];

	t_base();
	errno = 0;
	ck_assert_uint_eq(rcshim_register_fd(1, "stdout"), 0);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(rcshim_register_fd(-1, "x"), 0);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_uint_eq(rcshim_register_fd(1000, "x"), 0);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_uint_eq(rcshim_register_file(NULL, "x"), 0);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(rcshim_register_temp_dir("/", "root"), 0);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(rcshim_register_temp_dir(NULL, "x"), 0);
	ck_assert_int_eq(errno, EINVAL);
	snprintf(p, sizeof(p), "%s/missing", t_base());
	ck_assert_uint_eq(rcshim_register_temp_dir(p, "x"), 0);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_uint_eq(rcshim_register_temp_dir("/dev/null", "x"), 0);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_uint_eq(rcshim_register_gpu_buffer(0, 10, "x"), 0);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(rcshim_register_db(NULL, "x"), 0);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(rcshim_register_cleaner(NULL, NULL, RCSHIM_LOW, "x"), 0);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(rcshim_depends_on(12345, 54321), RCSHIM_INVALID);
	ck_assert_int_eq(rcshim_unregister(12345), RCSHIM_INVALID);
}
END_TEST

START_TEST(register_again_same_id)
{
	struct rcshim_result r;

	t_base();
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	rcshim_id a = rcshim_register_fd(fd, "first name");
	rcshim_id b = rcshim_register_fd(fd, "second name");
	ck_assert_uint_ne(a, 0);
	ck_assert_uint_eq(a, b);
	ck_assert_int_eq(rcshim_clean(RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_kind(&r, RCSHIM_KIND_FD, 1, 0, 0);
	ck_assert(!t_is_open(fd));
	/* Released: forgotten. */
	ck_assert_int_eq(rcshim_unregister(a), RCSHIM_INVALID);
}
END_TEST

START_TEST(released_by_the_program)
{
	struct rcshim_result r;
	char p[256];

	t_base();
	/* Closed by the program, then the number reused for another file:
	 * the new fd is not the registered one and stays open. */
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_uint_ne(rcshim_register_fd(fd, "gone"), 0);
	ck_assert_int_eq(close(fd), 0);
	snprintf(p, sizeof(p), "%s/reused", t_base());
	int again = open(p, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	ck_assert_int_eq(again, fd);

	/* The same number made another file behind the shim's back. */
	int fd2 = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_uint_ne(rcshim_register_fd(fd2, "swapped"), 0);
	int other = open(p, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(syscall(SYS_dup2, other, fd2), fd2); /* unseen by the shim */

	/* A directory the program removed itself. */
	char d[256];
	snprintf(d, sizeof(d), "%s/removed-XXXXXX", t_base());
	ck_assert_ptr_nonnull(mkdtemp(d));
	ck_assert_uint_ne(rcshim_register_temp_dir(d, "removed"), 0);
	ck_assert_int_eq(rmdir(d), 0);

	ck_assert_int_eq(rcshim_clean(RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert(t_is_open(again));
	ck_assert(t_is_open(fd2));
	ck_assert_uint_eq(t_items_cleaned(&r), 0);
	ck_assert_kind(&r, RCSHIM_KIND_FD, 0, 0, 1); /* the swapped one: left alone */
	close(again);
	close(other);
	close(fd2);
}
END_TEST

START_TEST(unregister_keeps_the_resource)
{
	struct rcshim_result r;
	char d[256];

	t_base();
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	rcshim_id id = rcshim_register_fd(fd, "kept");
	snprintf(d, sizeof(d), "%s/kept-XXXXXX", t_base());
	ck_assert_ptr_nonnull(mkdtemp(d));
	rcshim_id did = rcshim_register_temp_dir(d, "kept dir");
	ck_assert_int_eq(rcshim_unregister_cleaner(id), RCSHIM_INVALID);
	ck_assert_int_eq(rcshim_unregister(id), RCSHIM_OK);
	ck_assert_int_eq(rcshim_unregister(did), RCSHIM_OK);
	ck_assert_int_eq(rcshim_unregister(id), RCSHIM_INVALID);
	ck_assert_int_eq(rcshim_clean(RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert(t_is_open(fd));
	ck_assert(t_exists(d));
	ck_assert_uint_eq(t_items_cleaned(&r), 0);
	close(fd);
}
END_TEST

START_TEST(register_outside_temp_roots)
{
	struct rcshim_result r;
	char d[256], f[300];

	/* Registration is consent: a directory the shim would not call
	 * temporary (here: in the current directory) is removed too. */
	snprintf(d, sizeof(d), "rcshim-api-registered-%d", (int)getpid());
	ck_assert_int_eq(mkdir(d, 0700), 0);
	snprintf(f, sizeof(f), "%s/inside", d);
	FILE *fp = fopen(f, "w");
	ck_assert_ptr_nonnull(fp);
	fclose(fp);
	ck_assert_uint_ne(rcshim_register_temp_dir(d, "work"), 0);
	ck_assert_int_eq(rcshim_clean(RCSHIM_LOW, &r), RCSHIM_OK);
	ck_assert_kind(&r, RCSHIM_KIND_TEMP, 1, 0, 0);
	ck_assert(!t_exists(d));
}
END_TEST

START_TEST(registered_gpu_buffer)
{
	struct rcshim_result r;

	/* Kept and counted as skipped until GPU tracking frees GPU memory;
	 * never at process end (the driver tears its context down first). */
	rcshim_id id = rcshim_register_gpu_buffer(GPU_PTR, 4096, "weights");
	ck_assert_uint_ne(id, 0);
	ck_assert_int_eq(rcshim_clean(RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_kind(&r, RCSHIM_KIND_GPU, 0, 0, 0);
	ck_assert_int_eq(rcshim_clean(RCSHIM_HIGH, &r), RCSHIM_OK);
	ck_assert_kind(&r, RCSHIM_KIND_GPU, 0, 0, 1);
	/* At the end the GPU step frees GPU memory (and without a driver
	 * keeps it); the registration stays meanwhile. */
	ck_assert_int_eq(rcshim_emergency_cleanup(&r), RCSHIM_OK);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_GPU].cleaned + r.kind[RCSHIM_KIND_GPU].failed, 0);
	ck_assert_int_eq(rcshim_unregister(id), RCSHIM_OK);
	ck_assert_int_eq(rcshim_clean(RCSHIM_HIGH, &r), RCSHIM_OK);
	ck_assert_kind(&r, RCSHIM_KIND_GPU, 0, 0, 0);
}
END_TEST

START_TEST(registered_db_opened_elsewhere)
{
	struct rcshim_result r;
	sqlite3 *db;

	/* A connection the shim tracked already, registered: MEDIUM closes
	 * it cleanly, WAL checkpointed (-wal and -shm gone). */
	ck_assert_int_eq(sqlite3_open(t_path("reg.db"), &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x);"
					  "INSERT INTO t VALUES (42)", NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert(t_exists(t_path("reg.db-wal")));
	ck_assert_uint_ne(rcshim_register_db(db, "reg"), 0);
	ck_assert_int_eq(rcshim_clean(RCSHIM_LOW, &r), RCSHIM_OK);
	ck_assert_kind(&r, RCSHIM_KIND_SQLITE, 0, 0, 0);
	ck_assert_int_eq(rcshim_clean(RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_kind(&r, RCSHIM_KIND_SQLITE, 1, 0, 0);
	ck_assert(!t_exists(t_path("reg.db-wal")));
	ck_assert(!t_exists(t_path("reg.db-shm")));
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
	/* The data is there. */
	ck_assert_int_eq(sqlite3_open(t_path("reg.db"), &db), SQLITE_OK);
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT x FROM t", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 42);
	sqlite3_finalize(st);
	sqlite3_close(db);
}
END_TEST

TEST_SUITE(api_register)
{
	ADD_TEST(s, original_example_counts);
	ADD_TEST(s, register_errors);
	ADD_TEST(s, register_again_same_id);
	ADD_TEST(s, released_by_the_program);
	ADD_TEST(s, unregister_keeps_the_resource);
	ADD_TEST(s, register_outside_temp_roots);
	ADD_TEST(s, registered_gpu_buffer);
	ADD_TEST(s, registered_db_opened_elsewhere);
}

/* --- custom cleaners ------------------------------------------------------------- */

static char order[256];

static void
ran(const char *name)
{
	if (order[0]) {
		strncat(order, " ", sizeof(order) - strlen(order) - 1);
	}
	strncat(order, name, sizeof(order) - strlen(order) - 1);
}

struct named {
	const char *name;
	long ret;
};

static long
record_run(void *ctx)
{
	const struct named *n = ctx;
	ran(n->name);
	return n->ret;
}

static struct named A = { "A", 1 }, B = { "B", 2 }, C = { "C", 4 }, D = { "D", -EIO },
		    E = { "E", 8 };

START_TEST(cleaners_priority_and_dependency_order)
{
	struct rcshim_result r;

	/* A LOW, B MEDIUM, C HIGH, D MEDIUM (fails), E CRITICAL; C uses A. */
	rcshim_id a = rcshim_register_cleaner(record_run, &A, RCSHIM_LOW, "A");
	rcshim_register_cleaner(record_run, &B, RCSHIM_MEDIUM, "B");
	rcshim_id c = rcshim_register_cleaner(record_run, &C, RCSHIM_HIGH, "C");
	rcshim_register_cleaner(record_run, &D, RCSHIM_MEDIUM, "D");
	rcshim_register_cleaner(record_run, &E, RCSHIM_CRITICAL, "E");
	ck_assert_int_eq(rcshim_depends_on(c, a), RCSHIM_OK);
	ck_assert_int_eq(rcshim_depends_on(c, a), RCSHIM_OK); /* once is enough */

	/* LOW first, newest first within a priority, a user before what it
	 * uses; D's failure stops nothing. */
	order[0] = '\0';
	ck_assert_int_eq(rcshim_clean(RCSHIM_HIGH, &r), RCSHIM_PARTIAL);
	ck_assert_str_eq(order, "D B C A");
	ck_assert_kind(&r, RCSHIM_KIND_CUSTOM, 1 + 2 + 4, 1, 0);
	ck_assert_int_eq(r.status, RCSHIM_PARTIAL);

	/* Live cleaners stay registered.  At MEDIUM, C is kept, so A (which
	 * C uses) is kept too: skipped. */
	order[0] = '\0';
	ck_assert_int_eq(rcshim_clean(RCSHIM_MEDIUM, &r), RCSHIM_PARTIAL);
	ck_assert_str_eq(order, "D B");
	ck_assert_kind(&r, RCSHIM_KIND_CUSTOM, 2, 1, 1);

	/* A is ready once C ran, and LOW goes before CRITICAL. */
	order[0] = '\0';
	ck_assert_int_eq(rcshim_clean(RCSHIM_CRITICAL, &r), RCSHIM_PARTIAL);
	ck_assert_str_eq(order, "D B C A E");

	/* The final cleanup runs them once more and forgets them. */
	order[0] = '\0';
	ck_assert_int_eq(rcshim_emergency_cleanup(&r), RCSHIM_PARTIAL);
	ck_assert_str_eq(order, "D B C A E");
	order[0] = '\0';
	ck_assert_int_eq(rcshim_clean(RCSHIM_CRITICAL, &r), RCSHIM_OK);
	ck_assert_str_eq(order, "");
}
END_TEST

START_TEST(cleaners_cycle_is_broken)
{
	struct rcshim_result r;

	rcshim_id a = rcshim_register_cleaner(record_run, &A, RCSHIM_LOW, "A");
	rcshim_id b = rcshim_register_cleaner(record_run, &B, RCSHIM_LOW, "B");
	rcshim_id c = rcshim_register_cleaner(record_run, &C, RCSHIM_LOW, "C");
	rcshim_id self = rcshim_register_cleaner(record_run, &E, RCSHIM_MEDIUM, "E");
	/* A uses B uses C uses A; E uses itself. */
	ck_assert_int_eq(rcshim_depends_on(a, b), RCSHIM_OK);
	ck_assert_int_eq(rcshim_depends_on(b, c), RCSHIM_OK);
	ck_assert_int_eq(rcshim_depends_on(c, a), RCSHIM_OK);
	ck_assert_int_eq(rcshim_depends_on(self, self), RCSHIM_OK);
	order[0] = '\0';
	ck_assert_int_eq(rcshim_clean(RCSHIM_MEDIUM, &r), RCSHIM_OK);
	/* Each once: broken at C (LOW, newest); then A, which C uses, then
	 * B, which A uses; E's loop on itself is broken at E. */
	ck_assert_str_eq(order, "C A B E");
	ck_assert_kind(&r, RCSHIM_KIND_CUSTOM, 1 + 2 + 4 + 8, 0, 0);
}
END_TEST

struct flush {
	sqlite3 *db;
	int written;
};

static long
flush_into_db(void *ctx)
{
	struct flush *f = ctx;
	/* Runs before the database it uses is closed. */
	if (sqlite3_exec(f->db, "INSERT INTO t VALUES (7)", NULL, NULL, NULL) != SQLITE_OK) {
		return -EIO;
	}
	f->written++;
	return 1;
}

START_TEST(cleaner_uses_a_registered_db)
{
	struct rcshim_result r;
	struct flush f = { NULL, 0 };

	ck_assert_int_eq(sqlite3_open(":memory:", &f.db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(f.db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	rcshim_id db = rcshim_register_db(f.db, "db");
	/* Registered after the database, at a higher priority: still first. */
	rcshim_id cl = rcshim_register_cleaner(flush_into_db, &f, RCSHIM_MEDIUM, "flush");
	ck_assert_int_eq(rcshim_depends_on(cl, db), RCSHIM_OK);
	ck_assert_int_eq(rcshim_clean(RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_int_eq(f.written, 1);
	ck_assert_kind(&r, RCSHIM_KIND_CUSTOM, 1, 0, 0);
	ck_assert_kind(&r, RCSHIM_KIND_SQLITE, 1, 0, 0);
	ck_assert_int_eq(rcshim_unregister_cleaner(cl), RCSHIM_OK);
	ck_assert_int_eq(sqlite3_close(f.db), SQLITE_OK);
}
END_TEST

static rcshim_status inner_status[4];

static long
calls_the_api(void *ctx)
{
	struct rcshim_result r;
	rcshim_scope s = rcshim_scope_begin("inside a cleaner");
	*(rcshim_scope *)ctx = s;
	inner_status[0] = rcshim_clean(RCSHIM_LOW, &r);
	inner_status[1] = rcshim_emergency_cleanup(&r);
	inner_status[2] = rcshim_scope_end(s, RCSHIM_LOW, &r);
	inner_status[3] = r.status;
	/* Registering from a cleaner works (in the scope it opened). */
	return rcshim_register_cleaner(record_run, &A, RCSHIM_LOW, "late") ? 1 : -1;
}

START_TEST(cleaner_calling_the_api)
{
	struct rcshim_result r;
	rcshim_scope opened = 0;

	rcshim_id calls = rcshim_register_cleaner(calls_the_api, &opened, RCSHIM_LOW, "calls");
	ck_assert_int_eq(rcshim_clean(RCSHIM_LOW, &r), RCSHIM_OK);
	/* A cleanup from inside a cleaner is refused, not a deadlock. */
	ck_assert_int_eq(inner_status[0], RCSHIM_BUSY);
	ck_assert_int_eq(inner_status[1], RCSHIM_BUSY);
	ck_assert_int_eq(inner_status[2], RCSHIM_BUSY);
	ck_assert_int_eq(inner_status[3], RCSHIM_BUSY);
	ck_assert_kind(&r, RCSHIM_KIND_CUSTOM, 1, 0, 0);
	ck_assert_int_eq(rcshim_unregister_cleaner(calls), RCSHIM_OK);
	/* The scope it could not end is still open on this thread; its end
	 * runs the cleaner registered inside it. */
	ck_assert_uint_ne(opened, 0);
	ck_assert_uint_eq(rcshim_scope_current(), opened);
	order[0] = '\0';
	ck_assert_int_eq(rcshim_scope_end(opened, RCSHIM_LOW, &r), RCSHIM_OK);
	ck_assert_str_eq(order, "A");
	order[0] = '\0';
	ck_assert_int_eq(rcshim_clean(RCSHIM_LOW, &r), RCSHIM_OK);
	ck_assert_str_eq(order, "");
}
END_TEST

START_TEST(cleaners_of_a_scope)
{
	struct rcshim_result r;

	rcshim_register_cleaner(record_run, &A, RCSHIM_LOW, "process-wide");
	rcshim_scope s = rcshim_scope_begin("job");
	rcshim_register_cleaner(record_run, &B, RCSHIM_MEDIUM, "job's");
	rcshim_register_cleaner(record_run, &C, RCSHIM_HIGH, "job's, HIGH");
	/* The scope's end runs its own cleaners up to its priority, and
	 * forgets them; the HIGH one passes to the process. */
	order[0] = '\0';
	ck_assert_int_eq(rcshim_scope_end(s, RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_str_eq(order, "B");
	ck_assert_kind(&r, RCSHIM_KIND_CUSTOM, 2, 0, 0);
	order[0] = '\0';
	ck_assert_int_eq(rcshim_clean(RCSHIM_HIGH, &r), RCSHIM_OK);
	ck_assert_str_eq(order, "A C");
}
END_TEST

/* At exit the final cleanup (RCSHIM_EXIT_PRIORITY, MEDIUM by default) runs
 * the process's cleaners up to that priority; a child runs only its own. */
static int report_fd = -1;

static long
report_run(void *ctx)
{
	const char *what = ctx;
	ssize_t w = write(report_fd, what, strlen(what));
	return w > 0 ? 1 : -1;
}

START_TEST(cleaners_at_process_exit)
{
	int p[2];
	char buf[64] = "";

	ck_assert_int_eq(pipe(p), 0);
	report_fd = p[1];
	rcshim_id parent = rcshim_register_cleaner(report_run, "parent;", RCSHIM_LOW, "parent's");
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		rcshim_register_cleaner(report_run, "low;", RCSHIM_LOW, "low");
		rcshim_register_cleaner(report_run, "medium;", RCSHIM_MEDIUM, "medium");
		rcshim_register_cleaner(report_run, "high;", RCSHIM_HIGH, "high");
		exit(0);
	}
	close(p[1]);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	close(p[0]);
	ck_assert_str_eq(buf, "low;medium;");
	ck_assert_int_eq(rcshim_unregister_cleaner(parent), RCSHIM_OK);
}
END_TEST

TEST_SUITE(api_cleaners)
{
	ADD_TEST(s, cleaners_priority_and_dependency_order);
	ADD_TEST(s, cleaners_cycle_is_broken);
	ADD_TEST(s, cleaner_uses_a_registered_db);
	ADD_TEST(s, cleaner_calling_the_api);
	ADD_TEST(s, cleaners_of_a_scope);
	ADD_TEST(s, cleaners_at_process_exit);
}
