/* rcshim clean PID [--priority P]: a live cleanup in a running process.
 * rcshim report PID: its report, printed here.
 *
 * Both send the process's live signal (its RCSHIM_SIGNAL, read from
 * /proc/PID/environ; SIGUSR1 by default), with a sigqueue value: 1-4 pick
 * the priority of a cleanup, 5 asks for the report, which the process's
 * worker writes to "<journal dir>/report-<pid>" (atomically, by rename).
 * `rcshim clean` waits for the result the same way: its value carries a
 * request id (trigger/live.h), and the cleanup that ran for it writes
 * "<journal dir>/clean-<pid>-<id>", which is read, printed and removed.
 * Exit statuses of clean: 0 it ran (the result printed; failures in it
 * too), 1 the process could not be reached (none, no shim, no live
 * trigger, not ours to signal), 2 usage, 3 sent but no answer within
 * --timeout (or the process ended first), 4 the process answered that it
 * did not run it (another cleanup held the engine).
 * A process without the shim is never signalled: SIGUSR1 would kill it.
 */
#include "build-config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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

struct clean_opts {
	int prio;       /* -1: the process's own signal priority */
	double timeout; /* seconds to wait for the answer */
	bool no_wait;
};

static int
parse_seconds(const char *sub, const char *arg, double *out)
{
	char *end;
	double v = strtod(arg, &end);
	if (end == arg || *end || !(v > 0 && v <= 3600)) {
		return cli_usage_error("%s: --timeout %s: not a number of seconds (0-3600)", sub,
				       arg);
	}
	*out = v;
	return 0;
}

static int
clean_opt(int c, const char *arg, void *ctx)
{
	struct clean_opts *o = ctx;
	if (c == 'p') {
		o->prio = rc_parse_priority(arg);
		if (o->prio < 0) {
			char hint[64];
			cli_msg("clean: --priority %s: not a priority (LOW, MEDIUM, HIGH, CRITICAL or "
				"0-3)%s", arg, cli_did_you_mean(arg, cli_priority_words, hint,
								 sizeof(hint)));
			return CLI_EXIT_USAGE;
		}
	} else if (c == 't') {
		return parse_seconds("clean", arg, &o->timeout);
	} else if (c == 'n') {
		o->no_wait = true;
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

/* The process's journal directory (where it answers), found as it found
 * it: named in its environment when it joined a session, else the usual
 * one.  Frees t->environ. */
static void
target_session(struct target *t)
{
	if (!rc_session_parse(environ_get(t->environ, t->environ_len, RC_SESSION_ENV),
			      &rc_session)) {
		rc_session_usual_dir(environ_get(t->environ, t->environ_len, "XDG_RUNTIME_DIR"),
				     rc_session.dir);
	}
	free(t->environ);
	t->environ = NULL;
}

/* Waits for @path to appear: 0, or -1 after @timeout s (*@ended: the
 * process ended first). */
static int
wait_file(const char *path, pid_t pid, double timeout, bool *ended)
{
	long waited = 0, limit = (long)(timeout * 1000);
	struct stat st;
	*ended = false;
	while (stat(path, &st) < 0) {
		if (waited >= limit) {
			return -1;
		}
		if (kill(pid, 0) < 0 && errno == ESRCH) {
			/* One last look: it may have answered, then ended. */
			if (stat(path, &st) == 0) {
				return 0;
			}
			*ended = true;
			return -1;
		}
		nap_ms(10);
		waited += 10;
	}
	return 0;
}

struct answer {
	char prio[16], status[16];
	bool have_total;
	unsigned long long total[4];
	struct {
		char name[16];
		unsigned long long v[4]; /* cleaned failed skipped bytes */
	} kind[RCSHIM_KIND_COUNT];
	int nkinds;
	unsigned long long temp_held;
	int temp_session;
	char *left[10];
	int nleft;
	bool complete;
};

static bool
read_answer(const char *path, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	FILE *f = fopen(path, "re");
	if (!f) {
		return false;
	}
	char line[1024];
	bool first = true;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (first) {
			if (strcmp(line, "rcshim-clean 1") != 0) {
				break;
			}
			first = false;
		} else if (!strncmp(line, "priority ", 9)) {
			snprintf(a->prio, sizeof(a->prio), "%.15s", line + 9);
		} else if (!strncmp(line, "status ", 7)) {
			snprintf(a->status, sizeof(a->status), "%.15s", line + 7);
		} else if (sscanf(line, "total %llu %llu %llu %llu", &a->total[0], &a->total[1],
				  &a->total[2], &a->total[3]) == 4) {
			a->have_total = true;
		} else if (!strncmp(line, "kind ", 5) && a->nkinds < RCSHIM_KIND_COUNT) {
			int k = a->nkinds;
			if (sscanf(line, "kind %15s %llu %llu %llu %llu", a->kind[k].name,
				   &a->kind[k].v[0], &a->kind[k].v[1], &a->kind[k].v[2],
				   &a->kind[k].v[3]) == 5) {
				a->nkinds++;
			}
		} else if (sscanf(line, "temp-held %llu", &a->temp_held) == 1) {
		} else if (sscanf(line, "temp-session %d", &a->temp_session) == 1) {
		} else if (!strncmp(line, "left ", 5) && a->nleft < 10) {
			a->left[a->nleft++] = strdup(line + 5);
		} else if (!strcmp(line, "end")) {
			a->complete = true;
		}
	}
	fclose(f);
	return a->complete;
}

/* What each kind's cleanup does to one item, for "temp: removed 2". */
static const char *
kind_verb(const char *kind)
{
	static const struct {
		const char *kind, *verb;
	} verbs[] = {
		{ "temp", "removed" }, { "fd", "closed" },   { "sqlite", "released" },
		{ "gpu", "freed" },    { "heap", "trimmed" }, { "custom", "ran" },
	};
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (!strcmp(kind, verbs[i].kind)) {
			return verbs[i].verb;
		}
	}
	return "cleaned";
}

/* Why a kind's cleanup leaves an item alone (clean/step-*.c). */
static const char *
skip_reason(const char *kind)
{
	if (!strcmp(kind, "temp")) {
		return " (the name holds something else now)";
	}
	if (!strcmp(kind, "fd")) {
		return " (a stdio stream holding the program's buffer, or an fd number reused "
		       "for something else)";
	}
	return "";
}

/* The answer, for a person: what went, what failed, what was left alone
 * and why. */
static void
print_answer(pid_t pid, const struct answer *a)
{
	unsigned long long *t = (unsigned long long *)a->total;
	printf("process %d: live cleanup at %s ran (%s): %llu cleaned, %llu failed, "
	       "%llu skipped\n", (int)pid, a->prio, a->status, t[0], t[1], t[2]);
	for (int k = 0; k < a->nkinds; k++) {
		const unsigned long long *v = a->kind[k].v;
		if (!(v[0] || v[1] || v[2] || v[3])) {
			continue;
		}
		printf("  %s: %s %llu", a->kind[k].name, kind_verb(a->kind[k].name), v[0]);
		if (v[1]) {
			printf(", failed %llu (--log info in the process names them)", v[1]);
		}
		if (v[2]) {
			printf(", left alone %llu%s", v[2], skip_reason(a->kind[k].name));
		}
		if (v[3]) {
			printf(", %llu bytes", v[3]);
		}
		printf("\n");
	}
	if (!(t[0] || t[1] || t[2] || t[3])) {
		printf("  nothing was reclaimed at %s\n", a->prio);
	}
	if (a->temp_held) {
		const char *why;
		if (a->temp_session) {
			why = "owned by the session: removed when the session ends (by `rcshim run`, "
			      "or the session's first process), never by a live cleanup of one of "
			      "its processes";
		} else if (strcmp(a->prio, "CRITICAL") != 0) {
			why = "still the program's: a live cleanup removes temp artifacts only at "
			      "CRITICAL (at LOW, files idle longer than RCSHIM_TMP_IDLE)";
		} else {
			why = "still held: removed when the process ends";
		}
		printf("left alone: %llu temp %s, %s%s\n", a->temp_held,
		       cli_things(a->temp_held), why, a->nleft ? ":" : "");
		for (int i = 0; i < a->nleft; i++) {
			printf("  %s\n", a->left[i]);
		}
		if (a->temp_held > (unsigned long long)a->nleft) {
			printf("  and %llu more\n", a->temp_held - (unsigned long long)a->nleft);
		}
	}
}

#define CLEAN_NO_ANSWER 3
#define CLEAN_NOT_RUN 4

int
cli_clean(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "priority", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct clean_opts o = { -1, 5, false };
	int at = parse_args(argc, argv, longopts, "clean", clean_opt, &o);
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
	target_session(&t);
	/* A request id: the answer's file name. */
	unsigned id = 0;
	while (id == 0) {
		if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
			id = (unsigned)getpid() ^ (unsigned)time(NULL);
		}
		id &= RC_LIVE_ANSWER_MAX_ID;
	}
	char path[512];
	bool nowhere = !rc_live_answer_path(pid, id, path, sizeof(path))[0];
	/* Without --priority, the process's own RCSHIM_SIGNAL_PRIORITY. */
	int value = (int)(RC_LIVE_ANSWER_FLAG | (id << RC_LIVE_ANSWER_SHIFT)) +
		    (o.prio >= 0 ? o.prio + 1 : 0);
	if (o.no_wait || nowhere) {
		value = o.prio >= 0 ? o.prio + 1 : 0;
	}
	if (send_signal(&t, value) < 0) {
		return FAILED;
	}
	if (o.no_wait) {
		return 0;
	}
	if (nowhere) {
		cli_msg("asked process %d for a cleanup, but it has no journal directory to "
			"answer in: its result cannot be shown", (int)pid);
		return CLEAN_NO_ANSWER;
	}
	bool ended;
	if (wait_file(path, pid, o.timeout, &ended) < 0) {
		if (ended) {
			cli_msg("process %d ended before it answered (its cleanup at exit ran instead)",
				(int)pid);
		} else {
			cli_msg("no answer from process %d after %g s: the cleanup may still run (does "
				"it handle %s itself? then the live trigger is lost)", (int)pid,
				o.timeout, t.sig_name);
		}
		return CLEAN_NO_ANSWER;
	}
	struct answer a;
	bool ok = read_answer(path, &a);
	unlink(path);
	if (!ok) {
		cli_msg("process %d wrote an answer this rcshim cannot read (%s)", (int)pid, path);
		return CLEAN_NO_ANSWER;
	}
	int rc = 0;
	if (!strcmp(a.status, "not-run")) {
		cli_msg("process %d did not run the cleanup at %s: another cleanup was running; "
			"ask again", (int)pid, a.prio);
		rc = CLEAN_NOT_RUN;
	} else {
		print_answer(pid, &a);
	}
	for (int i = 0; i < a.nleft; i++) {
		free(a.left[i]);
	}
	if (fflush(stdout) != 0) {
		rc = FAILED;
	}
	return rc;
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
	/* The process writes into its session's directory. */
	target_session(&t);
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
