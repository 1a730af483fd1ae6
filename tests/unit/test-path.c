#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "core/path.h"
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

START_TEST(tmp_roots_strictly_inside)
{
	const char *roots[] = { "/tmp" };

	rc_tmp_roots_set(roots, 1);
	ck_assert_int_eq(rc_tmp_root_of("/tmp/x"), 1);
	ck_assert_int_eq(rc_tmp_root_of("/tmp/x/y/z"), 1);
	ck_assert_int_eq(rc_tmp_root_of("/tmp/.hidden"), 1);
	/* The root itself is not inside it. */
	ck_assert_int_eq(rc_tmp_root_of("/tmp"), 0);
	ck_assert_int_eq(rc_tmp_root_of("/tmp/"), 0);
	/* Prefix traps. */
	ck_assert_int_eq(rc_tmp_root_of("/tmpfoo"), 0);
	ck_assert_int_eq(rc_tmp_root_of("/tmpfoo/x"), 0);
	ck_assert_int_eq(rc_tmp_root_of("/tm"), 0);
	ck_assert_int_eq(rc_tmp_root_of("/"), 0);
	ck_assert_int_eq(rc_tmp_root_of("/var/tmp/x"), 0);
	ck_assert_int_eq(rc_tmp_root_of("/home/tmp/x"), 0);
	ck_assert_int_eq(rc_tmp_root_of(""), 0);
}
END_TEST

START_TEST(tmp_roots_several_and_replaced)
{
	const char *roots[] = { "/var/tmp/", "/dev//shm", "/scratch/a/./b", "/tmp" };

	/* Roots are normalised: trailing and repeated slashes, ".". */
	rc_tmp_roots_set(roots, 4);
	ck_assert_int_eq(rc_tmp_root_of("/var/tmp/x"), 1);
	ck_assert_int_eq(rc_tmp_root_of("/dev/shm/x"), 1);
	ck_assert_int_eq(rc_tmp_root_of("/scratch/a/b/x"), 1);
	ck_assert_int_eq(rc_tmp_root_of("/scratch/a/x"), 0);
	ck_assert_int_eq(rc_tmp_root_of("/tmp/x"), 1);
	ck_assert_int_eq(rc_tmp_root_of("/var/tmpx"), 0);
	ck_assert_int_eq(rc_tmp_root_of("/var/tmp"), 0);

	/* A new list replaces the old one entirely. */
	const char *other[] = { "/srv/scratch" };
	rc_tmp_roots_set(other, 1);
	ck_assert_int_eq(rc_tmp_root_of("/srv/scratch/x"), 1);
	ck_assert_int_eq(rc_tmp_root_of("/tmp/x"), 0);
	ck_assert_int_eq(rc_tmp_root_of("/var/tmp/x"), 0);

	/* No roots: nothing is temporary. */
	rc_tmp_roots_set(NULL, 0);
	ck_assert_int_eq(rc_tmp_root_of("/srv/scratch/x"), 0);
	ck_assert_int_eq(rc_tmp_root_of("/tmp/x"), 0);
}
END_TEST

START_TEST(tmp_roots_symlink)
{
	char dir[PATH_MAX], real[PATH_MAX + 16], link[PATH_MAX + 16], p[PATH_MAX * 2];

	scratch_make(dir, sizeof(dir));
	snprintf(real, sizeof(real), "%s/real", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	ck_assert_int_eq(mkdir(real, 0700), 0);
	ck_assert_int_eq(symlink(real, link), 0);

	const char *roots[] = { link };
	rc_tmp_roots_set(roots, 1);

	/* By the name it was given... */
	snprintf(p, sizeof(p), "%s/f", link);
	ck_assert_int_eq(rc_tmp_root_of(p), 1);
	/* ...and by its canonical one. */
	snprintf(p, sizeof(p), "%s/f", real);
	ck_assert_int_eq(rc_tmp_root_of(p), 1);
	snprintf(p, sizeof(p), "%s/sub/f", real);
	ck_assert_int_eq(rc_tmp_root_of(p), 1);
	ck_assert_int_eq(rc_tmp_root_of(real), 0);
	ck_assert_int_eq(rc_tmp_root_of(link), 0);
	snprintf(p, sizeof(p), "%sx/f", real);
	ck_assert_int_eq(rc_tmp_root_of(p), 0);
	snprintf(p, sizeof(p), "%s/f", dir);
	ck_assert_int_eq(rc_tmp_root_of(p), 0);

	/* The same through a relative symlink. */
	char rel[PATH_MAX + 16];
	snprintf(rel, sizeof(rel), "%s/rel", dir);
	ck_assert_int_eq(symlink("real", rel), 0);
	const char *roots2[] = { rel };
	rc_tmp_roots_set(roots2, 1);
	snprintf(p, sizeof(p), "%s/f", real);
	ck_assert_int_eq(rc_tmp_root_of(p), 1);
	snprintf(p, sizeof(p), "%s/f", rel);
	ck_assert_int_eq(rc_tmp_root_of(p), 1);
	snprintf(p, sizeof(p), "%s/f", link);
	ck_assert_int_eq(rc_tmp_root_of(p), 0);

	/* A root that does not exist (yet) still matches by its name. */
	const char *roots3[] = { "/nonexistent-rcshim-root" };
	rc_tmp_roots_set(roots3, 1);
	ck_assert_int_eq(rc_tmp_root_of("/nonexistent-rcshim-root/x"), 1);

	rc_tmp_roots_set(NULL, 0);
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
	ADD_TEST(s, tmp_roots_strictly_inside);
	ADD_TEST(s, tmp_roots_several_and_replaced);
	ADD_TEST(s, tmp_roots_symlink);
	ADD_TEST(s, path_within);
}
