/* Shared by the launcher's tests: a scratch dir with its own temp root and
 * journal directory, and ways to run `rcshim` (under valgrind in the
 * valgrind setup, with the ASan runtime preloaded in a sanitizer build). */
#pragma once

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

#define ck_assert_killed_by(st, sig)                                           \
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == (sig),                  \
		      "expected death by signal %d, got %s", (sig), t_status_str(st))

#define ck_assert_exited(r, code)                                              \
	ck_assert_msg(WIFEXITED((r)->status) && WEXITSTATUS((r)->status) == (code), \
		      "expected exit %d, got %s; stderr: %s", (code),             \
		      t_status_str((r)->status), (r)->err)

struct cli_scratch {
	char *dir;
	char tmp[600];  /* TMPDIR, and the only temp root */
	char run[600];  /* XDG_RUNTIME_DIR */
	char jdir[700]; /* the journal directory: run/rcshim */
	char env_tmpdir[700], env_roots[700], env_xdg[700];
};

static inline void
cli_scratch_init(struct cli_scratch *s)
{
	s->dir = t_scratch();
	snprintf(s->tmp, sizeof(s->tmp), "%s/tmp", s->dir);
	snprintf(s->run, sizeof(s->run), "%s/run", s->dir);
	snprintf(s->jdir, sizeof(s->jdir), "%s/rcshim", s->run);
	ck_assert_int_eq(mkdir(s->tmp, 0700), 0);
	ck_assert_int_eq(mkdir(s->run, 0700), 0);
	snprintf(s->env_tmpdir, sizeof(s->env_tmpdir), "TMPDIR=%s", s->tmp);
	snprintf(s->env_roots, sizeof(s->env_roots), "RCSHIM_TMP_ROOTS=%s", s->tmp);
	snprintf(s->env_xdg, sizeof(s->env_xdg), "XDG_RUNTIME_DIR=%s", s->run);
}

static inline void
cli_scratch_fini(struct cli_scratch *s)
{
	t_scratch_free(s->dir);
}

static inline const char *
cli_python(void)
{
	const char *py = getenv("RCSHIM_TEST_PYTHON");
	return py && *py ? py : "python3";
}

static inline const char *
cli_rcshim(void)
{
	const char *p = getenv("RCSHIM_TEST_RCSHIM");
	ck_assert_msg(p && *p, "RCSHIM_TEST_RCSHIM is not set (run through meson test)");
	return p;
}

/* The shim as built (its real path: what the launcher puts in LD_PRELOAD). */
static inline const char *
cli_lib(void)
{
	static char real[4096];
	const char *p = getenv("RCSHIM_TEST_LIB");
	ck_assert_msg(p && realpath(p, real), "RCSHIM_TEST_LIB is not set or missing");
	return real;
}

/* argv: [valgrind ...] rcshim ARGS... ("python3" becomes the interpreter). */
static inline const char **
cli_argv(const char *const *args)
{
	size_t n = 0;
	while (args[n]) {
		n++;
	}
	const char **v = calloc(n + 16, sizeof(*v));
	size_t k = 0;
	if (getenv("RCSHIM_TEST_VALGRIND")) {
		static char supp[4200];
		const char *sf = getenv("RCSHIM_TEST_VALGRIND_SUPP");
		snprintf(supp, sizeof(supp), "--suppressions=%s", sf ? sf : "/dev/null");
		const char *vg[] = { "valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
				     "--errors-for-leak-kinds=definite", "--trace-children=no",
				     "--fair-sched=yes", supp };
		for (size_t i = 0; i < sizeof(vg) / sizeof(vg[0]); i++) {
			v[k++] = vg[i];
		}
	}
	v[k++] = cli_rcshim();
	for (size_t i = 0; i < n; i++) {
		v[k++] = strcmp(args[i], "python3") == 0 ? cli_python() : args[i];
	}
	return v;
}

/* Whether the shim tracks the heap in the programs the tests run: not in
 * a sanitizer build, where ASan owns the allocator and the shim steps
 * aside (its report says so). */
static inline bool
cli_heap_tracked(void)
{
	const char *rt = getenv("RCSHIM_TEST_ASAN_RT");
	return !(rt && *rt);
}

/* The environment for the launcher: the scratch's TMPDIR, temp root and
 * XDG_RUNTIME_DIR, the ASan runtime in LD_PRELOAD where needed, then @env
 * (entries there win). */
static inline const char **
cli_env(const struct cli_scratch *s, const char *const *env)
{
	static char asan[4200];
	const char **v = calloc(64, sizeof(*v));
	size_t k = 0;
	bool own_preload = false;
	for (const char *const *e = env; e && *e && k < 56; e++) {
		v[k++] = *e;
		own_preload |= strncmp(*e, "LD_PRELOAD=", 11) == 0;
	}
	/* The scratch's own only where @env does not set them: a shell
	 * takes the last of two entries, getenv the first. */
	const char *own[] = { s->env_tmpdir, s->env_roots, s->env_xdg };
	for (size_t i = 0; i < 3; i++) {
		size_t n = (size_t)(strchr(own[i], '=') - own[i]) + 1;
		bool given = false;
		for (const char *const *e = env; e && *e; e++) {
			given |= strncmp(*e, own[i], n) == 0;
		}
		if (!given) {
			v[k++] = own[i];
		}
	}
	const char *rt = getenv("RCSHIM_TEST_ASAN_RT");
	if (rt && *rt && !own_preload) {
		snprintf(asan, sizeof(asan), "LD_PRELOAD=%s", rt);
		v[k++] = asan;
	}
	/* To run an instrumented launcher with an uninstrumented shim. */
	static char lib[4200];
	const char *l = getenv("RCSHIM_TEST_RCSHIM_LIB");
	if (l && *l) {
		snprintf(lib, sizeof(lib), "RCSHIM_LIB=%s", l);
		v[k++] = lib;
	}
	return v;
}

/* The test's environment without RCSHIM_* and LD_PRELOAD, plus cli_env. */
static inline const char **
cli_full_env(const struct cli_scratch *s, const char *const *env)
{
	const char **add = cli_env(s, env);
	size_t n = 0;
	for (char **e = environ; *e; e++) {
		n++;
	}
	const char **envp = calloc(n + 64, sizeof(*envp));
	size_t k = 0;
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, "RCSHIM_", 7) && strncmp(*e, "LD_PRELOAD=", 11)) {
			envp[k++] = *e;
		}
	}
	for (const char **a = add; *a; a++) {
		envp[k++] = *a;
	}
	free(add);
	return envp;
}

/* Runs `rcshim ARGS` and waits; output captured in @r. */
static inline void
run_rcshim_as(struct rc_run *r, const struct cli_scratch *s, const char *const *env,
	      const char *const *args)
{
	const char **argv = cli_argv(args);
	const char **envp = cli_env(s, env);
	t_run(r, false, envp, NULL, argv);
	free(argv);
	free(envp);
}

/* The same, and the launcher did not crash: its guard keeps the program's
 * status and says so on stderr (cli_guard_status), which no test but the
 * guard's own (run_rcshim_as) may see. */
static inline void
run_rcshim(struct rc_run *r, const struct cli_scratch *s, const char *const *env,
	   const char *const *args)
{
	run_rcshim_as(r, s, env, args);
	ck_assert_msg(!r->err || !strstr(r->err, "rcshim: internal error: "),
		      "the launcher crashed: %s", r->err);
}

/* Starts `rcshim ARGS` in the background, stdout and stderr into files of
 * the scratch dir ("<name>.out", "<name>.err"). */
static inline pid_t
spawn_rcshim(const struct cli_scratch *s, const char *name, const char *const *env,
	  const char *const *args)
{
	const char **argv = cli_argv(args);
	const char **envp = cli_full_env(s, env);
	char out[800], err[800];
	snprintf(out, sizeof(out), "%s/%s.out", s->dir, name);
	snprintf(err, sizeof(err), "%s/%s.err", s->dir, name);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int i = open("/dev/null", O_RDONLY);
		dup2(i, 0);
		dup2(o, 1);
		dup2(e, 2);
		for (int sig = 1; sig < NSIG; sig++) {
			signal(sig, SIG_DFL);
		}
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvpe(argv[0], (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	free(argv);
	free(envp);
	return pid;
}

/* Waits for @pid (at most @secs seconds, then kills it and fails). */
static inline int
cli_wait(pid_t pid, int secs)
{
	int st;
	for (int i = 0; i < secs * 100; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			return st;
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	ck_abort_msg("process %d did not end within %d s", (int)pid, secs);
	return -1;
}

/* Waits until @path exists and is not empty; its content, or NULL. */
static inline char *
cli_wait_file(const char *path, int secs)
{
	for (int i = 0; i < secs * 100; i++) {
		char *c = t_read_file(path);
		if (c && *c && c[strlen(c) - 1] == '\n') {
			return c;
		}
		free(c);
		usleep(10000);
	}
	return NULL;
}

/* The first line of a file, without its newline ("" if none). */
static inline char *
cli_first_line(const char *path)
{
	char *c = t_read_file(path);
	if (!c) {
		return strdup("");
	}
	c[strcspn(c, "\n")] = '\0';
	return c;
}

/* A file that must keep its bytes: still there, @want its whole content. */
static inline void
cli_assert_file_is(const char *path, const char *want)
{
	char *got = t_read_file(path);
	ck_assert_msg(got, "%s is gone", path);
	ck_assert_msg(!strcmp(got, want), "%s changed: \"%.200s\"", path, got);
	free(got);
}

/* What the launcher must not leave in the journal directory: journals and
 * per-process report files.  Returns a malloc'd list, "" when clean. */
static inline char *
cli_leftovers(const struct cli_scratch *s)
{
	char *list = calloc(1, 1);
	size_t len = 0;
	DIR *d = opendir(s->jdir);
	if (!d) {
		return list;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		size_t l = strlen(n);
		bool merged = (l > 11 && !strcmp(n + l - 11, ".report.txt")) ||
			      (l > 12 && !strcmp(n + l - 12, ".report.json"));
		/* The background sweep's stamp stays by design (sweep.c). */
		if (n[0] == '.' || merged || !strcmp(n, "sweep.stamp")) {
			continue;
		}
		list = realloc(list, len + l + 2);
		len += (size_t)sprintf(list + len, "%s ", n);
	}
	closedir(d);
	return list;
}

static inline bool
cli_contains(const char *hay, const char *needle)
{
	return hay && strstr(hay, needle) != NULL;
}

/* The path of the gathered report the launcher's stderr names
 * ("rcshim: report (N processes): PATH"), malloc'd; "" if none. */
static inline char *
cli_named_report(const char *err)
{
	const char *at = strstr(err, "rcshim: report (");
	char path[1024] = "";
	if (at && strstr(at, "): ")) {
		sscanf(strstr(at, "): ") + 3, "%1023[^\n]", path);
	}
	return strdup(path);
}

/* The victim that leaks a SQLite connection, fds, heap and a temp dir
 * (victims/sq-leak.c), NULL where it was not built. */
static inline const char *
cli_sq_leak(void)
{
	const char *v = getenv("RCSHIM_TEST_SQ_LEAK");
	return v && *v ? v : NULL;
}
