/* rcshim run [OPTIONS] [--] CMD [ARGS...]
 *
 * The launcher is the best session root (DESIGN §2): it hands its own
 * session id to CMD, so that every process of the program is a member and
 * none reclaims the session's temp artifacts; it becomes a child subreaper,
 * so that every descendant, daemonised or orphaned, ends up its child; it
 * waits for the last one; then it replays the session's journals, which
 * works however the processes ended, SIGKILL and the OOM killer included.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/journal.h"
#include "core/log.h"
#include "core/roots.h"
#include "core/session.h"

extern char **environ;

#define OPT_VAR 1000 /* + index in cli_var_opts */
#define OPT_JSON 900
#define OPT_METRICS 901
#define OPT_JOB 902
#define OPT_NO_SWEEP 903

struct run_opts {
	const char *val[32]; /* by index in cli_var_opts; NULL = not given */
	bool quiet;
	bool no_sweep;             /* --no-sweep (sweep.c) */
	const char *metrics, *job; /* --metrics DIR, --job NAME (metrics.c) */
};

/* Returns the index of CMD in argv, or -(exit status). */
static int
parse_options(int argc, char **argv, struct run_opts *o)
{
	struct option longopts[64];
	size_t n = 0;

	for (size_t i = 0; i < cli_n_var_opts; i++) {
		longopts[n++] = (struct option){ cli_var_opts[i].option,
						 cli_opt_optional(cli_var_opts[i].option)
							 ? optional_argument : required_argument,
						 NULL, OPT_VAR + (int)i };
	}
	longopts[n++] = (struct option){ "json", no_argument, NULL, OPT_JSON };
	longopts[n++] = (struct option){ "metrics", required_argument, NULL, OPT_METRICS };
	longopts[n++] = (struct option){ "job", required_argument, NULL, OPT_JOB };
	longopts[n++] = (struct option){ "no-sweep", no_argument, NULL, OPT_NO_SWEEP };
	longopts[n++] = (struct option){ "quiet", no_argument, NULL, 'q' };
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };

	size_t fmt = 0;
	for (size_t i = 0; i < cli_n_var_opts; i++) {
		if (!strcmp(cli_var_opts[i].option, "report-format")) {
			fmt = i;
		}
	}

	if (cli_n_var_opts > sizeof(o->val) / sizeof(o->val[0])) {
		abort(); /* the table outgrew this */
	}
	memset(o, 0, sizeof(*o));
	opterr = 0;
	optind = 0; /* glibc: start afresh */
	for (;;) {
		int c = getopt_long(argc, argv, "+:qhV", longopts, NULL);
		if (c == -1) {
			break;
		}
		switch (c) {
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			cli_help(stdout);
			return fflush(stdout) == 0 ? 0 : -CLI_EXIT_FAILED;
		case 'V':
			return -cli_version();
		case OPT_JSON:
			o->val[fmt] = "json";
			break;
		case OPT_METRICS:
			o->metrics = optarg;
			break;
		case OPT_JOB:
			o->job = optarg;
			break;
		case OPT_NO_SWEEP:
			o->no_sweep = true;
			break;
		case ':': {
			const char *arg = "";
			for (size_t i = 0; i < cli_n_var_opts; i++) {
				if (optopt == OPT_VAR + (int)i) {
					arg = cli_var_opts[i].arg;
				}
			}
			return -cli_usage_error("run: option '%s' needs an argument (%s)",
						argv[optind - 1], arg);
		}
		case '?': {
			const char *bad = argv[optind - 1];
			if (strncmp(bad, "--", 2) != 0) {
				return -cli_usage_error("run: unknown option '-%c'", optopt);
			}
			if (optopt) {
				return -cli_usage_error("run: option '%s' takes no argument", bad);
			}
			return -cli_usage_error("run: unknown or ambiguous option '%s'", bad);
		}
		default:
			if (c >= OPT_VAR && c < OPT_VAR + (int)cli_n_var_opts) {
				o->val[c - OPT_VAR] = optarg ? optarg
					: cli_opt_optarg(cli_var_opts[c - OPT_VAR].option, argc, argv);
			}
			break;
		}
	}
	if (optind >= argc) {
		return -cli_usage_error("run: missing CMD: rcshim run [OPTIONS] -- CMD [ARGS...]");
	}
	return optind;
}

/* ---- the child's environment --------------------------------------------- */

struct envb {
	char **v;
	size_t n, cap;
	char **owned; /* the strings made here, freed at the end */
	size_t n_owned, cap_owned; /* a name set twice: both strings, one entry */
};

static void
env_push(struct envb *e, char *s, bool owned)
{
	if (e->n + 2 > e->cap) {
		e->cap = (e->n + 2) * 2;
		e->v = realloc(e->v, e->cap * sizeof(*e->v));
		if (!e->v) {
			abort();
		}
	}
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
	if (owned) {
		if (e->n_owned == e->cap_owned) {
			e->cap_owned = e->cap_owned ? 2 * e->cap_owned : 16;
			e->owned = realloc(e->owned, e->cap_owned * sizeof(*e->owned));
			if (!e->owned) {
				abort();
			}
		}
		e->owned[e->n_owned++] = s;
	}
}

/* Drops every entry of NAME. */
static void
env_unset(struct envb *e, const char *name)
{
	size_t len = strlen(name);
	size_t k = 0;
	for (size_t i = 0; i < e->n; i++) {
		if (!(strncmp(e->v[i], name, len) == 0 && e->v[i][len] == '=')) {
			e->v[k++] = e->v[i];
		}
	}
	e->n = k;
	e->v[k] = NULL;
}

/* Sets NAME=value, dropping every earlier entry of NAME (the environment
 * may hold duplicates; the first would win). */
static void
env_set(struct envb *e, const char *name, const char *value)
{
	env_unset(e, name);
	char *s;
	if (asprintf(&s, "%s=%s", name, value) < 0) {
		abort();
	}
	env_push(e, s, true);
}

static void
env_free(struct envb *e)
{
	for (size_t i = 0; i < e->n_owned; i++) {
		free(e->owned[i]);
	}
	free(e->owned);
	free(e->v);
}

/* The shim's own parser reports bad values: in the program only the
 * session root would, and the launcher is the root. */
static void
config_warn(void *ctx, const char *line)
{
	if (!*(bool *)ctx) {
		rc_log(RC_LOG_WARN, "%s", line);
	}
}

/* ---- rcshim run -------------------------------------------------------------- */

int
cli_run(int argc, char **argv)
{
	struct run_opts o;
	time_t started = time(NULL);
	int first = parse_options(argc, argv, &o);
	if (first <= 0) {
		return -first;
	}
	/* Every value, before anything runs: a mistake stops here. */
	for (size_t i = 0; i < cli_n_var_opts; i++) {
		if (o.val[i] && cli_check_option(cli_var_opts[i].option, cli_var_opts[i].var,
						 o.val[i])) {
			return CLI_EXIT_USAGE;
		}
	}
	char **cmd = argv + first;
	const char *name = strrchr(cmd[0], '/') ? strrchr(cmd[0], '/') + 1 : cmd[0];

	/* The session: ours, by our own pid and start time. */
	rc_session_init(NULL, false, getenv("XDG_RUNTIME_DIR"));

	struct envb env = { 0 };
	for (char **e = environ; *e; e++) {
		env_push(&env, *e, false);
	}
	for (size_t i = 0; i < cli_n_var_opts; i++) {
		if (o.val[i]) {
			env_set(&env, cli_var_opts[i].var, o.val[i]);
		}
	}
	if (cli_timeline_wants_json(env.v)) {
		env_set(&env, "RCSHIM_REPORT_FORMAT", "json");
	}
	const char *user_report = cli_report_checked(cli_env_get(env.v, "RCSHIM_REPORT"),
						     cli_env_get(env.v, "RCSHIM_LOG"));
	char report_default[sizeof(rc_session.dir) + RC_SESSION_ID_LEN + 16] = "";
	if (!user_report && rc_session.dir[0]) {
		snprintf(report_default, sizeof(report_default), "%s/%s.%%p.report",
			 rc_session.dir, rc_session.id);
		env_set(&env, "RCSHIM_REPORT", report_default);
		/* Reports the launcher gathers: it names their frames, once
		 * (cli/symbolize.c), and no process loads libdw; a process
		 * that held nothing adds a line to this one file. */
		char quiet[sizeof(report_default) + 16];
		snprintf(quiet, sizeof(quiet), "%s/%s.quiet.report", rc_session.dir,
			 rc_session.id);
		env_set(&env, "RCSHIM_INTERNAL_GATHER", quiet);
	} else {
		/* Never an outer launcher's. */
		env_unset(&env, "RCSHIM_INTERNAL_GATHER");
	}
	char self[PATH_MAX] = "";
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[sl > 0 ? sl : 0] = '\0';
	char lib[PATH_MAX];
	if (cli_find_lib(getenv("RCSHIM_LIB"), self, lib, sizeof(lib)) < 0) {
		env_free(&env);
		return CLI_EXIT_FAILED;
	}
	char *preload = cli_ld_preload(getenv("LD_PRELOAD"), lib);
	env_set(&env, "LD_PRELOAD", preload);
	free(preload);
	env_set(&env, RC_SESSION_ENV, rc_session.var + sizeof(RC_SESSION_ENV));

	/* The settings as the shim will read them: bad values are reported
	 * here, once (the program's processes are all members, which stay
	 * quiet), and the log level applies to the launcher too. */
	struct rc_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		abort();
	}
	const char *log = cli_env_get(env.v, "RCSHIM_LOG");
	bool quiet_log = log && (!strcasecmp(log, "quiet") || !strcmp(log, "0"));
	rc_config_load(cfg, env.v, config_warn, &quiet_log);
	rc_log_threshold = (enum rc_log_level)cfg->log_level;
	bool talk = rc_log_threshold > RC_LOG_QUIET;
	bool json = cfg->report_format == RC_REPORT_JSON;
	/* The temp roots the members will use: a dropped one said here, once
	 * (the members stay quiet). */
	rc_tmp_roots_set(cfg->tmp_roots, cfg->n_tmp_roots, cli_env_get(env.v, "HOME"), talk);
	for (size_t i = 0; i < cfg->n_tmp_roots; i++) {
		rc_tmp_root((unsigned)i);
	}
	bool process_mode = cfg->tmp_owner == RC_TMP_OWNER_PROCESS;
	free(cfg);

	if (!rc_session.dir[0] && talk) {
		cli_msg("warning: no private directory for the session journal "
			"($XDG_RUNTIME_DIR/rcshim or /tmp/rcshim-%u): temp artifacts %s",
			(unsigned)geteuid(),
			process_mode ? "are removed by the process that made them, and none after "
				       "a SIGKILL"
				     : "made by the program's processes are left behind");
	}
	char *path = cli_which(cmd[0], getenv("PATH"));
	char why[1024];
	if (path && talk && cli_check_preloadable(path, lib, getenv("PATH"), why, sizeof(why))) {
		cli_msg("warning: %s %s; running it anyway, but what it does itself is not tracked",
			path, why);
	}
	free(path);

	/* --metrics: the processes' report files watched from now on (only
	 * the ones this launcher gathers: with RCSHIM_REPORT set by the user,
	 * at the end only the launcher's own figures). */
	const char *metrics = o.metrics ? o.metrics : getenv("RCSHIM_METRICS");
	struct cli_metrics *mx = NULL;
	if (metrics && *metrics) {
		mx = cli_metrics_start(metrics, o.job && *o.job ? o.job : name,
				       report_default[0] ? rc_session.dir : "", rc_session.id);
	}

	/* Signals: CHLD and the termination signals are taken synchronously;
	 * SIGCHLD must not be ignored (children would vanish unwaited for). */
	sigset_t set, orig_mask;
	sigemptyset(&set);
	if (cli_metrics_fd(mx) >= 0) {
		/* The watch's (metrics.c); the program's mask is its own. */
		sigaddset(&set, SIGIO);
		cli_wait_on_io(cli_metrics_fd(mx), cli_metrics_live, mx);
	}
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_BLOCK, &set, &orig_mask);
	struct sigaction dfl, ign, old_chld, old_pipe;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	ign = dfl;
	ign.sa_handler = SIG_IGN;
	sigaction(SIGCHLD, &dfl, &old_chld);
	sigaction(SIGPIPE, &ign, &old_pipe); /* a closed stderr must not kill us */

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 && talk) {
		cli_msg("warning: cannot become a child subreaper (%s): descendants that outlive "
			"%s are not waited for", strerror(errno), name);
	}

	int errpipe[2];
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		cli_msg("pipe: %s", strerror(errno));
		env_free(&env);
		cli_metrics_free(mx);
		return CLI_EXIT_FAILED;
	}
	fflush(NULL);
	pid_t child = fork();
	if (child < 0) {
		cli_msg("fork: %s", strerror(errno));
		env_free(&env);
		cli_metrics_free(mx);
		return CLI_EXIT_FAILED;
	}
	if (child == 0) {
		close(errpipe[0]);
		sigaction(SIGCHLD, &old_chld, NULL);
		sigaction(SIGPIPE, &old_pipe, NULL);
		sigprocmask(SIG_SETMASK, &orig_mask, NULL);
		execvpe(cmd[0], cmd, env.v);
		int e = errno;
		ssize_t w = write(errpipe[1], &e, sizeof(e));
		(void)w;
		_exit(CLI_EXIT_NOTFOUND);
	}
	close(errpipe[1]);
	int exec_errno = 0;
	ssize_t r;
	while ((r = read(errpipe[0], &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR) {
	}
	close(errpipe[0]);
	if (r != (ssize_t)sizeof(exec_errno)) {
		exec_errno = 0;
	}
	/* Now that CMD runs: the journal with its session line (a sweep can
	 * judge this session if the launcher is killed), and the background
	 * sweep of the sessions before it (sweep.c). */
	rc_journal_touch();
	if (!o.no_sweep && !exec_errno) {
		cli_wait_helper = cli_sweep_background(self, rc_session.dir, &orig_mask);
	}

	int status = cli_wait_all(child, &set, name, talk && !o.quiet && !exec_errno);
	/* (An exit code as wait reports it: in the second byte.) */
	cli_guard_status(!exec_errno ? status
				     : (exec_errno == ENOENT ? CLI_EXIT_NOTFOUND : CLI_EXIT_NOEXEC)
					       << 8);
	cli_metrics_collect(mx);

	struct cli_session s = {
		.id = rc_session.id,
		.dir = rc_session.dir,
		.report_default = report_default,
		.report_user = user_report,
		.json = json,
		.cmd = cmd,
		.started = started,
	};
	struct cli_outcome out;
	memset(&out, 0, sizeof(out));
	cli_session_replay(&s, &out);
	if (exec_errno) {
		cli_msg("cannot run %s: %s", cmd[0], strerror(exec_errno));
		cli_metrics_free(mx);
		cli_outcome_free(&out);
		env_free(&env);
		return exec_errno == ENOENT ? CLI_EXIT_NOTFOUND : CLI_EXIT_NOEXEC;
	}
	/* The guard's test (tests/cli: crash_in_the_report_keeps_the_status). */
	const char *fault = getenv("RCSHIM_INTERNAL_FAULT");
	if (fault && !strcmp(fault, "report")) {
		raise(SIGSEGV);
	}
	cli_session_reports(&s, status, &out);
	if (mx) {
		cli_metrics_finish(mx, status, &out);
	}
	if (talk && !o.quiet) {
		cli_session_summary(&s, status, &out);
	}
	cli_outcome_free(&out);
	env_free(&env);
	cli_exit_like(status);
}
