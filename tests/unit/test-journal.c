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
#include "core/journal.h"
#include "core/log.h"
#include "core/roots.h"
#include "core/session.h"
#include "core/state.h"
#include "fixture.h"
#include "test.h"

/* --- helpers ----------------------------------------------------------------- */

/* Journals @path (inside S.root, the only root, index 0) with its current
 * identity. */
static void
journal(char op, const char *path)
{
	struct stat st;
	ck_assert_msg(lstat(path, &st) == 0, "lstat %s", path);
	ck_assert_int_eq(rc_journal_append(op, S_ISDIR(st.st_mode), st.st_dev, st.st_ino, 0, path),
			 0);
}

/* What the replay said about refused lines. */
static struct {
	int refused, changed, removed;
	char why[8][256];
} N;

static void
note(void *ctx, enum rc_replay_what what, int err, const char *path, const char *why)
{
	(void)ctx;
	(void)err;
	(void)path;
	if (what == RC_REPLAY_REFUSED) {
		if (N.refused < 8) {
			snprintf(N.why[N.refused], sizeof(N.why[0]), "%s", why);
		}
		N.refused++;
	} else if (what == RC_REPLAY_CHANGED) {
		N.changed++;
	} else if (what == RC_REPLAY_REMOVED) {
		N.removed++;
	}
}

/* Replays the session journal, counting into a fresh @res. */
static int
replay(struct rcshim_result *res, bool remove)
{
	char name[128];
	rc_result_init(res);
	memset(&N, 0, sizeof(N));
	int dfd = rc_session_dir_open();
	ck_assert_int_ge(dfd, 0);
	int r = rc_journal_replay(dfd, rc_journal_name(name, sizeof(name)), res, remove, note,
				  NULL);
	close(dfd);
	return r;
}

/* The journal without its header and session lines (the S line names the
 * session's root by pid and start time). */
static void
journal_body(char *buf, size_t n)
{
	char all[65536], sline[128];
	ck_assert_int_gt(read_file(S.jpath, all, sizeof(all)), 0);
	ck_assert_msg(!strncmp(all, RC_JOURNAL_MAGIC, strlen(RC_JOURNAL_MAGIC)), "header: %s", all);
	const char *nl = strchr(all, '\n');
	ck_assert_ptr_nonnull(nl);
	snprintf(sline, sizeof(sline), "S %d %lu ", rc_session.root_pid,
		 (unsigned long)rc_session.root_start);
	ck_assert_msg(!strncmp(nl + 1, sline, strlen(sline)), "session line: %s", nl + 1);
	nl = strchr(nl + 1, '\n');
	ck_assert_ptr_nonnull(nl);
	snprintf(buf, n, "%s", nl + 1);
}

/* "<op> <type> <dev> <ino> <pid> <path>\n" for a forged line. */
static void
forge(char op, const char *path, const char *what)
{
	struct stat st;
	char line[PATH_MAX * 2];
	ck_assert_msg(lstat(what, &st) == 0, "lstat %s", what);
	snprintf(line, sizeof(line), "%c %c %lu %lu 1 %s\n", op, S_ISDIR(st.st_mode) ? 'd' : 'f',
		 (unsigned long)st.st_dev, (unsigned long)st.st_ino, path);
	append_raw(S.jpath, line);
}

static void
forge_root(const char *path, const char *what)
{
	struct stat st;
	char line[PATH_MAX * 2];
	ck_assert_msg(lstat(what, &st) == 0, "lstat %s", what);
	snprintf(line, sizeof(line), "R %lu %lu %s\n", (unsigned long)st.st_dev,
		 (unsigned long)st.st_ino, path);
	append_raw(S.jpath, line);
}

/* --- the journal line ------------------------------------------------------- */

START_TEST(append_line_format)
{
	char buf[16384], want[16384];
	struct stat root;

	scratch_setup();
	ck_assert(!exists(S.jpath));
	ck_assert_int_eq(lstat(S.root, &root), 0);
	char a[PATH_MAX / 4], b[PATH_MAX / 4];
	path_in(a, sizeof(a), S.root, "y");
	path_in(b, sizeof(b), S.root, "y z");
	ck_assert_int_eq(rc_journal_append('+', true, 2049, 1234, 0, a), 0);
	ck_assert_int_eq(rc_journal_append('-', false, 0, 18446744073709551615ULL, 0, b), 0);
	/* Every '+' line with its root's line (compaction keeps one). */
	ck_assert_int_eq(rc_journal_append('+', false, 7, 8, 0, b), 0);
	snprintf(want, sizeof(want),
		 "R %lu %lu %s\n"
		 "+ d 2049 1234 %d %s\n"
		 "- f 0 18446744073709551615 %d %s\n"
		 "R %lu %lu %s\n"
		 "+ f 7 8 %d %s\n",
		 (unsigned long)root.st_dev, (unsigned long)root.st_ino, S.root, getpid(), a,
		 getpid(), b, (unsigned long)root.st_dev, (unsigned long)root.st_ino, S.root,
		 getpid(), b);
	journal_body(buf, sizeof(buf));
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

/* The sweep's look at a journal: its session line, from the head where the
 * shim writes it, without reading the rest (a journal past the size any
 * full read accepts still gives it); a journal made without a header, with
 * its session line far down, is read whole; one with none says so. */
START_TEST(session_line_from_the_head)
{
	char path[PATH_MAX], boot[40];
	struct rc_jline l;

	scratch_setup();
	char a[PATH_MAX / 4];
	path_in(a, sizeof(a), S.root, "y");
	ck_assert_int_eq(rc_journal_append('+', true, 2049, 1234, 0, a), 0);
	int fd = open(S.jpath, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(rc_journal_session_line(fd, &l, boot, sizeof(boot)), 0);
	ck_assert_int_eq(l.op, 'S');
	ck_assert_int_eq(l.pid, getpid());
	ck_assert_uint_eq(l.dev, rc_proc_start_time());
	ck_assert_ptr_eq(l.path, boot);
	/* The same line a full read finds. */
	struct rc_jview v;
	ck_assert_int_eq(rc_jview_load(fd, &v), 0);
	ck_assert_int_eq(v.lines[0].op, 'S');
	ck_assert_uint_eq(v.lines[0].ino, l.ino);
	ck_assert_str_eq(v.lines[0].path, boot);
	rc_jview_free(&v);
	/* Past RC_JOURNAL_MAX (a sparse tail): a full read refuses it, the
	 * head still holds the session line. */
	ck_assert_int_eq(truncate(S.jpath, (off_t)RC_JOURNAL_MAX + 4096), 0);
	ck_assert_int_eq(rc_jview_load(fd, &v), -EFBIG);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(rc_journal_session_line(fd, &l, boot, sizeof(boot)), 0);
	ck_assert_int_eq(l.pid, getpid());
	close(fd);

	/* No header, 8 KiB of other lines, then the session line. */
	path_in(path, sizeof(path), S.dir, "old.journal");
	size_t cap = 16384, n = 0;
	char *text = malloc(cap);
	while (n < 8192) {
		n += (size_t)snprintf(text + n, cap - n, "+ f 1 %zu 0 /tmp/x%zu\n", n, n);
	}
	snprintf(text + n, cap - n, "S 4242 77 4026531836 01234567-89ab-cdef-0123-456789abcdef\n");
	write_file(path, text);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(rc_journal_session_line(fd, &l, boot, sizeof(boot)), 0);
	ck_assert_int_eq(l.pid, 4242);
	ck_assert_uint_eq(l.dev, 77);
	ck_assert_uint_eq(l.ino, 4026531836u);
	ck_assert_str_eq(boot, "01234567-89ab-cdef-0123-456789abcdef");
	close(fd);

	/* A line longer than a block read is passed over, not cut into
	 * lines: a session line inside a long path is not one. */
	char *lng = malloc(20000);
	memset(lng, 'a', 8192);
	memcpy(lng, "+ f 1 2 0 /", 11);
	/* The tail of that line, at the start of the third block read: it
	 * would parse as a session line. */
	snprintf(lng + 8192, 20, "S 1 2 3 4\n");
	write_file(path, lng);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(rc_journal_session_line(fd, &l, boot, sizeof(boot)), -ENOENT);
	close(fd);
	free(lng);

	/* None at all, short or long. */
	text[n] = '\0';
	write_file(path, text);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(rc_journal_session_line(fd, &l, boot, sizeof(boot)), -ENOENT);
	close(fd);
	write_file(path, "+ f 1 2 0 /tmp/x\n");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(rc_journal_session_line(fd, &l, boot, sizeof(boot)), -ENOENT);
	close(fd);
	free(text);
	unlink(path);
	scratch_teardown();
}
END_TEST

START_TEST(append_escapes)
{
	char buf[16384], want[16384], p[PATH_MAX];

	scratch_setup();
	path_in(p, sizeof(p), S.root, "a\nb\\c\n");
	ck_assert_int_eq(rc_journal_append('-', false, 1, 2, 0, p), 0);
	snprintf(want, sizeof(want), "- f 1 2 %d %s/a\\nb\\\\c\\n\n", getpid(), S.root);
	journal_body(buf, sizeof(buf));
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
	ck_assert_int_eq(rc_journal_append('+', true, 1, 2, 0, "/tmp/x"), -ENOENT);
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
	ck_assert_int_lt(rc_journal_append('+', true, 1, 2, 0, "/tmp/x"), 0);
	ck_assert_int_eq(read_file(victim, buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "data");
	scratch_teardown();
}
END_TEST

START_TEST(append_refuses_unsafe_dir)
{
	char victim[PATH_MAX], buf[64];

	/* A directory that is not private (another user could read the
	 * session's paths, or plant lines) is not written to. */
	scratch_setup();
	ck_assert_int_eq(chmod(rc_session.dir, 0755), 0);
	ck_assert_int_eq(rc_journal_append('+', true, 1, 2, 0, "/tmp/x"), -EPERM);
	ck_assert(!exists(S.jpath));
	ck_assert_int_eq(chmod(rc_session.dir, 0700), 0);

	/* Nor one replaced by a symlink. */
	ck_assert_int_eq(rmdir(rc_session.dir), 0);
	path_in(victim, sizeof(victim), S.out, "elsewhere");
	make_dir(victim);
	ck_assert_int_eq(symlink(victim, rc_session.dir), 0);
	ck_assert_int_lt(rc_journal_append('+', true, 1, 2, 0, "/tmp/x"), 0);
	path_in(buf, sizeof(buf), "", "");
	ck_assert_int_eq(rmdir(victim), 0); /* still empty */
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

	/* Process mode: one journal per process, by the kernel's pid. */
	rc_session.process_mode = true;
	snprintf(want, sizeof(want), "%s/rcshim/%s.p%d.journal", S.xdg, rc_session.id,
		 getpid());
	ck_assert_str_eq(rc_journal_path(buf, sizeof(buf)), want);
	scratch_teardown();
}
END_TEST

/* --- compaction --------------------------------------------------------------- */

START_TEST(compaction_keeps_it_small)
{
	char keep[PATH_MAX], p[PATH_MAX], body[65536];
	struct rcshim_result res;
	struct stat st;

	scratch_setup();
	/* One artifact held all along, many made and released. */
	path_in(keep, sizeof(keep), S.root, "held");
	make_dir(keep);
	journal('+', keep);
	path_in(p, sizeof(p), S.root, "churn-with-a-long-name-to-fill-the-journal-faster");
	write_file(p, "");
	off_t biggest = 0;
	for (int i = 0; i < 20000; i++) {
		journal('+', p);
		journal('-', p);
		ck_assert_int_eq(stat(S.jpath, &st), 0);
		if (st.st_size > biggest) {
			biggest = st.st_size;
		}
	}
	/* It never grew past twice the compaction threshold... */
	ck_assert_int_lt(biggest, 2 * RC_JOURNAL_COMPACT_MIN + 4096);
	/* ...and what is held survived every compaction. */
	rc_journal_compact_now();
	journal_body(body, sizeof(body));
	ck_assert_ptr_nonnull(strstr(body, "/held\n"));
	ck_assert_ptr_nonnull(strstr(body, "R "));
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(replay(&res, true), 0);
	ck_assert(!exists(keep));
	ck_assert_int_eq(N.removed, 1);
	ck_assert_int_eq(N.refused, 0);
	scratch_teardown();
}
END_TEST

/* Members append while others compact: no line of theirs is lost. */
START_TEST(compaction_with_concurrent_members)
{
	enum { KIDS = 3, EACH = 300 };
	struct rcshim_result res;

	scratch_setup();
	for (int k = 0; k < KIDS; k++) {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			rc_pid_cached = getpid();
			rc_journal_after_fork_child();
			char p[PATH_MAX], name[64];
			for (int i = 0; i < EACH; i++) {
				/* Each kid keeps one file in three. */
				snprintf(name, sizeof(name), "k%d-%d", k, i);
				path_in(p, sizeof(p), S.root, name);
				write_file(p, "");
				struct stat st;
				lstat(p, &st);
				for (int j = 0; j < 40; j++) {
					bool keep = j == 39 && i % 3 != 0;
					int r1 = rc_journal_append('+', false, st.st_dev, st.st_ino, 0, p);
					int r2 = r1 || keep ? 0
							    : rc_journal_append('-', false, st.st_dev,
										st.st_ino, 0, p);
					if (r1 || r2) {
						fprintf(stderr, "append: %d %d\n", r1, r2);
						_exit(2);
					}
				}
			}
			_exit(0);
		}
	}
	for (int k = 0; k < KIDS; k++) {
		int status;
		ck_assert_int_gt(wait(&status), 0);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	ck_assert_int_eq(replay(&res, true), 0);
	ck_assert_int_eq(N.refused, 0);
	for (int k = 0; k < KIDS; k++) {
		for (int i = 0; i < EACH; i++) {
			char p[PATH_MAX], name[64];
			snprintf(name, sizeof(name), "k%d-%d", k, i);
			path_in(p, sizeof(p), S.root, name);
			ck_assert_msg(exists(p) == (i % 3 == 0), "%s", p);
		}
	}
	ck_assert_int_eq(N.removed, KIDS * (EACH - (EACH + 2) / 3));
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

START_TEST(replay_skips_released)
{
	char a[PATH_MAX], b[PATH_MAX], kept[PATH_MAX], c[PATH_MAX];
	struct rcshim_result res;

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
	journal('-', b);
	ck_assert_int_eq(rename(b, kept), 0);
	/* Then a fresh file at b's old name, never journaled: not ours. */
	write_file(b, "new b");
	/* c: released, then journaled again later. */
	write_file(c, "c");
	journal('+', c);
	journal('-', c);
	journal('+', c);

	ck_assert_int_eq(replay(&res, true), 0);
	ck_assert(!exists(a));
	ck_assert(exists(kept));
	ck_assert(exists(b));
	ck_assert(!exists(c));
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

	make_tree(d);
	journal('+', d);
	write_file(f, "f");
	journal('+', f);
	/* The directory moved out of the root (by a process the shim does
	 * not see), and a symlink planted at its old name points at it: the
	 * issue's attack on ~/runs/r1.  The file's name names a link to what
	 * must not be removed. */
	ck_assert_int_eq(rename(d, moved), 0);
	ck_assert_int_eq(symlink(moved, d), 0);
	ck_assert_int_eq(symlink(keep, moved2), 0);
	ck_assert_int_eq(rename(moved2, f), 0);

	ck_assert_int_eq(replay(&res, true), 0);
	assert_outside_intact();
	char sub[PATH_MAX];
	path_in(sub, sizeof(sub), moved, "sub/f2");
	ck_assert(exists(sub));
	ck_assert(exists(d));
	ck_assert(exists(f));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].skipped, 2);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].failed, 0);
	ck_assert_int_eq(N.changed, 2);
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

/* Forged lines (DESIGN §2: a line is a claim, not an order): nothing
 * removed for them, each one refused and said. */
START_TEST(replay_refuses_forged_lines)
{
	char vic[PATH_MAX], deep[PATH_MAX], dir[PATH_MAX], p[PATH_MAX * 2], good[PATH_MAX];
	char ww[PATH_MAX], wwf[PATH_MAX];
	struct rcshim_result res;

	scratch_setup();
	path_in(vic, sizeof(vic), S.out, "vic");
	make_tree(vic);
	path_in(dir, sizeof(dir), S.root, "d");
	make_dir(dir);
	path_in(deep, sizeof(deep), dir, "deep");
	make_dir(deep);
	path_in(good, sizeof(good), S.root, "good");
	make_dir(good);
	journal('+', good); /* writes the genuine R line */

	/* ".." to get out of the root. */
	snprintf(p, sizeof(p), "%s/../outside/vic", S.root);
	forge('+', p, vic);
	/* A path outside every root, with the right identity. */
	forge('+', vic, vic);
	/* Deeper than directly inside the root. */
	forge('+', deep, deep);
	/* "." and ".." as the name. */
	snprintf(p, sizeof(p), "%s/..", S.root);
	forge('+', p, S.dir);
	snprintf(p, sizeof(p), "%s/.", S.root);
	forge('+', p, S.root);
	/* A root line for a directory that is no temp root: the home, an
	 * ancestor of it, "/", a directory others can write to that is not
	 * sticky; and records under them. */
	path_in(ww, sizeof(ww), S.dir, "world-writable");
	make_dir(ww);
	ck_assert_int_eq(chmod(ww, 0777), 0);
	forge_root(ww, ww);
	path_in(wwf, sizeof(wwf), ww, "f");
	write_file(wwf, "keep");
	forge('+', wwf, wwf);
	forge_root("/", "/");
	forge('+', "/vmlinuz-rcshim-test-none", "/");
	/* The right name with the wrong identity. */
	forge('+', dir, S.out);
	/* A path with a symlink in the root's place. */
	char lroot[PATH_MAX];
	path_in(lroot, sizeof(lroot), S.dir, "lroot");
	ck_assert_int_eq(symlink(S.out, lroot), 0);
	forge_root(lroot, S.out);

	ck_assert_int_eq(replay(&res, true), 0);
	/* Everything there still is. */
	assert_outside_intact();
	ck_assert(exists(vic));
	char sub[PATH_MAX];
	path_in(sub, sizeof(sub), vic, "sub/f2");
	ck_assert(exists(sub));
	ck_assert(exists(deep));
	ck_assert(exists(dir));
	ck_assert(exists(wwf));
	ck_assert(exists(S.root));
	/* Only the genuine one went. */
	ck_assert(!exists(good));
	ck_assert_int_eq(N.removed, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	/* Refused: "..", outside, deep, "..", ".", the world-writable root,
	 * its file, "/", its file, the symlinked root.  The wrong identity
	 * is "left alone" (changed), not refused. */
	ck_assert_int_eq(N.refused, 10);
	ck_assert_int_eq(N.changed, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].skipped, 11);
	scratch_teardown();
}
END_TEST

START_TEST(replay_refuses_home_as_root)
{
	char home[PATH_MAX], f[PATH_MAX], line[PATH_MAX * 2];
	struct rcshim_result res;
	struct stat st;

	scratch_setup();
	/* The home directory, and its ancestor, are never temp roots. */
	path_in(home, sizeof(home), S.dir, "home");
	make_dir(home);
	path_in(f, sizeof(f), home, "work");
	make_dir(f);
	const char *roots[] = { S.root };
	rc_tmp_roots_set(roots, 1, home, false);
	forge_root(home, home);
	forge('+', f, f);
	forge_root(S.dir, S.dir);
	ck_assert_int_eq(lstat(home, &st), 0);
	snprintf(line, sizeof(line), "+ d %lu %lu 1 %s\n", (unsigned long)st.st_dev,
		 (unsigned long)st.st_ino, home);
	append_raw(S.jpath, line);

	ck_assert_int_eq(replay(&res, true), 0);
	ck_assert(exists(f));
	ck_assert(exists(home));
	ck_assert_int_eq(N.removed, 0);
	ck_assert_int_eq(N.refused, 4);
	ck_assert_ptr_nonnull(strstr(N.why[0], "home"));
	scratch_teardown();
}
END_TEST

START_TEST(replay_tolerates_bad_lines)
{
	char a[PATH_MAX], b[PATH_MAX], line[PATH_MAX + 128];
	struct rcshim_result res;
	struct stat st;

	scratch_setup();
	path_in(a, sizeof(a), S.root, "a");
	path_in(b, sizeof(b), S.root, "b");
	make_dir(a);
	make_dir(b);
	journal('+', a);

	append_raw(S.jpath, "garbage\n");
	append_raw(S.jpath, "\n");
	append_raw(S.jpath, "+ x 1 2 3 /tmp\n");
	append_raw(S.jpath, "+ d one 2 3 /tmp\n");
	append_raw(S.jpath, "* d 1 2 3 /tmp\n");
	append_raw(S.jpath, "+ d 1 2 3 relative\n");
	/* The writer died in the middle of b's line. */
	ck_assert_int_eq(lstat(b, &st), 0);
	snprintf(line, sizeof(line), "+ d %lu %lu", (unsigned long)st.st_dev,
		 (unsigned long)st.st_ino);
	append_raw(S.jpath, line);

	ck_assert_int_eq(replay(&res, true), 0);
	ck_assert(!exists(a));
	ck_assert(exists(b));
	ck_assert(exists("/tmp"));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].failed, 0);
	/* The bad lines, said once with their count. */
	ck_assert_int_eq(N.refused, 1);
	ck_assert_ptr_nonnull(strstr(N.why[0], "7 lines"));
	ck_assert(!exists(S.jpath));
	scratch_teardown();
}
END_TEST

START_TEST(replay_missing_and_remove)
{
	char d[PATH_MAX], real[PATH_MAX], name[128];
	struct rcshim_result res;

	scratch_setup();
	ck_assert_int_eq(replay(&res, true), -ENOENT);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 0);

	/* A real one goes. */
	path_in(d, sizeof(d), S.root, "d");
	make_dir(d);
	journal('+', d);
	ck_assert_int_eq(replay(&res, true), 0);
	ck_assert(!exists(d));
	ck_assert(!exists(S.jpath));

	/* A journal that is a symlink is not followed. */
	make_dir(d);
	journal('+', d);
	rc_journal_after_fork_child();
	path_in(real, sizeof(real), S.out, "real.journal");
	ck_assert_int_eq(rename(S.jpath, real), 0);
	ck_assert_int_eq(symlink(real, S.jpath), 0);
	int dfd = rc_session_dir_open();
	ck_assert_int_lt(rc_journal_replay(dfd, rc_journal_name(name, sizeof(name)), &res, true,
					   NULL, NULL),
			 0);
	close(dfd);
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
	journal_body(buf, sizeof(buf));
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
}
END_TEST

static void
assert_new_session(const char *env)
{
	char want[PATH_MAX + 256];

	memset(&rc_session, 0, sizeof(rc_session));
	ck_assert_msg(rc_session_init(env, false, S.xdg), "\"%s\" was joined",
		      env ? env : "NULL");
	ck_assert(rc_session.created);
	ck_assert_int_eq(rc_session.root_pid, getpid());
	ck_assert_uint_eq(rc_session.root_start, rc_proc_start_time());
	ck_assert_uint_eq(strlen(rc_session.id), 32);
	ck_assert_uint_eq(strspn(rc_session.id, "0123456789abcdef"), 32);
	snprintf(want, sizeof(want), "RCSHIM_SESSION=%s.%d.%llu:%s/rcshim", rc_session.id, getpid(),
		 (unsigned long long)rc_proc_start_time(), S.xdg);
	ck_assert_str_eq(rc_session.var, want);
	ck_assert(rc_session_id_valid(rc_session.var + strlen("RCSHIM_SESSION=")));
	ck_assert(rc_session_owner());
}

START_TEST(session_new)
{
	int pfd[2];
	char buf[4096];

	scratch_setup();
	ck_assert_int_eq(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
	rc_log_fd = pfd[1];
	rc_log_threshold = RC_LOG_WARN;

	/* Nothing to join: a new session, quietly. */
	assert_new_session(NULL);
	char first[64];
	snprintf(first, sizeof(first), "%s", rc_session.id);
	assert_new_session("");
	/* Random: two sessions of one process in one tick differ (the issue's
	 * containers sharing /tmp started in the same 10 ms). */
	ck_assert_str_ne(rc_session.id, first);
	ck_assert_int_lt(read(pfd[0], buf, sizeof(buf)), 1);

	/* Not a session value: a new one, with a warning naming it. */
	const char *bad[] = { "abc", "12.3x", "123.456",
			      "0123456789abcdef0123456789abcdef.1.1",
			      "0123456789abcdef0123456789abcdeF.1.1:",
			      "0123456789abcdef0123456789abcde.1.1:",
			      "0123456789abcdef0123456789abcdef.0.1:",
			      "0123456789abcdef0123456789abcdef.2147483648.1:",
			      "0123456789abcdef0123456789abcdef.1.1:relative",
			      "0123456789abcdef0123456789abcdef.1.x:/d" };
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
	scratch_teardown();
}
END_TEST

START_TEST(session_join)
{
	const char *v = "0123456789abcdef0123456789abcdef.123.456:/run/x/rcshim";
	ck_assert_int_ne(getpid(), 123);
	memset(&rc_session, 0, sizeof(rc_session));
	ck_assert(!rc_session_init(v, false, "/nonexistent"));
	ck_assert(!rc_session.created);
	ck_assert_int_eq(rc_session.root_pid, 123);
	ck_assert_uint_eq(rc_session.root_start, 456);
	ck_assert_str_eq(rc_session.id, "0123456789abcdef0123456789abcdef");
	/* The directory the root chose, not one of our own choosing. */
	ck_assert_str_eq(rc_session.dir, "/run/x/rcshim");
	ck_assert(!rc_session.process_mode);
	ck_assert(!rc_session_owner());

	/* No directory: no journal. */
	memset(&rc_session, 0, sizeof(rc_session));
	ck_assert(!rc_session_init("0123456789abcdef0123456789abcdef.123.456:", false, NULL));
	ck_assert_str_eq(rc_session.dir, "");

	/* Process mode: every process owns its own artifacts. */
	memset(&rc_session, 0, sizeof(rc_session));
	ck_assert(!rc_session_init(v, true, NULL));
	ck_assert(rc_session.process_mode);
	ck_assert(rc_session_owner());
}
END_TEST

START_TEST(session_own_id)
{
	char id[256];
	uint64_t start = rc_proc_start_time();

	/* The root exec'd itself: its own pid and start time: still root. */
	snprintf(id, sizeof(id), "0123456789abcdef0123456789abcdef.%d.%llu:", getpid(),
		 (unsigned long long)start);
	memset(&rc_session, 0, sizeof(rc_session));
	ck_assert(!rc_session_init(id, false, NULL));
	ck_assert_int_eq(rc_session.root_pid, getpid());
	ck_assert(rc_session_owner());

	/* Same pid, another start time: a recycled pid, not the root. */
	snprintf(id, sizeof(id), "0123456789abcdef0123456789abcdef.%d.%llu:", getpid(),
		 (unsigned long long)start + 1);
	memset(&rc_session, 0, sizeof(rc_session));
	ck_assert(!rc_session_init(id, false, NULL));
	ck_assert(!rc_session_owner());
}
END_TEST

/* The process that made the session knows itself by its pid alone (no
 * read of /proc at its exit): a start time it recorded wrong does not
 * matter to it.  The same value seen by a process that did not make the
 * session (the root that exec'd itself) is compared (session_own_id). */
START_TEST(session_made_here_needs_no_start_time)
{
	scratch_setup();
	ck_assert(rc_session.created);
	ck_assert_int_eq(rc_session.root_pid, getpid());
	rc_session.root_start += 1;
	ck_assert(rc_session_root_is_self());
	ck_assert(rc_session_owner());
	rc_session.created = false;
	ck_assert(!rc_session_root_is_self());
	ck_assert(!rc_session_owner());
	rc_session.root_start -= 1;
	ck_assert(rc_session_owner());
	scratch_teardown();
}
END_TEST

START_TEST(session_fork_child_not_owner)
{
	scratch_setup();
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

	/* In process mode the child owns its own, in a journal of its own
	 * named by its real pid. */
	rc_session.process_mode = true;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char buf[512], want[1024];
		snprintf(want, sizeof(want), "%s/%s.p%d.journal", rc_session.dir, rc_session.id,
			 getpid());
		_exit(rc_session_owner() && !strcmp(rc_journal_path(buf, sizeof(buf)), want) ? 0
											     : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	scratch_teardown();
}
END_TEST

START_TEST(session_dir_unsafe_gets_fresh_one)
{
	char d[PATH_MAX], target[PATH_MAX];

	scratch_setup();
	path_in(d, sizeof(d), S.xdg, "rcshim");
	ck_assert_str_eq(rc_session.dir, d);
	ck_assert_int_eq(rmdir(d), 0);

	/* An unsafe XDG directory's rcshim/ is passed over; the next place
	 * is /tmp/rcshim-UID (or a fresh one, if that is taken): never the
	 * refused one, and always private. */
	const char *modes[] = { "0777", "0750", "link", "file" };
	for (size_t i = 0; i < 4; i++) {
		if (i < 2) {
			make_dir(d);
			ck_assert_int_eq(chmod(d, (mode_t)strtol(modes[i], NULL, 8)), 0);
		} else if (i == 2) {
			path_in(target, sizeof(target), S.dir, "elsewhere");
			make_dir(target);
			ck_assert_int_eq(symlink(target, d), 0);
		} else {
			write_file(d, "");
		}
		memset(&rc_session, 0, sizeof(rc_session));
		ck_assert(rc_session_init(NULL, false, S.xdg));
		ck_assert_str_ne(rc_session.dir, d);
		if (rc_session.dir[0]) {
			int fd = rc_session_dir_open();
			ck_assert_int_ge(fd, 0);
			close(fd);
			ck_assert_str_eq(strstr(rc_session.dir, "/tmp/rcshim-") ? "/tmp" : "",
					 "/tmp");
		}
		if (rc_session.squatted) {
			rmdir(rc_session.dir);
		}
		if (i == 2) {
			ck_assert_int_eq(unlink(d), 0);
			ck_assert_int_eq(rmdir(target), 0);
		} else if (i == 3) {
			ck_assert_int_eq(unlink(d), 0);
		} else {
			ck_assert_int_eq(rmdir(d), 0);
		}
	}
	scratch_teardown();
}
END_TEST

TEST_SUITE(journal)
{
	ADD_TEST(s, append_line_format);
	ADD_TEST(s, session_line_from_the_head);
	ADD_TEST(s, append_escapes);
	ADD_TEST(s, append_without_dir);
	ADD_TEST(s, append_refuses_symlinked_journal);
	ADD_TEST(s, append_refuses_unsafe_dir);
	ADD_TEST(s, journal_path_modes);
	ADD_TEST(s, compaction_keeps_it_small);
	ADD_TEST(s, compaction_with_concurrent_members);
	ADD_TEST(s, replay_removes_dirs_and_files);
	ADD_TEST(s, replay_skips_released);
	ADD_TEST(s, replay_leaves_symlink_swap);
	ADD_TEST(s, replay_leaves_replaced_dir);
	ADD_TEST(s, replay_refuses_forged_lines);
	ADD_TEST(s, replay_refuses_home_as_root);
	ADD_TEST(s, replay_tolerates_bad_lines);
	ADD_TEST(s, replay_missing_and_remove);
	ADD_TEST(s, replay_escaped_path);
	ADD_TEST(s, replay_many);
	ADD_TEST(s, proc_start_time);
	ADD_TEST(s, session_new);
	ADD_TEST(s, session_join);
	ADD_TEST(s, session_own_id);
	ADD_TEST(s, session_made_here_needs_no_start_time);
	ADD_TEST(s, session_fork_child_not_owner);
	ADD_TEST(s, session_dir_unsafe_gets_fresh_one);
}
