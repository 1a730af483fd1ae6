/* The launcher's parts, linked directly: LD_PRELOAD composition, the
 * library search, PATH lookup and the preloadability check, JSON. */
#include "build-config.h"

#include <limits.h>

#include "cli/cli.h"
#include "common.h"
#include "test.h"

static void
preload_is(const char *old, const char *lib, const char *want)
{
	char *v = cli_ld_preload(old, lib);
	ck_assert_msg(!strcmp(v, want), "LD_PRELOAD '%s' + %s: got '%s', want '%s'",
		      old ? old : "(unset)", lib, v, want);
	free(v);
}

START_TEST(ld_preload_appends_once)
{
	const char *lib = cli_lib();
	char want[8192], link[4200];
	struct cli_scratch s;

	preload_is(NULL, lib, lib);
	preload_is("", lib, lib);
	preload_is(" : ", lib, lib);
	snprintf(want, sizeof(want), "libfoo.so:%s", lib);
	preload_is("libfoo.so", lib, want);
	snprintf(want, sizeof(want), "/a/libfoo.so libbar.so:%s", lib);
	preload_is("/a/libfoo.so libbar.so", lib, want);
	/* Already there, by name or as the same file: unchanged. */
	preload_is(lib, lib, lib);
	preload_is("libasan.so.8:/elsewhere/librcshim.so.0", lib,
		   "libasan.so.8:/elsewhere/librcshim.so.0");
	preload_is("librcshim.so libm.so.6", lib, "librcshim.so libm.so.6");
	cli_scratch_init(&s);
	snprintf(link, sizeof(link), "%s/other-name.so", s.dir);
	ck_assert_int_eq(symlink(lib, link), 0);
	preload_is(link, lib, link);
	cli_scratch_fini(&s);
}
END_TEST

START_TEST(library_search)
{
	char out[PATH_MAX], exe[PATH_MAX];
	const char *lib = cli_lib();

	/* RCSHIM_LIB wins, and is made canonical. */
	ck_assert_int_eq(cli_find_lib(getenv("RCSHIM_TEST_LIB"), "/nonexistent/rcshim", out,
				      sizeof(out)), 0);
	ck_assert_str_eq(out, lib);
	ck_assert_int_eq(cli_find_lib("/nonexistent/librcshim.so.0", NULL, out, sizeof(out)), -1);
	/* The build tree: next to the executable. */
	ck_assert_msg(realpath(cli_rcshim(), exe), "%s", cli_rcshim());
	ck_assert_int_eq(cli_find_lib(NULL, exe, out, sizeof(out)), 0);
	ck_assert_str_eq(out, lib);
	ck_assert_int_eq(cli_find_lib("", exe, out, sizeof(out)), 0);
	ck_assert_str_eq(out, lib);
}
END_TEST

START_TEST(path_lookup)
{
	struct cli_scratch s;
	char prog[700], path_env[2000];

	char *sh = cli_which("sh", "/nonexistent:/usr/bin:/bin");
	ck_assert_ptr_nonnull(sh);
	ck_assert_msg(!strcmp(sh, "/usr/bin/sh") || !strcmp(sh, "/bin/sh"), "%s", sh);
	free(sh);
	ck_assert_ptr_null(cli_which("no-such-command-anywhere", "/usr/bin:/bin"));
	ck_assert_ptr_null(cli_which("", "/usr/bin"));
	char *abs = cli_which("/bin/sh", "/nonexistent");
	ck_assert_str_eq(abs, "/bin/sh");
	free(abs);

	cli_scratch_init(&s);
	/* Not executable: skipped, as execvp skips it. */
	snprintf(prog, sizeof(prog), "%s/tool", s.dir);
	t_write_file(prog, "#!/bin/sh\n");
	chmod(prog, 0600);
	snprintf(path_env, sizeof(path_env), "%s:/usr/bin:/bin", s.dir);
	ck_assert_ptr_null(cli_which("tool", path_env));
	chmod(prog, 0700);
	char *t = cli_which("tool", path_env);
	ck_assert_str_eq(t, prog);
	free(t);
	cli_scratch_fini(&s);
}
END_TEST

START_TEST(preloadable_check)
{
	struct cli_scratch s;
	char why[1024], script[700], text[1024];
	const char *lib = cli_lib();
	const char *stat_prog = getenv("RCSHIM_TEST_STATIC");

	ck_assert(!cli_check_preloadable("/bin/sh", lib, NULL, why, sizeof(why)));
	ck_assert_str_eq(why, "");
	ck_assert(!cli_check_preloadable(cli_python(), lib, NULL, why, sizeof(why)));
	ck_assert(!cli_check_preloadable("/nonexistent", lib, NULL, why, sizeof(why)));

	cli_scratch_init(&s);
	snprintf(script, sizeof(script), "%s/script", s.dir);
	t_write_file(script, "echo no interpreter line\n");
	ck_assert(!cli_check_preloadable(script, lib, NULL, why, sizeof(why)));
	t_write_file(script, "#!/bin/sh\n");
	ck_assert(!cli_check_preloadable(script, lib, NULL, why, sizeof(why)));
	t_write_file(script, "#!/usr/bin/env -S sh -e\n");
	ck_assert(!cli_check_preloadable(script, lib, "/usr/bin:/bin", why, sizeof(why)));
	/* Not an ELF machine the shim was built for: a made-up header. */
	static const unsigned char fake[64] = { 0x7f, 'E', 'L', 'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0,
						0, 0, 2, 0, 40, 0 }; /* ELFCLASS32, EM_ARM */
	FILE *f = fopen(script, "w");
	ck_assert_ptr_nonnull(f);
	fwrite(fake, 1, sizeof(fake), f);
	fclose(f);
	ck_assert(cli_check_preloadable(script, lib, NULL, why, sizeof(why)));
	ck_assert_msg(strstr(why, "is a 32-bit program for ELF machine 40") &&
			      strstr(why, "dynamic loader"), "%s", why);

	if (stat_prog && *stat_prog) {
		ck_assert(cli_check_preloadable(stat_prog, lib, NULL, why, sizeof(why)));
		ck_assert_str_eq(why, "is statically linked: there is no dynamic loader to "
				      "preload the shim");
		snprintf(text, sizeof(text), "#!%s -x\n", stat_prog);
		t_write_file(script, text);
		ck_assert(cli_check_preloadable(script, lib, NULL, why, sizeof(why)));
		ck_assert_msg(!strncmp(why, "runs ", 5) && strstr(why, "statically linked"), "%s",
			      why);
	}
	cli_scratch_fini(&s);
}
END_TEST

static char *
json_of(void (*fn)(FILE *, const char *, size_t), const char *in)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	fn(f, in, strlen(in));
	fclose(f);
	return buf;
}

static void
write_values(FILE *f, const char *p, size_t n)
{
	if (!cli_json_write_values(f, p, n)) {
		fputs("(not json)", f);
	}
}

static void
write_string(FILE *f, const char *p, size_t n)
{
	(void)n;
	cli_json_string(f, p);
}

static void
write_hex(FILE *f, const char *p, size_t n)
{
	(void)n;
	cli_json_hex(f, p);
}

/* Frame lines no writer makes but a damaged report or an odd object name
 * can hold: an object named "at work/p.so" (relative, opened so), the
 * marker right after " in ", " in " inside the marker.  The summary and
 * the naming of frames read only the text (ASan and valgrind check the
 * over-reads the old code made) and pass such a line on unchanged. */
START_TEST(odd_frame_lines)
{
	static const char text[] =
		"== rcshim report: pid 9 (/bin/x), at exit, priority MEDIUM; what it held:\n"
		"command: x\n"
		"fd: 1 held\n"
		"  1, acquired at:\n"
		"    fd 7 /dev/null\n"
		"      #0  0x2 ?+0x2 in [unsymbolized abc]\n"
		"      #1  0x3 ?+0x3 in[unsymbolized in ]\n"
		"      #2  0x4 main+0x4 in at\n"
		"      #3  0x1 f+0x1 in at work/p.so\n"; /* no '[' after it */
	struct cli_paths none = { NULL, 0 };
	struct cli_summary sum = { NULL, 0 };
	size_t n = strlen(text);
	/* With its NUL, as the gathered texts have it (parse_text's sscanf
	 * needs one), and nothing after: a read past it is past the block. */
	char *copy = malloc(n + 1);
	memcpy(copy, text, n + 1);
	cli_summary_add(&sum, 9, copy, n, false, &none);
	cli_summary_finish(&sum);
	ck_assert_uint_eq(sum.n, 1);
	ck_assert_msg(strstr(sum.p[0].line, "pid 9 x: fd 1 (main); reclaimed: nothing"), "%s",
		      sum.p[0].line);
	cli_summary_free(&sum);

	/* The naming pass: lines it cannot take apart stay as they are. */
	struct cli_sym sym;
	memset(&sym, 0, sizeof(sym));
	char *t = malloc(n + 1);
	memcpy(t, text, n + 1);
	size_t len = n;
	t = cli_symbolize(t, &len, &sym);
	ck_assert_msg(strstr(t, "      #3  0x1 f+0x1 in at work/p.so\n") &&
			      strstr(t, "      #2  0x4 main+0x4 in at\n"),
		      "%s", t);
	ck_assert_msg(strstr(t, "?+0x2 in [unsymbolized abc]\n") &&
			      strstr(t, "?+0x3 in[unsymbolized in ]\n"),
		      "%s", t);
	free(t);
	cli_sym_end(&sym);
	free(copy);
}
END_TEST

/* A number past a double (1e999 parses to infinity) makes the document
 * not JSON for the launcher's reader: a plot's axis step made from it
 * never ended (plot.c, nice_step). */
START_TEST(numbers_past_a_double)
{
	static const struct {
		const char *in;
		bool ok;
	} cases[] = {
		{ "1e999", false },
		{ "{\"t_ms\": -1e400}", false },
		{ "[{\"samples\": [{\"t_ms\": 1, \"fds\": 1e999}]}]", false },
		{ "1e308", true },
		{ "{\"t_ms\": 1e-400}", true }, /* 0: not past anything */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cli_jv all;
		bool ok = cli_jv_parse_all(cases[i].in, strlen(cases[i].in), &all);
		cli_jv_free(&all);
		ck_assert_msg(ok == cases[i].ok, "'%s': %d, want %d", cases[i].in, ok, cases[i].ok);
	}
}
END_TEST

START_TEST(json_parts)
{
	static const struct {
		const char *in;
		int values;
	} cases[] = {
		{ "", 0 },
		{ " \n\t", 0 },
		{ "{}", 1 },
		{ "{\"a\": [1, -2.5e3, true, false, null, \"x\\n\\u00e9\"], \"b\": {}}\n", 1 },
		{ "{}\n{\"x\":1}\n", 2 },
		{ "[1]{}\"s\"", 3 },
		{ "1 2", 2 },
		{ "12", 1 },
		{ "01", -1 },
		{ "{", -1 },
		{ "{\"a\":}", -1 },
		{ "{\"a\" 1}", -1 },
		{ "[1,]", -1 },
		{ "text", -1 },
		{ "truefalse", -1 },
		{ "\"\\x\"", -1 },
		{ "\"tab\there\"", -1 },
		{ "1.", -1 },
		{ "-", -1 },
		{ "{} x", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = cli_json_values(cases[i].in, strlen(cases[i].in));
		ck_assert_msg(got == cases[i].values, "'%s': %d values, want %d", cases[i].in, got,
			      cases[i].values);
	}
	char *j = json_of(write_values, "{\"a\":1}\n");
	ck_assert_str_eq(j, "{\"a\":1}");
	free(j);
	j = json_of(write_values, " {\"a\":1}\n[2]\n");
	ck_assert_str_eq(j, "[{\"a\":1}, [2]]");
	free(j);
	j = json_of(write_values, "not json");
	ck_assert_str_eq(j, "(not json)");
	free(j);
	j = json_of(write_string, "a\"b\\c\n\x01\x7f \xc3\xa9 \xff \xed\xa0\x80!");
	/* Bytes that are not UTF-8 as the code points of the same value
	 * (Latin-1), as in the shim's reports; their bytes are in a "_hex"
	 * member beside. */
	ck_assert_str_eq(j, "\"a\\\"b\\\\c\\n\\u0001\\u007f \xc3\xa9 \\u00ff "
			    "\\u00ed\\u00a0\\u0080!\"");
	free(j);
	ck_assert(cli_json_needs_hex("\xff"));
	ck_assert(cli_json_needs_hex("ok \xed\xa0\x80"));
	ck_assert(!cli_json_needs_hex("ok \xc3\xa9"));
	j = json_of(write_hex, "a\xff\n");
	ck_assert_str_eq(j, "\"61ff0a\"");
	free(j);
}
END_TEST

static uint64_t
count_of(const struct cli_kinds *k, const char *kind, uint64_t *bytes)
{
	for (size_t i = 0; i < k->n; i++) {
		if (!strcmp(k->k[i].kind, kind)) {
			*bytes = k->k[i].bytes;
			return k->k[i].count;
		}
	}
	*bytes = 0;
	return UINT64_MAX;
}

START_TEST(report_kinds)
{
	struct cli_kinds k;
	uint64_t b;
	static const char text[] =
		"== rcshim report: pid 1 (/bin/x), now\n"
		"heap: 9 blocks, 900 bytes in use (exact)\n"
		"== rcshim report: pid 1 (/bin/x), at exit, priority MEDIUM; what it held:\n"
		"heap: 139 blocks, 12058 bytes still allocated (exact)\n"
		"  sampled every 524288 bytes on average: 0 samples of 0 bytes\n"
		"temp: 1 held\n"
		"  1, acquired at:\n"
		"fd: 2 held\n"
		"gpu: 3 held, 3072 bytes\n"
		"custom: not tracked\n"
		"rcshim[1]: live cleanup (live_signal, LOW): ok\n";
	ck_assert(cli_text_report_kinds(text, strlen(text), &k));
	ck_assert_uint_eq(count_of(&k, "heap", &b), 139);
	ck_assert_uint_eq(b, 12058);
	ck_assert_uint_eq(count_of(&k, "temp", &b), 1);
	ck_assert_uint_eq(count_of(&k, "fd", &b), 2);
	ck_assert_uint_eq(count_of(&k, "gpu", &b), 3);
	ck_assert_uint_eq(b, 3072);
	ck_assert_uint_eq(count_of(&k, "custom", &b), UINT64_MAX);
	ck_assert(!cli_text_report_kinds("nothing here\n", 13, &k));

	static const char json[] =
		"{\"format\":\"rcshim-report\",\"kinds\":[{\"kind\":\"heap\",\"count\":1}]}\n"
		"{\"format\":\"rcshim-report\",\"pid\":5,\"kinds\":[\n"
		" {\"kind\":\"heap\",\"tracked\":true,\"count\":139,\"bytes\":12036,"
		"\"groups\":[{\"count\":7,\"bytes\":1,\"items\":[{\"kind\":\"x\"}]}]},\n"
		" {\"count\":2,\"kind\":\"fd\",\"bytes\":0,\"groups\":[]}],"
		"\"stacks\":[{\"kinds\":[{\"kind\":\"fd\",\"count\":99}]}]}\n"
		"{\"format\":\"rcshim-event\",\"cleanup\":{\"kind\":\"fd\"}}\n";
	ck_assert(cli_json_report_kinds(json, strlen(json), &k));
	ck_assert_uint_eq(k.n, 2);
	ck_assert_uint_eq(count_of(&k, "heap", &b), 139);
	ck_assert_uint_eq(b, 12036);
	ck_assert_uint_eq(count_of(&k, "fd", &b), 2);
	ck_assert(!cli_json_report_kinds("{\"a\":1}", 7, &k));
	ck_assert(!cli_json_report_kinds("{broken", 7, &k));
}
END_TEST

/* A report whose figure is negative (the heap's count once was, in dash)
 * holds nothing in the summary: never 2^64 - 250 blocks, and no sum wraps
 * around (it once printed "heap 18446744073709551506 blocks (16777216.0
 * TiB)"). */
START_TEST(held_figures_never_wrap)
{
	struct cli_kinds k, sum = { 0 };
	uint64_t v, b;

	ck_assert_uint_eq(cli_figure("-250 blocks", "-250 blocks" + 11, &v), 4);
	ck_assert_uint_eq(v, 0);
	ck_assert_uint_eq(cli_figure("18446744073709551615", "18446744073709551615" + 20, &v), 20);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_uint_eq(cli_figure("99999999999999999999999", "99999999999999999999999" + 23, &v),
			  23);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_uint_eq(cli_figure("-", "-" + 1, &v), 0);
	ck_assert_uint_eq(cli_figure("x1", "x1" + 2, &v), 0);
	ck_assert_uint_eq(cli_figure("1234", "1234" + 2, &v), 2); /* up to end */
	ck_assert_uint_eq(v, 12);

	static const char negative[] =
		"== rcshim report: pid 7 (/usr/bin/dash), at exit, priority MEDIUM; what it held:\n"
		"heap: -250 blocks, -197120 bytes still allocated (exact, usable size)\n"
		"fd: 2 held\n"
		"gpu: -3 held, -3072 bytes\n";
	ck_assert(cli_text_report_kinds(negative, strlen(negative), &k));
	ck_assert_uint_eq(count_of(&k, "heap", &b), 0);
	ck_assert_uint_eq(b, 0);
	ck_assert_uint_eq(count_of(&k, "gpu", &b), 0);
	ck_assert_uint_eq(b, 0);
	ck_assert_uint_eq(count_of(&k, "fd", &b), 2);
	cli_kinds_add(&sum, &k);

	static const char json[] =
		"{\"format\":\"rcshim-report\",\"kinds\":[{\"kind\":\"heap\",\"count\":-250,"
		"\"bytes\":-197120},{\"kind\":\"fd\",\"count\":1,\"bytes\":0}]}\n";
	ck_assert(cli_json_report_kinds(json, strlen(json), &k));
	ck_assert_uint_eq(count_of(&k, "heap", &b), 0);
	ck_assert_uint_eq(b, 0);
	cli_kinds_add(&sum, &k);

	static const char fine[] = "== rcshim report: pid 8 (/bin/true), at exit:\n"
				   "heap: 47 blocks, 2080 bytes still allocated (exact)\n";
	ck_assert(cli_text_report_kinds(fine, strlen(fine), &k));
	cli_kinds_add(&sum, &k);
	ck_assert_uint_eq(count_of(&sum, "heap", &b), 47);
	ck_assert_uint_eq(b, 2080);
	ck_assert_uint_eq(count_of(&sum, "fd", &b), 3);

	/* A sum saturates. */
	static const char huge[] = "== rcshim report: pid 9 (/bin/x), at exit:\n"
				   "heap: 18446744073709551615 blocks, 18446744073709551615 bytes\n";
	ck_assert(cli_text_report_kinds(huge, strlen(huge), &k));
	cli_kinds_add(&sum, &k);
	ck_assert_uint_eq(count_of(&sum, "heap", &b), UINT64_MAX);
	ck_assert_uint_eq(b, UINT64_MAX);
}
END_TEST

START_TEST(status_words)
{
	char buf[128];
	ck_assert_str_eq(cli_status_text(3 << 8, buf, sizeof(buf)), "exited with status 3");
	ck_assert_str_eq(cli_status_text(SIGKILL, buf, sizeof(buf)),
			 "was killed by signal 9 (SIGKILL)");
	ck_assert_str_eq(cli_status_text(SIGSEGV | 0x80, buf, sizeof(buf)),
			 "was killed by signal 11 (SIGSEGV) and dumped core");
	ck_assert_str_eq(cli_signal_name(SIGRTMIN + 3, buf, sizeof(buf)), "SIGRTMIN+3");
}
END_TEST

/* tally.c: a text report file as the shim writes it: live lines, then the
 * final report, whose log repeats them (not counted again); a name with
 * the header's words in it; a snapshot is not counted.  JSON likewise. */
static void
tally_all(struct cli_tally *t, const char *text)
{
	struct cli_tally_file f = { 0 };
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
		cli_tally_line(t, &f, p, n);
		p += n;
	}
}

static uint64_t
tally_n(const struct cli_tally *t, const char *trigger, const char *prio)
{
	for (size_t i = 0; i < t->nc; i++) {
		if (!strcmp(t->c[i].trigger, trigger) && !strcmp(t->c[i].prio, prio)) {
			return t->c[i].n;
		}
	}
	return 0;
}

START_TEST(tally_reports)
{
	struct cli_tally t = { 0 };
	tally_all(&t,
		  "rcshim[7]: live cleanup (live_signal, CRITICAL): ok; 2 cleaned, 0 failed, "
		  "1 left alone, 100 bytes (temp 1, fd 1 (1 left alone))\n"
		  "rcshim[7]: scope 1 \"x\" ended (HIGH) with 1 heap blocks\n"
		  "rcshim[7]: live cleanup (timer, LOW): ok; 0 cleaned, 0 failed, 0 left alone, "
		  "5 bytes (nothing)\n"
		  "== rcshim report: pid 7 (/bin/a, at exit, priority HIGH; what it held:), now\n"
		  "final cleanup: ok; 9 cleaned, 0 failed, 0 left alone, 0 bytes (temp 9)\n"
		  "== rcshim report: pid 7 (/bin/x, at exit, priority CRITICAL; b), at exit, "
		  "priority MEDIUM; what it held:\n"
		  "heap: 1 blocks, 8 bytes still allocated (exact, usable size); 8 bytes requested (exact)\n"
		  "fd: 0 held\n"
		  "final cleanup: ok; 3 cleaned, 0 failed, 0 left alone, 7 bytes (sqlite 1, fd 2)\n"
		  "cleanups (oldest first):\n"
		  "  (2 earlier ones not kept)\n"
		  "  live_signal live CRITICAL: ok; 2 cleaned, 0 failed, 1 left alone, 100 bytes (temp 1)\n"
		  "  api final CRITICAL: ok; 1 cleaned, 0 failed, 0 left alone, 0 bytes (gpu 1)\n"
		  "notes:\n"
		  "  live_signal live LOW: a note, not a cleanup\n"
		  "shim memory: 1 bytes mapped\n");
	ck_assert_uint_eq(tally_n(&t, "live_signal", "CRITICAL"), 1);
	ck_assert_uint_eq(tally_n(&t, "timer", "LOW"), 1);
	ck_assert_uint_eq(tally_n(&t, "exit", "MEDIUM"), 1);
	ck_assert_uint_eq(tally_n(&t, "api", "CRITICAL"), 1);
	ck_assert_uint_eq(tally_n(&t, "live_signal", "LOW"), 0);
	ck_assert_uint_eq(t.nc, 4);
	ck_assert_uint_eq(t.cleaned[RCSHIM_KIND_TEMP], 1);
	ck_assert_uint_eq(t.cleaned[RCSHIM_KIND_FD], 3);
	ck_assert_uint_eq(t.cleaned[RCSHIM_KIND_SQLITE], 1);
	ck_assert_uint_eq(t.cleaned[RCSHIM_KIND_GPU], 1);
	ck_assert_uint_eq(t.bytes[RCSHIM_KIND_COUNT], 112);
	ck_assert_str_eq(cli_tally_kind(RCSHIM_KIND_COUNT), "unknown");

	/* JSON: the event line, a signal's report (its log's final signal
	 * entry is the report's "final"), a snapshot, a truncated line. */
	struct cli_tally j = { 0 };
	tally_all(&j,
		  "{\"format\":\"rcshim-event\",\"schema\":1,\"pid\":7,\"cleanup\":{\"time_ms\":1,"
		  "\"reason\":\"pressure\",\"mode\":\"live\",\"priority\":\"HIGH\",\"signal\":0,"
		  "\"scope\":0,\"result\":{\"status\":\"ok\",\"kinds\":{\"heap\":{\"cleaned\":0,"
		  "\"bytes\":4096},\"fd\":{\"cleaned\":1,\"bytes\":0}}}}}\n"
		  "{\"format\":\"rcshim-report\",\"event\":\"snapshot\",\"final\":{\"kinds\":{"
		  "\"temp\":{\"cleaned\":50,\"bytes\":0}}},\"cleanups\":[]}\n"
		  "{\"format\":\"rcshim-report\",\"exe\":\"x\\\"}\",\"event\":\"signal\","
		  "\"priority\":\"CRITICAL\",\"final\":{\"kinds\":{\"temp\":{\"cleaned\":2,"
		  "\"bytes\":10}}},\"cleanups_omitted\":0,\"cleanups\":[{\"reason\":\"pressure\","
		  "\"mode\":\"live\",\"priority\":\"HIGH\",\"scope\":0,\"result\":{}},"
		  "{\"reason\":\"signal\",\"mode\":\"final\",\"priority\":\"CRITICAL\",\"scope\":0,"
		  "\"result\":{\"kinds\":{\"temp\":{\"cleaned\":2,\"bytes\":10}}}}]}\n"
		  "{\"format\":\"rcshim-event\",\"cleanup\":{\"reason\":\"timer\",\"mo");
	ck_assert_uint_eq(tally_n(&j, "pressure", "HIGH"), 1);
	ck_assert_uint_eq(tally_n(&j, "signal", "CRITICAL"), 1);
	ck_assert_uint_eq(j.nc, 2);
	ck_assert_uint_eq(j.cleaned[RCSHIM_KIND_TEMP], 2);
	ck_assert_uint_eq(j.bytes[RCSHIM_KIND_TEMP], 10);
	ck_assert_uint_eq(j.bytes[RCSHIM_KIND_HEAP], 4096);
	ck_assert_uint_eq(j.cleaned[RCSHIM_KIND_FD], 1);
	ck_assert_uint_eq(j.bytes[RCSHIM_KIND_COUNT], 0);
}
END_TEST

/* The launcher's shared report file (cli/records.c): quiet lines and whole
 * reports taken as they are; one cut short never takes the next with it;
 * what is not yet whole is waited for, and dropped at the end. */
struct items {
	int quiet, reports, skipped;
	char pids[256];
};

static size_t
split(const char *buf, size_t n, bool end, struct items *it)
{
	struct cli_record rec;
	size_t off = 0, k;
	memset(it, 0, sizeof(*it));
	while (off < n && (k = cli_record_next(buf + off, n - off, end, &rec))) {
		ck_assert_int_ne(rec.kind, CLI_REC_NONE);
		if (rec.kind == CLI_REC_QUIET) {
			it->quiet++;
			ck_assert_msg(!strncmp(rec.text, "== rcshim report: pid ", 22) &&
					      !memchr(rec.text, '\n', rec.len),
				      "%.*s", (int)rec.len, rec.text);
		} else if (rec.kind == CLI_REC_REPORT) {
			it->reports++;
			size_t l = strlen(it->pids);
			snprintf(it->pids + l, sizeof(it->pids) - l, "%s%ld", l ? "," : "", rec.pid);
			/* Each body here is "BODY<pid>\n...": whole, and its own. */
			char want[32];
			snprintf(want, sizeof(want), "BODY%ld\n", rec.pid);
			ck_assert_msg(rec.len >= strlen(want) && !memcmp(rec.text, want, strlen(want)),
				      "%.*s", (int)rec.len, rec.text);
			ck_assert_msg(rec.text[rec.len - 1] == '\n', "%.*s", (int)rec.len, rec.text);
		} else {
			it->skipped++;
		}
		off += k;
	}
	return off;
}

static void
add_record(char *buf, size_t cap, long pid, const char *body, size_t cut)
{
	size_t l = strlen(buf), b = strlen(body);
	snprintf(buf + l, cap - l, "== rcshim record: pid %ld, %zu bytes, at 1765000000.%09ld\n%.*s",
		 pid, b, pid, (int)(cut ? cut : b), body);
	if (!cut) {
		l = strlen(buf);
		snprintf(buf + l, cap - l, "== rcshim end of record: pid %ld\n", pid);
	}
}

START_TEST(shared_report_file)
{
	char buf[4096] = "";
	struct items it;
	const char *quiet = "== rcshim report: pid 7 held nothing (heap 1 blocks, 2 bytes): /bin/true\n";

	strcat(buf, quiet);
	/* A text report holds lines that look like heads: taken by length. */
	add_record(buf, sizeof(buf), 11, "BODY11\n== rcshim report: pid 11 (/bin/x), at exit\n"
					 "== rcshim record: pid 3, 1 bytes, at 1.1\nfd: 0 held\n", 0);
	/* Cut short, then the next write right after the cut. */
	add_record(buf, sizeof(buf), 12, "BODY12\nheap: 5 blocks\nfd: 1 held\n", 12);
	add_record(buf, sizeof(buf), 13, "BODY13\n{\"format\":\"rcshim-report\"}\n", 0);
	/* A quiet line cut short, then a record. */
	size_t at = strlen(buf);
	memcpy(buf + at, quiet, 30);
	buf[at + 30] = '\0';
	add_record(buf, sizeof(buf), 14, "BODY14\n", 0);
	strcat(buf, "garbage that is no item\n");
	strcat(buf, quiet);
	/* A header that does not parse. */
	strcat(buf, "== rcshim record: pid 15, many bytes\nBODY15\n");
	add_record(buf, sizeof(buf), 16, "BODY16\n", 0);
	size_t whole = strlen(buf);
	/* Still being written: its header and part of its report. */
	add_record(buf, sizeof(buf), 17, "BODY17\nmore\n", 9);
	size_t n = strlen(buf);

	ck_assert_uint_eq(split(buf, n, false, &it), whole);
	ck_assert_str_eq(it.pids, "11,13,14,16");
	ck_assert_int_eq(it.quiet, 2);
	ck_assert_int_ge(it.skipped, 4);
	/* Every byte taken at the end; the one not whole is not a report. */
	ck_assert_uint_eq(split(buf, n, true, &it), n);
	ck_assert_str_eq(it.pids, "11,13,14,16");
	/* A head cut by the end of what was read is waited for. */
	for (size_t i = 1; i < strlen(quiet); i++) {
		ck_assert_uint_eq(split(quiet, i, false, &it), 0);
		ck_assert_uint_eq(split(quiet, i, true, &it), i);
		ck_assert_int_eq(it.quiet, 0);
	}
	ck_assert_uint_eq(split(quiet, strlen(quiet), false, &it), strlen(quiet));
	ck_assert_int_eq(it.quiet, 1);
	/* Garbage then the start of a head: the garbage goes, the head waits. */
	ck_assert_uint_eq(split("xyz\n== rcshim r", 15, false, &it), 4);
	ck_assert_uint_eq(split("xyz\n== rcshim r", 15, true, &it), 15);
	/* Added a byte at a time, the same items come out. */
	char acc[4096];
	size_t have = 0, taken = 0;
	int reports = 0, quiets = 0;
	for (size_t i = 0; i < whole; i++) {
		acc[have++] = buf[i];
		struct cli_record rec;
		size_t k;
		while (taken < have && (k = cli_record_next(acc + taken, have - taken, false, &rec))) {
			reports += rec.kind == CLI_REC_REPORT;
			quiets += rec.kind == CLI_REC_QUIET;
			taken += k;
		}
	}
	ck_assert_int_eq(reports, 4);
	ck_assert_int_eq(quiets, 2);
}
END_TEST

TEST_SUITE(cli_parts)
{
	ADD_TEST(s, ld_preload_appends_once);
	ADD_TEST(s, library_search);
	ADD_TEST(s, path_lookup);
	ADD_TEST(s, preloadable_check);
	ADD_TEST(s, json_parts);
	ADD_TEST(s, odd_frame_lines);
	ADD_TEST(s, numbers_past_a_double);
	ADD_TEST(s, report_kinds);
	ADD_TEST(s, held_figures_never_wrap);
	ADD_TEST(s, status_words);
	ADD_TEST(s, tally_reports);
	ADD_TEST(s, shared_report_file);
}
