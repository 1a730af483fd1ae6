#include "build-config.h"

#include <signal.h>

#include "common.h"
#include "test.h"

/* A WAL writer that keeps writing while another thread sends SIGUSR1: the
 * live cleanup checkpoints under its feet and it must not notice. */
static const char wal_live[] =
	"import os, signal, sqlite3, sys, threading, time\n"
	"db = sqlite3.connect(sys.argv[1], check_same_thread=False)\n"
	"db.execute('PRAGMA journal_mode=WAL')\n"
	"db.execute('CREATE TABLE t (i INTEGER, s TEXT)')\n"
	"db.commit()\n"
	"done = False\n"
	"def poke():\n"
	"    while not done:\n"
	"        os.kill(os.getpid(), signal.SIGUSR1); time.sleep(0.01)\n"
	"th = threading.Thread(target=poke); th.start()\n"
	"for i in range(3000):\n"
	"    db.execute('INSERT INTO t VALUES (?, ?)', (i, 'x' * 100))\n"
	"    if i % 50 == 0: db.commit()\n"
	"db.commit()\n"
	"time.sleep(0.2)\n"
	"done = True; th.join()\n"
	"print(db.execute('SELECT count(*), sum(i) FROM t').fetchone())\n";

START_TEST(python_wal_writer_survives_sigusr1_checkpoints)
{
	struct scratch s;
	struct rc_run shim;
	char db[600], report[600], env_report[700], note[700];

	scratch_init(&s);
	snprintf(db, sizeof(db), "%s/live.db", s.dir);
	snprintf(report, sizeof(report), "%s/report.txt", s.dir);
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", report);
	const char *env[] = { s.env_tmpdir, "RCSHIM_SIGNAL_PRIORITY=MEDIUM", "RCSHIM_LOG=debug",
			      env_report, NULL };
	const char *argv[] = { "python3", "-c", wal_live, db, NULL };
	t_run(&shim, true, env, NULL, argv);
	ck_assert_msg(shim.status == 0, "%s: %s", t_status_str(shim.status), shim.err);
	ck_assert_str_eq(shim.out, "(3000, 4498500)\n");
	/* At least one live cleanup checkpointed and released cache. */
	ck_assert_msg(strstr(shim.err, "checkpointed"), "stderr: %s", shim.err);
	ck_assert_msg(count_lines_with(shim.err, "live signal: reclaimed sqlite") >= 1,
		      "stderr: %s", shim.err);
	/* The report says so too: live cleanups by the signal, and a note
	 * per connection naming the database, the cache released and the
	 * frames checkpointed. */
	char *text = t_read_file(report);
	ck_assert_msg(text, "no report at %s", report);
	ck_assert_msg(strstr(text, "  live_signal live MEDIUM: "), "%s", text);
	snprintf(note, sizeof(note), "  sqlite %s: released ", db);
	const char *n = strstr(text, note);
	ck_assert_msg(n, "no \"%s\" in:\n%s", note, text);
	ck_assert_msg(strstr(n, " bytes of cache, checkpointed ") &&
			      strstr(n, " WAL frames\n"), "%s", text);
	free(text);
	/* The rows are all in the file. */
	struct rc_run check;
	const char *q[] = { "sqlite3", db, "SELECT count(*) FROM t;", NULL };
	t_run(&check, false, NULL, NULL, q);
	ck_assert_str_eq(check.out, "3000\n");
	t_run_free(&check);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

START_TEST(ten_thousand_signals_while_threads_work)
{
	struct scratch s;
	struct rc_run bare, shim;
	char file[600];

	scratch_init(&s);
	snprintf(file, sizeof(file), "%s/data", s.dir);
	t_write_file(file, "z");
	const char *env[] = { s.env_tmpdir, "RCSHIM_LOG=info", NULL };
	const char *bare_argv[] = { t_victim("live/live-stress"), file, NULL };
	const char *argv[] = { t_victim("live/live-stress"), file, "send", NULL };
	t_run(&bare, false, env, NULL, bare_argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(bare.status, 0);
	ck_assert_msg(shim.status == 0, "%s: %s", t_status_str(shim.status), shim.err);
	ck_assert_str_eq(shim.out, bare.out);
	/* The exit line counts the live cleanups and the signals. */
	ck_assert_msg(strstr(shim.err, "live cleanups: "), "stderr: %s", shim.err);
	const char *p = strstr(shim.err, "live cleanups: ");
	ck_assert_int_ge(atoi(p + strlen("live cleanups: ")), 1);
	/* Standard signals pending at once merge into one, so fewer than
	 * 10 000 arrive; none is refused. */
	ck_assert_ptr_nonnull(strstr(shim.err, " signals received, 0 refused)"));
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

START_TEST(own_sigusr1_handler_gets_every_signal)
{
	struct scratch s;
	struct rc_run bare, shim;

	scratch_init(&s);
	const char *env[] = { s.env_tmpdir, "RCSHIM_LOG=info", NULL };
	const char *argv[] = { t_victim("live/live-own-handler"), "1000", NULL };
	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_str_eq(bare.out, "1001\n");
	ck_assert_str_eq(shim.out, bare.out);
	ck_assert_status_eq(shim.status, bare.status);
	/* The shim says its trigger is lost. */
	ck_assert_msg(count_lines_with(shim.err, "live trigger (signal 10) is lost") == 1,
		      "stderr: %s", shim.err);
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* sigqueue value 4 = CRITICAL (destructive: the temp dir goes while the
 * program runs); value 9 is refused with one line and changes nothing. */
static void
sigqueue_value(int value, bool expect_gone)
{
	struct scratch s;
	struct rc_run shim;
	char script[2048];

	scratch_init(&s);
	snprintf(script, sizeof(script),
		 "import os, subprocess, sys, tempfile, time\n"
		 "d = tempfile.mkdtemp()\n"
		 "subprocess.run(['%s', str(os.getpid()), '10', '%d'], check=True)\n"
		 "for i in range(100):\n"
		 "    if not os.path.exists(d): break\n"
		 "    time.sleep(0.02)\n"
		 "print('gone' if not os.path.exists(d) else 'there')\n",
		 t_victim("live/live-sigqueue"), value);
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { "python3", "-c", script, NULL };
	t_run(&shim, true, env, NULL, argv);
	ck_assert_msg(shim.status == 0, "%s: %s", t_status_str(shim.status), shim.err);
	ck_assert_str_eq(shim.out, expect_gone ? "gone\n" : "there\n");
	if (expect_gone) {
		ck_assert_str_eq(shim.err, "");
	} else {
		ck_assert_msg(count_lines(shim.err) == 1 &&
				      strstr(shim.err, "signal 10 with value 9 refused"),
			      "stderr: %s", shim.err);
	}
	t_run_free(&shim);
	scratch_fini(&s);
}

START_TEST(sigqueue_value_4_is_critical)
{
	sigqueue_value(4, true);
}
END_TEST

START_TEST(sigqueue_value_9_is_refused)
{
	sigqueue_value(9, false);
}
END_TEST

START_TEST(interval_runs_periodic_cleanups)
{
	struct scratch s;
	struct rc_run shim;

	scratch_init(&s);
	const char *env[] = { s.env_tmpdir, "RCSHIM_INTERVAL=0.1", "RCSHIM_LOG=info", NULL };
	const char *argv[] = { "python3", "-c", "import time; time.sleep(1.2); print('ok')", NULL };
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(shim.status, 0);
	ck_assert_str_eq(shim.out, "ok\n");
	const char *p = strstr(shim.err, "on the timer");
	ck_assert_msg(p, "stderr: %s", shim.err);
	/* "..., N on the timer": about 11 runs in 1.2 s; allow a slow machine. */
	const char *q = p;
	while (q > shim.err && q[-1] != ' ') {
		q--;
	}
	while (q > shim.err && q[-1] == ' ') {
		q--;
	}
	while (q > shim.err && q[-1] != ' ') {
		q--;
	}
	ck_assert_int_ge(atoi(q), 4);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* The monitor on this machine's real files: thresholds low enough that
 * any machine is "under pressure", so cleanups must run. */
START_TEST(pressure_monitor_on_the_real_machine)
{
	struct scratch s;
	struct rc_run shim;

	scratch_init(&s);
	const char *env[] = { s.env_tmpdir, "RCSHIM_LOG=info",
			      "RCSHIM_PRESSURE=source=meminfo,poll=0.05,gap=0.2,usage=0.01/0.02/0.03",
			      NULL };
	const char *argv[] = { "python3", "-c", "import time; time.sleep(1); print('ok')", NULL };
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(shim.status, 0);
	ck_assert_str_eq(shim.out, "ok\n");
	ck_assert_msg(strstr(shim.err, "live cleanup at HIGH"), "stderr: %s", shim.err);
	ck_assert_ptr_null(strstr(shim.err, "live cleanup at LOW")); /* straight to HIGH */
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

START_TEST(bad_pressure_spec_one_line)
{
	struct scratch s;
	struct rc_run shim;

	scratch_init(&s);
	const char *env[] = { s.env_tmpdir, "RCSHIM_PRESSURE=poll=fast", NULL };
	const char *argv[] = { "python3", "-c", "print('ok')", NULL };
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(shim.status, 0);
	ck_assert_str_eq(shim.out, "ok\n");
	ck_assert_msg(count_lines(shim.err) == 1 && strstr(shim.err, "RCSHIM_PRESSURE=poll=fast"),
		      "stderr: %s", shim.err);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* RCSHIM_TMP_IDLE: a closed, untouched temp file goes at a live LOW
 * cleanup; one still open stays. */
START_TEST(idle_temp_files_removed_at_live_low)
{
	struct scratch s;
	struct rc_run shim;
	char script[2048];

	scratch_init(&s);
	snprintf(script, sizeof(script),
		 "import os, subprocess, tempfile, time\n"
		 "a = tempfile.NamedTemporaryFile(delete=False); a.write(b'x'); a.close()\n"
		 "b = tempfile.NamedTemporaryFile(delete=False); b.write(b'y'); b.flush()\n"
		 "old = time.time() - 3600\n"
		 "os.utime(a.name, (old, old)); os.utime(b.name, (old, old))\n"
		 "time.sleep(1.1)\n" /* ctime is now; TMP_IDLE=1 */
		 "subprocess.run(['%s', str(os.getpid()), '10', '1'], check=True)\n"
		 "time.sleep(0.5)\n"
		 "print(os.path.exists(a.name), os.path.exists(b.name))\n",
		 t_victim("live/live-sigqueue"));
	const char *env[] = { s.env_tmpdir, "RCSHIM_TMP_IDLE=1", NULL };
	const char *argv[] = { "python3", "-c", script, NULL };
	t_run(&shim, true, env, NULL, argv);
	ck_assert_msg(shim.status == 0, "%s: %s", t_status_str(shim.status), shim.err);
	ck_assert_str_eq(shim.out, "False True\n");
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* The documented weak-reference example: unchanged without the shim. */
START_TEST(weak_hook_example_runs_with_and_without_shim)
{
	struct rc_run bare, shim;
	const char *argv[] = { t_victim("live/live-hook-weak"), "1", NULL };
	t_run(&bare, false, NULL, NULL, argv);
	t_run(&shim, true, NULL, NULL, argv);
	ck_assert_int_eq(bare.status, 0);
	ck_assert_str_eq(bare.out, "rcshim is not loaded\n");
	ck_assert_int_eq(shim.status, 0);
	ck_assert_msg(strstr(shim.out, "live cleanup status 0"), "out: %s", shim.out);
	t_run_free(&bare);
	t_run_free(&shim);
}
END_TEST

TEST_SUITE(live)
{
	ADD_TEST(s, python_wal_writer_survives_sigusr1_checkpoints);
	ADD_TEST(s, ten_thousand_signals_while_threads_work);
	ADD_TEST(s, own_sigusr1_handler_gets_every_signal);
	ADD_TEST(s, sigqueue_value_4_is_critical);
	ADD_TEST(s, sigqueue_value_9_is_refused);
	ADD_TEST(s, interval_runs_periodic_cleanups);
	ADD_TEST(s, pressure_monitor_on_the_real_machine);
	ADD_TEST(s, bad_pressure_spec_one_line);
	ADD_TEST(s, idle_temp_files_removed_at_live_low);
	ADD_TEST(s, weak_hook_example_runs_with_and_without_shim);
}
