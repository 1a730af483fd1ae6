#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#include "clean/rmtree.h"

/* --- scratch helpers (plain libc: the tests need not be signal-safe) ---- */

struct scratch {
	char dir[64];
};

static void
scratch_init(struct scratch *s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/rcshim-test-rmtree-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
}

static int
remove_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void
scratch_fini(struct scratch *s)
{
	nftw(s->dir, remove_cb, 32, FTW_DEPTH | FTW_PHYS);
	ck_assert_int_ne(access(s->dir, F_OK), 0);
}

/* Writes "@s->dir/@rel" into @buf. */
static const char *
at(const struct scratch *s, const char *rel, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s", s->dir, rel);
	return buf;
}

static void
mk_dir(const char *path)
{
	ck_assert_msg(mkdir(path, 0700) == 0, "mkdir %s: %s", path, strerror(errno));
}

static void
mk_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	if (data) {
		ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	}
	close(fd);
}

static void
mk_link(const char *target, const char *path)
{
	ck_assert_msg(symlink(target, path) == 0, "symlink %s: %s", path,
		      strerror(errno));
}

static void
ident(const char *path, uint64_t *dev, uint64_t *ino)
{
	struct stat sb;

	ck_assert_msg(lstat(path, &sb) == 0, "lstat %s: %s", path, strerror(errno));
	*dev = sb.st_dev;
	*ino = sb.st_ino;
}

static bool
exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d)) {
		n++;
	}
	closedir(d);
	return n;
}

/* A chain of @depth directories "a" below @root, each level also holding a
 * file "f" and a directory "z" with a file in it, so that the walk must
 * resume each listing after coming back from below.  Returns the number of
 * entries made, not counting @root. */
static uint64_t
mk_chain(const char *root, unsigned depth, bool siblings)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t n = 0;

	ck_assert_int_ge(fd, 0);
	for (unsigned i = 0; i < depth; i++) {
		int f = openat(fd, "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		ck_assert_int_ge(f, 0);
		close(f);
		n++;
		if (siblings) {
			ck_assert_int_eq(mkdirat(fd, "z", 0700), 0);
			f = openat(fd, "z/g", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			ck_assert_int_ge(f, 0);
			close(f);
			n += 2;
		}
		ck_assert_int_eq(mkdirat(fd, "a", 0700), 0);
		n++;
		int next = openat(fd, "a", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ck_assert_int_ge(next, 0);
		close(fd);
		fd = next;
	}
	close(fd);
	return n;
}

/* --- whole trees --------------------------------------------------------- */

START_TEST(rmtree_removes_mixed_tree)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	char root[128], p[512], longname[256];
	uint64_t dev, ino;
	int fds = count_fds();

	scratch_init(&s);
	at(&s, "tree", root, sizeof(root));
	mk_dir(root);
	const char *dirs[] = { "a", "a/b", "a/b/c", "empty", "e2", "e2/e3",
			       "e2/e3/e4" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
		mk_dir(p);
	}
	const char *files[] = { "top", "a/one", "a/b/two", "a/b/c/three",
				".hidden", "a/ sp ace", "a/new\nline" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, files[i]);
		mk_file(p, "data");
	}
	memset(longname, 'L', 255);
	longname[255] = '\0';
	snprintf(p, sizeof(p), "%s/a/%s", root, longname);
	mk_file(p, NULL);
	snprintf(p, sizeof(p), "%s/a/b/fifo", root);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/a/link-in", root);
	mk_link("b/two", p);
	snprintf(p, sizeof(p), "%s/dangling", root);
	mk_link("/nonexistent/rcshim", p);
	snprintf(p, sizeof(p), "%s/a/b/c/hard", root);
	char t[512];
	snprintf(t, sizeof(t), "%s/top", root);
	ck_assert_int_eq(link(t, p), 0);

	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/tree/sock", s.dir);
	int sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(sk, 0);
	ck_assert_int_eq(bind(sk, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(sk);

	/* 7 dirs + 7 files + long + fifo + 2 links + hard + sock + root */
	uint64_t expect = 7 + 7 + 1 + 1 + 2 + 1 + 1 + 1;

	ident(root, &dev, &ino);
	ck_assert_int_eq(rc_rmtree(root, dev, ino, &st), 0);
	ck_assert_uint_eq(st.removed, expect);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_int_eq(st.first_error, 0);
	ck_assert(!exists(root));
	ck_assert_int_eq(count_fds(), fds);
	scratch_fini(&s);
}
END_TEST

START_TEST(rmtree_empty_root_and_null_stats)
{
	struct scratch s;
	char root[128];
	uint64_t dev, ino;

	scratch_init(&s);
	at(&s, "empty", root, sizeof(root));
	mk_dir(root);
	ident(root, &dev, &ino);
	ck_assert_int_eq(rc_rmtree(root, dev, ino, NULL), 0);
	ck_assert(!exists(root));

	/* removing it again finds nothing */
	ck_assert_int_eq(rc_rmtree(root, dev, ino, NULL), -ENOENT);
	scratch_fini(&s);
}
END_TEST

START_TEST(rmtree_stats_accumulate)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	char a[128], b[128], p[256];
	uint64_t dev, ino;

	scratch_init(&s);
	at(&s, "a", a, sizeof(a));
	at(&s, "b", b, sizeof(b));
	mk_dir(a);
	mk_dir(b);
	snprintf(p, sizeof(p), "%s/x", a);
	mk_file(p, NULL);
	snprintf(p, sizeof(p), "%s/y", b);
	mk_file(p, NULL);
	ident(a, &dev, &ino);
	ck_assert_int_eq(rc_rmtree(a, dev, ino, &st), 0);
	ident(b, &dev, &ino);
	ck_assert_int_eq(rc_rmtree(b, dev, ino, &st), 0);
	ck_assert_uint_eq(st.removed, 4);
	ck_assert_uint_eq(st.failed, 0);
	scratch_fini(&s);
}
END_TEST

START_TEST(rmtree_relative_and_at)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	char root[128], cwd[4096];
	uint64_t dev, ino;

	scratch_init(&s);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(s.dir), 0);

	/* bare name, relative to the cwd */
	mk_dir("t1");
	mk_file("t1/f", NULL);
	ident("t1", &dev, &ino);
	ck_assert_int_eq(rc_rmtree("t1", dev, ino, &st), 0);
	ck_assert(!exists("t1"));

	/* relative path with a parent, and redundant slashes */
	mk_dir("p");
	mk_dir("p/t2");
	mk_file("p/t2/f", NULL);
	ident("p/t2", &dev, &ino);
	ck_assert_int_eq(rc_rmtree("./p//t2", dev, ino, &st), 0);
	ck_assert(!exists("p/t2"));

	/* entry of an open directory */
	mk_dir("p/t3");
	mk_dir("p/t3/sub");
	mk_file("p/t3/sub/f", NULL);
	ident("p/t3", &dev, &ino);
	int dfd = open("p", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(rc_rmtree_at(dfd, "t3", dev, ino, &st), 0);
	ck_assert(!exists("p/t3"));
	ck_assert(exists("p"));

	/* a path below an open directory */
	mk_dir("p/q");
	mk_dir("p/q/t4");
	ident("p/q/t4", &dev, &ino);
	ck_assert_int_eq(rc_rmtree_at(dfd, "q/t4", dev, ino, &st), 0);
	ck_assert(!exists("p/q/t4"));
	close(dfd);

	ck_assert_uint_eq(st.removed, 2 + 2 + 3 + 1);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_int_eq(chdir(cwd), 0);
	at(&s, "p", root, sizeof(root));
	ck_assert(exists(root));
	scratch_fini(&s);
}
END_TEST

/* --- never leaving the tree --------------------------------------------- */

START_TEST(rmtree_symlink_inside_not_followed)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	char root[128], out[128], p[256], q[256];
	uint64_t dev, ino;

	scratch_init(&s);
	at(&s, "outside", out, sizeof(out));
	mk_dir(out);
	snprintf(p, sizeof(p), "%s/precious", out);
	mk_file(p, "keep me");
	snprintf(p, sizeof(p), "%s/sub", out);
	mk_dir(p);
	snprintf(p, sizeof(p), "%s/sub/deep", out);
	mk_file(p, "keep me too");

	at(&s, "tree", root, sizeof(root));
	mk_dir(root);
	snprintf(p, sizeof(p), "%s/d", root);
	mk_dir(p);
	snprintf(p, sizeof(p), "%s/to-dir", root);
	mk_link(out, p);
	snprintf(p, sizeof(p), "%s/d/to-sub", root);
	snprintf(q, sizeof(q), "%s/sub", out);
	mk_link(q, p);
	snprintf(p, sizeof(p), "%s/d/to-file", root);
	snprintf(q, sizeof(q), "%s/precious", out);
	mk_link(q, p);

	ident(root, &dev, &ino);
	ck_assert_int_eq(rc_rmtree(root, dev, ino, &st), 0);
	ck_assert_uint_eq(st.removed, 5);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert(!exists(root));
	snprintf(p, sizeof(p), "%s/precious", out);
	ck_assert(exists(p));
	snprintf(p, sizeof(p), "%s/sub/deep", out);
	ck_assert(exists(p));
	scratch_fini(&s);
}
END_TEST

START_TEST(rmtree_root_now_symlink)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	char root[128], other[128], moved[128], p[256];
	uint64_t dev, ino;
	int fds = count_fds();

	scratch_init(&s);
	at(&s, "tree", root, sizeof(root));
	at(&s, "moved", moved, sizeof(moved));
	at(&s, "other", other, sizeof(other));
	mk_dir(root);
	ident(root, &dev, &ino);
	mk_dir(other);
	snprintf(p, sizeof(p), "%s/victim", other);
	mk_file(p, "not yours");

	/* the recorded tree moved away, a link to another dir took its place */
	ck_assert_int_eq(rename(root, moved), 0);
	mk_link(other, root);
	ck_assert_int_eq(rc_rmtree(root, dev, ino, &st), -ESTALE);
	ck_assert(exists(p));
	ck_assert(exists(root));
	ck_assert(exists(moved));
	ck_assert_uint_eq(st.removed, 0);
	ck_assert_uint_eq(st.failed, 0);

	/* even a link whose target has the recorded identity is refused:
	 * the path must name the directory itself */
	ck_assert_int_eq(unlink(root), 0);
	mk_link(moved, root);
	ck_assert_int_eq(rc_rmtree(root, dev, ino, &st), -ESTALE);
	ck_assert(exists(moved));
	ck_assert_int_eq(count_fds(), fds);
	scratch_fini(&s);
}
END_TEST

START_TEST(rmtree_root_replaced_by_other_dir)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	char root[128], moved[128], p[256];
	uint64_t dev, ino;

	scratch_init(&s);
	at(&s, "tree", root, sizeof(root));
	at(&s, "moved", moved, sizeof(moved));
	mk_dir(root);
	ident(root, &dev, &ino);
	/* renamed, not removed, so the new directory cannot reuse the inode */
	ck_assert_int_eq(rename(root, moved), 0);
	mk_dir(root);
	snprintf(p, sizeof(p), "%s/someone-elses", root);
	mk_file(p, NULL);

	ck_assert_int_eq(rc_rmtree(root, dev, ino, &st), -ESTALE);
	ck_assert(exists(p));
	ck_assert_uint_eq(st.removed, 0);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_int_eq(st.first_error, 0);
	scratch_fini(&s);
}
END_TEST

START_TEST(rmtree_file_where_dir_recorded)
{
	struct scratch s;
	char path[128], tgt[128];
	uint64_t dev, ino;

	scratch_init(&s);
	at(&s, "was-a-dir", path, sizeof(path));
	mk_file(path, "x");
	/* even with the file's own identity: a tree is a directory */
	ident(path, &dev, &ino);
	ck_assert_int_eq(rc_rmtree(path, dev, ino, NULL), -ESTALE);
	ck_assert(exists(path));

	/* a symlink to a directory, with the link's own identity */
	at(&s, "target", tgt, sizeof(tgt));
	mk_dir(tgt);
	ck_assert_int_eq(unlink(path), 0);
	mk_link(tgt, path);
	ident(path, &dev, &ino);
	ck_assert_int_eq(rc_rmtree(path, dev, ino, NULL), -ESTALE);
	ck_assert(exists(path));
	ck_assert(exists(tgt));
	scratch_fini(&s);
}
END_TEST

START_TEST(rmtree_absent)
{
	struct scratch s;
	char path[128];

	scratch_init(&s);
	at(&s, "never-was", path, sizeof(path));
	ck_assert_int_eq(rc_rmtree(path, 1, 1, NULL), -ENOENT);
	at(&s, "no/such/parent", path, sizeof(path));
	ck_assert_int_eq(rc_rmtree(path, 1, 1, NULL), -ENOENT);
	/* a file on the way to it */
	at(&s, "file", path, sizeof(path));
	mk_file(path, NULL);
	at(&s, "file/child", path, sizeof(path));
	ck_assert_int_eq(rc_rmtree(path, 1, 1, NULL), -ENOENT);
	scratch_fini(&s);
}
END_TEST

START_TEST(rmtree_refuses_odd_last_component)
{
	struct scratch s;
	char root[128], p[256];
	uint64_t dev, ino;
	const char *suffixes[] = { "/", "//", "/.", "/..", "/sub/..", "/sub/." };

	scratch_init(&s);
	at(&s, "tree", root, sizeof(root));
	mk_dir(root);
	snprintf(p, sizeof(p), "%s/sub", root);
	mk_dir(p);
	ident(root, &dev, &ino);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", root, suffixes[i]);
		ck_assert_msg(rc_rmtree(p, dev, ino, NULL) == -EINVAL, "%s", p);
	}
	ck_assert_int_eq(rc_rmtree("", dev, ino, NULL), -EINVAL);
	ck_assert_int_eq(rc_rmtree(".", dev, ino, NULL), -EINVAL);
	ck_assert_int_eq(rc_rmtree("..", dev, ino, NULL), -EINVAL);
	ck_assert_int_eq(rc_rmtree("/", dev, ino, NULL), -EINVAL);
	ck_assert_int_eq(rc_rmtree(NULL, dev, ino, NULL), -EINVAL);
	snprintf(p, sizeof(p), "%s/sub", root);
	ck_assert(exists(p));
	scratch_fini(&s);
}
END_TEST

/* A file system mounted inside the tree is left alone, and so is a bind
 * mount of the same file system (same st_dev, other mount). */
START_TEST(rmtree_stops_at_mount_points)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	char root[128], out[128], p[256], q[512];
	uint64_t dev, ino;

	scratch_init(&s);
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) {
		fprintf(stderr, "rmtree_stops_at_mount_points: skipped, "
			"no mount namespace (%s)\n", strerror(errno));
		scratch_fini(&s);
		return;
	}
	at(&s, "tree", root, sizeof(root));
	at(&s, "outside", out, sizeof(out));
	mk_dir(root);
	mk_dir(out);
	snprintf(p, sizeof(p), "%s/precious", out);
	mk_file(p, NULL);
	snprintf(p, sizeof(p), "%s/tmpfs", root);
	mk_dir(p);
	ck_assert_int_eq(mount("rcshim-test", p, "tmpfs", 0, "size=1m"), 0);
	snprintf(q, sizeof(q), "%s/on-tmpfs", p);
	mk_file(q, NULL);
	snprintf(p, sizeof(p), "%s/bind", root);
	mk_dir(p);
	ck_assert_int_eq(mount(out, p, "none", MS_BIND, NULL), 0);
	snprintf(p, sizeof(p), "%s/plain", root);
	mk_file(p, NULL);

	ident(root, &dev, &ino);
	ck_assert_int_eq(rc_rmtree(root, dev, ino, &st), -ENOTEMPTY);
	/* both mount points failed, and so did the root holding them */
	ck_assert_uint_eq(st.failed, 3);
	ck_assert_int_eq(st.first_error, EXDEV);
	ck_assert_uint_eq(st.removed, 1);
	ck_assert(exists(q));
	snprintf(p, sizeof(p), "%s/precious", out);
	ck_assert(exists(p));
	snprintf(p, sizeof(p), "%s/bind/precious", root);
	ck_assert(exists(p));
	snprintf(p, sizeof(p), "%s/plain", root);
	ck_assert(!exists(p));

	snprintf(p, sizeof(p), "%s/tmpfs", root);
	ck_assert_int_eq(umount(p), 0);
	snprintf(p, sizeof(p), "%s/bind", root);
	ck_assert_int_eq(umount(p), 0);
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(rc_rmtree(root, dev, ino, &st), 0);
	ck_assert_uint_eq(st.removed, 3);
	snprintf(p, sizeof(p), "%s/precious", out);
	ck_assert(exists(p));
	scratch_fini(&s);
}
END_TEST

/* --- failures are counted and the walk goes on ---------------------------- */

static bool
set_immutable(const char *path, bool on)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int flags = 0;
	bool ok;

	if (fd < 0) {
		return false;
	}
	ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
	if (ok) {
		flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
		ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
	}
	close(fd);
	return ok;
}

START_TEST(rmtree_counts_failures_and_goes_on)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	char root[128], p[256], pinned[256];
	uint64_t dev, ino;
	int fds = count_fds();

	scratch_init(&s);
	at(&s, "tree", root, sizeof(root));
	mk_dir(root);
	snprintf(p, sizeof(p), "%s/keep", root);
	mk_dir(p);
	for (int i = 0; i < 50; i++) {
		snprintf(p, sizeof(p), "%s/keep/f%02d", root, i);
		mk_file(p, NULL);
		snprintf(p, sizeof(p), "%s/g%02d", root, i);
		mk_file(p, NULL);
	}
	snprintf(pinned, sizeof(pinned), "%s/keep/pinned", root);
	mk_file(pinned, NULL);
	if (!set_immutable(pinned, true)) {
		fprintf(stderr, "rmtree_counts_failures_and_goes_on: skipped, "
			"no immutable flag here (%s)\n", strerror(errno));
		scratch_fini(&s);
		return;
	}

	ident(root, &dev, &ino);
	ck_assert_int_eq(rc_rmtree(root, dev, ino, &st), -ENOTEMPTY);
	/* the pinned file, then the two directories above it */
	ck_assert_uint_eq(st.failed, 3);
	ck_assert_int_eq(st.first_error, EPERM);
	ck_assert_uint_eq(st.removed, 100);
	ck_assert(exists(pinned));
	ck_assert_int_eq(count_fds(), fds);

	ck_assert(set_immutable(pinned, false));
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(rc_rmtree(root, dev, ino, &st), 0);
	ck_assert_uint_eq(st.removed, 3);
	ck_assert(!exists(root));
	scratch_fini(&s);
}
END_TEST

/* --- shape: deep and wide ------------------------------------------------- */

START_TEST(rmtree_deep_tree)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	char root[128];
	uint64_t dev, ino, made;
	int fds = count_fds();

	scratch_init(&s);
	at(&s, "deep", root, sizeof(root));
	mk_dir(root);
	made = mk_chain(root, 300, true);
	ident(root, &dev, &ino);
	ck_assert_int_eq(rc_rmtree(root, dev, ino, &st), 0);
	ck_assert_uint_eq(st.removed, made + 1);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert(!exists(root));
	ck_assert_int_eq(count_fds(), fds);
	scratch_fini(&s);
}
END_TEST

/* With few descriptors to spare the walk gives back those of the levels it
 * is not listing and comes back to them through "..". */
START_TEST(rmtree_deep_tree_few_fds)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	struct rlimit old, lim;
	char root[128];
	uint64_t dev, ino, made;
	int fds;

	scratch_init(&s);
	at(&s, "deep", root, sizeof(root));
	mk_dir(root);
	made = mk_chain(root, 300, true);
	ident(root, &dev, &ino);

	fds = count_fds();
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	lim.rlim_cur = 24;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
	int r = rc_rmtree(root, dev, ino, &st);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);

	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(st.removed, made + 1);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert(!exists(root));
	ck_assert_int_eq(count_fds(), fds);
	scratch_fini(&s);
}
END_TEST

/* Coming back to a level through "..", its listing resumes where it was:
 * an entry that failed there is not met, and counted, a second time. */
START_TEST(rmtree_few_fds_resumes_listing)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	struct rlimit old, lim;
	char root[128], pinned[256];
	uint64_t dev, ino, made;

	scratch_init(&s);
	at(&s, "deep", root, sizeof(root));
	mk_dir(root);
	made = mk_chain(root, 100, true);
	snprintf(pinned, sizeof(pinned), "%s/a/a/pinned", root);
	mk_file(pinned, NULL);
	if (!set_immutable(pinned, true)) {
		fprintf(stderr, "rmtree_few_fds_resumes_listing: skipped, "
			"no immutable flag here (%s)\n", strerror(errno));
		scratch_fini(&s);
		return;
	}
	ident(root, &dev, &ino);

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	lim.rlim_cur = 24;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
	int r = rc_rmtree(root, dev, ino, &st);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);

	ck_assert_int_eq(r, -ENOTEMPTY);
	/* pinned, then a/a, a and the root holding it */
	ck_assert_uint_eq(st.failed, 4);
	ck_assert_int_eq(st.first_error, EPERM);
	ck_assert_uint_eq(st.removed, made - 2);
	ck_assert(set_immutable(pinned, false));
	scratch_fini(&s);
}
END_TEST

START_TEST(rmtree_deeper_than_limit)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	char root[128];
	uint64_t dev, ino;
	int fds = count_fds();

	scratch_init(&s);
	at(&s, "deeper", root, sizeof(root));
	mk_dir(root);
	mk_chain(root, 1100, false);
	ident(root, &dev, &ino);
	ck_assert_int_eq(rc_rmtree(root, dev, ino, &st), -ENOTEMPTY);
	/* levels 0..1023 lose their file "f"; the directory at depth 1024
	 * is not entered, and every directory above it stays */
	ck_assert_uint_eq(st.removed, 1024);
	ck_assert_uint_eq(st.failed, 1 + 1024);
	ck_assert_int_eq(st.first_error, ELOOP);
	ck_assert(exists(root));
	ck_assert_int_eq(count_fds(), fds);
	scratch_fini(&s);
}
END_TEST

START_TEST(rmtree_wide_dir)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	char root[128], p[256];
	uint64_t dev, ino;

	scratch_init(&s);
	at(&s, "wide", root, sizeof(root));
	mk_dir(root);
	int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	for (int i = 0; i < 10000; i++) {
		snprintf(p, sizeof(p), "file-with-a-longish-name-%05d", i);
		int fd = openat(dfd, p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		ck_assert_int_ge(fd, 0);
		close(fd);
		if (i % 1000 == 0) {
			/* directories in the middle of the listing, too */
			snprintf(p, sizeof(p), "dir-%05d", i);
			ck_assert_int_eq(mkdirat(dfd, p, 0700), 0);
			snprintf(p, sizeof(p), "dir-%05d/inner", i);
			fd = openat(dfd, p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			ck_assert_int_ge(fd, 0);
			close(fd);
		}
	}
	close(dfd);
	ident(root, &dev, &ino);
	ck_assert_int_eq(rc_rmtree(root, dev, ino, &st), 0);
	ck_assert_uint_eq(st.removed, 10000 + 10 * 2 + 1);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert(!exists(root));
	scratch_fini(&s);
}
END_TEST

/* Another process keeps adding files while the tree goes: the walk reads a
 * listing again only a bounded number of times, then gives up. */
START_TEST(rmtree_terminates_under_concurrent_writer)
{
	struct scratch s;
	struct rc_rm_stats st = { 0 };
	char root[128], p[256];
	uint64_t dev, ino;
	pid_t pid;
	int status;

	scratch_init(&s);
	at(&s, "busy", root, sizeof(root));
	mk_dir(root);
	snprintf(p, sizeof(p), "%s/sub", root);
	mk_dir(p);
	for (int i = 0; i < 2000; i++) {
		snprintf(p, sizeof(p), "%s/sub/old%04d", root, i);
		mk_file(p, NULL);
	}
	ident(root, &dev, &ino);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (unsigned long i = 0;; i++) {
			snprintf(p, sizeof(p), "%s/sub/new%lu", root, i);
			int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
			if (fd >= 0) {
				close(fd);
			}
		}
	}
	usleep(2000);
	int r = rc_rmtree(root, dev, ino, &st);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);

	ck_assert_msg(r == 0 || r == -ENOTEMPTY, "r == %d", r);
	ck_assert_uint_ge(st.removed, 2000);
	if (r == -ENOTEMPTY) {
		/* only the two directories the writer kept filling */
		ck_assert_uint_eq(st.failed, 2);
		ck_assert_int_eq(st.first_error, ENOTEMPTY);
	}
	scratch_fini(&s);
}
END_TEST

/* --- inside a signal handler ---------------------------------------------- */

static const char *sig_path;
static uint64_t sig_dev, sig_ino;
static struct rc_rm_stats sig_stats;
static volatile sig_atomic_t sig_result = 1;
static volatile sig_atomic_t sig_errno_kept;

static void
on_usr1(int sig)
{
	int saved = errno;

	(void)sig;
	errno = 4242;
	sig_result = rc_rmtree(sig_path, sig_dev, sig_ino, &sig_stats);
	sig_errno_kept = errno == 4242;
	errno = saved;
}

START_TEST(rmtree_from_signal_handler)
{
	struct scratch s;
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_ONSTACK }, old_sa;
	/* a small alternate stack: the walk keeps its state in mapped memory */
	static char altstack[32 * 1024];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) }, old_ss;
	char root[128];
	uint64_t made;

	scratch_init(&s);
	at(&s, "in-handler", root, sizeof(root));
	mk_dir(root);
	made = mk_chain(root, 40, true);
	sig_path = root;
	ident(root, &sig_dev, &sig_ino);

	ck_assert_int_eq(sigaltstack(&ss, &old_ss), 0);
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old_sa), 0);
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(sigaction(SIGUSR1, &old_sa, NULL), 0);
	ck_assert_int_eq(sigaltstack(&old_ss, NULL), 0);

	ck_assert_int_eq(sig_result, 0);
	ck_assert(sig_errno_kept);
	ck_assert_uint_eq(sig_stats.removed, made + 1);
	ck_assert_uint_eq(sig_stats.failed, 0);
	ck_assert(!exists(root));
	scratch_fini(&s);
}
END_TEST

/* --- single files ----------------------------------------------------------- */

START_TEST(unlink_checked_cases)
{
	struct scratch s;
	char f[256], g[128], l[128], d[128];
	uint64_t fdev, fino, gdev, gino, ldev, lino, ddev, dino;

	scratch_init(&s);
	at(&s, "f", f, sizeof(f));
	at(&s, "g", g, sizeof(g));
	at(&s, "l", l, sizeof(l));
	at(&s, "d", d, sizeof(d));
	mk_file(f, "f");
	mk_file(g, "g");
	mk_link(g, l);
	mk_dir(d);
	ident(f, &fdev, &fino);
	ident(g, &gdev, &gino);
	ident(l, &ldev, &lino);
	ident(d, &ddev, &dino);

	/* another file's identity */
	ck_assert_int_eq(rc_unlink_checked(f, gdev, gino), -ESTALE);
	ck_assert(exists(f));
	/* a link is checked as itself, never as its target */
	ck_assert_int_eq(rc_unlink_checked(l, gdev, gino), -ESTALE);
	ck_assert(exists(l));
	ck_assert_int_eq(rc_unlink_checked(l, ldev, lino), 0);
	ck_assert(!exists(l));
	ck_assert(exists(g));
	/* a directory is not a file, even when it is the recorded one */
	ck_assert_int_eq(rc_unlink_checked(d, ddev, dino), -EISDIR);
	ck_assert(exists(d));
	ck_assert_int_eq(rc_unlink_checked(d, fdev, fino), -ESTALE);
	/* the match */
	ck_assert_int_eq(rc_unlink_checked(f, fdev, fino), 0);
	ck_assert(!exists(f));
	/* gone, or never there */
	ck_assert_int_eq(rc_unlink_checked(f, fdev, fino), -ENOENT);
	at(&s, "no/such/dir/f", f, sizeof(f));
	ck_assert_int_eq(rc_unlink_checked(f, fdev, fino), -ENOENT);
	/* names that do not name a file */
	snprintf(f, sizeof(f), "%s/", g);
	ck_assert_int_eq(rc_unlink_checked(f, gdev, gino), -EINVAL);
	ck_assert_int_eq(rc_unlink_checked("", gdev, gino), -EINVAL);
	ck_assert(exists(g));
	scratch_fini(&s);
}
END_TEST

START_TEST(unlink_checked_relative_and_fifo)
{
	struct scratch s;
	char cwd[4096];
	uint64_t dev, ino;

	scratch_init(&s);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(s.dir), 0);
	ck_assert_int_eq(mkfifo("fifo", 0600), 0);
	ident("fifo", &dev, &ino);
	ck_assert_int_eq(rc_unlink_checked("fifo", dev, ino), 0);
	ck_assert(!exists("fifo"));
	mk_dir("sub");
	mk_file("sub/x", NULL);
	ident("sub/x", &dev, &ino);
	ck_assert_int_eq(rc_unlink_checked("sub/x", dev, ino), 0);
	ck_assert(!exists("sub/x"));
	ck_assert_int_eq(chdir(cwd), 0);
	scratch_fini(&s);
}
END_TEST

TEST_SUITE(rmtree)
{
	ADD_TEST(s, rmtree_removes_mixed_tree);
	ADD_TEST(s, rmtree_empty_root_and_null_stats);
	ADD_TEST(s, rmtree_stats_accumulate);
	ADD_TEST(s, rmtree_relative_and_at);
	ADD_TEST(s, rmtree_symlink_inside_not_followed);
	ADD_TEST(s, rmtree_root_now_symlink);
	ADD_TEST(s, rmtree_root_replaced_by_other_dir);
	ADD_TEST(s, rmtree_file_where_dir_recorded);
	ADD_TEST(s, rmtree_absent);
	ADD_TEST(s, rmtree_refuses_odd_last_component);
	ADD_TEST(s, rmtree_stops_at_mount_points);
	ADD_TEST(s, rmtree_counts_failures_and_goes_on);
	ADD_TEST(s, rmtree_deep_tree);
	ADD_TEST(s, rmtree_deep_tree_few_fds);
	ADD_TEST(s, rmtree_few_fds_resumes_listing);
	ADD_TEST(s, rmtree_deeper_than_limit);
	ADD_TEST(s, rmtree_wide_dir);
	ADD_TEST(s, rmtree_terminates_under_concurrent_writer);
	ADD_TEST(s, rmtree_from_signal_handler);
	ADD_TEST(s, unlink_checked_cases);
	ADD_TEST(s, unlink_checked_relative_and_fifo);
}
