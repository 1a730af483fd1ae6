#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "core/fdtable.h"
#include "core/journal.h"
#include "core/log.h"
#include "core/roots.h"
#include "core/registry.h"
#include "core/session.h"
#include "core/state.h"
#include "fixture.h"

struct scratch S;

/* --- the scratch tree -------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* Removes the scratch tree, also the one a failed test left behind. */
static void
scratch_remove(void)
{
	if (S.dir[0]) {
		if (chdir("/") != 0) {
			/* nothing better to do */
		}
		nftw(S.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		S.dir[0] = '\0';
	}
}

/* A fresh <dir> with root/, xdg/ and outside/ in it; S.jpath empty. */
static void
scratch_make(void)
{
	char tmpl[] = "/tmp/rcshim-unit-XXXXXX";

	scratch_remove();
	memset(&S, 0, sizeof(S));
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_ptr_nonnull(realpath(tmpl, S.dir));
	path_in(S.root, sizeof(S.root), S.dir, "root");
	path_in(S.xdg, sizeof(S.xdg), S.dir, "xdg");
	path_in(S.out, sizeof(S.out), S.dir, "outside");
	make_dir(S.root);
	make_dir(S.xdg);
	make_dir(S.out);
}

/* --- setups and teardowns ---------------------------------------------------- */

void
scratch_setup(void)
{
	scratch_make();
	rc_log_threshold = RC_LOG_QUIET;
	memset(&rc_session, 0, sizeof(rc_session));
	rc_pid_cached = getpid();
	rc_journal_after_fork_child(); /* forget a journal fd of the last test */
	ck_assert(rc_session_init(NULL, false, S.xdg));
	const char *roots[] = { S.root };
	rc_tmp_roots_set(roots, 1, NULL, false);
	rc_journal_path(S.jpath, sizeof(S.jpath));
	ck_assert_str_ne(S.jpath, "");
}

void
scratch_teardown(void)
{
	scratch_remove();
	rc_log_threshold = RC_LOG_WARN;
}

void
state_setup(const char *extra)
{
	static char xdg_env[PATH_MAX + 32], roots_env[PATH_MAX + 32];

	scratch_make();
	snprintf(xdg_env, sizeof(xdg_env), "XDG_RUNTIME_DIR=%s", S.xdg);
	snprintf(roots_env, sizeof(roots_env), "RCSHIM_TMP_ROOTS=%s", S.root);
	static char member_env[PATH_MAX + 128];
	if (extra && !strcmp(extra, FIXTURE_MEMBER)) {
		/* A member of a session whose root is pid 1, journaling
		 * where this test looks. */
		char d[PATH_MAX];
		path_in(d, sizeof(d), S.xdg, "rcshim");
		make_dir(d);
		snprintf(member_env, sizeof(member_env),
			 "RCSHIM_SESSION=0123456789abcdef0123456789abcdef.1.1:%s", d);
		extra = member_env;
	}
	char *envp[] = { xdg_env, roots_env, (char *)"RCSHIM_LOG=quiet",
			 (char *)extra, NULL };

	/* Each test is a fresh process under CK_FORK, but not under
	 * valgrind's CK_FORK=no: start from nothing either way. */
	atomic_store(&rc_ready, 0);
	atomic_store(&rc_finished, false);
	rc_guard = 0;
	rc_scope_cur = 0;
	rc_reg_reset();
	rc_fd_reset();
	memset(&rc_session, 0, sizeof(rc_session));
	rc_journal_after_fork_child();
	rc_state_init(envp);
	ck_assert_int_eq(atomic_load(&rc_ready), 2);
	ck_assert_int_eq(rc_pid_cached, getpid());
	rc_journal_path(S.jpath, sizeof(S.jpath));
	ck_assert_str_ne(S.jpath, "");
}

void
state_teardown(void)
{
	ck_assert_int_eq(chdir("/"), 0);
	scratch_remove();
	rc_reg_reset();
	rc_fd_reset();
	rc_guard = 0;
	rc_scope_cur = 0;
	rc_log_threshold = RC_LOG_WARN;
}

/* --- files ------------------------------------------------------------------- */

void
path_in(char *buf, size_t n, const char *dir, const char *name)
{
	ck_assert_int_lt(snprintf(buf, n, "%s/%s", dir, name), (int)n);
}

bool
exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

off_t
file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void
write_with(const char *path, const char *content, int how)
{
	int fd = open(path, O_WRONLY | O_CREAT | how | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

void
write_file(const char *path, const char *content)
{
	write_with(path, content, O_TRUNC);
}

void
append_raw(const char *path, const char *content)
{
	write_with(path, content, O_APPEND);
}

ssize_t
read_file(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		buf[0] = '\0';
		return -1;
	}
	size_t got = 0;
	ssize_t r;
	while (got + 1 < n && (r = read(fd, buf + got, n - 1 - got)) > 0) {
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

void
make_dir(const char *path)
{
	ck_assert_msg(mkdir(path, 0700) == 0, "mkdir %s: %s", path, strerror(errno));
}

/* --- a tree with links to the outside ---------------------------------------- */

void
make_tree(const char *d)
{
	char p[PATH_MAX], keep[PATH_MAX];

	make_dir(d);
	path_in(p, sizeof(p), d, "f1");
	write_file(p, "one");
	path_in(p, sizeof(p), d, "sub");
	make_dir(p);
	path_in(p, sizeof(p), d, "sub/f2");
	write_file(p, "two");
	path_in(keep, sizeof(keep), S.out, "keep");
	if (!exists(keep)) {
		write_file(keep, "precious");
	}
	path_in(p, sizeof(p), d, "link");
	ck_assert_int_eq(symlink(keep, p), 0);
	path_in(p, sizeof(p), d, "linkdir");
	ck_assert_int_eq(symlink(S.out, p), 0);
}

void
assert_outside_intact(void)
{
	char keep[PATH_MAX], buf[64];
	path_in(keep, sizeof(keep), S.out, "keep");
	ck_assert_int_eq(read_file(keep, buf, sizeof(buf)), 8);
	ck_assert_str_eq(buf, "precious");
}
