/* Reports for the other kinds: TEMP, FD and SQLITE name the call site
 * that acquired each item; snapshots through rcshim_report(); the report
 * path's %p. */
#include "build-config.h"

#include <dirent.h>

#include "report-util.h"
#include "test.h"

static bool
have_sqlite(void)
{
	const char *v = getenv("RCSHIM_TEST_HAVE_SQLITE");
	return v && strcmp(v, "1") == 0;
}

static void
run_acquire(struct rc_run *r, struct scratch *s, const char *report, const char *format,
	    const char *arg)
{
	char env_report[700], env_format[64];
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", report);
	snprintf(env_format, sizeof(env_format), "RCSHIM_REPORT_FORMAT=%s", format);
	const char *env[] = { env_report, env_format, s->env_tmpdir, s->env_roots, NULL };
	const char *argv[] = { t_victim("report/victim-acquire"), arg, NULL };
	t_run(r, true, env, NULL, argv);
}

START_TEST(kinds_name_acquiring_call_site)
{
	struct scratch s;
	struct rc_run run;
	char report[700];

	scratch_init(&s);
	snprintf(report, sizeof(report), "%s/report.json", s.dir);
	run_acquire(&run, &s, report, "json", NULL);
	ck_assert_msg(run.status == 0, "victim: %s", run.err);
	rq_expect(report, "r['event']", "exit");
	/* Held at exit, each with the function that acquired it. */
	rq_expect(report, "[(g['count'], fns(g)[0], g['items'][0]['type']) for g in K['temp']['groups']]",
		  "[(1, 'make_scratch_dir', 'dir')]");
	rq_expect(report, "sorted(fns(g)[0] for g in K['fd']['groups'] "
			  "if any(i['path'].endswith('/log.txt') for i in g['items']))",
		  "['open_log_file']");
	if (have_sqlite()) {
		rq_expect(report, "[(g['count'], fns(g)[0]) for g in K['sqlite']['groups']]",
			  "[(1, 'open_database')]");
		rq_expect(report, "K['sqlite']['groups'][0]['items'][0]['path'].endswith('/data.db')",
			  "True");
		/* main called them all. */
		rq_expect(report, "'main' in fns(K['sqlite']['groups'][0])", "True");
		/* The final cleanup closed the connection and removed the dir. */
		rq_expect(report, "(r['final']['kinds']['sqlite']['cleaned'], "
				  "r['final']['kinds']['temp']['cleaned'])",
			  "(1, 1)");
	}
	/* Every frame names its object; the victim's have file and line. */
	rq_expect(report, "all(f['object'] for fr in F.values() for f in fr)", "True");
	rq_expect(report, "[f['file'].endswith('acquire.c') for f in F[K['temp']['groups'][0]['stack']][:2]]",
		  "[True, True]");
	t_run_free(&run);
	scratch_fini(&s);
}
END_TEST

/* Heap blocks allocated inside a scope (DESIGN §7): the scope's result
 * counts them, the report (at HIGH) names the line that allocated them,
 * and only RCSHIM_SCOPE_FREE_HEAP frees them — the memory goes back. */
static void
run_scope_heap(struct rc_run *r, struct scratch *s, const char *report, const char *format,
	       const char *how)
{
	char env_report[700], env_format[64];
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", report);
	snprintf(env_format, sizeof(env_format), "RCSHIM_REPORT_FORMAT=%s", format);
	const char *env[] = { env_report, env_format, s->env_tmpdir, s->env_roots, NULL };
	const char *argv[] = { t_victim("report/victim-acquire"), "scope-heap", how, NULL };
	t_run(r, true, env, NULL, argv);
}

START_TEST(scope_heap_kept_and_reported)
{
	struct scratch s;
	struct rc_run run;
	char report[700], want[300];
	int line = 0;
	unsigned long long usable = 0;

	scratch_init(&s);
	snprintf(report, sizeof(report), "%s/report.txt", s.dir);
	run_scope_heap(&run, &s, report, "text", "keep");
	ck_assert_msg(run.status == 0, "victim: %s", run.err);
	ck_assert_msg(sscanf(run.out, "status 0 heap cleaned 0 skipped 3 bytes 0; mapped 3 MiB; "
				      "line %d; usable %llu\n", &line, &usable) == 2, "%s", run.out);
	/* Three 1 MiB blocks, counted as the allocator holds them. */
	ck_assert_uint_ge(usable, 1 << 20);
	char *text = t_read_file(report);
	ck_assert_msg(text, "no report");
	snprintf(want, sizeof(want), "scope 1 \"parse\" ended (HIGH) with 3 heap blocks, %llu bytes "
		 "allocated inside it and still live: kept, handed to the process\n"
		 "  3 blocks, %llu bytes, allocated at:\n", 3 * usable, 3 * usable);
	ck_assert_msg(strstr(text, want), "no %s in:\n%s", want, text);
	snprintf(want, sizeof(want), " parse_records+0x");
	ck_assert_msg(strstr(text, want), "%s", text);
	snprintf(want, sizeof(want), "acquire.c:%d\n", line);
	ck_assert_msg(strstr(text, want), "no %s in:\n%s", want, text);
	/* And a note in the final report. */
	snprintf(want, sizeof(want), "  scope 1 \"parse\" ended with 3 heap blocks (%llu bytes) "
		 "allocated inside it still live: kept, handed to the process\n", 3 * usable);
	ck_assert_msg(strstr(text, want), "no %s in:\n%s", want, text);
	free(text);
	t_run_free(&run);
	scratch_fini(&s);
}
END_TEST

START_TEST(scope_heap_freed_on_request)
{
	struct scratch s;
	struct rc_run run;
	char report[700];
	int line = 0;

	scratch_init(&s);
	snprintf(report, sizeof(report), "%s/report.json", s.dir);
	run_scope_heap(&run, &s, report, "json", "free");
	ck_assert_msg(run.status == 0, "victim: %s", run.err);
	/* The three blocks were freed: their mappings are gone. */
	unsigned long long bytes = 0, usable = 0;
	ck_assert_msg(sscanf(run.out, "status 0 heap cleaned 3 skipped 0 bytes %llu; mapped 0 MiB; "
				      "line %d; usable %llu\n", &bytes, &line, &usable) == 3, "%s", run.out);
	ck_assert_uint_ge(usable, 1 << 20);
	ck_assert_uint_eq(bytes, 3 * usable);
	char expr[300], want[96];
	const char *sh = "[e['scope_heap'] for e in events if 'scope_heap' in e][0]";
	snprintf(expr, sizeof(expr), "(lambda e: (e['name'], e['freed'], e['count'], e['bytes'], "
		 "e['groups'][0]['frames'][0]['function'], e['groups'][0]['frames'][0]['line']))(%s)", sh);
	snprintf(want, sizeof(want), "('parse', True, 3, %llu, 'parse_records', %d)", 3 * usable, line);
	rq_expect(report, expr, want);
	t_run_free(&run);
	scratch_fini(&s);
}
END_TEST

START_TEST(kinds_text_report)
{
	struct scratch s;
	struct rc_run run;
	char report[700];

	scratch_init(&s);
	snprintf(report, sizeof(report), "%s/report.txt", s.dir);
	run_acquire(&run, &s, report, "text", NULL);
	ck_assert_int_eq(run.status, 0);
	char *text = t_read_file(report);
	ck_assert_msg(text, "no report");
	ck_assert_msg(strstr(text, "temp: 1 held\n"), "%s", text);
	ck_assert_msg(strstr(text, " make_scratch_dir+0x"), "%s", text);
	ck_assert_msg(strstr(text, " open_log_file+0x"), "%s", text);
	ck_assert_msg(strstr(text, "/log.txt\n"), "%s", text);
	if (have_sqlite()) {
		ck_assert_msg(strstr(text, "sqlite: 1 held\n"), "%s", text);
		ck_assert_msg(strstr(text, " open_database+0x"), "%s", text);
	}
	ck_assert_msg(strstr(text, "final cleanup: "), "%s", text);
	free(text);
	t_run_free(&run);
	scratch_fini(&s);
}
END_TEST

/* Ended by SIGTERM: the report lists what was held before the final
 * cleanup (as at exit), and the cleanup's own line says what it
 * reclaimed: once "sqlite: 0 held" came before "final cleanup ... (sqlite
 * 1)", the held state taken after the cleanup. */
START_TEST(sigterm_report_held_before_cleanup)
{
	struct scratch s;
	struct rc_run run;
	char report[700];

	scratch_init(&s);
	snprintf(report, sizeof(report), "%s/report.txt", s.dir);
	run_acquire(&run, &s, report, "text", "sigterm");
	ck_assert_msg(WIFSIGNALED(run.status) && WTERMSIG(run.status) == SIGTERM, "%s: %s",
		      t_status_str(run.status), run.err);
	char *text = t_read_file(report);
	ck_assert_msg(text, "no report");
	ck_assert_msg(strstr(text, "ended by signal 15"), "%s", text);
	ck_assert_msg(strstr(text, "temp: 1 held\n"), "%s", text);
	ck_assert_msg(strstr(text, " make_scratch_dir+0x"), "%s", text);
	if (have_sqlite()) {
		ck_assert_msg(strstr(text, "sqlite: 1 held\n"), "%s", text);
		ck_assert_msg(strstr(text, " open_database+0x"), "%s", text);
	}
	const char *fin = strstr(text, "final cleanup: ");
	ck_assert_msg(fin && strstr(fin, "temp 1"), "%s", text);
	free(text);
	t_run_free(&run);
	scratch_fini(&s);
}
END_TEST

START_TEST(snapshot_through_the_api)
{
	struct scratch s;
	struct rc_run run;
	char report[700], out[700];

	scratch_init(&s);
	snprintf(report, sizeof(report), "%s/exit.json", s.dir);
	run_acquire(&run, &s, report, "json", "snapshot");
	ck_assert_msg(run.status == 0, "victim: %s", run.err);
	snprintf(out, sizeof(out), "%s/snapshot.json", s.dir);
	t_write_file(out, run.out);
	rq_expect(out, "(len(reps), r['event'], r['priority'], r['final'])", "(1, 'snapshot', None, None)");
	rq_expect(out, "[fns(g)[0] for g in K['temp']['groups']]", "['make_scratch_dir']");
	if (!under_asan() && !under_valgrind()) {
		rq_expect(out, "K['heap']['tracked'] and K['heap']['count'] > 0", "True");
	}
	t_run_free(&run);
	scratch_fini(&s);
}
END_TEST

/* A fork child's first call sites are kept unwalked, their stacks made only
 * when a report needs them: the child's report still names, for each fd it
 * held, the function that opened it.  A copy names where the original was
 * opened (copy_log_fd's dup of open_log_file's fd); a copy of an fd the
 * shim did not see opened, the copy's call (pipe_to_fd's dup2). */
START_TEST(fork_child_fds_name_their_call_sites)
{
	struct scratch s;
	struct rc_run run;
	char report[700];

	scratch_init(&s);
	snprintf(report, sizeof(report), "%s/report.%%p", s.dir);
	run_acquire(&run, &s, report, "json", "fork");
	ck_assert_msg(run.status == 0, "victim: %s", run.err);
	snprintf(report, sizeof(report), "%s/report.%d", s.dir, atoi(run.out));
	rq_expect(report, "r['event']", "exit");
	rq_expect(report, "sorted((fns(g)[0], len(g['items'])) for g in K['fd']['groups'] "
			  "if any(i['path'].endswith('/log.txt') for i in g['items']))",
		  "[('open_log_file', 2)]");
	rq_expect(report, "sorted(fns(g)[0] for g in K['fd']['groups'] "
			  "if any(i['path'].startswith('pipe:') for i in g['items']))",
		  "['pipe_to_fd']");
	/* Frame 0 has the victim's file and line. */
	rq_expect(report, "sorted(set(F[g['stack']][0]['file'].rsplit('/', 1)[-1] "
			  "for g in K['fd']['groups'] "
			  "if any(i['path'].endswith('/log.txt') or i['path'].startswith('pipe:') "
			  "for i in g['items'])))",
		  "['acquire.c']");
	t_run_free(&run);
	scratch_fini(&s);
}
END_TEST

START_TEST(report_path_per_process)
{
	struct scratch s;
	struct rc_run run;
	char env_report[700];

	scratch_init(&s);
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s/r.%%p", s.dir);
	const char *env[] = { env_report, s.env_tmpdir, NULL };
	t_sh(&run, true, env, "/bin/true; /bin/true; echo $$");
	ck_assert_int_eq(run.status, 0);
	/* The shell and its two children: three reports, one per pid. */
	int n = 0;
	bool shell_seen = false;
	DIR *d = opendir(s.dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "r.", 2) == 0) {
			n++;
			shell_seen |= atoi(e->d_name + 2) == atoi(run.out);
		}
	}
	closedir(d);
	ck_assert_int_eq(n, 3);
	ck_assert(shell_seen);
	t_run_free(&run);
	scratch_fini(&s);
}
END_TEST

TEST_SUITE(report_kinds)
{
	ADD_TEST(s, kinds_name_acquiring_call_site);
	ADD_TEST(s, kinds_text_report);
	ADD_TEST(s, sigterm_report_held_before_cleanup);
	/* Heap tracking steps aside where ASan or valgrind own malloc.
	 * (Not under_asan(): no ck_assert may run outside a test.) */
	const char *preload = getenv("RCSHIM_TEST_PRELOAD");
	if ((!preload || !strstr(preload, "asan")) && !under_valgrind()) {
		ADD_TEST(s, scope_heap_kept_and_reported);
		ADD_TEST(s, scope_heap_freed_on_request);
	}
	ADD_TEST(s, snapshot_through_the_api);
	ADD_TEST(s, report_path_per_process);
	ADD_TEST(s, fork_child_fds_name_their_call_sites);
}
