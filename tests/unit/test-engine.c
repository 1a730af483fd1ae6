#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "clean/engine.h"
#include "clean/sqlite.h"
#include "core/arena.h"
#include "core/fdtable.h"
#include "core/journal.h"
#include "core/log.h"
#include "core/registry.h"
#include "core/session.h"
#include "core/state.h"
#include "fixture.h"
#include "test.h"

/* --- helpers ----------------------------------------------------------------- */

static bool
is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* Records @path as the tracking core does: journal line, then record. */
static void
track_temp(const char *path, bool journaled, int32_t pid, uint32_t scope)
{
	struct stat st;
	ck_assert_msg(lstat(path, &st) == 0, "lstat %s", path);
	bool dir = S_ISDIR(st.st_mode);
	struct rc_record rec = {
		.kind = RCSHIM_KIND_TEMP,
		.flags = (dir ? RC_REC_DIR : 0) | (journaled ? RC_REC_JOURNALED : 0),
		.sub = 0, /* the only root, S.root */
		.dev = (uint32_t)st.st_dev,
		.ino = st.st_ino,
		.pid = pid,
		.scope = scope,
		.path = (char *)path,
	};
	if (journaled) {
		ck_assert_int_eq(rc_journal_append('+', dir, rec.dev, rec.ino, 0, path), 0);
	}
	ck_assert_ptr_nonnull(rc_reg_add(&rec));
}

/* An fd on a file outside the root, tracked for this process. */
static int
track_fd(uint32_t scope, bool with_ident, uint32_t flags)
{
	char p[PATH_MAX];
	struct stat st;
	static int n;

	char name[32];
	snprintf(name, sizeof(name), "fdfile%d", n++);
	path_in(p, sizeof(p), S.out, name);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_gt(fd, 2);
	ck_assert_int_eq(fstat(fd, &st), 0);
	rc_fd_track(fd, flags, scope, 0, getpid(), 0, with_ident ? &st : NULL);
	return fd;
}

static rcshim_status
clean(enum rc_mode mode, rcshim_priority prio, uint32_t scope, struct rcshim_result *res)
{
	struct rc_clean_req req = {
		.mode = mode, .prio = prio, .reason = RC_REASON_API, .scope = scope,
	};
	return rc_clean(&req, res);
}

/* --- results ----------------------------------------------------------------- */

START_TEST(result_bookkeeping)
{
	struct rcshim_result res;

	memset(&res, 0x5a, sizeof(res));
	rc_result_init(&res);
	ck_assert_int_eq(res.status, RCSHIM_OK);
	ck_assert_uint_eq(res.cleaned + res.failed + res.skipped + res.bytes, 0);
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		ck_assert_uint_eq(res.kind[k].cleaned + res.kind[k].failed +
				  res.kind[k].skipped + res.kind[k].bytes, 0);
	}

	rc_result_add(&res, RCSHIM_KIND_TEMP, 2, 0, 1, 100);
	rc_result_add(&res, RCSHIM_KIND_TEMP, 1, 0, 0, 50);
	rc_result_add(&res, RCSHIM_KIND_FD, 1, 0, 3, 0);
	/* Out of range or no result: ignored, no crash. */
	rc_result_add(&res, -1, 100, 100, 100, 100);
	rc_result_add(&res, RCSHIM_KIND_COUNT, 100, 100, 100, 100);
	rc_result_add(NULL, RCSHIM_KIND_TEMP, 1, 1, 1, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 3);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].bytes, 150);

	rc_result_finish(&res);
	ck_assert_uint_eq(res.cleaned, 4);
	ck_assert_uint_eq(res.skipped, 4);
	ck_assert_uint_eq(res.failed, 0);
	ck_assert_uint_eq(res.bytes, 150);
	ck_assert_int_eq(res.status, RCSHIM_OK);

	/* Finishing again recomputes, it does not add up twice. */
	rc_result_finish(&res);
	ck_assert_uint_eq(res.cleaned, 4);

	/* Any failure makes it partial. */
	rc_result_add(&res, RCSHIM_KIND_SQLITE, 0, 1, 0, 0);
	rc_result_finish(&res);
	ck_assert_uint_eq(res.failed, 1);
	ck_assert_int_eq(res.status, RCSHIM_PARTIAL);
	rc_result_finish(NULL);

	/* Temp outcomes by rmtree code. */
	rc_log_threshold = RC_LOG_QUIET;
	rc_result_init(&res);
	rc_result_count_temp(&res, 0, "/tmp/a");
	rc_result_count_temp(&res, -ENOENT, "/tmp/b");
	rc_result_count_temp(&res, -ESTALE, "/tmp/c");
	rc_result_count_temp(&res, -EACCES, "/tmp/d");
	rc_result_count_temp(&res, -EBUSY, "/tmp/e");
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].skipped, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].failed, 2);
	rc_result_finish(&res);
	ck_assert_int_eq(res.status, RCSHIM_PARTIAL);
	rc_log_threshold = RC_LOG_WARN;
}
END_TEST

/* --- final cleanup of temp artifacts ----------------------------------------- */

START_TEST(final_every_priority)
{
	for (int prio = RCSHIM_LOW; prio <= RCSHIM_CRITICAL; prio++) {
		char d[PATH_MAX], f[PATH_MAX], u[PATH_MAX], j[PATH_MAX], n[PATH_MAX];
		struct rcshim_result res;
		struct stat st;

		state_setup(NULL);
		ck_assert(rc_session_owner());
		path_in(d, sizeof(d), S.root, "d");
		path_in(f, sizeof(f), S.root, "f");
		path_in(u, sizeof(u), S.root, "unjournaled");
		path_in(j, sizeof(j), S.root, "by-a-child");
		path_in(n, sizeof(n), S.root, "never-tracked");
		make_tree(d);
		track_temp(d, true, getpid(), 0);
		write_file(f, "f");
		track_temp(f, true, getpid(), 0);
		/* Its journal line failed: only this process knows it. */
		make_dir(u);
		track_temp(u, false, getpid(), 0);
		/* Another process of the session made this one: in the
		 * journal only. */
		make_dir(j);
		ck_assert_int_eq(lstat(j, &st), 0);
		ck_assert_int_eq(rc_journal_append('+', true, st.st_dev, st.st_ino, 0, j), 0);
		make_dir(n);

		ck_assert_int_eq(clean(RC_MODE_FINAL, (rcshim_priority)prio, 0, &res),
				 RCSHIM_OK);
		ck_assert_msg(!exists(d), "prio %d: %s left", prio, d);
		ck_assert_msg(!exists(f), "prio %d: %s left", prio, f);
		ck_assert_msg(!exists(u), "prio %d: %s left", prio, u);
		ck_assert_msg(!exists(j), "prio %d: %s left", prio, j);
		ck_assert(exists(n));
		ck_assert(exists(S.root));
		assert_outside_intact();
		ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 4);
		ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].failed, 0);
		ck_assert_uint_eq(res.cleaned, 4);
		ck_assert_int_eq(res.status, RCSHIM_OK);
		/* The journal is done with. */
		ck_assert(!exists(S.jpath));
		state_teardown();
	}
}
END_TEST

START_TEST(final_forgets_removed_temps)
{
	char d[PATH_MAX], f[PATH_MAX];
	struct rcshim_result res;

	state_setup(NULL);
	path_in(d, sizeof(d), S.root, "d");
	path_in(f, sizeof(f), S.root, "f");
	make_dir(d);
	track_temp(d, true, getpid(), 0);
	write_file(f, "");
	track_temp(f, false, getpid(), 0);

	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_CRITICAL, 0, &res), RCSHIM_OK);
	ck_assert(!exists(d));
	ck_assert(!exists(f));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 2);
	/* What was removed is no longer held: a report made after an
	 * emergency cleanup must not list it.  (Asserted after the
	 * teardown, so a failure leaves no scratch.) */
	size_t left = rc_reg_count(RCSHIM_KIND_TEMP);
	bool d_held = rc_reg_has(RCSHIM_KIND_TEMP, rc_path_hash(d));
	state_teardown();
	ck_assert_uint_eq(left, 0);
	ck_assert(!d_held);
}
END_TEST

START_TEST(final_not_session_owner)
{
	char d[PATH_MAX], u[PATH_MAX];
	struct rcshim_result res;

	/* A descendant in a session rooted elsewhere. */
	state_setup(FIXTURE_MEMBER);
	ck_assert(!rc_session.created);
	ck_assert(!rc_session_owner());
	rc_journal_path(S.jpath, sizeof(S.jpath));
	path_in(d, sizeof(d), S.root, "d");
	path_in(u, sizeof(u), S.root, "u");
	make_tree(d);
	track_temp(d, true, getpid(), 0);
	make_dir(u);
	track_temp(u, false, getpid(), 0);

	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_MEDIUM, 0, &res), RCSHIM_OK);
	/* The journaled one is the session's, for its root to remove. */
	ck_assert(exists(d));
	ck_assert(exists(S.jpath));
	/* What the journal does not know is the session's too
	 * (`d=$(mktemp -d)` outlives mktemp): left, a leak, not a loss. */
	ck_assert(exists(u));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 0);
	state_teardown();
}
END_TEST

START_TEST(final_process_mode)
{
	char d[PATH_MAX], want[2 * PATH_MAX];
	struct rcshim_result res;

	state_setup("RCSHIM_TMP_OWNER=process");
	ck_assert(rc_session.process_mode);
	ck_assert(rc_session_owner());
	snprintf(want, sizeof(want), "%s/rcshim/%s.p%d.journal", S.xdg, rc_session.id, getpid());
	ck_assert_str_eq(S.jpath, want);
	path_in(d, sizeof(d), S.root, "d");
	make_tree(d);
	track_temp(d, true, getpid(), 0);
	ck_assert(exists(S.jpath));

	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_LOW, 0, &res), RCSHIM_OK);
	ck_assert(!exists(d));
	ck_assert(!exists(S.jpath));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	state_teardown();
}
END_TEST

START_TEST(final_leaves_what_is_not_ours)
{
	char other[PATH_MAX], swapped[PATH_MAX], moved[PATH_MAX], keep[PATH_MAX];
	struct rcshim_result res;

	state_setup(NULL);
	path_in(other, sizeof(other), S.root, "other-pid");
	path_in(swapped, sizeof(swapped), S.root, "swapped");
	path_in(moved, sizeof(moved), S.out, "moved");
	path_in(keep, sizeof(keep), S.out, "keep");
	write_file(keep, "precious");

	/* Inherited from a parent (another pid): not ours. */
	make_dir(other);
	track_temp(other, false, getpid() + 1, 0);
	/* Ours, but now a symlink to the outside. */
	make_dir(swapped);
	track_temp(swapped, true, getpid(), 0);
	ck_assert_int_eq(rename(swapped, moved), 0);
	ck_assert_int_eq(symlink(S.out, swapped), 0);

	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_CRITICAL, 0, &res), RCSHIM_OK);
	ck_assert(exists(other));
	ck_assert(exists(swapped));
	ck_assert(exists(moved));
	assert_outside_intact();
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].skipped, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].failed, 0);
	state_teardown();
}
END_TEST

START_TEST(final_scope)
{
	char s7[PATH_MAX], s0[PATH_MAX], buf[8192], line[PATH_MAX + 128];
	struct rcshim_result res;
	struct stat st;

	state_setup(NULL);
	path_in(s7, sizeof(s7), S.root, "scope7");
	path_in(s0, sizeof(s0), S.root, "scope0");
	make_tree(s7);
	track_temp(s7, true, getpid(), 7);
	make_dir(s0);
	track_temp(s0, true, getpid(), 0);
	ck_assert_int_eq(lstat(s7, &st), 0);
	int fd7 = track_fd(7, true, 0);
	int fd7_noid = track_fd(7, false, 0);
	int fd0 = track_fd(0, true, 0);

	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_MEDIUM, 7, &res), RCSHIM_OK);
	ck_assert(!exists(s7));
	ck_assert(exists(s0));
	/* The scope's verifiable fd is closed; one without identity cannot
	 * be told from a reused number and stays; other scopes' stay. */
	ck_assert(!is_open(fd7));
	ck_assert(is_open(fd7_noid));
	ck_assert(is_open(fd0));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_FD].cleaned, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_FD].skipped, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_FD].failed, 0);
	struct rc_fd_entry e;
	ck_assert(!rc_fd_get(fd7, &e));
	ck_assert(rc_fd_get(fd0, &e));
	/* The journal learns the scope's artifact is gone... */
	ck_assert(exists(S.jpath));
	ck_assert_int_gt(read_file(S.jpath, buf, sizeof(buf)), 0);
	snprintf(line, sizeof(line), "- d %lu %lu %d %s\n", (unsigned long)(uint32_t)st.st_dev,
		 (unsigned long)st.st_ino, getpid(), s7);
	ck_assert_msg(strstr(buf, line) != NULL, "no \"%s\" in:\n%s", line, buf);

	/* ...so the session's end removes only the rest. */
	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_MEDIUM, 0, &res), RCSHIM_OK);
	ck_assert(!exists(s0));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	/* At the process's end fds are left to the kernel: not closed, and
	 * not a failure. */
	ck_assert(is_open(fd0));
	ck_assert(is_open(fd7_noid));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_FD].cleaned, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_FD].failed, 0);
	close(fd0);
	close(fd7_noid);
	state_teardown();
}
END_TEST

START_TEST(final_scope_fd_reused)
{
	struct rcshim_result res;
	struct stat st;

	state_setup(NULL);
	/* Recorded with another file's identity: the number was reused. */
	int fd = track_fd(3, false, 0);
	ck_assert_int_eq(stat("/", &st), 0);
	rc_fd_track(fd, 0, 3, 0, getpid(), 0, &st);
	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_HIGH, 3, &res), RCSHIM_OK);
	ck_assert(is_open(fd));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_FD].skipped, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_FD].cleaned, 0);
	struct rc_fd_entry e;
	ck_assert(!rc_fd_get(fd, &e));
	close(fd);

	/* Fds of a scope are left alone at LOW. */
	fd = track_fd(4, true, 0);
	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_LOW, 4, &res), RCSHIM_OK);
	ck_assert(is_open(fd));
	close(fd);
	state_teardown();
}
END_TEST

START_TEST(final_invalid_and_null_result)
{
	char d[PATH_MAX];
	struct rcshim_result res;
	struct rc_clean_req req = { .mode = RC_MODE_FINAL, .prio = (rcshim_priority)4 };

	state_setup(NULL);
	path_in(d, sizeof(d), S.root, "d");
	make_dir(d);
	track_temp(d, true, getpid(), 0);

	ck_assert_int_eq(rc_clean(&req, &res), RCSHIM_INVALID);
	ck_assert_int_eq(res.status, RCSHIM_INVALID);
	req.prio = (rcshim_priority)-1;
	ck_assert_int_eq(rc_clean(&req, &res), RCSHIM_INVALID);
	req.mode = RC_MODE_LIVE;
	ck_assert_int_eq(rc_clean(&req, NULL), RCSHIM_INVALID);
	ck_assert(exists(d));
	ck_assert(exists(S.jpath));

	/* No result wanted: still done. */
	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_LOW, 0, NULL), RCSHIM_OK);
	ck_assert(!exists(d));
	state_teardown();
}
END_TEST

START_TEST(final_lifetime_totals)
{
	char d[PATH_MAX];
	struct rcshim_result res;

	state_setup(NULL);
	uint64_t before = rc_lifetime.kind[RCSHIM_KIND_TEMP].cleaned;
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "d%d", i);
		path_in(d, sizeof(d), S.root, name);
		make_dir(d);
		track_temp(d, i % 2, getpid(), 0);
		ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_LOW, 0, &res), RCSHIM_OK);
		ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	}
	ck_assert_uint_eq(rc_lifetime.kind[RCSHIM_KIND_TEMP].cleaned, before + 3);
	state_teardown();
}
END_TEST

/* --- SQLite ------------------------------------------------------------------ */

static void
exec_ok(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err ? err : "?");
}

/* A WAL database with @rows committed rows (no automatic checkpoint, so
 * everything is still in the WAL). */
static sqlite3 *
open_wal(const char *path, int rows)
{
	sqlite3 *db = NULL;
	ck_assert_int_eq(sqlite3_open_v2(path, &db,
					 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
						 SQLITE_OPEN_FULLMUTEX, NULL), SQLITE_OK);
	exec_ok(db, "PRAGMA journal_mode=WAL");
	exec_ok(db, "PRAGMA wal_autocheckpoint=0");
	exec_ok(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
	exec_ok(db, "BEGIN");
	for (int i = 0; i < rows; i++) {
		exec_ok(db, "INSERT INTO t(v) VALUES (randomblob(300))");
	}
	exec_ok(db, "COMMIT");
	return db;
}

static int
count_rows_on(sqlite3 *db)
{
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Through a connection of its own. */
static int
count_rows(const char *path)
{
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	int n = count_rows_on(db);
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
	return n;
}

static void
track_db(sqlite3 *db, const char *path)
{
	ck_assert(rc_sqlite_bind((void *)sqlite3_open_v2));
	ck_assert(rc_sqlite_ready());
	struct rc_record rec = {
		.kind = RCSHIM_KIND_SQLITE,
		.handle = (uint64_t)(uintptr_t)db,
		.pid = getpid(),
		.path = (char *)path,
	};
	ck_assert_ptr_nonnull(rc_reg_add(&rec));
}

struct holder {
	sqlite3 *db;
	pthread_t t;
	pthread_mutex_t m;
	pthread_cond_t c;
	int state; /* 1: holding, 2: may let go */
};

static void *
holder_main(void *arg)
{
	struct holder *h = arg;
	sqlite3_mutex *mx = sqlite3_db_mutex(h->db);

	sqlite3_mutex_enter(mx);
	pthread_mutex_lock(&h->m);
	h->state = 1;
	pthread_cond_broadcast(&h->c);
	while (h->state != 2) {
		pthread_cond_wait(&h->c, &h->m);
	}
	pthread_mutex_unlock(&h->m);
	sqlite3_mutex_leave(mx);
	return NULL;
}

/* Another thread of the program is inside SQLite on @db. */
static void
hold_start(struct holder *h, sqlite3 *db)
{
	memset(h, 0, sizeof(*h));
	h->db = db;
	pthread_mutex_init(&h->m, NULL);
	pthread_cond_init(&h->c, NULL);
	ck_assert_ptr_nonnull(sqlite3_db_mutex(db));
	ck_assert_int_eq(pthread_create(&h->t, NULL, holder_main, h), 0);
	pthread_mutex_lock(&h->m);
	while (h->state != 1) {
		pthread_cond_wait(&h->c, &h->m);
	}
	pthread_mutex_unlock(&h->m);
}

static void
hold_stop(struct holder *h)
{
	pthread_mutex_lock(&h->m);
	h->state = 2;
	pthread_cond_broadcast(&h->c);
	pthread_mutex_unlock(&h->m);
	ck_assert_int_eq(pthread_join(h->t, NULL), 0);
	pthread_mutex_destroy(&h->m);
	pthread_cond_destroy(&h->c);
}

struct dbfiles {
	char db[PATH_MAX], wal[PATH_MAX + 8], shm[PATH_MAX + 8];
};

static void
db_paths(struct dbfiles *f, const char *dir, const char *name)
{
	path_in(f->db, sizeof(f->db), dir, name);
	snprintf(f->wal, sizeof(f->wal), "%s-wal", f->db);
	snprintf(f->shm, sizeof(f->shm), "%s-shm", f->db);
}

/* The program's WAL database @dir/@name with @rows rows, open and tracked. */
static sqlite3 *
tracked_wal(struct dbfiles *f, const char *dir, const char *name, int rows)
{
	db_paths(f, dir, name);
	sqlite3 *db = open_wal(f->db, rows);
	track_db(db, f->db);
	return db;
}

START_TEST(sqlite_final_medium_closes)
{
	struct dbfiles f;
	struct rcshim_result res;
	sqlite3_stmt *st;

	state_setup(NULL);
	db_paths(&f, S.out, "app.db");
	sqlite3 *db = open_wal(f.db, 200);
	ck_assert(exists(f.wal));
	ck_assert(exists(f.shm));
	ck_assert_int_gt(file_size(f.wal), 0);
	/* The program leaked a statement in the middle of a read, too. */
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT v FROM t", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	track_db(db, f.db);

	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_MEDIUM, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].cleaned, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].failed, 0);
	/* Checkpointed and closed cleanly: the side files are gone and every
	 * committed row is in the database file. */
	ck_assert(!exists(f.wal));
	ck_assert(!exists(f.shm));
	ck_assert_int_gt(file_size(f.db), 200 * 300);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_SQLITE), 0);
	/* A later sqlite3_close by the program must not reach SQLite. */
	ck_assert(rc_sqlite_take_closed(db));
	ck_assert_int_eq(count_rows(f.db), 200);
	state_teardown();
}
END_TEST

START_TEST(sqlite_final_low_keeps)
{
	struct dbfiles f;
	struct rcshim_result res;

	state_setup(NULL);
	sqlite3 *db = tracked_wal(&f, S.out, "app.db", 50);

	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_LOW, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].cleaned, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].failed, 0);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_SQLITE), 1);
	ck_assert(exists(f.wal));
	ck_assert(!rc_sqlite_take_closed(db));
	/* Still a working connection. */
	exec_ok(db, "INSERT INTO t(v) VALUES (x'00')");
	ck_assert_int_eq(count_rows_on(db), 51);
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
	ck_assert_int_eq(count_rows(f.db), 51);
	state_teardown();
}
END_TEST

START_TEST(sqlite_final_busy_other_thread)
{
	struct dbfiles f;
	struct rcshim_result res;
	struct holder h;

	state_setup(NULL);
	sqlite3 *db = tracked_wal(&f, S.out, "app.db", 20);

	hold_start(&h, db);
	/* Must come back at once: never wait on the program's threads. */
	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_CRITICAL, 0, &res), RCSHIM_PARTIAL);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].cleaned, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].failed, 1);
	ck_assert_uint_eq(res.failed, 1);
	hold_stop(&h);

	/* Not closed, still tracked, still usable. */
	ck_assert(!rc_sqlite_take_closed(db));
	ck_assert(rc_reg_has(RCSHIM_KIND_SQLITE, (uint64_t)(uintptr_t)db));
	exec_ok(db, "INSERT INTO t(v) VALUES (x'01')");
	ck_assert_int_eq(count_rows_on(db), 21);
	ck_assert(exists(f.wal));

	/* Free again: the next final cleanup closes it. */
	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_MEDIUM, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].cleaned, 1);
	ck_assert(!exists(f.wal));
	ck_assert_int_eq(count_rows(f.db), 21);
	state_teardown();
}
END_TEST

START_TEST(sqlite_in_temp_tree)
{
	struct dbfiles f;
	char d[PATH_MAX];
	struct rcshim_result res;

	state_setup(NULL);
	path_in(d, sizeof(d), S.root, "work");
	make_dir(d);
	track_temp(d, true, getpid(), 0);
	tracked_wal(&f, d, "scratch.db", 20);

	/* The connection goes first, then the tree it lived in. */
	ck_assert_int_eq(clean(RC_MODE_FINAL, RCSHIM_MEDIUM, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].cleaned, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	ck_assert_uint_eq(res.failed, 0);
	ck_assert(!exists(d));
	state_teardown();
}
END_TEST

START_TEST(sqlite_live_medium_checkpoints)
{
	struct dbfiles f;
	struct rcshim_result res;

	state_setup(NULL);
	sqlite3 *db = tracked_wal(&f, S.out, "app.db", 300);
	off_t before = file_size(f.db);
	ck_assert_int_lt(before, 300 * 300);

	ck_assert_int_eq(clean(RC_MODE_LIVE, RCSHIM_MEDIUM, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].cleaned, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].failed, 0);
	/* The WAL's frames were copied into the database... */
	ck_assert_int_gt(file_size(f.db), 300 * 300);
	/* ...and the program never noticed: same connection, still tracked. */
	ck_assert(!rc_sqlite_take_closed(db));
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_SQLITE), 1);
	exec_ok(db, "INSERT INTO t(v) VALUES (x'02')");
	ck_assert_int_eq(count_rows_on(db), 301);
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
	ck_assert_int_eq(count_rows(f.db), 301);
	state_teardown();
}
END_TEST

START_TEST(sqlite_live_busy_and_low)
{
	struct dbfiles f;
	struct rcshim_result res;
	struct holder h;

	state_setup(NULL);
	sqlite3 *db = tracked_wal(&f, S.out, "app.db", 300);
	off_t before = file_size(f.db);

	/* LOW does not touch connections. */
	ck_assert_int_eq(clean(RC_MODE_LIVE, RCSHIM_LOW, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].cleaned, 0);
	ck_assert_int_eq(file_size(f.db), before);

	/* In use by another thread: skipped, not waited for, not a failure. */
	hold_start(&h, db);
	ck_assert_int_eq(clean(RC_MODE_LIVE, RCSHIM_HIGH, 0, &res), RCSHIM_OK);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].cleaned, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].skipped, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].failed, 0);
	hold_stop(&h);
	ck_assert_int_eq(file_size(f.db), before);

	exec_ok(db, "INSERT INTO t(v) VALUES (x'03')");
	ck_assert_int_eq(count_rows_on(db), 301);
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
	state_teardown();
}
END_TEST

/* --- live ------------------------------------------------------------------- */

START_TEST(live_below_critical_keeps_temps)
{
	char d[PATH_MAX];
	struct rcshim_result res;

	state_setup(NULL);
	path_in(d, sizeof(d), S.root, "d");
	make_tree(d);
	track_temp(d, true, getpid(), 0);
	int fd = track_fd(0, true, 0);

	for (int prio = RCSHIM_LOW; prio < RCSHIM_CRITICAL; prio++) {
		ck_assert_int_eq(clean(RC_MODE_LIVE, (rcshim_priority)prio, 0, &res), RCSHIM_OK);
		/* The program goes on: its temp tree and fds are left. */
		ck_assert(exists(d));
		ck_assert(is_open(fd));
		ck_assert(exists(S.jpath));
		ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 0);
	}
	close(fd);
	state_teardown();
}
END_TEST

START_TEST(live_critical)
{
	char d[PATH_MAX];
	struct dbfiles f;
	struct rcshim_result res;
	struct stat st;

	state_setup(NULL);
	path_in(d, sizeof(d), S.root, "d");
	make_tree(d);
	track_temp(d, true, getpid(), 0);
	sqlite3 *db = tracked_wal(&f, S.out, "app.db", 20);
	int fd = track_fd(0, true, 0);
	int fd_noid = track_fd(0, false, 0);
	/* Standard streams are never closed, even tracked. */
	ck_assert_int_eq(fstat(2, &st), 0);
	rc_fd_track(2, 0, 0, 0, getpid(), 0, &st);

	ck_assert_int_eq(clean(RC_MODE_LIVE, RCSHIM_CRITICAL, 0, &res), RCSHIM_OK);
	ck_assert(!exists(d));
	assert_outside_intact();
	ck_assert(!exists(f.wal));
	ck_assert(rc_sqlite_take_closed(db));
	ck_assert(!is_open(fd));
	ck_assert(is_open(fd_noid));
	ck_assert(is_open(2));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_SQLITE].cleaned, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_FD].cleaned, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_FD].skipped, 1);
	ck_assert_int_eq(count_rows(f.db), 20);
	close(fd_noid);
	state_teardown();
}
END_TEST

/* --- crash -------------------------------------------------------------------- */

START_TEST(crash_removes_journaled)
{
	char d[PATH_MAX], g[PATH_MAX];
	struct rcshim_result res;
	struct stat st;

	state_setup(NULL);
	path_in(d, sizeof(d), S.root, "d");
	path_in(g, sizeof(g), S.root, "g");
	make_tree(d);
	track_temp(d, true, getpid(), 0);
	write_file(g, "g");
	track_temp(g, true, getpid(), 0);
	int fd = track_fd(0, false, 0);
	int fd_id = track_fd(0, true, 0);
	ck_assert_int_eq(fstat(1, &st), 0);
	rc_fd_track(1, 0, 0, 0, getpid(), 0, &st);

	/* LOW: the trees only. */
	rc_result_init(&res);
	rc_clean_crash(RCSHIM_LOW, true, 0, &res);
	ck_assert(!exists(d));
	ck_assert(!exists(g));
	assert_outside_intact();
	ck_assert(!exists(S.jpath));
	ck_assert(is_open(fd));
	ck_assert(is_open(fd_id));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 2);
	ck_assert_int_eq(res.status, RCSHIM_OK);
	ck_assert_uint_eq(res.cleaned, 2);

	/* MEDIUM: the process's fds too, but never 0, 1, 2. */
	make_dir(d);
	track_temp(d, true, getpid(), 0);
	rc_result_init(&res);
	rc_clean_crash(RCSHIM_MEDIUM, true, 0, &res);
	ck_assert(!exists(d));
	ck_assert(!is_open(fd));
	ck_assert(!is_open(fd_id));
	ck_assert(is_open(1));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_FD].cleaned, 2);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	state_teardown();
}
END_TEST

START_TEST(crash_without_fds_and_not_owner)
{
	char d[PATH_MAX];
	struct rcshim_result res;

	state_setup(NULL);
	path_in(d, sizeof(d), S.root, "d");
	make_dir(d);
	track_temp(d, true, getpid(), 0);
	int fd = track_fd(0, false, 0);

	/* close_fds false: the fds stay at any priority. */
	rc_result_init(&res);
	rc_clean_crash(RCSHIM_CRITICAL, false, 0, &res);
	ck_assert(is_open(fd));
	ck_assert(!exists(d));

	/* A process that does not own the session leaves the journal. */
	make_dir(d);
	track_temp(d, true, getpid(), 0);
	rc_session.root_pid = getpid() + 1;
	ck_assert(!rc_session_owner());
	rc_result_init(&res);
	rc_clean_crash(RCSHIM_LOW, false, 0, &res);
	ck_assert(exists(d));
	ck_assert(exists(S.jpath));
	close(fd);
	state_teardown();
}
END_TEST

TEST_SUITE(engine)
{
	ADD_TEST(s, result_bookkeeping);
	ADD_TEST(s, final_every_priority);
	ADD_TEST(s, final_forgets_removed_temps);
	ADD_TEST(s, final_not_session_owner);
	ADD_TEST(s, final_process_mode);
	ADD_TEST(s, final_leaves_what_is_not_ours);
	ADD_TEST(s, final_scope);
	ADD_TEST(s, final_scope_fd_reused);
	ADD_TEST(s, final_invalid_and_null_result);
	ADD_TEST(s, final_lifetime_totals);
	ADD_TEST(s, sqlite_final_medium_closes);
	ADD_TEST(s, sqlite_final_low_keeps);
	ADD_TEST(s, sqlite_final_busy_other_thread);
	ADD_TEST(s, sqlite_in_temp_tree);
	ADD_TEST(s, sqlite_live_medium_checkpoints);
	ADD_TEST(s, sqlite_live_busy_and_low);
	ADD_TEST(s, live_below_critical_keeps_temps);
	ADD_TEST(s, live_critical);
	ADD_TEST(s, crash_removes_journaled);
	ADD_TEST(s, crash_without_fds_and_not_owner);
}
