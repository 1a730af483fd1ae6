/* The gathered report's summary (issue 16): the process that leaked, by
 * its command line and the function that acquired each kind, first; what
 * was reclaimed, by name, in the report and on the launcher's stderr;
 * text and JSON say the same. */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/escape.h"
#include "test.h"

/* sh runs: the victim (sqlite, fd, temp, heap), python3 through a wrapper
 * script that execs it (heap only), the sqlite3 shell (closes what it
 * opens) and /bin/true (nothing). */
static void
script(char *buf, size_t len, const struct cli_scratch *s)
{
	snprintf(buf, len,
		 "printf '#!/bin/sh\\nexec %s \"$@\"\\n' > %s/py && chmod +x %s/py && "
		 "%s/py -c 'import sys; sys.x = [bytearray(100) for i in range(50)]' py-marker && "
		 "%s %s/leak.db %s/leak.log && "
		 "(! command -v sqlite3 >/dev/null || sqlite3 %s/shell.db 'create table if not exists t(a)') && "
		 "/bin/true",
		 cli_python(), s->tmp, s->tmp, s->tmp, cli_sq_leak(), s->tmp, s->tmp, s->tmp);
}

START_TEST(summary_names_the_leaker_first)
{
	struct cli_scratch s;
	struct rc_run r;
	char sh[4096];

	if (!cli_sq_leak()) {
		exit(77);
	}
	cli_scratch_init(&s);
	script(sh, sizeof(sh), &s);
	const char *args[] = { "run", "--heap-sample", "1", "--", "sh", "-c", sh, NULL };
	run_rcshim(&r, &s, NULL, args);
	ck_assert_exited(&r, 0);
	char *path = cli_named_report(r.err);
	char *text = t_read_file(path);
	ck_assert_msg(text, "stderr: %s", r.err);

	/* The summary comes before the details, and its first line is the
	 * victim's: its command line, and each kind's function. */
	const char *sum = strstr(text, "\nsummary (");
	const char *details = strstr(text, "\n=== process ");
	ck_assert_msg(sum && details && sum < details, "%s", text);
	const char *first = strchr(sum + 1, '\n') + 1;
	const char *eol = strchr(first, '\n');
	char line[2048];
	snprintf(line, sizeof(line), "%.*s", (int)(eol - first), first);
	char want[2048];
	snprintf(want, sizeof(want), " %s %s/leak.db %s/leak.log: sqlite 1 (open_index at sq-leak.c:", cli_sq_leak(),
		 s.tmp, s.tmp);
	ck_assert_msg(strstr(line, want), "first line: %s\nwanted: %s\n%s", line, want, text);
	ck_assert_msg(strstr(line, "temp 1 (main at sq-leak.c:"), "%s", line);
	ck_assert_msg(strstr(line, "fd 2"), "%s", line);
	if (cli_heap_tracked()) { /* not where ASan owns the allocator */
		ck_assert_msg(strstr(line, "heap 1000 blocks") || strstr(line, "heap 100"), "%s",
			      line);
		ck_assert_msg(strstr(line, "(parse_record at sq-leak.c:"), "%s", line);
	}
	ck_assert_msg(strstr(line, "; reclaimed: sqlite 1, temp 1"), "%s", line);
	/* python3 held heap only: after the victim, named by its command
	 * line (the wrapper exec'd it: the marker is its argument). */
	const char *py = strstr(eol, "py-marker");
	ck_assert_msg(!cli_heap_tracked() || (py && py < details), "%s", text);
	/* The sqlite3 shell and true held nothing: one line, in the
	 * summary. */
	const char *quiet = strstr(sum, "held nothing: ");
	ck_assert_msg(quiet && quiet < details && strstr(quiet, "/true"), "%s", text);
	/* The victim's own report: its command line, and its final
	 * cleanup's items by name. */
	snprintf(want, sizeof(want), "\ncommand: %s %s/leak.db %s/leak.log\n", cli_sq_leak(), s.tmp, s.tmp);
	ck_assert_msg(strstr(text, want), "%s", text);
	snprintf(want, sizeof(want), "\n  reclaimed: sqlite %s/leak.db\n", s.tmp);
	ck_assert_msg(strstr(text, want), "%s", text);
	/* The launcher's stderr names it too. */
	snprintf(want, sizeof(want), "rcshim:   sqlite %s/leak.db (pid ", s.tmp);
	ck_assert_msg(strstr(r.err, "their own final cleanups reclaimed:") && strstr(r.err, want),
		      "stderr: %s", r.err);
	snprintf(want, sizeof(want), "rcshim:   %s/sqd", s.tmp);
	ck_assert_msg(strstr(r.err, want), "stderr: %s", r.err);
	free(text);
	free(path);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* The JSON summary says what the text one says: each entry's fields
 * rebuild its line, and the lines match the text run's (pids and temp
 * names aside; the first line exactly, the others' order by command: a
 * shell's heap differs by a block or two from run to run). */
START_TEST(summary_json_agrees_with_text)
{
	struct cli_scratch s;
	struct rc_run r, py;
	char sh[4096];
	static const char check[] =
		"import json, re, sys\n"
		"d = json.load(open(sys.argv[1]))\n"
		"text = open(sys.argv[2]).read()\n"
		"S = d['summary']\n"
		"assert S and 'leak.db' in S[0]['command'], S\n"
		"names = {'sqlite':'sqlite','temp':'temp','gpu':'gpu','fd':'fd','custom':'custom'}\n"
		"def kib(b):\n"
		"  u = ['bytes','KiB','MiB','GiB']; v = float(b); i = 0\n"
		"  while v >= 1024 and i < 3: v /= 1024; i += 1\n"
		"  return '%d bytes' % b if i == 0 else '%.1f %s' % (v, u[i])\n"
		"for e in S:\n"
		"  parts = []\n"
		"  for h in e['held']:\n"
		"    p = ('heap %d blocks %s' % (h['count'], kib(h['bytes']))) if h['kind'] == 'heap' else '%s %d' % (h['kind'], h['count'])\n"
		"    if h['where']: p += ' (%s)' % h['where']\n"
		"    parts.append(p)\n"
		"  rec = ', '.join('%s %d' % kv for kv in e['reclaimed'].items()) or 'nothing'\n"
		"  line = 'pid %d %s: %s; reclaimed: %s' % (e['pid'], e['command'], ', '.join(parts), rec)\n"
		"  assert line == e['line'], (line, e['line'])\n"
		"s0 = S[0]\n"
		"assert s0['held'][0]['where'].startswith('open_index at sq-leak.c:'), s0\n"
		"assert any(i.startswith('sqlite ') and i.endswith('/leak.db') for i in s0['reclaimed_items']), s0\n"
		"assert any(i.startswith('temp /') and '/sqd' in i for i in s0['reclaimed_items']), s0\n"
		"norm = lambda l: re.sub(r'/sqd\\w+', 'T', re.sub(r'^pid \\d+', 'pid N', l.strip()))\n"
		"tl = text.split('\\nsummary (')[1].split('\\n\\n')[0].split('\\n')[1:]\n"
		"tl = [norm(l) for l in tl if ' held nothing: ' not in l]\n"
		"jl = [norm(e['line']) for e in S]\n"
		"assert tl[0] == jl[0], (tl, jl)\n"
		"cmd = lambda l: l.split(': ')[0]\n"
		"assert [cmd(l) for l in tl] == [cmd(l) for l in jl], (tl, jl)\n"
		"one = lambda p: p['report'][-1] if isinstance(p['report'], list) else p['report']\n"
		"reps = [one(p) for p in d['processes']]\n"
		"v = [x for x in reps if x['cmdline'][1:2] and x['cmdline'][1].endswith('leak.db')]\n"
		"assert v and v[0]['final']['items'][0]['kind'] == 'sqlite', v\n"
		"print('ok')\n";

	if (!cli_sq_leak()) {
		exit(77);
	}
	cli_scratch_init(&s);
	script(sh, sizeof(sh), &s);
	const char *targs[] = { "run", "--heap-sample", "1", "--", "sh", "-c", sh, NULL };
	run_rcshim(&r, &s, NULL, targs);
	ck_assert_exited(&r, 0);
	char *tpath = cli_named_report(r.err);
	t_run_free(&r);
	const char *jargs[] = { "run", "--json", "--heap-sample", "1", "--", "sh", "-c", sh, NULL };
	run_rcshim(&r, &s, NULL, jargs);
	ck_assert_exited(&r, 0);
	char *jpath = cli_named_report(r.err);
	const char *pargs[] = { "python3", "-c", check, jpath, tpath, NULL };
	t_run(&py, false, NULL, NULL, pargs);
	ck_assert_msg(py.status == 0 && !strcmp(py.out, "ok\n"), "%s%s", py.out, py.err);
	t_run_free(&py);
	free(tpath);
	free(jpath);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* A command line of kilobytes (a compiler's, under a build) that held
 * something: its summary line shows the first kilobyte of it, cut on a
 * character, then what it held.  The line was made in a 2 KiB buffer with
 * the command's whole length added to its offset: a longer one wrote past
 * the buffer, and the launcher died of SIGSEGV at the end of a ninja
 * build, after the program had exited 0. */
START_TEST(summary_of_a_long_command_line)
{
	struct cli_scratch s;
	struct rc_run r;
	/* 2 000 three-byte characters: the cut at 1 024 bytes falls inside
	 * one. */
	char arg[6001];
	for (size_t i = 0; i < 2000; i++) {
		memcpy(arg + 3 * i, "\xe2\x82\xac", 3);
	}
	arg[6000] = '\0';

	cli_scratch_init(&s);
	for (int json = 0; json <= 1; json++) {
		const char *targs[] = { "run", "--", "sh", "-c", "exec 7</dev/null; exit 3",
					"long-marker", arg, NULL };
		const char *jargs[] = { "run", "--json", "--", "sh", "-c", "exec 7</dev/null; exit 3",
					"long-marker", arg, NULL };
		run_rcshim(&r, &s, NULL, json ? jargs : targs);
		/* The program's status, not the launcher's death. */
		ck_assert_exited(&r, 3);
		char *path = cli_named_report(r.err);
		char *text = t_read_file(path);
		ck_assert_msg(text, "stderr: %s", r.err);
		const char *line;
		if (json) {
			line = strstr(text, "\"line\": \"pid ");
			ck_assert_msg(line, "%s", text);
			line += 9;
		} else {
			const char *sum = strstr(text, "\nsummary (");
			ck_assert_msg(sum, "%s", text);
			line = strchr(sum + 1, '\n') + 1;
		}
		const char *eol = strchr(line, json ? '"' : '\n');
		ck_assert(eol);
		size_t len = (size_t)(eol - line);
		ck_assert_msg(rc_utf8_valid(line, len), "%.*s", (int)len, line);
		ck_assert_msg(len > 1024 && len < 1200, "%zu: %.*s", len, (int)len, line);
		char *l = strndup(line, len);
		ck_assert_msg(strstr(l, " sh -c ") && strstr(l, "long-marker \xe2\x82\xac"), "%s", l);
		ck_assert_msg(strstr(l, "\xe2\x82\xac ...: fd 1"), "%s", l);
		ck_assert_msg(strstr(l, "; reclaimed: "), "%s", l);
		free(l);
		free(text);
		free(path);
		t_run_free(&r);
	}

	/* A program name of 3 000 bytes: the process's report reads the
	 * first 2 KiB of /proc/self/cmdline, one word with no end, and its
	 * text once wrote a byte past its copy of it (ASan's build stops
	 * the program there). */
	const char *pargs[] = { "run", "--", "python3", "-c",
				"import os; os.execv('/bin/sh', ['x' * 3000, '-c', "
				"'exec 7</dev/null; exit 3'])",
				NULL };
	run_rcshim(&r, &s, NULL, pargs);
	ck_assert_exited(&r, 3);
	char *path = cli_named_report(r.err);
	char *text = t_read_file(path);
	ck_assert_msg(text, "stderr: %s", r.err);
	char want[1100];
	memset(want, 'x', 1024);
	snprintf(want + 1024, sizeof(want) - 1024, " ...: fd 1");
	ck_assert_msg(strstr(text, want), "%.3000s", text);
	ck_assert_msg(strstr(text, "\ncommand: xxxx"), "%.3000s", text);
	free(text);
	free(path);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

TEST_SUITE(cli_summary)
{
	ADD_TEST(s, summary_names_the_leaker_first);
	ADD_TEST(s, summary_json_agrees_with_text);
	ADD_TEST(s, summary_of_a_long_command_line);
}
