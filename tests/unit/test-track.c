#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "clean/engine.h"
#include "core/arena.h"
#include "core/fdtable.h"
#include "core/log.h"
#include "core/registry.h"
#include "core/session.h"
#include "core/state.h"
#include "core/track.h"
#include "fixture.h"
#include "test.h"

/* --- helpers ----------------------------------------------------------------- */

static char journal_buf[65536];

static const char *
journal_text(void)
{
	read_file(S.jpath, journal_buf, sizeof(journal_buf));
	return journal_buf;
}

/* The record lines ('+' and '-'; not the header, not the roots'). */
static int
journal_lines(void)
{
	int n = 0;
	const char *p = journal_text();
	for (const char *l = p; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		n += (*l == '+' || *l == '-') && l[1] == ' ';
	}
	return n;
}

/* The line the journal should hold for @path with identity @st. */
static void
expect_line(char *buf, size_t n, char op, const struct stat *st, const char *path)
{
	snprintf(buf, n, "%c %c %lu %lu %d %s\n", op, S_ISDIR(st->st_mode) ? 'd' : 'f',
		 (unsigned long)(uint32_t)st->st_dev, (unsigned long)st->st_ino, getpid(), path);
}

static void
assert_journal_has(char op, const struct stat *st, const char *path)
{
	char line[PATH_MAX + 128];
	expect_line(line, sizeof(line), op, st, path);
	ck_assert_msg(strstr(journal_text(), line) != NULL, "no \"%s\" in journal:\n%s",
		      line, journal_buf);
}

static bool
tracked(const char *abs)
{
	return rc_reg_has(RCSHIM_KIND_TEMP, rc_path_hash(abs));
}

/* The TEMP record of @abs, copied (its path freed). */
static bool
temp_record(const char *abs, struct rc_record *out)
{
	if (!rc_reg_take_path(abs, out)) {
		return false;
	}
	rc_reg_put_back(out);
	rc_free(out->path);
	out->path = NULL;
	return true;
}

static uint32_t
fd_flags(int fd)
{
	struct rc_fd_entry e;
	return rc_fd_get(fd, &e) ? atomic_load(&e.flags) : 0;
}

/* The program creates @path with O_CREAT|O_EXCL, and the shim sees the
 * call: the fd, left open. */
static int
open_excl(const char *path)
{
	int fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	rc_track_open(AT_FDCWD, path, O_CREAT | O_EXCL | O_RDWR, fd);
	return fd;
}

/* --- mkdir ------------------------------------------------------------------ */

START_TEST(mkdir_under_root)
{
	char d[PATH_MAX];
	struct stat st;
	struct rc_record rec;

	state_setup(NULL);
	path_in(d, sizeof(d), S.root, "d");
	make_dir(d);
	ck_assert_int_eq(lstat(d, &st), 0);
	rc_track_mkdir(AT_FDCWD, d);

	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 1);
	ck_assert(temp_record(d, &rec));
	ck_assert_uint_eq(rec.flags, RC_REC_DIR | RC_REC_JOURNALED);
	ck_assert_uint_eq(rec.ino, st.st_ino);
	ck_assert_uint_eq(rec.dev, (uint32_t)st.st_dev);
	ck_assert_int_eq(rec.pid, getpid());
	ck_assert_uint_eq(rec.scope, 0);
	ck_assert_int_eq(journal_lines(), 1);
	assert_journal_has('+', &st, d);

	/* Inside it, relative to a directory fd or to the cwd: never a temp
	 * artifact of its own (DESIGN §2: only what is directly inside a
	 * root); the tree goes with d. */
	char sub[PATH_MAX], sub2[PATH_MAX];
	path_in(sub, sizeof(sub), d, "sub");
	path_in(sub2, sizeof(sub2), d, "sub2");
	int dfd = open(d, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(mkdirat(dfd, "sub", 0700), 0);
	rc_track_mkdir(dfd, "sub");
	close(dfd);
	ck_assert(!tracked(sub));
	ck_assert_int_eq(chdir(d), 0);
	make_dir("sub2");
	rc_track_mkdir(AT_FDCWD, "../d/./sub2");
	ck_assert(!tracked(sub2));
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 1);
	ck_assert_int_eq(journal_lines(), 1);
	/* Relative to the cwd directly inside the root: tracked. */
	char d2[PATH_MAX];
	path_in(d2, sizeof(d2), S.root, "d2");
	ck_assert_int_eq(chdir(S.root), 0);
	make_dir("d2");
	rc_track_mkdir(AT_FDCWD, "./d2");
	ck_assert(tracked(d2));
	ck_assert_int_eq(lstat(d2, &st), 0);
	assert_journal_has('+', &st, d2);

	/* Then the program exits: everything goes. */
	struct rc_clean_req req = { .mode = RC_MODE_FINAL, .prio = RCSHIM_LOW };
	struct rcshim_result res;
	ck_assert_int_eq(chdir("/"), 0);
	ck_assert_int_eq(rc_clean(&req, &res), RCSHIM_OK);
	ck_assert(!exists(d));
	ck_assert(exists(S.root));
	state_teardown();
}
END_TEST

START_TEST(mkdir_outside_root)
{
	char o[PATH_MAX], trap[PATH_MAX + 8];

	state_setup(NULL);
	path_in(o, sizeof(o), S.out, "o");
	make_dir(o);
	rc_track_mkdir(AT_FDCWD, o);
	/* A sibling whose name starts like the root. */
	snprintf(trap, sizeof(trap), "%sfoo", S.root);
	make_dir(trap);
	rc_track_mkdir(AT_FDCWD, trap);
	/* The root itself. */
	rc_track_mkdir(AT_FDCWD, S.root);
	/* Nothing there (the call failed, or it is gone already). */
	char gone[PATH_MAX];
	path_in(gone, sizeof(gone), S.root, "never-made");
	rc_track_mkdir(AT_FDCWD, gone);
	rc_track_mkdir(AT_FDCWD, NULL);

	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 0);
	ck_assert(!exists(S.jpath));

	struct rc_clean_req req = { .mode = RC_MODE_FINAL, .prio = RCSHIM_CRITICAL };
	ck_assert_int_eq(rc_clean(&req, NULL), RCSHIM_OK);
	ck_assert(exists(o));
	ck_assert(exists(trap));
	ck_assert(exists(S.root));
	state_teardown();
}
END_TEST

/* --- open --------------------------------------------------------------------- */

START_TEST(open_excl_under_root)
{
	char f[PATH_MAX];
	struct stat st;
	struct rc_record rec;
	struct rc_fd_entry e;

	state_setup(NULL);
	path_in(f, sizeof(f), S.root, "f");
	int flags = O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC;
	int fd = open(f, flags, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "12345", 5), 5);
	rc_track_open(AT_FDCWD, f, flags, fd);

	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert(temp_record(f, &rec));
	ck_assert_uint_eq(rec.flags, RC_REC_JOURNALED);
	ck_assert_uint_eq(rec.ino, st.st_ino);
	ck_assert_uint_eq(rec.size, 5);
	assert_journal_has('+', &st, f);

	ck_assert(rc_fd_get(fd, &e));
	ck_assert_uint_eq(atomic_load(&e.flags), RC_FD_LIVE | RC_FD_TEMP | RC_FD_IDENT);
	ck_assert_uint_eq(e.dev, (uint64_t)st.st_dev);
	ck_assert_uint_eq(e.ino, (uint64_t)st.st_ino);
	ck_assert_int_eq(e.pid, getpid());

	/* mkstemp is the same thing. */
	char t[PATH_MAX];
	path_in(t, sizeof(t), S.root, "tmp.XXXXXX");
	int tfd = mkstemp(t);
	ck_assert_int_ge(tfd, 0);
	rc_track_mkstemp(t, tfd);
	ck_assert(tracked(t));
	ck_assert_uint_eq(fd_flags(tfd), RC_FD_LIVE | RC_FD_TEMP | RC_FD_IDENT);

	close(fd);
	close(tfd);
	struct rc_clean_req req = { .mode = RC_MODE_FINAL, .prio = RCSHIM_LOW };
	struct rcshim_result res;
	ck_assert_int_eq(rc_clean(&req, &res), RCSHIM_OK);
	ck_assert(!exists(f));
	ck_assert(!exists(t));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 2);
	state_teardown();
}
END_TEST

START_TEST(open_plain)
{
	char f[PATH_MAX], g[PATH_MAX];

	state_setup(NULL);
	path_in(f, sizeof(f), S.root, "f");
	path_in(g, sizeof(g), S.out, "g");

	/* O_CREAT without O_EXCL may open an existing file: not a temp. */
	int fd = open(f, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	rc_track_open(AT_FDCWD, f, O_CREAT | O_WRONLY, fd);
	ck_assert(!tracked(f));
	ck_assert_uint_eq(fd_flags(fd), RC_FD_LIVE);

	/* A read-only open: an fd, no identity (it costs a syscall). */
	int rfd = open(f, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(rfd, 0);
	rc_track_open(AT_FDCWD, f, O_RDONLY, rfd);
	ck_assert_uint_eq(fd_flags(rfd), RC_FD_LIVE | RC_FD_RDONLY);

	/* O_CREAT|O_EXCL outside the root: an fd, no temp. */
	int gfd = open(g, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	ck_assert_int_ge(gfd, 0);
	rc_track_open(AT_FDCWD, g, O_CREAT | O_EXCL | O_RDWR, gfd);
	ck_assert(!tracked(g));
	ck_assert_uint_eq(fd_flags(gfd), RC_FD_LIVE);

	/* An anonymous O_TMPFILE has no name to remove: its path is the
	 * directory's. */
	char tdir[PATH_MAX];
	path_in(tdir, sizeof(tdir), S.root, "tdir");
	make_dir(tdir);
	int tfd = open(tdir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (tfd >= 0) {
		rc_track_open(AT_FDCWD, tdir, O_TMPFILE | O_RDWR | O_EXCL | O_CREAT, tfd);
		ck_assert(!tracked(tdir));
		ck_assert_uint_eq(fd_flags(tfd), RC_FD_LIVE);
		close(tfd);
	}

	/* A failed open records nothing. */
	rc_track_open(AT_FDCWD, f, O_RDONLY, -1);

	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 0);
	ck_assert(!exists(S.jpath));

	/* Inside a scope every fd gets its identity (the scope may close it). */
	rc_scope_cur = 9;
	int sfd = open(f, O_RDONLY | O_CLOEXEC);
	rc_track_open(AT_FDCWD, f, O_RDONLY, sfd);
	struct rc_fd_entry e;
	struct stat st;
	ck_assert(rc_fd_get(sfd, &e));
	ck_assert_int_eq(fstat(sfd, &st), 0);
	ck_assert_uint_eq(atomic_load(&e.flags), RC_FD_LIVE | RC_FD_RDONLY | RC_FD_IDENT);
	ck_assert_uint_eq(e.ino, (uint64_t)st.st_ino);
	ck_assert_uint_eq(e.scope, 9);
	rc_scope_cur = 0;

	close(fd);
	close(rfd);
	close(gfd);
	close(sfd);
	state_teardown();
}
END_TEST

START_TEST(fopen_stdio)
{
	char f[PATH_MAX], g[PATH_MAX];
	struct rc_fd_entry e;

	state_setup(NULL);
	path_in(f, sizeof(f), S.root, "f");
	path_in(g, sizeof(g), S.root, "g");

	FILE *fp = fopen(f, "wx");
	ck_assert_ptr_nonnull(fp);
	rc_track_fopen(fp, f, "wx");
	ck_assert(tracked(f));
	ck_assert(rc_fd_get(fileno(fp), &e));
	ck_assert_uint_eq(atomic_load(&e.flags),
			  RC_FD_LIVE | RC_FD_STDIO | RC_FD_TEMP | RC_FD_IDENT);
	ck_assert_uint_eq(e.aux, (uint64_t)(uintptr_t)fp);

	FILE *rp = fopen(f, "r");
	ck_assert_ptr_nonnull(rp);
	rc_track_fopen(rp, f, "r");
	ck_assert_uint_eq(fd_flags(fileno(rp)), RC_FD_LIVE | RC_FD_STDIO | RC_FD_RDONLY);

	FILE *wp = fopen(g, "w");
	ck_assert_ptr_nonnull(wp);
	rc_track_fopen(wp, g, "w");
	ck_assert(!tracked(g));
	ck_assert_uint_eq(fd_flags(fileno(wp)), RC_FD_LIVE | RC_FD_STDIO);
	rc_track_fopen(NULL, g, "r");

	rc_track_close(fileno(fp));
	fclose(fp);
	rc_track_close(fileno(rp));
	fclose(rp);
	rc_track_close(fileno(wp));
	fclose(wp);
	state_teardown();
}
END_TEST

/* --- unlink and rename ------------------------------------------------------- */

START_TEST(unlink_untracks)
{
	char f[PATH_MAX], d[PATH_MAX];
	struct stat stf, std;

	state_setup(NULL);
	path_in(f, sizeof(f), S.root, "f");
	path_in(d, sizeof(d), S.root, "d");
	int fd = open_excl(f);
	close(fd);
	make_dir(d);
	rc_track_mkdir(AT_FDCWD, d);
	ck_assert_int_eq(lstat(f, &stf), 0);
	ck_assert_int_eq(lstat(d, &std), 0);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 2);

	/* Untracked paths, and a failed call's NULL, change nothing. */
	char other[PATH_MAX];
	path_in(other, sizeof(other), S.root, "other");
	rc_track_unlink(AT_FDCWD, other);
	rc_track_unlink(AT_FDCWD, NULL);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 2);
	ck_assert_int_eq(journal_lines(), 2);

	ck_assert_int_eq(unlink(f), 0);
	rc_track_unlink(AT_FDCWD, f);
	ck_assert(!tracked(f));
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 1);
	assert_journal_has('-', &stf, f);

	/* rmdir through a relative path. */
	ck_assert_int_eq(chdir(S.root), 0);
	ck_assert_int_eq(rmdir("d"), 0);
	rc_track_unlink(AT_FDCWD, "d");
	ck_assert(!tracked(d));
	assert_journal_has('-', &std, d);
	ck_assert_int_eq(journal_lines(), 4);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 0);
	state_teardown();
}
END_TEST

/* A rename releases (DESIGN §2): the renamed artifact is the program's
 * output from then on, wherever it went. */
START_TEST(rename_within_root)
{
	char a[PATH_MAX], b[PATH_MAX], sub[PATH_MAX], c[PATH_MAX];
	struct stat st;

	state_setup(NULL);
	path_in(a, sizeof(a), S.root, "a");
	path_in(b, sizeof(b), S.root, "b");
	path_in(sub, sizeof(sub), S.root, "sub");
	path_in(c, sizeof(c), sub, "c");
	make_dir(sub);
	int fd = open_excl(a);
	ck_assert_int_eq(write(fd, "kept", 4), 4);
	close(fd);
	rc_track_close(fd);
	ck_assert(tracked(a));
	ck_assert_int_eq(lstat(a, &st), 0);

	ck_assert_int_eq(rename(a, b), 0);
	rc_track_rename(AT_FDCWD, a, AT_FDCWD, b);
	ck_assert(!tracked(a));
	ck_assert(!tracked(b));
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 0);
	/* In the journal: created, then released. */
	char plus_a[PATH_MAX + 128], minus_a[PATH_MAX + 128];
	expect_line(plus_a, sizeof(plus_a), '+', &st, a);
	expect_line(minus_a, sizeof(minus_a), '-', &st, a);
	assert_journal_has('+', &st, a);
	assert_journal_has('-', &st, a);
	ck_assert(strstr(journal_text(), plus_a) < strstr(journal_text(), minus_a));
	ck_assert_int_eq(journal_lines(), 2);

	/* Moved into a directory of the root: still the program's. */
	ck_assert_int_eq(rename(b, c), 0);
	rc_track_rename(AT_FDCWD, b, AT_FDCWD, c);

	/* Nothing is removed at the end; the file keeps its content. */
	struct rc_clean_req req = { .mode = RC_MODE_FINAL, .prio = RCSHIM_CRITICAL };
	struct rcshim_result res;
	ck_assert_int_eq(rc_clean(&req, &res), RCSHIM_OK);
	char buf[16];
	ck_assert_int_eq(read_file(c, buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "kept");
	ck_assert(exists(sub));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 0);
	state_teardown();
}
END_TEST

/* sed -i, git's refs, editors: a temp file renamed over a file the user
 * keeps.  The kept file is never removed. */
START_TEST(rename_atomic_write_idiom)
{
	char target[PATH_MAX], tmp[PATH_MAX];

	state_setup(NULL);
	path_in(target, sizeof(target), S.root, "y.conf");
	write_file(target, "y=1\n");
	path_in(tmp, sizeof(tmp), S.root, "sedXXXXXX");
	int fd = mkstemp(tmp);
	ck_assert_int_ge(fd, 0);
	rc_track_mkstemp(tmp, fd);
	ck_assert(tracked(tmp));
	ck_assert_int_eq(write(fd, "y=2\n", 4), 4);
	close(fd);
	rc_track_close(fd);
	ck_assert_int_eq(rename(tmp, target), 0);
	rc_track_rename(AT_FDCWD, tmp, AT_FDCWD, target);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 0);

	struct rc_clean_req req = { .mode = RC_MODE_FINAL, .prio = RCSHIM_CRITICAL };
	struct rcshim_result res;
	ck_assert_int_eq(rc_clean(&req, &res), RCSHIM_OK);
	char buf[16];
	ck_assert_int_eq(read_file(target, buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "y=2\n");
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 0);
	state_teardown();
}
END_TEST

START_TEST(rename_out_of_root)
{
	char d[PATH_MAX], kept[PATH_MAX], f[PATH_MAX], keptf[PATH_MAX], p[PATH_MAX];
	struct stat st;

	state_setup(NULL);
	path_in(d, sizeof(d), S.root, "d");
	path_in(kept, sizeof(kept), S.out, "kept");
	path_in(f, sizeof(f), S.root, "f");
	path_in(keptf, sizeof(keptf), S.out, "keptf");
	make_dir(d);
	rc_track_mkdir(AT_FDCWD, d);
	path_in(p, sizeof(p), d, "result");
	int fd = open(p, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	ck_assert_int_eq(write(fd, "42", 2), 2);
	close(fd);
	fd = open_excl(f);
	close(fd);
	rc_track_close(fd);
	ck_assert_int_eq(lstat(d, &st), 0);

	/* The program keeps its results: renamed out of the temp root. */
	ck_assert_int_eq(rename(d, kept), 0);
	rc_track_rename(AT_FDCWD, d, AT_FDCWD, kept);
	ck_assert_int_eq(rename(f, keptf), 0);
	rc_track_rename(AT_FDCWD, f, AT_FDCWD, keptf);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 0);
	ck_assert(!tracked(kept));
	assert_journal_has('-', &st, d);

	/* Neither the process's end nor a crash removes them. */
	struct rc_clean_req req = { .mode = RC_MODE_FINAL, .prio = RCSHIM_CRITICAL };
	struct rcshim_result res;
	ck_assert_int_eq(rc_clean(&req, &res), RCSHIM_OK);
	ck_assert(exists(kept));
	ck_assert(exists(keptf));
	path_in(p, sizeof(p), kept, "result");
	ck_assert(exists(p));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 0);
	state_teardown();
}
END_TEST

START_TEST(rename_onto_tracked)
{
	char a[PATH_MAX], b[PATH_MAX];
	struct stat sta, stb;

	state_setup(NULL);
	path_in(a, sizeof(a), S.root, "a");
	path_in(b, sizeof(b), S.root, "b");
	int fd = open_excl(a);
	close(fd);
	int fd2 = open_excl(b);
	close(fd2);
	ck_assert_int_eq(lstat(a, &sta), 0);
	ck_assert_int_eq(lstat(b, &stb), 0);

	/* b is replaced by a: both released, the file at b is kept. */
	ck_assert_int_eq(rename(a, b), 0);
	rc_track_rename(AT_FDCWD, a, AT_FDCWD, b);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 0);
	assert_journal_has('-', &stb, b);
	assert_journal_has('-', &sta, a);

	struct rc_clean_req req = { .mode = RC_MODE_FINAL, .prio = RCSHIM_LOW };
	struct rcshim_result res;
	ck_assert_int_eq(rc_clean(&req, &res), RCSHIM_OK);
	ck_assert(exists(b));
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].cleaned, 0);
	ck_assert_uint_eq(res.kind[RCSHIM_KIND_TEMP].skipped, 0);
	state_teardown();
}
END_TEST

START_TEST(rename_onto_itself)
{
	char a[PATH_MAX];

	state_setup(NULL);
	path_in(a, sizeof(a), S.root, "a");
	int fd = open_excl(a);
	close(fd);
	rc_track_close(fd);

	/* rename(2) of a name onto itself succeeds and does nothing: the
	 * file is still there and still a temp file. */
	ck_assert_int_eq(rename(a, a), 0);
	rc_track_rename(AT_FDCWD, a, AT_FDCWD, a);
	ck_assert(exists(a));
	bool still_tracked = tracked(a);

	struct rc_clean_req req = { .mode = RC_MODE_FINAL, .prio = RCSHIM_LOW };
	ck_assert_int_eq(rc_clean(&req, NULL), RCSHIM_OK);
	bool leaked = exists(a);
	/* Asserted after the teardown, so a failure leaves no scratch. */
	state_teardown();
	ck_assert_msg(still_tracked, "rename onto itself untracked the file");
	ck_assert_msg(!leaked, "the file outlived the session");
}
END_TEST

/* --- dup and close ---------------------------------------------------------- */

START_TEST(dup_and_close)
{
	char f[PATH_MAX], g[PATH_MAX];
	struct rc_fd_entry e, e2;

	state_setup(NULL);
	path_in(f, sizeof(f), S.root, "f");
	path_in(g, sizeof(g), S.out, "g");
	int fd = open_excl(f);
	ck_assert(rc_fd_get(fd, &e));

	/* A dup carries the identity of what it duplicates. */
	int nfd = dup(fd);
	rc_track_dup(fd, nfd);
	ck_assert(rc_fd_get(nfd, &e2));
	ck_assert_uint_eq(atomic_load(&e2.flags), RC_FD_LIVE | RC_FD_DUP | RC_FD_IDENT);
	ck_assert_uint_eq(e2.dev, e.dev);
	ck_assert_uint_eq(e2.ino, e.ino);
	ck_assert_int_eq(e2.pid, getpid());

	/* ... and its stack: where the original was opened (a dup is
	 * not unwound anew; preload/fd.c, a shell's fork children). */
	ck_assert_uint_eq(e2.stack, e.stack);

	/* Of an fd without identity: none is made up; read-only stays. */
	int rfd = open(g, O_CREAT | O_RDONLY | O_CLOEXEC, 0600);
	rc_track_caller = (void *)(uintptr_t)&open_excl; /* a call site */
	rc_track_open(AT_FDCWD, g, O_CREAT | O_RDONLY, rfd);
	struct rc_fd_entry er;
	ck_assert(rc_fd_get(rfd, &er));
	ck_assert_uint_ne(er.stack, 0);
	int rdup = dup(rfd);
	rc_track_caller = (void *)(uintptr_t)&path_in; /* another one */
	rc_track_dup(rfd, rdup);
	rc_track_caller = NULL;
	ck_assert(rc_fd_get(rdup, &e2));
	ck_assert_uint_eq(e2.stack, er.stack);
	ck_assert_uint_eq(e2.aux, (uint64_t)(uintptr_t)&path_in);
	ck_assert_uint_eq(fd_flags(rdup), RC_FD_LIVE | RC_FD_DUP | RC_FD_RDONLY);

	/* dup2 over a tracked fd replaces its entry. */
	ck_assert_int_eq(dup2(rfd, nfd), nfd);
	rc_track_dup(rfd, nfd);
	ck_assert(rc_fd_get(nfd, &e2));
	ck_assert_uint_eq(atomic_load(&e2.flags), RC_FD_LIVE | RC_FD_DUP | RC_FD_RDONLY);
	ck_assert_uint_eq(e2.ino, 0);
	ck_assert_uint_eq(e2.stack, er.stack);

	/* A failed dup records nothing. */
	rc_track_dup(fd, -1);

	/* close forgets; close_range forgets the range. */
	rc_track_close(fd);
	close(fd);
	ck_assert(!rc_fd_get(fd, &e));
	ck_assert(rc_fd_get(rfd, &e));
	int lo = rfd < rdup ? rfd : rdup, hi = rfd < rdup ? rdup : rfd;
	ck_assert(nfd < lo || nfd > hi);
	rc_track_close_range((unsigned)lo, (unsigned)hi);
	ck_assert(!rc_fd_get(rfd, &e));
	ck_assert(!rc_fd_get(rdup, &e));
	ck_assert(rc_fd_get(nfd, &e));
	/* closefrom(0). */
	rc_track_close_range(0, ~0u);
	ck_assert(!rc_fd_get(nfd, &e));
	close(rfd);
	close(rdup);
	close(nfd);
	state_teardown();
}
END_TEST

/* --- errno, guard, disabled kinds ------------------------------------------- */

#define KEEPS_ERRNO(call)                                                     \
	do {                                                                  \
		errno = 4242;                                                 \
		call;                                                         \
		ck_assert_msg(errno == 4242, #call " changed errno to %d",   \
			      errno);                                         \
	} while (0)

START_TEST(errno_preserved)
{
	char d[PATH_MAX], f[PATH_MAX], g[PATH_MAX], missing[PATH_MAX], o[PATH_MAX];
	static char longname[PATH_MAX + 64];

	state_setup(NULL);
	path_in(d, sizeof(d), S.root, "d");
	path_in(f, sizeof(f), S.root, "f");
	path_in(g, sizeof(g), S.root, "g");
	path_in(o, sizeof(o), S.out, "o");
	path_in(missing, sizeof(missing), S.root, "missing/deeper");
	memset(longname, 'n', sizeof(longname) - 1);

	make_dir(d);
	KEEPS_ERRNO(rc_track_mkdir(AT_FDCWD, d));
	KEEPS_ERRNO(rc_track_mkdir(AT_FDCWD, missing));   /* its stat fails */
	KEEPS_ERRNO(rc_track_mkdir(AT_FDCWD, longname));  /* too long */
	KEEPS_ERRNO(rc_track_mkdir(12345, "rel"));        /* bad dirfd */
	int fd = open(f, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	KEEPS_ERRNO(rc_track_open(AT_FDCWD, f, O_CREAT | O_EXCL | O_RDWR, fd));
	KEEPS_ERRNO(rc_track_open(AT_FDCWD, missing, O_CREAT | O_EXCL | O_RDWR, 900));
	KEEPS_ERRNO(rc_track_open(AT_FDCWD, f, O_RDONLY, -1));
	int ofd = open(o, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	KEEPS_ERRNO(rc_track_open(AT_FDCWD, o, O_RDWR, ofd));
	int nfd = dup(fd);
	KEEPS_ERRNO(rc_track_dup(fd, nfd));
	KEEPS_ERRNO(rc_track_dup(777, 778));
	KEEPS_ERRNO(rc_track_close(nfd));
	KEEPS_ERRNO(rc_track_close(99999));
	KEEPS_ERRNO(rc_track_close_range(100, 200));
	FILE *fp = fopen(o, "r");
	KEEPS_ERRNO(rc_track_fopen(fp, o, "r"));
	ck_assert_int_eq(rename(f, g), 0);
	KEEPS_ERRNO(rc_track_rename(AT_FDCWD, f, AT_FDCWD, g));
	KEEPS_ERRNO(rc_track_rename(AT_FDCWD, longname, AT_FDCWD, g));
	KEEPS_ERRNO(rc_track_rename(AT_FDCWD, g, AT_FDCWD, o)); /* out of the root */
	KEEPS_ERRNO(rc_track_unlink(AT_FDCWD, longname));
	ck_assert_int_eq(rmdir(d), 0);
	KEEPS_ERRNO(rc_track_unlink(AT_FDCWD, d));
	KEEPS_ERRNO(rc_track_unlink(AT_FDCWD, d));
	/* The journal unwritable: still errno untouched. */
	rc_session.dir[0] = '\0';
	make_dir(d);
	KEEPS_ERRNO(rc_track_mkdir(AT_FDCWD, d));
	ck_assert(tracked(d));

	fclose(fp);
	close(fd);
	close(nfd);
	close(ofd);
	state_teardown();
}
END_TEST

START_TEST(guard_makes_noops)
{
	char d[PATH_MAX], f[PATH_MAX], g[PATH_MAX], t[PATH_MAX];

	state_setup(NULL);
	path_in(d, sizeof(d), S.root, "d");
	path_in(f, sizeof(f), S.root, "f");
	path_in(g, sizeof(g), S.root, "g");
	path_in(t, sizeof(t), S.root, "t");

	/* Tracked before the guard. */
	make_dir(t);
	rc_track_mkdir(AT_FDCWD, t);
	int tfd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc_track_open(AT_FDCWD, t, O_RDONLY, tfd);
	ck_assert_int_eq(journal_lines(), 1);

	rc_guard = 1;
	make_dir(d);
	rc_track_mkdir(AT_FDCWD, d);
	int fd = open_excl(f);
	rc_track_mkstemp(f, fd);
	int nfd = dup(fd);
	rc_track_dup(fd, nfd);
	ck_assert_int_eq(rename(t, g), 0);
	rc_track_rename(AT_FDCWD, t, AT_FDCWD, g);
	rc_track_unlink(AT_FDCWD, g);
	rc_track_close(tfd);
	rc_track_close_range(0, ~0u);
	rc_guard = 0;

	ck_assert(!tracked(d));
	ck_assert(!tracked(f));
	ck_assert(tracked(t)); /* the rename was not seen */
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 1);
	ck_assert_uint_eq(fd_flags(fd), 0);
	ck_assert_uint_eq(fd_flags(nfd), 0);
	/* Closes are never ignored: the number is free again. */
	ck_assert_uint_eq(fd_flags(tfd), 0);
	ck_assert_int_eq(journal_lines(), 1);

	close(fd);
	close(nfd);
	close(tfd);
	state_teardown();
}
END_TEST

START_TEST(kinds_not_tracked)
{
	char d[PATH_MAX], f[PATH_MAX];

	/* Only fds. */
	state_setup("RCSHIM_TRACK=fd");
	path_in(d, sizeof(d), S.root, "d");
	path_in(f, sizeof(f), S.root, "f");
	make_dir(d);
	rc_track_mkdir(AT_FDCWD, d);
	int fd = open_excl(f);
	ck_assert(!tracked(d));
	ck_assert(!tracked(f));
	ck_assert_uint_eq(fd_flags(fd), RC_FD_LIVE);
	ck_assert(!exists(S.jpath));
	close(fd);
	state_teardown();

	/* Only temps. */
	state_setup("RCSHIM_TRACK=temp");
	path_in(f, sizeof(f), S.root, "f");
	fd = open_excl(f);
	ck_assert(tracked(f));
	ck_assert_uint_eq(fd_flags(fd), 0);
	int nfd = dup(fd);
	rc_track_dup(fd, nfd);
	ck_assert_uint_eq(fd_flags(nfd), 0);
	close(fd);
	close(nfd);
	state_teardown();

	/* Not initialised yet, or finished: nothing. */
	state_setup(NULL);
	path_in(d, sizeof(d), S.root, "d");
	make_dir(d);
	atomic_store(&rc_finished, true);
	rc_track_mkdir(AT_FDCWD, d);
	ck_assert(!tracked(d));
	atomic_store(&rc_finished, false);
	atomic_store(&rc_ready, 1);
	rc_track_mkdir(AT_FDCWD, d);
	ck_assert(!tracked(d));
	atomic_store(&rc_ready, 2);
	rc_track_mkdir(AT_FDCWD, d);
	ck_assert(tracked(d));
	state_teardown();
}
END_TEST

/* --- SQLite ------------------------------------------------------------------ */

START_TEST(sqlite_open_close)
{
	char dbpath[PATH_MAX];
	sqlite3 *db;
	struct rc_record saved, out;

	state_setup(NULL);
	path_in(dbpath, sizeof(dbpath), S.out, "app.db");
	ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
					 NULL), SQLITE_OK);
	uint64_t h = (uint64_t)(uintptr_t)db;

	/* Under the guard (the shim's own SQLite calls): nothing. */
	rc_guard = 1;
	rc_track_sqlite_open(db, (void *)sqlite3_open_v2);
	ck_assert(!rc_track_sqlite_close_begin(db, &saved));
	rc_guard = 0;
	ck_assert(!rc_reg_has(RCSHIM_KIND_SQLITE, h));

	KEEPS_ERRNO(rc_track_sqlite_open(db, (void *)sqlite3_open_v2));
	KEEPS_ERRNO(rc_track_sqlite_open(NULL, (void *)sqlite3_open_v2));
	ck_assert(rc_reg_has(RCSHIM_KIND_SQLITE, h));
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_SQLITE), 1);
	ck_assert(rc_reg_take(RCSHIM_KIND_SQLITE, h, &out));
	ck_assert_ptr_nonnull(out.path);
	ck_assert_str_eq(out.path, dbpath);
	ck_assert_int_eq(out.pid, getpid());
	rc_reg_put_back(&out);
	rc_free(out.path);

	/* sqlite3_close failing (BUSY) puts the record back; succeeding
	 * drops it. */
	ck_assert(!rc_track_sqlite_closed_by_shim(db));
	ck_assert(!rc_track_sqlite_closed_by_shim(NULL));
	bool began;
	KEEPS_ERRNO(began = rc_track_sqlite_close_begin(db, &saved));
	ck_assert(began);
	ck_assert(!rc_reg_has(RCSHIM_KIND_SQLITE, h));
	KEEPS_ERRNO(rc_track_sqlite_close_failed(&saved));
	ck_assert(rc_reg_has(RCSHIM_KIND_SQLITE, h));
	ck_assert(rc_track_sqlite_close_begin(db, &saved));
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
	KEEPS_ERRNO(rc_track_sqlite_close_done(&saved));
	ck_assert(!rc_reg_has(RCSHIM_KIND_SQLITE, h));
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_SQLITE), 0);
	ck_assert(!rc_track_sqlite_close_begin(db, &saved));
	state_teardown();
}
END_TEST

TEST_SUITE(track)
{
	ADD_TEST(s, mkdir_under_root);
	ADD_TEST(s, mkdir_outside_root);
	ADD_TEST(s, open_excl_under_root);
	ADD_TEST(s, open_plain);
	ADD_TEST(s, fopen_stdio);
	ADD_TEST(s, unlink_untracks);
	ADD_TEST(s, rename_within_root);
	ADD_TEST(s, rename_atomic_write_idiom);
	ADD_TEST(s, rename_out_of_root);
	ADD_TEST(s, rename_onto_tracked);
	ADD_TEST(s, rename_onto_itself);
	ADD_TEST(s, dup_and_close);
	ADD_TEST(s, errno_preserved);
	ADD_TEST(s, guard_makes_noops);
	ADD_TEST(s, kinds_not_tracked);
	ADD_TEST(s, sqlite_open_close);
}
