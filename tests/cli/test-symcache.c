/* The launcher keeps the names it gave frames, per build id, between runs
 * (src/cli/symcache.c): a later run names them from the cache without
 * opening the object's debug information; a cache it cannot trust is not
 * used; a malformed line is skipped. */
#include "build-config.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "test.h"

/* The gathered report's text, NULL if none is named. */
static char *
report_text(const char *err)
{
	char *path = cli_named_report(err);
	char *text = path[0] ? t_read_file(path) : NULL;
	free(path);
	return text;
}

/* Runs `sh -c @cmd` under the launcher with XDG_CACHE_HOME=@cache and the
 * launcher's options @opts (NULL-ended, may be empty); its report. */
static char *
run_in(const struct cli_scratch *s, const char *cache, const char *const *opts,
       const char *cmd)
{
	char xdg[1100];
	snprintf(xdg, sizeof(xdg), "XDG_CACHE_HOME=%s", cache);
	const char *env[] = { xdg, NULL };
	const char *args[16] = { "run" };
	size_t n = 1;
	for (size_t i = 0; opts[i] && n < 11; i++) {
		args[n++] = opts[i];
	}
	args[n++] = "--";
	args[n++] = "sh";
	args[n++] = "-c";
	args[n++] = cmd;
	args[n] = NULL;
	struct rc_run r;
	run_rcshim(&r, s, env, args);
	ck_assert_exited(&r, 0);
	char *text = report_text(r.err);
	ck_assert_msg(text, "no report: %s", r.err);
	t_run_free(&r);
	return text;
}

/* Runs the victim under the launcher with XDG_CACHE_HOME=@cache; its
 * report. */
static char *
run_victim(const struct cli_scratch *s, const char *cache)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "%s %s/leak.db %s/leak.log", cli_sq_leak(), s->tmp, s->tmp);
	const char *none[] = { NULL };
	return run_in(s, cache, none, cmd);
}

/* The one cache file in @dir whose lines name @fn; its path in @out. */
static bool
cache_file_naming(const char *dir, const char *fn, char *out, size_t len)
{
	DIR *d = opendir(dir);
	if (!d) {
		return false;
	}
	bool found = false;
	char want[256];
	snprintf(want, sizeof(want), "\t%s\t", fn);
	for (struct dirent *e; !found && (e = readdir(d));) {
		if (e->d_name[0] == '.') {
			continue;
		}
		snprintf(out, len, "%s/%s", dir, e->d_name);
		char *text = t_read_file(out);
		found = text && strstr(text, want);
		free(text);
	}
	closedir(d);
	return found;
}

/* @text with every @from replaced by @to (same length). */
static void
replace_all(char *text, const char *from, const char *to)
{
	ck_assert_uint_eq(strlen(from), strlen(to));
	for (char *p = text; (p = strstr(p, from)); p += strlen(to)) {
		memcpy(p, to, strlen(to));
	}
}

START_TEST(names_kept_between_runs)
{
	struct cli_scratch s;
	char cache[1024], dir[1100], file[1400];

	if (!cli_sq_leak()) {
		exit(77);
	}
	cli_scratch_init(&s);
	snprintf(cache, sizeof(cache), "%s/cache", s.dir);
	snprintf(dir, sizeof(dir), "%s/rcshim/symbols", cache);

	/* First run: named from the object (libdw), and kept. */
	char *text = run_victim(&s, cache);
	ck_assert_msg(strstr(text, "open_index+0x") && strstr(text, " at ") &&
			      strstr(text, "sq-leak.c:"),
		      "%s", text);
	ck_assert_msg(!strstr(text, "[unsymbolized "), "%s", text);
	free(text);
	struct stat st;
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_msg((st.st_mode & 0777) == 0700, "mode %o", st.st_mode & 0777);
	ck_assert_msg(cache_file_naming(dir, "open_index", file, sizeof(file)),
		      "no cache file in %s names open_index", dir);
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_msg(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600, "mode %o",
		      st.st_mode & 0777);

	/* The next run names the victim's frames from the cache: a name
	 * changed there is the name the report gives. */
	char *kept = t_read_file(file);
	ck_assert_ptr_nonnull(kept);
	replace_all(kept, "\topen_index\t", "\tcached_ndx\t");
	/* A malformed line, a name with no file, and a last line cut short
	 * are skipped; the good lines still count. */
	size_t n = strlen(kept);
	char *more = malloc(n + 200);
	snprintf(more, n + 200, "zz\tnot a line\n1\t2\t0\tf\tg\n%s12\t0\t3\tcut", kept);
	t_write_file(file, more);
	free(more);
	text = run_victim(&s, cache);
	ck_assert_msg(strstr(text, "cached_ndx+0x") && !strstr(text, "open_index+0x"), "%s",
		      text);
	/* The rest, named as before. */
	ck_assert_msg(strstr(text, "main+0x") && strstr(text, "sq-leak.c:"), "%s", text);
	free(text);

	/* A cache directory others can write to is not used (nor added to):
	 * the object's own names again. */
	ck_assert_int_eq(chmod(dir, 0777), 0);
	text = run_victim(&s, cache);
	ck_assert_msg(strstr(text, "open_index+0x") && !strstr(text, "cached_ndx"), "%s", text);
	free(text);
	char *after = t_read_file(file);
	ck_assert_msg(after && strstr(after, "cached_ndx") && !strstr(after, "\topen_index\t"),
		      "%s", after);
	free(after);
	ck_assert_int_eq(chmod(dir, 0700), 0);

	/* A symlink in its place is not followed. */
	char moved[1200];
	snprintf(moved, sizeof(moved), "%s/elsewhere", s.dir);
	ck_assert_int_eq(rename(dir, moved), 0);
	ck_assert_int_eq(symlink(moved, dir), 0);
	text = run_victim(&s, cache);
	ck_assert_msg(strstr(text, "open_index+0x") && !strstr(text, "cached_ndx"), "%s", text);
	free(text);
	ck_assert_int_eq(unlink(dir), 0);

	free(kept);
	cli_scratch_fini(&s);
}
END_TEST

/* Without $HOME and $XDG_CACHE_HOME there is no cache, and frames are
 * named all the same. */
START_TEST(no_cache_without_a_home)
{
	struct cli_scratch s;
	char cmd[4096];

	if (!cli_sq_leak()) {
		exit(77);
	}
	cli_scratch_init(&s);
	snprintf(cmd, sizeof(cmd), "%s %s/leak.db %s/leak.log", cli_sq_leak(), s.tmp, s.tmp);
	const char *args[] = { "run", "--", "sh", "-c", cmd, NULL };
	struct rc_run r;
	run_rcshim(&r, &s, NULL, args); /* cli_env: no HOME */
	ck_assert_exited(&r, 0);
	char *text = report_text(r.err);
	ck_assert_msg(text && strstr(text, "open_index+0x") && strstr(text, "sq-leak.c:"),
		      "%s", text ? text : r.err);
	free(text);
	t_run_free(&r);
	cli_scratch_fini(&s);
}
END_TEST

/* The frames of "FUNCTION+0x" to the end of their lines in @text, in
 * order; their number in *@n. */
static char **
frames_of(const char *text, const char *fn, size_t *n)
{
	char **v = NULL;
	*n = 0;
	for (const char *p = text; (p = strstr(p, fn)); p += strlen(fn)) {
		const char *eol = strchr(p, '\n');
		v = realloc(v, (*n + 1) * sizeof(*v));
		v[(*n)++] = strndup(p, eol ? (size_t)(eol - p) : strlen(p));
	}
	return v;
}

/* Runs @cmd under the launcher, with a cache of its own that starts
 * empty, heap left out (its samples fall at random: the other kinds'
 * stacks are the same in every run of a program); its report. */
static char *
run_script(const struct cli_scratch *s, const char *cmd)
{
	char cache[1100];
	snprintf(cache, sizeof(cache), "%s/fresh-cache", s->dir);
	const char *opts[] = { "--track", "temp,fd,sqlite", NULL };
	return run_in(s, cache, opts, cmd);
}

/* Processes of one run share frames, and the launcher names each once
 * (symbolize.c keeps this run's names, found or not): two runs of a copy
 * of the victim rebuilt before the end both leave theirs as addresses in
 * the object; then two runs of the victim name theirs alike, from the
 * object.  (The copy first: the cache, by build id, would name it after
 * the victim's run.) */
START_TEST(shared_frames_named_alike)
{
	struct cli_scratch s;
	char cmd[8192], gone[1100], want[1300];

	if (!cli_sq_leak()) {
		exit(77);
	}
	cli_scratch_init(&s);
	/* A copy (another path: another object to open) rebuilt before the
	 * launcher names the frames (another program copied over it: another
	 * build id): in both processes, the address in it. */
	snprintf(gone, sizeof(gone), "%s/gone-victim", s.dir);
	snprintf(cmd, sizeof(cmd),
		 "cp %s %s && %s %s/c.db %s/c.log && %s %s/d.db %s/d.log && cp /bin/true %s",
		 cli_sq_leak(), gone, gone, s.tmp, s.tmp, gone, s.tmp, s.tmp, gone);
	char *text = run_script(&s, cmd);
	snprintf(want, sizeof(want), " in %s\n", gone);
	size_t m = 0;
	for (const char *p = text; (p = strstr(p, want)); p += strlen(want)) {
		const char *bol = p;
		while (bol > text && bol[-1] != '\n') {
			bol--;
		}
		ck_assert_msg(strstr(bol, "?+0x") && strstr(bol, "?+0x") < p, "%.*s",
			      (int)(p - bol), bol);
		m++;
	}
	ck_assert_msg(m >= 2 && m % 2 == 0, "%zu unnamed frames", m);
	ck_assert_msg(!strstr(text, "open_index+0x") && !strstr(text, "[unsymbolized"),
		      "named, or left marked");
	free(text);

	/* The victim's frames: named, with a file and a line, the same in
	 * both of its processes. */
	snprintf(cmd, sizeof(cmd), "%s %s/a.db %s/a.log && %s %s/b.db %s/b.log", cli_sq_leak(),
		 s.tmp, s.tmp, cli_sq_leak(), s.tmp, s.tmp);
	text = run_script(&s, cmd);
	size_t n = 0;
	char **v = frames_of(text, "open_index+0x", &n);
	ck_assert_msg(n >= 2 && n % 2 == 0, "%zu frames in open_index\n%s", n, text);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(strstr(v[i], " at ") && strstr(v[i], "sq-leak.c:"), "%s", v[i]);
		ck_assert_str_eq(v[i], v[i % (n / 2)]);
	}
	for (size_t i = 0; i < n; i++) {
		free(v[i]);
	}
	free(v);
	free(text);
	cli_scratch_fini(&s);
}
END_TEST

TEST_SUITE(cli_symcache)
{
	ADD_TEST(s, names_kept_between_runs);
	ADD_TEST(s, no_cache_without_a_home);
	ADD_TEST(s, shared_frames_named_alike);
}
