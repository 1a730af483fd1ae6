#include "build-config.h"

#include "common.h"
#include "test.h"

static const char wal_writer[] =
	"import os, signal, sqlite3, sys\n"
	"db = sqlite3.connect(sys.argv[1])\n"
	"db.execute('PRAGMA journal_mode=WAL')\n"
	"db.execute('CREATE TABLE t (i INTEGER, s TEXT)')\n"
	"db.executemany('INSERT INTO t VALUES (?, ?)', [(i, 'row%d' % i) for i in range(500)])\n"
	"db.commit()\n"
	"db.execute('INSERT INTO t VALUES (-1, \"uncommitted\")')\n"
	"print('wal exists:', os.path.exists(sys.argv[1] + '-wal')); sys.stdout.flush()\n"
	"os.kill(os.getpid(), signal.SIGTERM)\n";

static int
count_rows(const char *db)
{
	struct rc_run r;
	const char *argv[] = { "sqlite3", db, "SELECT count(*) FROM t WHERE i >= 0;", NULL };
	t_run(&r, false, NULL, NULL, argv);
	int n = r.status == 0 ? atoi(r.out) : -1;
	t_run_free(&r);
	return n;
}

static void
run_writer(const char *prio, bool preload, struct rc_run *r, char *db, size_t len,
	   struct scratch *s)
{
	char env_prio[64];
	snprintf(db, len, "%s/data.db", s->dir);
	unlink(db);
	snprintf(env_prio, sizeof(env_prio), "RCSHIM_PRIORITY=%s", prio);
	const char *env[] = { s->env_tmpdir, env_prio, NULL };
	const char *argv[] = { "python3", "-c", wal_writer, db, NULL };
	t_run(r, preload, env, NULL, argv);
}

static bool
exists_suffix(const char *db, const char *suffix)
{
	char p[700];
	snprintf(p, sizeof(p), "%s%s", db, suffix);
	return t_exists(p);
}

START_TEST(python_wal_sigterm_medium_checkpoints_and_closes)
{
	struct scratch s;
	struct rc_run bare, shim;
	char db[600];

	scratch_init(&s);
	run_writer("MEDIUM", false, &bare, db, sizeof(db), &s);
	ck_assert_killed_by(bare.status, SIGTERM);
	ck_assert_str_eq(bare.out, "wal exists: True\n");
	/* Bare, the process dies with its WAL files in place. */
	ck_assert(exists_suffix(db, "-wal"));
	ck_assert(exists_suffix(db, "-shm"));

	run_writer("MEDIUM", true, &shim, db, sizeof(db), &s);
	ck_assert_status_eq(shim.status, bare.status);
	ck_assert_str_eq(shim.out, "wal exists: True\n");
	ck_assert_msg(!exists_suffix(db, "-wal"), "-wal left behind (stderr: %s)", shim.err);
	ck_assert_msg(!exists_suffix(db, "-shm"), "-shm left behind");
	/* Every committed row is in the database file itself. */
	ck_assert_int_eq(count_rows(db), 500);
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

START_TEST(python_wal_sigterm_low_leaves_connection_alone)
{
	struct scratch s;
	struct rc_run shim;
	char db[600];

	scratch_init(&s);
	run_writer("LOW", true, &shim, db, sizeof(db), &s);
	ck_assert_killed_by(shim.status, SIGTERM);
	ck_assert(exists_suffix(db, "-wal"));
	ck_assert(exists_suffix(db, "-shm"));
	/* Committed rows are still there (replayed from the WAL). */
	ck_assert_int_eq(count_rows(db), 500);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* The sqlite3 shell terminated mid-session by a signal. */
START_TEST(sqlite3_shell_sigterm_medium)
{
	struct scratch s;
	struct rc_run bare, shim;
	char db[600];
	const char *input =
		"PRAGMA journal_mode=WAL;\n"
		"CREATE TABLE t (i INTEGER);\n"
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000)"
		" INSERT INTO t SELECT x FROM c;\n"
		".shell kill -TERM $PPID\n"
		"SELECT 'not reached';\n";

	scratch_init(&s);
	snprintf(db, sizeof(db), "%s/shell.db", s.dir);
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { "sqlite3", db, NULL };
	t_run(&bare, false, env, input, argv);
	ck_assert_killed_by(bare.status, SIGTERM);
	ck_assert(exists_suffix(db, "-wal"));
	unlink(db);
	char p[700];
	snprintf(p, sizeof(p), "%s-wal", db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db);
	unlink(p);

	t_run(&shim, true, env, input, argv);
	ck_assert_status_eq(shim.status, bare.status);
	ck_assert_ptr_null(strstr(shim.out, "not reached"));
	ck_assert_msg(!exists_suffix(db, "-wal"), "-wal left (stderr: %s)", shim.err);
	ck_assert(!exists_suffix(db, "-shm"));
	ck_assert_int_eq(count_rows(db), 1000);
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* A database inside a temp dir is closed before the dir is removed. */
START_TEST(database_inside_temp_dir_closed_before_removal)
{
	struct scratch s;
	struct rc_run shim;
	char d[512];
	const char *env[] = { s.env_tmpdir, "RCSHIM_LOG=info", NULL };
	const char *argv[] = { "python3", "-c",
			       "import os, signal, sqlite3, sys, tempfile\n"
			       "d = tempfile.mkdtemp(); print(d); sys.stdout.flush()\n"
			       "db = sqlite3.connect(os.path.join(d, 'x.db'))\n"
			       "db.execute('PRAGMA journal_mode=WAL')\n"
			       "db.execute('CREATE TABLE t (i)'); db.commit()\n"
			       "os.kill(os.getpid(), signal.SIGTERM)\n",
			       NULL };

	scratch_init(&s);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_killed_by(shim.status, SIGTERM);
	ck_assert_msg(!t_exists(nth_line(shim.out, 0, d, sizeof(d))), "%s survived", d);
	ck_assert_msg(!strstr(shim.err, "could not"), "stderr: %s", shim.err);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* A connection the program closes itself is not touched again. */
START_TEST(closed_connection_is_untracked)
{
	struct scratch s;
	struct rc_run bare, shim;
	char db[600];

	scratch_init(&s);
	snprintf(db, sizeof(db), "%s/c.db", s.dir);
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { "python3", "-c",
			       "import sqlite3, sys\n"
			       "for i in range(50):\n"
			       "    db = sqlite3.connect(sys.argv[1])\n"
			       "    db.execute('CREATE TABLE IF NOT EXISTS t (i)')\n"
			       "    db.execute('INSERT INTO t VALUES (?)', (i,)); db.commit(); db.close()\n"
			       "print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM t').fetchone()[0])\n",
			       db, NULL };
	t_run(&bare, false, env, NULL, argv);
	unlink(db);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_str_eq(shim.out, "50\n");
	ck_assert_str_eq(shim.out, bare.out);
	ck_assert_status_eq(shim.status, bare.status);
	ck_assert_str_eq(shim.err, "");
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

TEST_SUITE(sqlite)
{
	ADD_TEST(s, python_wal_sigterm_medium_checkpoints_and_closes);
	ADD_TEST(s, python_wal_sigterm_low_leaves_connection_alone);
	ADD_TEST(s, sqlite3_shell_sigterm_medium);
	ADD_TEST(s, database_inside_temp_dir_closed_before_removal);
	ADD_TEST(s, closed_connection_is_untracked);
}
