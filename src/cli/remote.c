/* rcshim clean PID [--priority P]: a live cleanup in a running process.
 * rcshim report PID: its report, printed here.
 *
 * Both send the process's live signal (its RCSHIM_SIGNAL, read from
 * /proc/PID/environ; SIGUSR1 by default), with a sigqueue value: 1-4 pick
 * the priority of a cleanup, 5 asks for the report, which the process's
 * worker writes to "<journal dir>/report-<pid>" (atomically, by rename).
 * A process without the shim is never signalled: SIGUSR1 would kill it.
 */
#include "build-config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/session.h"
#include "trigger/live.h"

#define FAILED 1

/* Reads a whole /proc file (NUL bytes kept); NULL with errno set. */
static char *
read_proc(pid_t pid, const char *what, size_t *len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	FILE *f = fopen(path, "re");
	if (!f) {
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap + 1);
	while (b) {
		size_t got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0 || n > (64u << 20)) {
			break;
		}
		if (n == cap) {
			cap *= 2;
			b = realloc(b, cap + 1);
		}
	}
	int e = ferror(f) ? errno : 0;
	fclose(f);
	if (!b) {
		abort();
	}
	if (e) {
		free(b);
		errno = e;
		return NULL;
	}
	b[n] = '\0';
	*len = n;
	return b;
}

/* The first NAME=value in a NUL-separated environment block. */
static const char *
environ_get(const char *block, size_t len, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = block; p < block + len; p += strlen(p) + 1) {
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			return p + n + 1;
		}
	}
	return NULL;
}

struct target {
	pid_t pid;
	int sig;
	char sig_name[32];
	char *environ;
	size_t environ_len;
};

static int
parse_pid(const char *s, pid_t *pid)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > INT_MAX || s[0] == '+' || s[0] == ' ') {
		return -1;
	}
	*pid = (pid_t)v;
	return 0;
}

/* Finds out whether @pid runs the shim and which signal it listens to. */
static int
find_target(pid_t pid, struct target *t)
{
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	if (kill(pid, 0) < 0) {
		if (errno == ESRCH) {
			cli_msg("no process %d", (int)pid);
		} else {
			cli_msg("cannot signal process %d: %s", (int)pid, strerror(errno));
		}
		return -1;
	}
	size_t len;
	char *maps = read_proc(pid, "maps", &len);
	if (!maps) {
		cli_msg("cannot read /proc/%d/maps (%s): cannot tell whether the shim is loaded "
			"there, so nothing was sent", (int)pid, strerror(errno));
		return -1;
	}
	bool loaded = strstr(maps, "/librcshim.so") != NULL;
	free(maps);
	if (!loaded) {
		cli_msg("process %d does not run the shim (no librcshim.so in /proc/%d/maps); "
			"nothing was sent (its live signal would be taken as an ordinary signal)",
			(int)pid, (int)pid);
		return -1;
	}
	t->environ = read_proc(pid, "environ", &t->environ_len);
	if (!t->environ) {
		cli_msg("cannot read /proc/%d/environ: %s", (int)pid, strerror(errno));
		return -1;
	}
	/* As the shim read it at start-up: unset, empty or invalid is the
	 * default. */
	const char *v = environ_get(t->environ, t->environ_len, "RCSHIM_SIGNAL");
	int sig = v && *v ? rc_parse_signal(v) : -1;
	if (sig == 0) {
		cli_msg("process %d has no live trigger (RCSHIM_SIGNAL=%s)", (int)pid, v);
		free(t->environ);
		t->environ = NULL;
		return -1;
	}
	t->sig = sig > 0 ? sig : SIGUSR1;
	cli_signal_name(t->sig, t->sig_name, sizeof(t->sig_name));
	return 0;
}

static int
send_signal(const struct target *t, int value)
{
	int r;
	if (value) {
		r = sigqueue(t->pid, t->sig, (union sigval){ .sival_int = value });
	} else {
		r = kill(t->pid, t->sig);
	}
	if (r < 0) {
		cli_msg("cannot send %s to %d: %s", t->sig_name, (int)t->pid, strerror(errno));
		return -1;
	}
	return 0;
}

/* One PID among the arguments, options anywhere.  Returns the index of the
 * PID, or -(exit status) after --help or a usage error. */
static int
parse_args(int argc, char **argv, const struct option *longopts, const char *sub,
	   int (*opt)(int c, const char *arg, void *ctx), void *ctx)
{
	int pid_at = -1;

	opterr = 0;
	optind = 0;
	for (;;) {
		int c = getopt_long(argc, argv, "-:h", longopts, NULL);
		if (c == -1) {
			break;
		}
		if (c == 1) { /* a non-option, in order */
			if (pid_at >= 0) {
				return -cli_usage_error("%s: one PID only ('%s' is extra)", sub, optarg);
			}
			pid_at = optind - 1;
			continue;
		}
		if (c == 'h') {
			cli_help(stdout);
			return -(fflush(stdout) == 0 ? 0 : CLI_EXIT_FAILED);
		}
		if (c == ':') {
			return -cli_usage_error("%s: option '%s' needs an argument", sub,
						argv[optind - 1]);
		}
		if (c == '?') {
			return -cli_usage_error("%s: unknown option '%s'", sub, argv[optind - 1]);
		}
		int r = opt(c, optarg, ctx);
		if (r) {
			return -r;
		}
	}
	/* After "--", the rest are operands. */
	for (int i = optind; i < argc; i++) {
		if (pid_at >= 0) {
			return -cli_usage_error("%s: one PID only ('%s' is extra)", sub, argv[i]);
		}
		pid_at = i;
	}
	if (pid_at < 0) {
		return -cli_usage_error("%s: missing PID: rcshim %s PID", sub, sub);
	}
	return pid_at;
}

/* ---- clean ------------------------------------------------------------------- */

static int
clean_opt(int c, const char *arg, void *ctx)
{
	int *prio = ctx;
	if (c == 'p') {
		*prio = rc_parse_priority(arg);
		if (*prio < 0) {
			return cli_usage_error("clean: --priority %s: not a priority (LOW, MEDIUM, "
					       "HIGH, CRITICAL or 0-3)", arg);
		}
	}
	return 0;
}

int
cli_clean(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "priority", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int prio = -1;
	int at = parse_args(argc, argv, longopts, "clean", clean_opt, &prio);
	if (at <= 0) {
		return -at;
	}
	pid_t pid;
	if (parse_pid(argv[at], &pid) < 0) {
		return cli_usage_error("clean: '%s' is not a process id", argv[at]);
	}
	struct target t;
	if (find_target(pid, &t) < 0) {
		return FAILED;
	}
	free(t.environ);
	/* Without --priority, a plain signal: the process's own
	 * RCSHIM_SIGNAL_PRIORITY applies. */
	return send_signal(&t, prio >= 0 ? prio + 1 : 0) < 0 ? FAILED : 0;
}

/* ---- report ------------------------------------------------------------------ */

static int
report_opt(int c, const char *arg, void *ctx)
{
	double *timeout = ctx;
	if (c == 't') {
		char *end;
		*timeout = strtod(arg, &end);
		if (end == arg || *end || !(*timeout > 0 && *timeout <= 3600)) {
			return cli_usage_error("report: --timeout %s: not a number of seconds "
					       "(0-3600)", arg);
		}
	}
	return 0;
}

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

int
cli_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double timeout = 5;
	int at = parse_args(argc, argv, longopts, "report", report_opt, &timeout);
	if (at <= 0) {
		return -at;
	}
	pid_t pid;
	if (parse_pid(argv[at], &pid) < 0) {
		return cli_usage_error("report: '%s' is not a process id", argv[at]);
	}
	struct target t;
	if (find_target(pid, &t) < 0) {
		return FAILED;
	}
	/* The process writes into its session's directory: named in its
	 * environment when it joined a session, else (it started one) the
	 * usual one, found as it found it. */
	if (!rc_session_parse(environ_get(t.environ, t.environ_len, RC_SESSION_ENV),
			      &rc_session)) {
		rc_session_usual_dir(environ_get(t.environ, t.environ_len, "XDG_RUNTIME_DIR"),
				     rc_session.dir);
	}
	free(t.environ);
	char path[512];
	if (!rc_live_report_path(pid, path, sizeof(path))[0]) {
		cli_msg("no journal directory: process %d has nowhere to write its report", (int)pid);
		return FAILED;
	}
	unlink(path); /* an answer nobody read */
	if (send_signal(&t, RC_LIVE_REPORT_VALUE) < 0) {
		return FAILED;
	}
	long waited = 0, limit = (long)(timeout * 1000);
	struct stat st;
	while (stat(path, &st) < 0) {
		if (waited >= limit) {
			cli_msg("no report from process %d after %g s (does it handle %s itself? "
				"then the live trigger is lost)", (int)pid, timeout, t.sig_name);
			return FAILED;
		}
		if (kill(pid, 0) < 0 && errno == ESRCH) {
			cli_msg("process %d ended before it wrote its report", (int)pid);
			return FAILED;
		}
		nap_ms(10);
		waited += 10;
	}
	FILE *f = fopen(path, "re");
	if (!f) {
		cli_msg("cannot read %s: %s", path, strerror(errno));
		return FAILED;
	}
	char buf[65536];
	size_t n, total = 0;
	int rc = 0;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		total += n;
		if (fwrite(buf, 1, n, stdout) != n) {
			rc = FAILED;
			break;
		}
	}
	fclose(f);
	unlink(path);
	if (fflush(stdout) != 0) {
		rc = FAILED;
	}
	if (total == 0) {
		cli_msg("process %d wrote an empty report", (int)pid);
	}
	return rc;
}
