#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

const char *
t_preload(void)
{
	const char *p = getenv("RCSHIM_TEST_PRELOAD");
	ck_assert_msg(p && *p, "RCSHIM_TEST_PRELOAD is not set (run through meson test)");
	return p;
}

const char *
t_victim(const char *name)
{
	static char buf[8][4096];
	static int next;
	const char *dir = getenv("RCSHIM_TEST_BUILDDIR");
	ck_assert_msg(dir, "RCSHIM_TEST_BUILDDIR is not set (run through meson test)");
	char *b = buf[next++ % 8];
	snprintf(b, sizeof(buf[0]), "%s/tests/%s", dir, name);
	return b;
}

static char **
make_env(bool preload, const char *const *add)
{
	size_t n = 0, m = 0;
	for (char **e = environ; *e; e++) {
		n++;
	}
	for (const char *const *a = add; a && *a; a++) {
		m++;
	}
	char **env = calloc(n + m + 2, sizeof(*env));
	size_t k = 0;
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, "RCSHIM_", 7) == 0 || strncmp(*e, "LD_PRELOAD=", 11) == 0) {
			continue;
		}
		/* What @add sets replaces the test's own: getenv takes the
		 * first of two entries, a shell the last. */
		size_t nl = (size_t)(strchrnul(*e, '=') - *e) + 1;
		bool replaced = false;
		for (const char *const *a = add; a && *a && !replaced; a++) {
			replaced = strncmp(*a, *e, nl) == 0;
		}
		if (!replaced) {
			env[k++] = *e;
		}
	}
	for (const char *const *a = add; a && *a; a++) {
		env[k++] = (char *)*a;
	}
	if (preload) {
		static char lp[8192];
		snprintf(lp, sizeof(lp), "LD_PRELOAD=%s", t_preload());
		env[k++] = lp;
	}
	env[k] = NULL;
	return env;
}

struct buf {
	char *p;
	size_t len, cap;
};

static void
buf_add(struct buf *b, const char *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
t_run(struct rc_run *r, bool preload, const char *const *env, const char *input,
      const char *const *argv)
{
	int in[2], out[2], err[2];
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	char **envp = make_env(preload, env);

	const char *py = getenv("RCSHIM_TEST_PYTHON");
	const char *argv0 = argv[0];
	if (py && *py && strcmp(argv0, "python3") == 0) {
		argv0 = py;
	}

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		/* A clean slate of signal dispositions, as from a shell. */
		for (int s = 1; s < NSIG; s++) {
			signal(s, SIG_DFL);
		}
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* Under the valgrind test setup, the programs that run the
		 * shim run under memcheck too. */
		if (preload && getenv("RCSHIM_TEST_VALGRIND")) {
			static char supp[4200];
			const char *sf = getenv("RCSHIM_TEST_VALGRIND_SUPP");
			snprintf(supp, sizeof(supp), "--suppressions=%s", sf ? sf : "/dev/null");
			/* --fair-sched: valgrind runs one thread at a time, and
			 * by default a thread spinning on malloc can keep the
			 * others from ever getting their turn (a parent's
			 * waitpid returned and never ran again). */
			const char *vg[64] = { "valgrind", "-q", "--error-exitcode=99",
					       "--fair-sched=yes", "--trace-children=no", supp,
					       NULL };
			size_t k = 6;
			vg[k++] = argv0;
			for (size_t i = 1; argv[i] && k < 63; i++) {
				vg[k++] = argv[i];
			}
			vg[k] = NULL;
			execvpe(vg[0], (char *const *)vg, envp);
		}
		((const char **)argv)[0] = argv0;
		execvpe(argv0, (char *const *)argv, envp);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	free(envp);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (input) {
		size_t len = strlen(input);
		ssize_t w = write(in[1], input, len);
		(void)w;
	}
	close(in[1]);

	struct buf bo = { 0 }, be = { 0 };
	buf_add(&bo, "", 0);
	buf_add(&be, "", 0);
	struct pollfd pf[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
	int open_fds = 2;
	while (open_fds > 0) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR) {
				continue;
			}
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) {
				continue;
			}
			char chunk[4096];
			ssize_t n = read(pf[i].fd, chunk, sizeof(chunk));
			if (n > 0) {
				buf_add(i ? &be : &bo, chunk, (size_t)n);
			} else {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_fds--;
			}
		}
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	r->status = status;
	r->out = bo.p;
	r->err = be.p;
}

void
t_sh(struct rc_run *r, bool preload, const char *const *env, const char *cmd)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	t_run(r, preload, env, NULL, argv);
}

void
t_run_free(struct rc_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* Scratch space lives in the build tree, outside every default temp root,
 * so that only what a test puts under its own TMPDIR counts as temporary. */
char *
t_scratch(void)
{
	const char *base = getenv("RCSHIM_TEST_BUILDDIR");
	char *d;
	if (asprintf(&d, "%s/tests/scratch-XXXXXX", base ? base : "/var/lib") < 0) {
		ck_abort_msg("out of memory");
	}
	ck_assert_msg(mkdtemp(d), "mkdtemp %s: %s", d, strerror(errno));
	return d;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void
t_scratch_free(char *dir)
{
	if (dir) {
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(dir);
	}
}

bool
t_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

char *
t_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		return NULL;
	}
	struct buf b = { 0 };
	char chunk[4096];
	size_t n;
	buf_add(&b, "", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_add(&b, chunk, n);
	}
	fclose(f);
	return b.p;
}

void
t_write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f, "cannot write %s: %s", path, strerror(errno));
	fputs(content, f);
	fclose(f);
}

const char *
t_status_str(int status)
{
	static char buf[64];
	if (WIFEXITED(status)) {
		snprintf(buf, sizeof(buf), "exited %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		snprintf(buf, sizeof(buf), "killed by signal %d", WTERMSIG(status));
	} else {
		snprintf(buf, sizeof(buf), "status 0x%x", status);
	}
	return buf;
}
