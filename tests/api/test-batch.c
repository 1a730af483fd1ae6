/* The batch of the issue: 1 000 jobs, each in a scope, each leaking a temp
 * directory, an fd and a SQLite connection (whose database lives in that
 * directory).  Nothing may be held at the end, and the process's fd count
 * must stay flat across the batch.
 *
 * The same batch with a GPU buffer per job, against the fake CUDA driver
 * of the GPU tests, is batch-gpu.c. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "test.h"

#define JOBS 1000

/* One job: leaks everything it acquires. */
static void
job(int i, char *dir, size_t len)
{
	char path[256];
	sqlite3 *db;

	snprintf(dir, len, "%s-job%04d-XXXXXX", t_base(), i);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/job.db", dir);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	/* synchronous=OFF: SQLite's fsyncs would make the batch a disk
	 * benchmark (40 ms a job here), and durability is not the point. */
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA synchronous=OFF; CREATE TABLE r(job, result);"
					  "INSERT INTO r VALUES (1, 'done')", NULL, NULL, NULL),
			 SQLITE_OK);
	snprintf(path, sizeof(path), "%s/output", dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_gt(fd, 2);
	ck_assert_int_eq(write(fd, "result\n", 7), 7);
}

START_TEST(batch_of_1000_jobs)
{
	struct rcshim_result total, r;
	char dir[256];

	memset(&total, 0, sizeof(total));
	t_base();
	/* One job first: SQLite's own start-up is not the batch's. */
	{
		RCSHIM_SCOPE("warm-up");
		job(-1, dir, sizeof(dir));
	}
	int fds = t_open_fds();
	sqlite3_int64 mem = sqlite3_memory_used();

	for (int i = 0; i < JOBS; i++) {
		rcshim_scope s = rcshim_scope_begin("job");
		ck_assert_uint_ne(s, 0);
		job(i, dir, sizeof(dir));
		ck_assert_int_eq(rcshim_scope_end(s, RCSHIM_HIGH, &r), RCSHIM_OK);
		for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
			total.kind[k].cleaned += r.kind[k].cleaned;
			total.kind[k].failed += r.kind[k].failed;
			total.kind[k].skipped += r.kind[k].skipped;
		}
		ck_assert_msg(!t_exists(dir), "job %d: %s left", i, dir);
		ck_assert_msg(t_open_fds() == fds, "job %d: %d fds open, %d before the batch", i,
			      t_open_fds(), fds);
	}

	ck_assert_uint_eq(total.kind[RCSHIM_KIND_TEMP].cleaned, JOBS);
	ck_assert_uint_eq(total.kind[RCSHIM_KIND_FD].cleaned, JOBS);
	ck_assert_uint_eq(total.kind[RCSHIM_KIND_SQLITE].cleaned, JOBS);
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		ck_assert_msg(total.kind[k].failed == 0 && total.kind[k].skipped == 0,
			      "%s: %llu failed, %llu skipped", rcshim_kind_name(k),
			      (unsigned long long)total.kind[k].failed,
			      (unsigned long long)total.kind[k].skipped);
	}
	/* No connection is held: SQLite's memory is what it was. */
	ck_assert_msg(sqlite3_memory_used() <= mem, "SQLite holds %lld bytes, %lld before",
		      (long long)sqlite3_memory_used(), (long long)mem);
	ck_assert_int_eq(t_open_fds(), fds);
	ck_assert_uint_eq(rcshim_scope_current(), 0);
	printf("batch: %d jobs, %d fds open before and after, SQLite memory %lld -> %lld\n",
	       JOBS, fds, (long long)mem, (long long)sqlite3_memory_used());
}
END_TEST

TEST_SUITE(api_batch)
{
	TCase *tc = tcase_create("batch_of_1000_jobs");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, batch_of_1000_jobs);
	suite_add_tcase(s, tc);
}
