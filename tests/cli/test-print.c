/* `rcshim print` (issue 16): the gathered report of a real run (python3
 * leaving a temp dir, the sq-leak victim leaking a SQLite connection, an
 * fd, heap and a temp dir, /bin/true holding nothing), filtered by process
 * and kind, as text and as JSON, from a text and from a JSON report. */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "test.h"

/* Runs the program under the launcher (--json: a JSON report) and returns
 * the gathered report's path.  The shell's own command line names neither
 * python nor sq-leak: the programs come from $PY and $SQ.  (A --process
 * filter matches a command line too, and the shell holds heap at its end
 * only where the sampler happened to take one of its blocks: named in its
 * command line, it was in one of two runs' selections and not the other.) */
static char *
gather(const struct cli_scratch *s, bool json)
{
	char sh[4096], py[4200], sq[4200];
	snprintf(sh, sizeof(sh),
		 "\"$PY\" -c 'import sqlite3,tempfile; c=sqlite3.connect(\"%s/py.db\"); tempfile.mkdtemp()' && "
		 "\"$SQ\" %s/leak.db %s/leak.log; /bin/true",
		 s->tmp, s->tmp, s->tmp);
	snprintf(py, sizeof(py), "PY=%s", cli_python());
	snprintf(sq, sizeof(sq), "SQ=%s", cli_sq_leak());
	const char *env[] = { py, sq, NULL };
	const char *args_t[] = { "run", "--", "sh", "-c", sh, NULL };
	const char *args_j[] = { "run", "--json", "--", "sh", "-c", sh, NULL };
	struct rc_run r;
	run_rcshim(&r, s, env, json ? args_j : args_t);
	ck_assert_exited(&r, 0);
	char *path = cli_named_report(r.err);
	ck_assert_msg(path[0] && t_exists(path), "no report named: %s", r.err);
	t_run_free(&r);
	return path;
}

/* `rcshim print ARGS...` */
static void
print(struct rc_run *r, const struct cli_scratch *s, const char *const *args)
{
	const char *argv[16] = { "print" };
	size_t n = 1;
	while (args[n - 1] && n < 15) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	run_rcshim(r, s, NULL, argv);
}

static int
count(const char *text, const char *what)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, what)); p++) {
		n++;
	}
	return n;
}

/* Every line of the sections (after the first "=== process ") that is not
 * indented starts with one of @ok. */
static void
assert_section_lines(const char *out, const char *const *ok)
{
	const char *p = strstr(out, "=== process ");
	ck_assert_msg(p, "no section: %s", out);
	for (; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
		if (*p == ' ' || *p == '\n') {
			continue;
		}
		bool good = false;
		for (size_t i = 0; ok[i]; i++) {
			good |= !strncmp(p, ok[i], strlen(ok[i]));
		}
		ck_assert_msg(good, "unexpected line: %.*s\nin:\n%s", (int)strcspn(p, "\n"), p, out);
	}
}

/* python3 checks the JSON on stdin: @code is its body, with `d` the document. */
static void
check_json(const char *json, const char *code)
{
	char prog[4096];
	snprintf(prog, sizeof(prog), "import json, sys\nd = json.load(sys.stdin)\n%s\nprint('ok')\n", code);
	const char *argv[] = { cli_python(), "-c", prog, NULL };
	struct rc_run py;
	t_run(&py, false, NULL, json, argv);
	ck_assert_msg(py.status == 0 && !strcmp(py.out, "ok\n"), "%s%s\nJSON:\n%s", py.out, py.err, json);
	t_run_free(&py);
}

START_TEST(print_process_and_kind)
{
	if (!cli_sq_leak()) {
		exit(77);
	}
	struct cli_scratch s;
	cli_scratch_init(&s);
	char *path = gather(&s, false);
	struct rc_run r;

	/* --process python: python's section only (the sh running it is not
	 * in it: its command line names $PY). */
	print(&r, &s, (const char *[]){ path, "--process", "python", NULL });
	ck_assert_exited(&r, 0);
	ck_assert_int_eq(count(r.out, "\n=== process "), 1);
	const char *sec = strstr(r.out, "\n=== process ");
	ck_assert_msg(strstr(sec, "command: ") && strstr(sec, "python"), "%s", r.out);
	ck_assert_msg(!strstr(sec, "sq-leak"), "%s", r.out);
	ck_assert_msg(strstr(sec, "\ntemp: 1 held\n"), "%s", r.out);
	/* Its summary line, and no other. */
	const char *sum = strstr(r.out, "\nsummary (");
	ck_assert_msg(sum && sum < sec, "%s", r.out);
	ck_assert_int_eq(count(r.out, "\n  pid "), 1);
	t_run_free(&r);

	/* --kind sqlite: the victim's sqlite block only. */
	print(&r, &s, (const char *[]){ path, "--kind", "sqlite", NULL });
	ck_assert_exited(&r, 0);
	ck_assert_int_eq(count(r.out, "\n=== process "), 1);
	assert_section_lines(r.out, (const char *[]){ "=== process ", "== rcshim report: ",
						      "command: ", "sqlite: ", NULL });
	ck_assert_msg(strstr(r.out, "\nsqlite: 1 held\n") && strstr(r.out, "open_index"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "leak.db"), "%s", r.out);
	t_run_free(&r);

	/* Both: the pid, and a kind the process held. */
	print(&r, &s, (const char *[]){ path, "--process", "sq-leak", "--kind", "fd", NULL });
	ck_assert_exited(&r, 0);
	assert_section_lines(r.out, (const char *[]){ "=== process ", "== rcshim report: ",
						      "command: ", "fd: ", NULL });
	ck_assert_msg(strstr(r.out, "\nfd: 2 held\n") && strstr(r.out, "open_log"), "%s", r.out);
	long pid = strtol(strstr(r.out, "=== process ") + 12, NULL, 10);
	t_run_free(&r);
	char pids[32];
	snprintf(pids, sizeof(pids), "%ld", pid);
	print(&r, &s, (const char *[]){ path, "--process", pids, "--kind=fd", NULL });
	ck_assert_exited(&r, 0);
	ck_assert_msg(strstr(r.out, "open_log"), "%s", r.out);
	t_run_free(&r);

	/* Unfiltered: the report as it is. */
	print(&r, &s, (const char *[]){ path, NULL });
	ck_assert_exited(&r, 0);
	char *whole = t_read_file(path);
	ck_assert_str_eq(r.out, whole);
	free(whole);
	t_run_free(&r);
	free(path);
	cli_scratch_fini(&s);
}
END_TEST

START_TEST(print_json)
{
	if (!cli_sq_leak()) {
		exit(77);
	}
	struct cli_scratch s;
	cli_scratch_init(&s);
	char *paths[2] = { gather(&s, false), gather(&s, true) };
	for (int i = 0; i < 2; i++) {
		struct rc_run r;
		print(&r, &s, (const char *[]){ paths[i], "--kind", "sqlite", "--json", NULL });
		ck_assert_exited(&r, 0);
		check_json(r.out,
			   "ps = d['processes']\n"
			   "assert len(ps) == 1, ps\n"
			   "assert ps[0]['held'] == {'sqlite': 1}, ps\n"
			   "assert 'sq-leak' in ps[0]['exe'], ps\n"
			   "rep = ps[0].get('report')\n"
			   "if rep is not None:\n"
			   "    assert [k['kind'] for k in rep['kinds']] == ['sqlite'], rep\n"
			   "    ids = {g['stack'] for g in rep['kinds'][0]['groups']}\n"
			   "    assert {s['id'] for s in rep['stacks']} == ids, rep\n"
			   "    assert 'final' not in rep\n"
			   "else:\n"
			   "    ls = ps[0]['lines']\n"
			   "    assert 'sqlite: 1 held' in ls, ls\n"
			   "    assert not any(l.startswith(('heap:', 'fd:', 'temp:')) for l in ls), ls\n");
		t_run_free(&r);

		print(&r, &s, (const char *[]){ paths[i], "--process", "python", "--json", NULL });
		ck_assert_exited(&r, 0);
		check_json(r.out,
			   "ps = d['processes']\n"
			   "assert len(ps) == 1 and 'python' in ps[0]['command'], ps\n"
			   "assert ps[0]['held']['temp'] == 1, ps\n");
		t_run_free(&r);

		/* JSON in, text out: the same layout. */
		print(&r, &s, (const char *[]){ paths[i], "--kind", "sqlite", NULL });
		ck_assert_exited(&r, 0);
		ck_assert_int_eq(count(r.out, "\n=== process "), 1);
		assert_section_lines(r.out, (const char *[]){ "=== process ", "== rcshim report: ",
							      "command: ", "sqlite: ", NULL });
		ck_assert_msg(strstr(r.out, "\nsqlite: 1 held\n") && strstr(r.out, "open_index"), "%s",
			      r.out);
		t_run_free(&r);
	}
	free(paths[0]);
	free(paths[1]);
	cli_scratch_fini(&s);
}
END_TEST

/* A text and a JSON report of the same program: each filter keeps the
 * same processes (by executable) with the same counts of the kind. */
START_TEST(print_text_and_json_agree)
{
	if (!cli_sq_leak()) {
		exit(77);
	}
	struct cli_scratch s;
	cli_scratch_init(&s);
	char *paths[2] = { gather(&s, false), gather(&s, true) };
	const char *filters[][4] = {
		{ "--kind", "sqlite", NULL }, { "--kind", "temp", NULL }, { "--kind", "fd", NULL },
		{ "--process", "python", "--kind", "temp" }, { "--process", "sq-leak", "--kind", "heap" },
	};
	/* Where ASan owns the allocator the shim tracks no heap: the last
	 * filter selects nothing there (exit 1), so it is left out. */
	size_t nfilters = sizeof(filters) / sizeof(filters[0]) - (cli_heap_tracked() ? 0 : 1);
	for (size_t f = 0; f < nfilters; f++) {
		char *sel[2];
		for (int i = 0; i < 2; i++) {
			struct rc_run r, py;
			const char *args[8] = { paths[i], "--json" };
			for (size_t a = 0; a < 4 && filters[f][a]; a++) {
				args[2 + a] = filters[f][a];
			}
			print(&r, &s, args);
			ck_assert_exited(&r, 0);
			const char *argv[] = {
				cli_python(), "-c",
				"import json, os, sys\n"
				"d = json.load(sys.stdin)\n"
				"print(sorted((os.path.basename(p['exe']), sorted(p['held'].items()))"
				" for p in d['processes']))\n",
				NULL
			};
			t_run(&py, false, NULL, r.out, argv);
			ck_assert_msg(py.status == 0, "%s", py.err);
			sel[i] = strdup(py.out);
			t_run_free(&py);
			t_run_free(&r);
		}
		ck_assert_msg(!strcmp(sel[0], sel[1]), "%s %s: text %s json %s", filters[f][0],
			      filters[f][1], sel[0], sel[1]);
		free(sel[0]);
		free(sel[1]);
	}
	free(paths[0]);
	free(paths[1]);
	cli_scratch_fini(&s);
}
END_TEST

START_TEST(print_errors)
{
	if (!cli_sq_leak()) {
		exit(77);
	}
	struct cli_scratch s;
	cli_scratch_init(&s);
	char *path = gather(&s, false);
	struct rc_run r;

	/* Nothing matched: 1, said in one line. */
	print(&r, &s, (const char *[]){ path, "--process", "no-such-program", NULL });
	ck_assert_exited(&r, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_int_eq(count(r.err, "\n"), 1);
	ck_assert_msg(strstr(r.err, "no process"), "%s", r.err);
	t_run_free(&r);
	print(&r, &s, (const char *[]){ path, "--kind", "gpu", NULL });
	ck_assert_exited(&r, 1);
	t_run_free(&r);

	/* A kind that is not one: 2, with a suggestion. */
	print(&r, &s, (const char *[]){ path, "--kind", "sqlit", NULL });
	ck_assert_exited(&r, 2);
	ck_assert_msg(strstr(r.err, "did you mean 'sqlite'?"), "%s", r.err);
	ck_assert_str_eq(r.out, "");
	t_run_free(&r);
	print(&r, &s, (const char *[]){ path, "--colour", NULL });
	ck_assert_exited(&r, 2);
	t_run_free(&r);
	print(&r, &s, (const char *[]){ "/nonexistent/report.txt", NULL });
	ck_assert_exited(&r, 2);
	t_run_free(&r);
	char other[800];
	snprintf(other, sizeof(other), "%s/not-a-report", s.tmp);
	t_write_file(other, "hello\n");
	print(&r, &s, (const char *[]){ other, NULL });
	ck_assert_exited(&r, 2);
	t_run_free(&r);

	/* A session id: its report in the journal directory. */
	const char *base = strrchr(path, '/') + 1;
	char id[33];
	snprintf(id, sizeof(id), "%.32s", base);
	print(&r, &s, (const char *[]){ id, "--kind", "sqlite", NULL });
	ck_assert_exited(&r, 0);
	ck_assert_msg(strstr(r.out, "\nsqlite: 1 held\n"), "%s", r.out);
	t_run_free(&r);
	free(path);
	cli_scratch_fini(&s);
}
END_TEST

TEST_SUITE(cli_print)
{
	ADD_TEST(s, print_process_and_kind);
	ADD_TEST(s, print_json);
	ADD_TEST(s, print_text_and_json_agree);
	ADD_TEST(s, print_errors);
}
