/* Shared by the report tests: reading reports back with python3's json
 * module (the tests trust a real JSON parser, not their own). */
#pragma once

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload/common.h"
#include "util.h"

/* Evaluates the Python expression @expr over the last rcshim report in
 * @file and returns what it prints (stripped; caller frees).  In the
 * expression: r (the report), K["heap"] etc. (the kinds), S[id] (the
 * function names of a stack, innermost first), fns(group), F[id] (the
 * frames), events (every JSON line of the file). */
static inline char *
rq(const char *file, const char *expr)
{
	static const char prelude[] =
		"import json, sys\n"
		"events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]\n"
		"reps = [d for d in events if d.get('format') == 'rcshim-report']\n"
		"r = reps[-1] if reps else None\n"
		"K = {k['kind']: k for k in r['kinds']} if r else {}\n"
		"F = {s['id']: s['frames'] for s in r['stacks']} if r else {}\n"
		"S = {i: [f['function'] for f in fr] for i, fr in F.items()}\n"
		"def fns(g): return S.get(g['stack'], [])\n"
		"print(eval(sys.argv[2]))\n";
	struct rc_run run;
	const char *argv[] = { "python3", "-c", prelude, file, expr, NULL };
	t_run(&run, false, NULL, NULL, argv);
	ck_assert_msg(run.status == 0, "python3 could not read %s (%s): %s", file, expr, run.err);
	char *out = strdup(run.out);
	out[strcspn(out, "\n")] = '\0';
	t_run_free(&run);
	return out;
}

static inline long
rq_long(const char *file, const char *expr)
{
	char *s = rq(file, expr);
	long v = atol(s);
	free(s);
	return v;
}

static inline void
rq_expect(const char *file, const char *expr, const char *want)
{
	char *s = rq(file, expr);
	ck_assert_msg(strcmp(s, want) == 0, "%s: got '%s', want '%s'", expr, s, want);
	free(s);
}

/* Whether the shim runs under AddressSanitizer here (its runtime is
 * preloaded first, its malloc wins, heap tracking steps aside). */
static inline bool
under_asan(void)
{
	return strstr(t_preload(), "asan") != NULL;
}

static inline bool
under_valgrind(void)
{
	return getenv("RCSHIM_TEST_VALGRIND") != NULL;
}
