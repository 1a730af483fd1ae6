/* The options table, --help, and the launcher's messages. */
#include "build-config.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/escape.h"

/* One line each in --help, in the order of DESIGN §6.  The test suite
 * checks that every RCSHIM_* variable the shim knows has its option here
 * and in the man page. */
const struct cli_var_opt cli_var_opts[] = {
	{ "priority", "RCSHIM_PRIORITY", "P",
	  "priority on termination and crash signals, and\n"
	  "the default of the next two: LOW, MEDIUM, HIGH,\n"
	  "CRITICAL or 0-3 (default MEDIUM)" },
	{ "exit-priority", "RCSHIM_EXIT_PRIORITY", "P",
	  "priority of the cleanup at normal exit" },
	{ "signal", "RCSHIM_SIGNAL", "SIG",
	  "signal asking for a live cleanup (default\n"
	  "SIGUSR1; none: no live signal)" },
	{ "signal-priority", "RCSHIM_SIGNAL_PRIORITY", "P",
	  "priority of a live cleanup on that signal" },
	{ "interval", "RCSHIM_INTERVAL", "SECONDS",
	  "a live cleanup every SECONDS (default 0: off)" },
	{ "pressure", "RCSHIM_PRESSURE", "on|off|SPEC",
	  "live cleanups under memory pressure (default off)" },
	{ "track", "RCSHIM_TRACK", "KINDS",
	  "comma list of temp, fd, sqlite, gpu, heap,\n"
	  "custom, all, none (default all)" },
	{ "tmp-roots", "RCSHIM_TMP_ROOTS", "DIRS",
	  "temp roots, separated by : (default\n"
	  "$TMPDIR:/tmp:/var/tmp:/dev/shm)" },
	{ "tmp-owner", "RCSHIM_TMP_OWNER", "session|process",
	  "who removes temp artifacts (default session)" },
	{ "tmp-idle", "RCSHIM_TMP_IDLE", "TIME",
	  "a LOW live cleanup removes temp files idle this\n"
	  "long: 90, 90s, 10m, 2h (default 0: never)" },
	{ "heap-sample", "RCSHIM_HEAP_SAMPLE", "BYTES",
	  "mean bytes between sampled heap allocations\n"
	  "(1: every one; default 512k)" },
	{ "heap", "RCSHIM_HEAP", "counts|exact",
	  "heap figures: counts (exact blocks and bytes,\n"
	  "requested bytes estimated; the default) or\n"
	  "exact (requested bytes exact too, at a cost)" },
	{ "stack-depth", "RCSHIM_STACK_DEPTH", "N",
	  "frames kept per stack, 0-128 (default 16)" },
	{ "report", "RCSHIM_REPORT", "PATH",
	  "each process's report: a path with a '/' in it\n"
	  "(%p: its pid; -: stderr); never a symlink,\n"
	  "another user's file or a file of another kind;\n"
	  "default: one report of the whole run, in the\n"
	  "journal directory" },
	{ "report-format", "RCSHIM_REPORT_FORMAT", "text|json",
	  "format of the reports (default text)" },
	{ "log", "RCSHIM_LOG", "LEVEL",
	  "quiet, warn, info, debug or 0-3 (default warn)" },
	{ "timeline", "RCSHIM_TIMELINE", "[INTERVAL]",
	  "sample what each process holds every INTERVAL\n"
	  "(default 100ms; 50ms, 0.5s, off) into the JSON\n"
	  "report, for rcshim plot" },
};
const size_t cli_n_var_opts = sizeof(cli_var_opts) / sizeof(cli_var_opts[0]);

void
cli_msg(const char *fmt, ...)
{
	char line[2048], esc[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* A path with a newline in it must not start a line of its own. */
	rc_esc_text(esc, sizeof(esc), line, strlen(line));
	/* One write per line: the program's own output may interleave. */
	fprintf(stderr, "rcshim: %s\n", esc);
}

int
cli_usage_error(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "rcshim: %s\nTry 'rcshim --help' for more information.\n", line);
	return CLI_EXIT_USAGE;
}

static void
help_option(FILE *f, const char *opt, const char *arg, const char *help)
{
	char left[64];
	snprintf(left, sizeof(left), "  %s%s%s", opt, arg ? " " : "", arg ? arg : "");
	/* Help text continues on lines of its own, aligned. */
	const char *p = help;
	bool first = true;
	while (*p) {
		size_t n = strcspn(p, "\n");
		if (first && strlen(left) < 28) {
			fprintf(f, "%-30s%.*s\n", left, (int)n, p);
		} else {
			if (first) {
				fprintf(f, "%s\n", left);
			}
			fprintf(f, "%-30s%.*s\n", "", (int)n, p);
		}
		first = false;
		p += n + (p[n] == '\n');
	}
}

void
cli_help(FILE *f)
{
	fputs("Usage: rcshim run [OPTIONS] [--] CMD [ARGS...]\n"
	      "       rcshim clean PID [--priority P] [--timeout SECONDS | --no-wait]\n"
	      "       rcshim report PID [--timeout SECONDS]\n"
	      "       rcshim sweep [--dry-run] [--older-than AGE] [--all-users]\n"
	      "       rcshim plot REPORT -o OUT.html|OUT.svg\n"
	      "       rcshim print REPORT [--process PID|CMD] [--kind K] [--json]\n"
	      "       rcshim --help | --version\n"
	      "\n"
	      "rcshim run runs CMD with librcshim preloaded into it and every process it\n"
	      "starts, waits for the last of them, then removes the temp files and\n"
	      "directories they left behind, however they ended (SIGKILL included), and\n"
	      "exits as CMD did.  rcshim clean asks a running process for a live cleanup\n"
	      "and prints what it reclaimed and what it left alone; rcshim report prints\n"
	      "its report; rcshim sweep cleans up after killed launchers; rcshim plot\n"
	      "draws a --timeline report; rcshim print shows a report (a file or a session\n"
	      "id) filtered by process and kind.  A bad option value is an error: nothing\n"
	      "is run.\n"
	      "\n"
	      "Options of run (each sets the RCSHIM_ variable named in rcshim(1)):\n",
	      f);
	for (size_t i = 0; i < cli_n_var_opts; i++) {
		char opt[64];
		snprintf(opt, sizeof(opt), "--%s", cli_var_opts[i].option);
		help_option(f, opt, cli_var_opts[i].arg, cli_var_opts[i].help);
	}
	help_option(f, "--json", NULL, "the same as --report-format json");
	help_option(f, "--metrics", "DIR",
		    "add the run to DIR/rcshim_JOB.prom (Prometheus\n"
		    "text format; also RCSHIM_METRICS)");
	help_option(f, "--job", "NAME", "the job label of the metrics (default: CMD)");
	help_option(f, "--no-sweep", NULL, "no background sweep of killed sessions");
	help_option(f, "-q, --quiet", NULL, "no summary on stderr at the end");
	help_option(f, "-h, --help", NULL, "this help, then exit");
	help_option(f, "-V, --version", NULL,
		    "the version, the library run preloads and\nthe optional parts built in, then exit");
	fputs("\n"
	      "Options of clean and report:\n",
	      f);
	help_option(f, "--priority", "P",
		    "clean: the priority of this live cleanup\n"
		    "(default: the process's RCSHIM_SIGNAL_PRIORITY)");
	help_option(f, "--timeout", "SECONDS",
		    "how long to wait for the answer (default 5)");
	help_option(f, "--no-wait", NULL, "clean: ask, and return at once without the result");
	fputs("\n"
	      "Options of sweep (the sessions of a killed launcher):\n",
	      f);
	help_option(f, "-n, --dry-run", NULL, "list what would be removed, remove nothing");
	help_option(f, "--older-than", "AGE", "only sessions unchanged this long (90s, 10m, 2h, 7d)");
	help_option(f, "--keep-reports", "AGE", "reports of ended sessions kept (default 7d)");
	help_option(f, "--dir", "DIR", "sweep this journal directory only");
	help_option(f, "--all-users", NULL, "root: every user's, each as that user");
	fputs("\n"
	      "Options of print (REPORT: a report file, text or JSON, or a session id):\n",
	      f);
	help_option(f, "--process", "PID|CMD",
		    "only this process: its pid, or a part of its\n"
		    "command line or executable");
	help_option(f, "--kind", "K",
		    "only this kind, and the processes that held it:\n"
		    "heap, temp, fd, sqlite, gpu or custom");
	help_option(f, "--json", NULL, "print: JSON, whatever the report's format");
	fputs("\n"
	      "Exit status: run exits as CMD did (it dies of the same signal); 2 for a\n"
	      "usage error, 125 if rcshim itself failed, 126 if CMD cannot be run, 127 if\n"
	      "it was not found.  clean: 0 the cleanup ran (its result printed), 1 the\n"
	      "process could not be reached, 2 usage error, 3 no answer in time, 4 the\n"
	      "process did not run it (another cleanup was running).  report: 0 done,\n"
	      "1 failed, 2 usage error.  print: 0 something matched, 1 nothing did,\n"
	      "2 usage error or a report that cannot be read.\n"
	      "\n"
	      "Full documentation: man rcshim\n",
	      f);
}

const char *
cli_signal_name(int sig, char *buf, size_t len)
{
	static const char *const names[] = {
		[SIGHUP] = "SIGHUP",   [SIGINT] = "SIGINT",	  [SIGQUIT] = "SIGQUIT",
		[SIGILL] = "SIGILL",   [SIGTRAP] = "SIGTRAP",	  [SIGABRT] = "SIGABRT",
		[SIGBUS] = "SIGBUS",   [SIGFPE] = "SIGFPE",	  [SIGKILL] = "SIGKILL",
		[SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV",	  [SIGUSR2] = "SIGUSR2",
		[SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM",	  [SIGTERM] = "SIGTERM",
		[SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD", [SIGCONT] = "SIGCONT",
		[SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP",	  [SIGTTIN] = "SIGTTIN",
		[SIGTTOU] = "SIGTTOU", [SIGURG] = "SIGURG",	  [SIGXCPU] = "SIGXCPU",
		[SIGXFSZ] = "SIGXFSZ", [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
		[SIGWINCH] = "SIGWINCH", [SIGIO] = "SIGIO",	  [SIGPWR] = "SIGPWR",
		[SIGSYS] = "SIGSYS",
	};
	if (sig > 0 && (size_t)sig < sizeof(names) / sizeof(names[0]) && names[sig]) {
		snprintf(buf, len, "%s", names[sig]);
	} else if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
	} else {
		snprintf(buf, len, "signal %d", sig);
	}
	return buf;
}
