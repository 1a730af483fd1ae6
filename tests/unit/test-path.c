#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "core/log.h"
#include "core/path.h"
#include "core/roots.h"
#include "test.h"

static int
rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* A scratch directory by its canonical name (the cwd reads back as that). */
static void
scratch_make(char *out, size_t n)
{
	char tmpl[] = "/tmp/rcshim-unit-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_ptr_nonnull(realpath(tmpl, out));
	ck_assert_uint_lt(strlen(out), n);
}

static void
scratch_remove(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
norm_eq(const char *in, const char *want)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", in);
	rc_path_normalize(buf);
	ck_assert_msg(strcmp(buf, want) == 0, "normalize(\"%s\") = \"%s\", want \"%s\"",
		      in, buf, want);
}

START_TEST(normalize)
{
	norm_eq("/", "/");
	norm_eq("//", "/");
	norm_eq("///", "/");
	norm_eq("/.", "/");
	norm_eq("/..", "/");
	norm_eq("/../..", "/");
	norm_eq("/../a", "/a");
	norm_eq("/a", "/a");
	norm_eq("/a/", "/a");
	norm_eq("/a/b/", "/a/b");
	norm_eq("/a//b", "/a/b");
	norm_eq("///a///b///", "/a/b");
	norm_eq("/a/./b", "/a/b");
	norm_eq("/a/.", "/a");
	norm_eq("/./a/./", "/a");
	norm_eq("/a/..", "/");
	norm_eq("/a/../", "/");
	norm_eq("/a/../b", "/b");
	norm_eq("/a/b/..", "/a");
	norm_eq("/a/b/../..", "/");
	norm_eq("/a/b/../../..", "/");
	norm_eq("/a/b/c/../../d", "/a/d");
	norm_eq("/a/b/./../c/./d/..", "/a/c");
	/* Names that only look like dots. */
	norm_eq("/...", "/...");
	norm_eq("/a/..b", "/a/..b");
	norm_eq("/a/b..", "/a/b..");
	norm_eq("/.hidden/.x", "/.hidden/.x");
	norm_eq("/a/.../..", "/a");
	/* Long names survive the in-place moves. */
	norm_eq("//tmp//some-rather-long-name//./x/../y//",
		"/tmp/some-rather-long-name/y");
	/* A relative path is not touched. */
	norm_eq("a/../b", "a/../b");
	norm_eq("", "");
}
END_TEST

START_TEST(abs_absolute)
{
	char out[PATH_MAX];

	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "/x//y/../z/", out, sizeof(out)), 4);
	ck_assert_str_eq(out, "/x/z");
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "/", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "/");
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "/..", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "/");

	/* An absolute path ignores the directory fd, even a bad one. */
	ck_assert_int_eq(rc_path_abs(12345, "/etc/./passwd", out, sizeof(out)), 11);
	ck_assert_str_eq(out, "/etc/passwd");
}
END_TEST

START_TEST(abs_relative_cwd)
{
	char dir[PATH_MAX], out[PATH_MAX], want[PATH_MAX * 2];
	char parent[PATH_MAX];

	scratch_make(dir, sizeof(dir));
	ck_assert_int_eq(chdir(dir), 0);

	snprintf(want, sizeof(want), "%s/a/c", dir);
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "a/./b/../c", out, sizeof(out)),
			 (int)strlen(want));
	ck_assert_str_eq(out, want);

	snprintf(want, sizeof(want), "%s/f", dir);
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "f", out, sizeof(out)), (int)strlen(want));
	ck_assert_str_eq(out, want);

	ck_assert_int_eq(rc_path_abs(AT_FDCWD, ".", out, sizeof(out)), (int)strlen(dir));
	ck_assert_str_eq(out, dir);
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "./", out, sizeof(out)), (int)strlen(dir));
	ck_assert_str_eq(out, dir);

	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = '\0';
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "..", out, sizeof(out)), (int)strlen(parent));
	ck_assert_str_eq(out, parent);

	/* Lexical: "x/.." is the cwd even though x does not exist. */
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "nonexistent/..", out, sizeof(out)),
			 (int)strlen(dir));
	ck_assert_str_eq(out, dir);

	/* From "/" itself. */
	ck_assert_int_eq(chdir("/"), 0);
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "etc", out, sizeof(out)), 4);
	ck_assert_str_eq(out, "/etc");
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, ".", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "/");

	scratch_remove(dir);
}
END_TEST

START_TEST(abs_relative_dirfd)
{
	char dir[PATH_MAX], sub[PATH_MAX + 8], out[PATH_MAX], want[PATH_MAX * 2];
	int pfd[2];

	scratch_make(dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(chdir("/"), 0); /* the cwd must not matter */

	int dfd = open(sub, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	snprintf(want, sizeof(want), "%s/f", sub);
	ck_assert_int_eq(rc_path_abs(dfd, "f", out, sizeof(out)), (int)strlen(want));
	ck_assert_str_eq(out, want);
	snprintf(want, sizeof(want), "%s/g", dir);
	ck_assert_int_eq(rc_path_abs(dfd, "../g", out, sizeof(out)), (int)strlen(want));
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(rc_path_abs(dfd, ".", out, sizeof(out)), (int)strlen(sub));
	ck_assert_str_eq(out, sub);

	/* O_PATH directory fds work the same. */
	int opfd = open(sub, O_PATH | O_DIRECTORY);
	ck_assert_int_ge(opfd, 0);
	snprintf(want, sizeof(want), "%s/h/i", sub);
	ck_assert_int_eq(rc_path_abs(opfd, "h//i/", out, sizeof(out)), (int)strlen(want));
	ck_assert_str_eq(out, want);

	/* A pipe is no directory; a closed fd is nothing. */
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(rc_path_abs(pfd[0], "x", out, sizeof(out)), -ENOTDIR);
	close(pfd[0]);
	close(pfd[1]);
	ck_assert_int_lt(rc_path_abs(pfd[0], "x", out, sizeof(out)), 0);

	close(dfd);
	close(opfd);
	scratch_remove(dir);
}
END_TEST

START_TEST(abs_too_long)
{
	char dir[PATH_MAX], out[PATH_MAX], small[16];
	static char longpath[PATH_MAX + 100];

	/* Absolute, longer than the buffer. */
	longpath[0] = '/';
	memset(longpath + 1, 'a', sizeof(longpath) - 2);
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, longpath, out, sizeof(out)), -ENAMETOOLONG);

	/* Exactly fits, one byte short. */
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "/abcd", small, 6), 5);
	ck_assert_str_eq(small, "/abcd");
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "/abcd", small, 5), -ENAMETOOLONG);
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "/", small, 1), -ENAMETOOLONG);
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "/", small, 0), -ENAMETOOLONG);

	/* Relative: the cwd fits, cwd + path does not. */
	scratch_make(dir, sizeof(dir));
	ck_assert_int_eq(chdir(dir), 0);
	size_t room = strlen(dir) + 8;
	ck_assert_int_eq(rc_path_abs(AT_FDCWD, "0123456789", out, room), -ENAMETOOLONG);
	ck_assert_int_gt(rc_path_abs(AT_FDCWD, "012345", out, room), 0);
	ck_assert_uint_eq(strlen(out), strlen(dir) + 7);

	/* Relative to a dirfd whose name does not fit: an error, never a
	 * truncated directory name. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(rc_path_abs(dfd, "x", small, sizeof(small)), -ENAMETOOLONG);
	ck_assert_int_eq(rc_path_abs(dfd, longpath + 1, out, sizeof(out)), -ENAMETOOLONG);
	close(dfd);

	ck_assert_int_eq(chdir("/"), 0);
	scratch_remove(dir);
}
END_TEST

/* A key for @abs, or "" when it is not directly inside a root. */
static const char *
key_of(const char *abs)
{
	static char key[PATH_MAX];
	if (rc_tmp_key(abs, key, sizeof(key)) < 0) {
		key[0] = '\0';
	}
	return key;
}

START_TEST(tmp_key_direct_children_only)
{
	char dir[PATH_MAX], root[PATH_MAX + 8], p[PATH_MAX * 2];

	scratch_make(dir, sizeof(dir));
	snprintf(root, sizeof(root), "%s/root", dir);
	ck_assert_int_eq(mkdir(root, 0700), 0);
	const char *roots[] = { root };
	rc_tmp_roots_set(roots, 1, "/nonexistent-home", false);

	snprintf(p, sizeof(p), "%s/x", root);
	ck_assert_str_eq(key_of(p), p);
	snprintf(p, sizeof(p), "%s/.hidden", root);
	ck_assert_str_eq(key_of(p), p);
	/* Deeper is never a temp artifact: git's objects, sed's temp file
	 * next to a file in a subdirectory. */
	snprintf(p, sizeof(p), "%s/x/y", root);
	ck_assert_str_eq(key_of(p), "");
	snprintf(p, sizeof(p), "%s/x/.git/objects/ab", root);
	ck_assert_str_eq(key_of(p), "");
	/* The root itself, and prefix traps. */
	ck_assert_str_eq(key_of(root), "");
	snprintf(p, sizeof(p), "%sfoo/x", root);
	ck_assert_str_eq(key_of(p), "");
	snprintf(p, sizeof(p), "%s/x", dir);
	ck_assert_str_eq(key_of(p), "");
	ck_assert_str_eq(key_of("/"), "");
	ck_assert_str_eq(key_of(""), "");
	ck_assert_str_eq(key_of("/x"), "");

	/* No roots: nothing is temporary. */
	rc_tmp_roots_set(NULL, 0, NULL, false);
	snprintf(p, sizeof(p), "%s/x", root);
	ck_assert_str_eq(key_of(p), "");
	scratch_remove(dir);
}
END_TEST

START_TEST(tmp_key_symlinked_root)
{
	char dir[PATH_MAX], real[PATH_MAX + 16], link[PATH_MAX + 16], p[PATH_MAX * 2],
		want[PATH_MAX * 2];

	scratch_make(dir, sizeof(dir));
	snprintf(real, sizeof(real), "%s/real", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	ck_assert_int_eq(mkdir(real, 0700), 0);
	ck_assert_int_eq(symlink("real", link), 0);

	/* A root reached through our own symlink: by either name, and the
	 * key is always the canonical one. */
	const char *roots[] = { link };
	rc_tmp_roots_set(roots, 1, "/nonexistent-home", false);
	snprintf(want, sizeof(want), "%s/f", real);
	snprintf(p, sizeof(p), "%s/f", link);
	ck_assert_str_eq(key_of(p), want);
	ck_assert_str_eq(key_of(want), want);
	ck_assert(rc_tmp_root(0) != NULL);
	ck_assert_str_eq(rc_tmp_root(0)->path, real);
	ck_assert_str_eq(rc_tmp_root(0)->alias, link);
	snprintf(p, sizeof(p), "%s/sub/f", real);
	ck_assert_str_eq(key_of(p), "");

	/* A root that does not exist is no root. */
	const char *none[] = { "/nonexistent-rcshim-root" };
	rc_tmp_roots_set(none, 1, NULL, false);
	ck_assert_str_eq(key_of("/nonexistent-rcshim-root/x"), "");
	ck_assert_ptr_null(rc_tmp_root(0));
	scratch_remove(dir);
}
END_TEST

/* The candidates are kept in a small pool when they fit and in a large one
 * when they do not (core/roots.c): either way every root is one, a file in
 * the home directory is not, and the home directory is the one given. */
START_TEST(tmp_roots_short_and_long)
{
	char dir[PATH_MAX], a[PATH_MAX], b[PATH_MAX], home[PATH_MAX], p[PATH_MAX * 2];
	char longname[121];

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	scratch_make(dir, sizeof(dir));
	for (int round = 0; round < 2; round++) {
		/* Round 0: short names, 1: three 120-byte names (the small
		 * pool holds 256 bytes). */
		const char *tail = round ? longname : "x";
		snprintf(a, sizeof(a), "%s/a%d%s", dir, round, tail);
		snprintf(b, sizeof(b), "%s/b%d%s", dir, round, tail);
		snprintf(home, sizeof(home), "%s/h%d%s", dir, round, tail);
		ck_assert_int_eq(mkdir(a, 0700), 0);
		ck_assert_int_eq(mkdir(b, 0700), 0);
		ck_assert_int_eq(mkdir(home, 0700), 0);
		const char *roots[] = { a, b, a };
		rc_tmp_roots_set(roots, 3, home, false);

		ck_assert_str_eq(rc_tmp_home(), home);
		snprintf(p, sizeof(p), "%s/f", a);
		ck_assert_str_eq(key_of(p), p);
		snprintf(p, sizeof(p), "%s/f", b);
		ck_assert_str_eq(key_of(p), p);
		ck_assert_ptr_nonnull(rc_tmp_root(0));
		ck_assert_str_eq(rc_tmp_root(0)->alias, a);
		ck_assert_ptr_nonnull(rc_tmp_root(1));
		ck_assert_str_eq(rc_tmp_root(1)->alias, b);
		/* The duplicate is dropped; the home is no root. */
		ck_assert_ptr_null(rc_tmp_root(2));
		snprintf(p, sizeof(p), "%s/f", home);
		ck_assert_str_eq(key_of(p), "");
		snprintf(p, sizeof(p), "%s/f/g", a);
		ck_assert_str_eq(key_of(p), "");
	}
	rc_tmp_roots_set(NULL, 0, NULL, false);
	scratch_remove(dir);
}
END_TEST

/* The first question about the roots, asked by several threads at once
 * (a Python program's 8 threads each making and registering their first
 * temp dir): while one thread checks the candidates, the others must get
 * the root too.  A NULL root made the scope end of a temp dir made in it
 * count it as "left alone" and forget it. */
#define ROOT_THREADS 8

static struct {
	pthread_barrier_t go, done;
	char root[PATH_MAX], file[PATH_MAX + 8];
	int rounds;
	atomic_int missed, unkeyed;
} RQ;

static void *
root_asker(void *p)
{
	char key[PATH_MAX * 2];
	long id = (long)p;

	for (int i = 0; i < RQ.rounds; i++) {
		pthread_barrier_wait(&RQ.go);
		/* Half of them ask for a key first, as the tracking does. */
		if (id % 2 && rc_tmp_key(RQ.file, key, sizeof(key)) != 0) {
			atomic_fetch_add(&RQ.unkeyed, 1);
		}
		const struct rc_root *r = rc_tmp_root(0);
		if (!r || strcmp(r->path, RQ.root) != 0) {
			atomic_fetch_add(&RQ.missed, 1);
		}
		pthread_barrier_wait(&RQ.done);
	}
	return NULL;
}

START_TEST(tmp_root_while_another_thread_checks)
{
	pthread_t t[ROOT_THREADS];

	scratch_make(RQ.root, sizeof(RQ.root));
	snprintf(RQ.file, sizeof(RQ.file), "%s/f", RQ.root);
	RQ.rounds = 300;
	atomic_store(&RQ.missed, 0);
	atomic_store(&RQ.unkeyed, 0);
	const char *roots[] = { RQ.root };
	ck_assert_int_eq(pthread_barrier_init(&RQ.go, NULL, ROOT_THREADS + 1), 0);
	ck_assert_int_eq(pthread_barrier_init(&RQ.done, NULL, ROOT_THREADS + 1), 0);
	for (long i = 0; i < ROOT_THREADS; i++) {
		ck_assert_int_eq(pthread_create(&t[i], NULL, root_asker, (void *)i), 0);
	}
	for (int i = 0; i < RQ.rounds; i++) {
		/* Unchecked again: the next question checks them. */
		rc_tmp_roots_set(roots, 1, "/nonexistent-home", false);
		pthread_barrier_wait(&RQ.go);
		pthread_barrier_wait(&RQ.done);
	}
	for (int i = 0; i < ROOT_THREADS; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	}
	pthread_barrier_destroy(&RQ.go);
	pthread_barrier_destroy(&RQ.done);
	rc_tmp_roots_set(NULL, 0, NULL, false);
	scratch_remove(RQ.root);
	ck_assert_msg(atomic_load(&RQ.unkeyed) == 0, "%d keys missed",
		      atomic_load(&RQ.unkeyed));
	ck_assert_msg(atomic_load(&RQ.missed) == 0,
		      "the root was missing %d times in %d rounds of %d threads",
		      atomic_load(&RQ.missed), RQ.rounds, ROOT_THREADS);
}
END_TEST

static int
check(const char *path, const char *home, const char **why)
{
	char canon[PATH_MAX];
	struct stat st;
	return rc_root_check(path, home, canon, sizeof(canon), &st, why);
}

START_TEST(root_check_rules)
{
	char dir[PATH_MAX], d[PATH_MAX * 2], home[PATH_MAX + 32], l[PATH_MAX + 32];
	const char *why;

	scratch_make(dir, sizeof(dir));
	snprintf(home, sizeof(home), "%s/home/me", dir);
	snprintf(d, sizeof(d), "%s/home", dir);
	ck_assert_int_eq(mkdir(d, 0755), 0);
	ck_assert_int_eq(mkdir(home, 0700), 0);

	/* A private directory, and a sticky world-writable one: fine. */
	snprintf(d, sizeof(d), "%s/private", dir);
	ck_assert_int_eq(mkdir(d, 0700), 0);
	ck_assert_int_eq(check(d, home, &why), 0);
	snprintf(d, sizeof(d), "%s/sticky", dir);
	ck_assert_int_eq(mkdir(d, 0700), 0);
	ck_assert_int_eq(chmod(d, 01777), 0);
	ck_assert_int_eq(check(d, home, &why), 0);

	/* Writable by others and not sticky (group or world). */
	snprintf(d, sizeof(d), "%s/open", dir);
	ck_assert_int_eq(mkdir(d, 0700), 0);
	ck_assert_int_eq(chmod(d, 0777), 0);
	ck_assert_int_eq(check(d, home, &why), -EPERM);
	ck_assert_ptr_nonnull(strstr(why, "sticky"));
	ck_assert_int_eq(chmod(d, 0770), 0);
	ck_assert_int_eq(check(d, home, &why), -EPERM);

	/* "/", the home, an ancestor of it, by any name. */
	ck_assert_int_eq(check("/", home, &why), -EPERM);
	ck_assert_int_eq(check(home, home, &why), -EPERM);
	ck_assert_ptr_nonnull(strstr(why, "home"));
	snprintf(d, sizeof(d), "%s/home", dir);
	ck_assert_int_eq(check(d, home, &why), -EPERM);
	ck_assert_int_eq(check(dir, home, &why), -EPERM);
	snprintf(d, sizeof(d), "%s/home/../home/./me/", dir);
	ck_assert_int_eq(check(d, home, &why), -EPERM);
	snprintf(l, sizeof(l), "%s/to-home", dir);
	ck_assert_int_eq(symlink(home, l), 0);
	ck_assert_int_eq(check(l, home, &why), -EPERM);
	/* A home given through a symlink is found as well. */
	ck_assert_int_eq(check(home, l, &why), -EPERM);
	/* Inside the home is not an ancestor. */
	snprintf(d, sizeof(d), "%s/tmp", home);
	ck_assert_int_eq(mkdir(d, 0700), 0);
	ck_assert_int_eq(check(d, home, &why), 0);

	/* Not a directory, not there, not absolute. */
	snprintf(d, sizeof(d), "%s/file", dir);
	close(open(d, O_CREAT | O_WRONLY, 0600));
	ck_assert_int_eq(check(d, home, &why), -ENOTDIR);
	snprintf(d, sizeof(d), "%s/none", dir);
	ck_assert_int_eq(check(d, home, &why), -ENOENT);
	ck_assert_int_eq(check("relative", home, &why), -EINVAL);

	if (geteuid() == 0) {
		/* Another user's directory; a symlink another user owns on
		 * the way (the TMPDIR=/tmp/a-tmp -> /home/a). */
		snprintf(d, sizeof(d), "%s/theirs", dir);
		ck_assert_int_eq(mkdir(d, 0700), 0);
		ck_assert_int_eq(chown(d, 65534, 65534), 0);
		ck_assert_int_eq(check(d, home, &why), -EPERM);
		ck_assert_ptr_nonnull(strstr(why, "another user"));
		snprintf(d, sizeof(d), "%s/private", dir);
		snprintf(l, sizeof(l), "%s/their-link", dir);
		ck_assert_int_eq(symlink(d, l), 0);
		ck_assert_int_eq(lchown(l, 65534, 65534), 0);
		ck_assert_int_eq(check(l, home, &why), -EPERM);
		ck_assert_ptr_nonnull(strstr(why, "symbolic link"));
		/* Our own link to it is fine. */
		snprintf(l, sizeof(l), "%s/my-link", dir);
		ck_assert_int_eq(symlink(d, l), 0);
		ck_assert_int_eq(check(l, home, &why), 0);
	}
	scratch_remove(dir);
}
END_TEST

START_TEST(root_dropped_with_one_line)
{
	char dir[PATH_MAX], open_[PATH_MAX + 16], ok[PATH_MAX + 16], p[PATH_MAX * 2], buf[4096];
	int pfd[2];

	scratch_make(dir, sizeof(dir));
	snprintf(open_, sizeof(open_), "%s/open", dir);
	snprintf(ok, sizeof(ok), "%s/ok", dir);
	ck_assert_int_eq(mkdir(open_, 0700), 0);
	ck_assert_int_eq(chmod(open_, 0777), 0);
	ck_assert_int_eq(mkdir(ok, 0700), 0);
	ck_assert_int_eq(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
	rc_log_fd = pfd[1];

	const char *roots[] = { open_, ok, "/nonexistent-rcshim-root" };
	rc_tmp_roots_set(roots, 3, "/nonexistent-home", true);
	snprintf(p, sizeof(p), "%s/x", open_);
	ck_assert_str_eq(key_of(p), "");
	snprintf(p, sizeof(p), "%s/x", ok);
	ck_assert_str_eq(key_of(p), p);
	ck_assert_str_eq(key_of(p), p);
	ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);
	rc_log_fd = 2;
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	/* One line, for the bad one only (a missing root is nobody's). */
	ck_assert_ptr_nonnull(strstr(buf, open_));
	ck_assert_ptr_eq(strchr(buf, '\n'), buf + n - 1);
	close(pfd[0]);
	close(pfd[1]);
	rc_tmp_roots_set(NULL, 0, NULL, false);
	scratch_remove(dir);
}
END_TEST


START_TEST(path_within)
{
	ck_assert_int_eq(rc_path_within("/a/b", "/a"), 1);
	ck_assert_int_eq(rc_path_within("/a/b/c", "/a"), 1);
	ck_assert_int_eq(rc_path_within("/a", "/a"), 1);
	ck_assert_int_eq(rc_path_within("/ab", "/a"), 0);
	ck_assert_int_eq(rc_path_within("/ab/c", "/a"), 0);
	ck_assert_int_eq(rc_path_within("/b", "/a"), 0);
	ck_assert_int_eq(rc_path_within("/a", "/a/b"), 0);
	ck_assert_int_eq(rc_path_within("/", "/a"), 0);
	ck_assert_int_eq(rc_path_within("/a/b", "/"), 1);
	ck_assert_int_eq(rc_path_within("/", "/"), 1);
	ck_assert_int_eq(rc_path_within("/tmp/x", "/tmp/x"), 1);
	ck_assert_int_eq(rc_path_within("/tmp/xy", "/tmp/x"), 0);
}
END_TEST

TEST_SUITE(path)
{
	ADD_TEST(s, normalize);
	ADD_TEST(s, abs_absolute);
	ADD_TEST(s, abs_relative_cwd);
	ADD_TEST(s, abs_relative_dirfd);
	ADD_TEST(s, abs_too_long);
	ADD_TEST(s, tmp_key_direct_children_only);
	ADD_TEST(s, tmp_key_symlinked_root);
	ADD_TEST(s, tmp_roots_short_and_long);
	ADD_TEST(s, tmp_root_while_another_thread_checks);
	ADD_TEST(s, root_check_rules);
	ADD_TEST(s, root_dropped_with_one_line);
	ADD_TEST(s, path_within);
}
