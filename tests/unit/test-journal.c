#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "clean/engine.h"
#include "clean/journal.h"
#include "core/log.h"
#include "core/session.h"
#include "fixture.h"
#include "test.h"

/* --- helpers ----------------------------------------------------------------- */

/* Journals @path with its current identity. */
static void
journal(char op, const char *path)
{
	struct stat st;
	ck_assert_msg(lstat(path, &st) == 0, "lstat %s", path);
	ck_assert_int_eq(rc_journal_append(op, S_ISDIR(st.st_mode), st.st_dev, st.st_ino, path), 0);
}

/* Replays the session journal, counting into a fresh @res. */
static int
replay(struct rcshim_result *res, bool remove)
{
	rc_result_init(res);
	return rc_journal_replay(S.jpath, res, remove);
}

/* --- the journal line ------------------------------------------------------- */

START_TEST(append_line_format)
{
	char buf[4096], want[1024];

	scratch_setup();
	ck_assert(!exists(S.jpath));
	ck_assert_int_eq(rc_journal_append('+', true, 2049, 1234, "/tmp/x/y"), 0);
	ck_assert_int_eq(rc_journal_append('-', false, 0, 18446744073709551615ULL, "/tmp/x/y z"), 0);
	snprintf(want, sizeof(want),
		 "+ d 2049 1234 %d /tmp/x/y\n"
		 "- f 0 18446744073709551615 %d /tmp/x/y z\n", getpid(), getpid());
	ck_assert_int_eq(read_file(S.jpath, buf, sizeof(buf)), (ssize_t)strlen(want));
	ck_assert_str_eq(buf, want);

	/* Private: the directory 0700, the journal 0600, both ours. */
	struct stat st;
	ck_assert_int_eq(lstat(S.jpath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_uid, geteuid());
	ck_assert_int_eq(lstat(rc_session.dir, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	scratch_teardown();
}
END_TEST

START_TEST(append_escapes)
{
	char buf[4096], want[1024];

	scratch_setup();
	ck_assert_int_eq(rc_journal_append('+', false, 1, 2, "/tmp/a\nb\\c\n"), 0);
	snprintf(want, sizeof(want), "+ f 1 2 %d /tmp/a\\nb\\\\c\\n\n", getpid());
	ck_assert_int_eq(read_file(S.jpath, buf, sizeof(buf)), (ssize_t)strlen(want));
	ck_assert_str_eq(buf, want);
	/* One line, whatever the path holds. */
	ck_assert_ptr_eq(strchr(buf, '\n'), buf + strlen(buf) - 1);
	scratch_teardown();
}
END_TEST

START_TEST(append_without_dir)
{
	char buf[64];

	scratch_setup();
	rc_session.dir[0] = '\0';
	ck_assert_str_eq(rc_journal_path(buf, sizeof(buf)), "");
	ck_assert_int_eq(rc_journal_append('+', true, 1, 2, "/tmp/x"), -ENOENT);
	ck_assert(!exists(S.jpath));
	scratch_teardown();
}
END_TEST

START_TEST(append_refuses_symlinked_journal)
{
	char victim[PATH_MAX], buf[64];

	scratch_setup();
	path_in(victim, sizeof(victim), S.out, "victim");
	write_file(victim, "data");
	ck_assert_int_eq(symlink(victim, S.jpath), 0);
	ck_assert_int_lt(rc_journal_append('+', true, 1, 2, "/tmp/x"), 0);
	ck_assert_int_eq(read_file(victim, buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "data");
	scratch_teardown();
}
END_TEST

START_TEST(journal_path_modes)
{
	char buf[512], want[PATH_MAX + 512];

	scratch_setup();
	snprintf(want, sizeof(want), "%s/rcshim/%s.journal", S.xdg, rc_session.id);
	ck_assert_str_eq(S.jpath, want);
	ck_assert_str_eq(rc_journal_path(buf, sizeof(buf)), want);

	/* Process mode: one journal per process. */
	rc_session.process_mode = true;
	snprintf(want, sizeof(want), "%s/rcshim/%s.p%d.journal", S.xdg, rc_session.id,
		 getpid());
	ck_assert_str_eq(rc_journal_path(buf, sizeof(buf)), want);
	scratch_teardown();
}
END_TEST

/* --- the journal directory -------------------------------------------------- */

/* A refused $XDG_RUNTIME_DIR/rcshim falls back to /tmp/rcshim-<uid>, or to
 * none at all if that is unusable too, never to the refused one. */
static void
assert_fallback(int r, const char *refused)
{
	char fallback[64];
	snprintf(fallback, sizeof(fallback), "/tmp/rcshim-%u", (unsigned)geteuid());
	ck_assert_str_ne(rc_session.dir, refused);
	if (r == 0) {
		ck_assert_str_eq(rc_session.dir, fallback);
	} else {
		ck_assert_str_eq(rc_session.dir, "");
	}
}

START_TEST(dir_init_refuses_unsafe)
{
	char d[PATH_MAX], target[PATH_MAX];

	scratch_setup();
	path_in(d, sizeof(d), S.xdg, "rcshim");
	ck_assert_str_eq(rc_session.dir, d);
	ck_assert_int_eq(rmdir(d), 0);

	/* Writable by others. */
	make_dir(d);
	ck_assert_int_eq(chmod(d, 0777), 0);
	assert_fallback(rc_session_dir_init(S.xdg), d);
	ck_assert_int_eq(rmdir(d), 0);

	/* Group-readable is refused too: the names of temp files are private. */
	make_dir(d);
	ck_assert_int_eq(chmod(d, 0750), 0);
	assert_fallback(rc_session_dir_init(S.xdg), d);
	ck_assert_int_eq(rmdir(d), 0);

	/* A symlink, even to a good directory. */
	path_in(target, sizeof(target), S.dir, "elsewhere");
	make_dir(target);
	ck_assert_int_eq(symlink(target, d), 0);
	assert_fallback(rc_session_dir_init(S.xdg), d);
	ck_assert_int_eq(unlink(d), 0);

	/* A file. */
	write_file(d, "");
	assert_fallback(rc_session_dir_init(S.xdg), d);
	ck_assert_int_eq(unlink(d), 0);

	/* No or a relative XDG dir. */
	assert_fallback(rc_session_dir_init(NULL), d);
	assert_fallback(rc_session_dir_init("relative/dir"), d);

	/* And the good case again. */
	ck_assert_int_eq(rc_session_dir_init(S.xdg), 0);
	ck_assert_str_eq(rc_session.dir, d);
	scratch_teardown();
}
END_TEST

/* --- replay ------------------------------------------------------------------ */

START_TEST(replay_removes_dirs_and_files)
{
	char d[PATH_MAX], f[PATH_MAX], u[PATH_MAX];
	struct rcshim_result res;

	scratch_setup();
	path_in(d, sizeof(d), S.root, "d");
	path_in(f, sizeof(f), S.root, "file");
	path_in(u, sizeof(u), S.root, "unjournaled");
	make_tree(d);
	write_file(f, "x");
	make_dir(u);
	journal('+', d);
	journal('+', f);

	ck_assert_int_eq(replay(&res, false), 0);
	ck_assert(!exists(d));
	ck_assert(!exists(f));
	ck_assert(exists(u));
	assert_outside_intact();
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 2);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].failed, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].skipped, 0);
	/* Kept when asked to. */
	ck_assert(exists(S.jpath));

	/* Again: nothing left to do, and gone is not a failure. */
	ck_assert_int_eq(replay(&res, false), 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].failed, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].skipped, 0);
	scratch_teardown();
}
END_TEST

START_TEST(replay_newest_first)
{
	char d[PATH_MAX], f[PATH_MAX], sub[PATH_MAX], g[PATH_MAX];
	struct rcshim_result res;

	scratch_setup();
	path_in(d, sizeof(d), S.root, "d");
	path_in(sub, sizeof(sub), d, "sub");
	path_in(f, sizeof(f), sub, "f");
	path_in(g, sizeof(g), d, "g");
	make_dir(d);
	journal('+', d);
	make_dir(sub);
	journal('+', sub);
	write_file(f, "x");
	journal('+', f);
	write_file(g, "y");
	journal('+', g);

	/* Inner artifacts go first, each counted once removed: removing
	 * the outer directory first would find the others already gone. */
	ck_assert_int_eq(replay(&res, true), 0);
	ck_assert(!exists(d));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 4);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].failed, 0);
	scratch_teardown();
}
END_TEST

START_TEST(replay_skips_released)
{
	char a[PATH_MAX], b[PATH_MAX], kept[PATH_MAX], c[PATH_MAX];
	struct rcshim_result res;
	struct stat st;

	scratch_setup();
	path_in(a, sizeof(a), S.root, "a");
	path_in(b, sizeof(b), S.root, "b");
	path_in(kept, sizeof(kept), S.out, "renamed-away");
	path_in(c, sizeof(c), S.root, "c");

	make_dir(a);
	journal('+', a);
	/* b: created, then renamed away by the program (released). */
	write_file(b, "b");
	journal('+', b);
	ck_assert_int_eq(rename(b, kept), 0);
	journal('-', kept);
	/* Then a fresh file at b's old name, never journaled: not ours. */
	write_file(b, "new b");
	/* c: released, then journaled again later (a rename back in). */
	write_file(c, "c");
	journal('+', c);
	journal('-', c);
	journal('+', c);
	/* A release that was never a creation is ignored. */
	ck_assert_int_eq(lstat(S.out, &st), 0);
	ck_assert_int_eq(rc_journal_append('-', true, st.st_dev, st.st_ino, S.out), 0);

	ck_assert_int_eq(replay(&res, true), 0);
	ck_assert(!exists(a));
	ck_assert(exists(kept));
	ck_assert(exists(b));
	ck_assert(!exists(c));
	ck_assert(exists(S.out));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 2);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].failed, 0);
	scratch_teardown();
}
END_TEST

START_TEST(replay_leaves_symlink_swap)
{
	char d[PATH_MAX], f[PATH_MAX], keep[PATH_MAX], moved[PATH_MAX], moved2[PATH_MAX];
	struct rcshim_result res;

	scratch_setup();
	path_in(moved2, sizeof(moved2), S.root, "f.new");
	path_in(d, sizeof(d), S.root, "d");
	path_in(f, sizeof(f), S.root, "f");
	path_in(keep, sizeof(keep), S.out, "keep");
	path_in(moved, sizeof(moved), S.out, "moved");
	write_file(keep, "precious");

	make_dir(d);
	journal('+', d);
	write_file(f, "f");
	journal('+', f);
	/* Both now name symlinks to what must not be removed. */
	ck_assert_int_eq(rename(d, moved), 0);
	ck_assert_int_eq(symlink(S.out, d), 0);
	/* Made before f goes, so it cannot reuse f's inode number. */
	ck_assert_int_eq(symlink(keep, moved2), 0);
	ck_assert_int_eq(rename(moved2, f), 0);

	ck_assert_int_eq(replay(&res, true), 0);
	assert_outside_intact();
	ck_assert(exists(moved));
	ck_assert(exists(d));
	ck_assert(exists(f));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].skipped, 2);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].failed, 0);
	scratch_teardown();
}
END_TEST

START_TEST(replay_leaves_replaced_dir)
{
	char d[PATH_MAX], d2[PATH_MAX], p[PATH_MAX], f[PATH_MAX], f2[PATH_MAX];
	struct rcshim_result res;

	scratch_setup();
	path_in(d, sizeof(d), S.root, "d");
	path_in(d2, sizeof(d2), S.root, "d2");
	path_in(f, sizeof(f), S.root, "f");
	path_in(f2, sizeof(f2), S.root, "f2");
	make_dir(d);
	journal('+', d);
	write_file(f, "old");
	journal('+', f);

	/* Another directory (made while d existed, so another inode) takes
	 * d's name; another file takes f's. */
	make_dir(d2);
	path_in(p, sizeof(p), d2, "precious");
	write_file(p, "precious");
	ck_assert_int_eq(rename(d2, d), 0);
	write_file(f2, "new");
	ck_assert_int_eq(rename(f2, f), 0);

	ck_assert_int_eq(replay(&res, true), 0);
	path_in(p, sizeof(p), d, "precious");
	ck_assert(exists(p));
	ck_assert(exists(f));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].skipped, 2);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].failed, 0);
	scratch_teardown();
}
END_TEST

START_TEST(replay_tolerates_bad_lines)
{
	char a[PATH_MAX], b[PATH_MAX], rel[PATH_MAX], line[PATH_MAX + 128];
	struct rcshim_result res;
	struct stat st;

	scratch_setup();
	path_in(a, sizeof(a), S.root, "a");
	path_in(b, sizeof(b), S.root, "b");
	make_dir(a);
	make_dir(b);

	append_raw(S.jpath, "garbage\n");
	append_raw(S.jpath, "\n");
	append_raw(S.jpath, "+ x 1 2 3 /tmp\n");
	append_raw(S.jpath, "+ d one 2 3 /tmp\n");
	append_raw(S.jpath, "* d 1 2 3 /tmp\n");
	/* A relative path is never acted on, whatever its identity. */
	ck_assert_int_eq(chdir(S.root), 0);
	path_in(rel, sizeof(rel), S.root, "rel");
	make_dir(rel);
	ck_assert_int_eq(lstat(rel, &st), 0);
	snprintf(line, sizeof(line), "+ d %lu %lu 1 rel\n", (unsigned long)st.st_dev,
		 (unsigned long)st.st_ino);
	append_raw(S.jpath, line);
	journal('+', a);
	/* The writer died in the middle of b's line. */
	ck_assert_int_eq(lstat(b, &st), 0);
	snprintf(line, sizeof(line), "+ d %lu %lu", (unsigned long)st.st_dev,
		 (unsigned long)st.st_ino);
	append_raw(S.jpath, line);

	ck_assert_int_eq(replay(&res, true), 0);
	ck_assert(!exists(a));
	ck_assert(exists(b));
	ck_assert(exists(rel));
	ck_assert(exists("/tmp"));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].failed, 0);
	ck_assert(!exists(S.jpath));
	ck_assert_int_eq(chdir("/"), 0);
	scratch_teardown();
}
END_TEST

START_TEST(replay_missing_and_remove)
{
	char d[PATH_MAX], link[PATH_MAX];
	struct rcshim_result res;

	scratch_setup();
	ck_assert_int_eq(replay(&res, true), -ENOENT);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 0);

	/* An empty journal: nothing to do, and it goes with remove. */
	write_file(S.jpath, "");
	ck_assert_int_eq(rc_journal_replay(S.jpath, &res, false), 0);
	ck_assert(exists(S.jpath));
	ck_assert_int_eq(rc_journal_replay(S.jpath, &res, true), 0);
	ck_assert(!exists(S.jpath));

	/* A real one goes too. */
	path_in(d, sizeof(d), S.root, "d");
	make_dir(d);
	journal('+', d);
	ck_assert_int_eq(rc_journal_replay(S.jpath, &res, true), 0);
	ck_assert(!exists(d));
	ck_assert(!exists(S.jpath));

	/* A journal reached through a symlink is not followed. */
	char real[PATH_MAX];
	path_in(real, sizeof(real), S.out, "real.journal");
	make_dir(d);
	journal('+', d);
	ck_assert_int_eq(rename(S.jpath, real), 0);
	path_in(link, sizeof(link), S.dir, "link.journal");
	ck_assert_int_eq(symlink(real, link), 0);
	ck_assert_int_lt(rc_journal_replay(link, &res, true), 0);
	ck_assert(exists(d));
	ck_assert(exists(real));
	scratch_teardown();
}
END_TEST

START_TEST(replay_escaped_path)
{
	char d[PATH_MAX], f[PATH_MAX], buf[8192];
	struct rcshim_result res;

	scratch_setup();
	path_in(d, sizeof(d), S.root, "we\nird\\dir");
	path_in(f, sizeof(f), S.root, "file\\n\nname");
	make_tree(d);
	write_file(f, "x");
	journal('+', d);
	journal('+', f);
	ck_assert_int_gt(read_file(S.jpath, buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "/we\\nird\\\\dir\n"));
	ck_assert_ptr_nonnull(strstr(buf, "/file\\\\n\\nname\n"));

	ck_assert_int_eq(replay(&res, true), 0);
	ck_assert(!exists(d));
	ck_assert(!exists(f));
	assert_outside_intact();
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 2);
	scratch_teardown();
}
END_TEST

#define NFILES 3000

START_TEST(replay_many)
{
	char p[PATH_MAX];
	struct rcshim_result res;

	scratch_setup();
	for (int i = 0; i < NFILES; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		path_in(p, sizeof(p), S.root, name);
		write_file(p, "");
		journal('+', p);
		if (i % 3 == 0) {
			journal('-', p);
		}
	}
	ck_assert_int_eq(replay(&res, true), 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, NFILES - NFILES / 3);
	for (int i = 0; i < NFILES; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		path_in(p, sizeof(p), S.root, name);
		ck_assert_msg(exists(p) == (i % 3 == 0), "%s", p);
	}
	scratch_teardown();
}
END_TEST

/* --- sessions ---------------------------------------------------------------- */

START_TEST(proc_start_time)
{
	char buf[2048];
	unsigned long long want = 0;

	uint64_t t = rc_proc_start_time();
	ck_assert_uint_gt(t, 0);
	ck_assert_uint_eq(rc_proc_start_time(), t);

	/* Field 22 of /proc/self/stat, counted after the command name. */
	ck_assert_int_gt(read_file("/proc/self/stat", buf, sizeof(buf)), 0);
	char *p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
				       "%*d %*d %*d %*d %*d %*d %llu", &want), 1);
	ck_assert_uint_eq(t, want);

	/* A child started later. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint64_t c = rc_proc_start_time();
		_exit(c >= t && c > 0 ? 0 : 1);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

static void
assert_new_session(const char *env)
{
	char want[64];

	memset(&rc_session, 0, sizeof(rc_session));
	ck_assert_msg(rc_session_init(env, false), "\"%s\" was joined", env ? env : "NULL");
	ck_assert(rc_session.created);
	ck_assert_int_eq(rc_session.root_pid, getpid());
	ck_assert_uint_eq(rc_session.root_start, rc_proc_start_time());
	snprintf(want, sizeof(want), "%d.%llu", getpid(),
		 (unsigned long long)rc_proc_start_time());
	ck_assert_str_eq(rc_session.id, want);
	ck_assert(rc_session_owner());
}

START_TEST(session_new)
{
	int pfd[2];
	char buf[4096];

	ck_assert_int_eq(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
	rc_log_fd = pfd[1];
	rc_log_threshold = RC_LOG_WARN;

	/* Nothing to join: a new session, quietly. */
	assert_new_session(NULL);
	assert_new_session("");
	ck_assert_int_lt(read(pfd[0], buf, sizeof(buf)), 1);

	/* Not a session id: a new one, with a warning naming the value. */
	const char *bad[] = { "abc", "12", "12.", ".5", "0.5", "1.2.3", "12.3x",
			      "-1.5", "+1.5", " 1.5", "1 .5", "2147483648.1",
			      "99999999999999999999.1", "1.5\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_new_session(bad[i]);
	}
	ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "rcshim: RCSHIM_SESSION=abc "));
	ck_assert_ptr_nonnull(strstr(buf, "RCSHIM_SESSION=12.3x "));

	rc_log_fd = 2;
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

START_TEST(session_join)
{
	ck_assert_int_ne(getpid(), 123);
	memset(&rc_session, 0, sizeof(rc_session));
	ck_assert(!rc_session_init("123.456", false));
	ck_assert(!rc_session.created);
	ck_assert_int_eq(rc_session.root_pid, 123);
	ck_assert_uint_eq(rc_session.root_start, 456);
	ck_assert_str_eq(rc_session.id, "123.456");
	ck_assert(!rc_session.process_mode);
	ck_assert(!rc_session_owner());

	/* Large but valid numbers. */
	memset(&rc_session, 0, sizeof(rc_session));
	ck_assert(!rc_session_init("2147483647.18446744073709551615", false));
	ck_assert_int_eq(rc_session.root_pid, 2147483647);
	ck_assert_uint_eq(rc_session.root_start, 18446744073709551615ULL);
	ck_assert_str_eq(rc_session.id, "2147483647.18446744073709551615");

	/* Process mode: every process owns its own artifacts. */
	memset(&rc_session, 0, sizeof(rc_session));
	ck_assert(!rc_session_init("123.456", true));
	ck_assert(rc_session.process_mode);
	ck_assert(rc_session_owner());
}
END_TEST

START_TEST(session_own_id)
{
	char id[64];
	uint64_t start = rc_proc_start_time();

	/* The root exec'd itself: its own id, same start time: still root. */
	snprintf(id, sizeof(id), "%d.%llu", getpid(), (unsigned long long)start);
	memset(&rc_session, 0, sizeof(rc_session));
	ck_assert(!rc_session_init(id, false));
	ck_assert_int_eq(rc_session.root_pid, getpid());
	ck_assert(rc_session_owner());
	ck_assert_str_eq(rc_session.id, id);

	/* Same pid, another start time: a recycled pid, not the root. */
	snprintf(id, sizeof(id), "%d.%llu", getpid(), (unsigned long long)start + 1);
	memset(&rc_session, 0, sizeof(rc_session));
	ck_assert(!rc_session_init(id, false));
	ck_assert(!rc_session_owner());
	ck_assert_str_eq(rc_session.id, id);
}
END_TEST

START_TEST(session_fork_child_not_owner)
{
	memset(&rc_session, 0, sizeof(rc_session));
	ck_assert(rc_session_init(NULL, false));
	ck_assert(rc_session_owner());

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		_exit(rc_session_owner() ? 1 : 0);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);

	/* In process mode the child owns its own. */
	rc_session.process_mode = true;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		_exit(rc_session_owner() ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

TEST_SUITE(journal)
{
	ADD_TEST(s, append_line_format);
	ADD_TEST(s, append_escapes);
	ADD_TEST(s, append_without_dir);
	ADD_TEST(s, append_refuses_symlinked_journal);
	ADD_TEST(s, journal_path_modes);
	ADD_TEST(s, dir_init_refuses_unsafe);
	ADD_TEST(s, replay_removes_dirs_and_files);
	ADD_TEST(s, replay_newest_first);
	ADD_TEST(s, replay_skips_released);
	ADD_TEST(s, replay_leaves_symlink_swap);
	ADD_TEST(s, replay_leaves_replaced_dir);
	ADD_TEST(s, replay_tolerates_bad_lines);
	ADD_TEST(s, replay_missing_and_remove);
	ADD_TEST(s, replay_escaped_path);
	ADD_TEST(s, replay_many);
	ADD_TEST(s, proc_start_time);
	ADD_TEST(s, session_new);
	ADD_TEST(s, session_join);
	ADD_TEST(s, session_own_id);
	ADD_TEST(s, session_fork_child_not_owner);
}
