/* The rcshim launcher (DESIGN §2, §6, §8): what its files share.
 *
 *   rcshim.c   main: subcommands, --help, --version
 *   help.c     the options table, --help, messages
 *   options.c  option values checked before the run; "did you mean"
 *   run.c      `rcshim run`: options, the child's environment, fork/exec
 *   wait.c     the subreaper's wait, signals passed on, the exit as CMD's
 *   env.c      the library path and LD_PRELOAD
 *   check.c    can CMD be preloaded at all? (static, setuid, ELF class)
 *   session.c  after the end: journal replay, summary
 *   gather.c   after the end: the report of the run
 *   symbolize.c  the names of the frames the processes left unnamed
 *   symcache.c   those names kept between runs, per build id
 *   held.c     what the processes' reports say they held at their end
 *   remote.c   `rcshim clean PID`, `rcshim report PID`
 *   json.c     a JSON syntax check for merging reports
 *   jv.c       a small JSON reader (plot, print, the report's summary)
 *   summary.c  the gathered report's summary: one line per process
 *   print.c    `rcshim print`: a report, filtered
 *   sweep.c    `rcshim sweep`: the sessions nobody replayed; the launcher's
 *              background sweep
 *   metrics.c  `--metrics DIR`: the run in Prometheus text format
 *   plot.c     `rcshim plot`: a --timeline report drawn as SVG or HTML
 *
 * The launcher is an ordinary program: it uses stdio and malloc freely.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "rcshim.h"

/* Exit statuses of the launcher itself (the program's own are passed
 * through); 125-127 as env(1), timeout(1) and nice(1) use them. */
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_FAILED 125   /* the launcher could not do its job */
#define CLI_EXIT_NOEXEC 126   /* CMD was found but could not be run */
#define CLI_EXIT_NOTFOUND 127 /* CMD was not found */

/* ---- rcshim.c ---- */

/* An option of `rcshim run` that sets one RCSHIM_* variable. */
struct cli_var_opt {
	const char *option; /* long option, without "--" */
	const char *var;    /* the variable it sets */
	const char *arg;    /* its argument, for --help */
	const char *help;
};
extern const struct cli_var_opt cli_var_opts[];
extern const size_t cli_n_var_opts;

/* "rcshim: " + message + newline on stderr, the message escaped as text
 * (core/escape.h): one line, whatever the paths and names in it. */
void cli_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: the message, a pointer to --help; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_help(FILE *f);

/* ---- options.c: option values checked before anything runs ---- */

/* "; did you mean 'HIGH'?" when @arg is within two edits (case-insensitive,
 * a swap of two neighbours counting one) of exactly one nearest word of
 * @words (NULL-terminated); else "".  Written to @buf. */
const char *cli_did_you_mean(const char *arg, const char *const *words, char *buf, size_t len);
extern const char *const cli_priority_words[];

/* Checks the value @val of `rcshim run --@option` (setting @var) with the
 * shim's own parser (core/config.c), and for --report the file's checks
 * (report/dest.h).  0, or CLI_EXIT_USAGE after one line on stderr. */
int cli_check_option(const char *option, const char *var, const char *val);

/* "SIGKILL", "SIGRTMIN+3", "signal 70". */
const char *cli_signal_name(int sig, char *buf, size_t len);

/* ---- run.c, remote.c: the subcommands (argv[0] is the subcommand) ---- */
int cli_run(int argc, char **argv);
int cli_clean(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_sweep(int argc, char **argv);

/* ---- sweep.c ---- */

/* How long the launcher's background sweep may run. */
#define CLI_SWEEP_DEADLINE_S 10
/* At most one background sweep of a journal directory this often: the
 * time of the last is its stamp file's. */
#define CLI_SWEEP_EVERY_S 60
#define CLI_SWEEP_STAMP "sweep.stamp"
/* "90", "90s", "10m", "2h", "7d" in seconds; -1 if it is not one. */
long cli_parse_age(const char *s);
/* Starts `@self_exe sweep` of the journal directory @dir in the background:
 * a child of the launcher at the lowest CPU and I/O priority, output to
 * /dev/null, killed after CLI_SWEEP_DEADLINE_S, with the signal mask @mask;
 * not when one began less than CLI_SWEEP_EVERY_S ago.  Returns its pid,
 * or -1. */
pid_t cli_sweep_background(const char *self_exe, const char *dir, const sigset_t *mask);
/* wait.c: a helper child of the launcher's (the background sweep): not
 * named among the processes the program left running. */
extern pid_t cli_wait_helper;

/* ---- plot.c: rcshim plot, and --timeline's optional argument ---- */
int cli_plot(int argc, char **argv);

/* ---- print.c: rcshim print REPORT [--process PID|CMD] [--kind K] [--json] ---- */
int cli_print(int argc, char **argv);
/* Whether option @name (of cli_var_opts) takes an optional argument. */
bool cli_opt_optional(const char *name);
/* Its value when given without "=": the next word if it is one (an
 * interval: optind moves past it), else "on". */
const char *cli_opt_optarg(const char *name, int argc, char **argv);
/* RCSHIM_TIMELINE is on in @envp and no RCSHIM_REPORT_FORMAT is set: the
 * report is to be JSON (rcshim plot reads JSON). */
bool cli_timeline_wants_json(char *const *envp);

/* ---- wait.c ---- */

/* Waits for @child and every descendant (the launcher is a subreaper), with
 * the signals of @set blocked and taken here: SIGCHLD reaps, the others are
 * passed on.  With @talk, says once when descendants outlive CMD (@name).
 * Returns CMD's wait status. */
int cli_wait_all(pid_t child, const sigset_t *set, const char *name, bool talk);

/* While waiting, a SIGIO (in the set given to cli_wait_all) whose si_fd is
 * @fd calls @fn(@ctx); when it returns true (more to do) it is called
 * again as soon as no signal is pending. */
void cli_wait_on_io(int fd, bool (*fn)(void *), void *ctx);

/* Exits as CMD did: its exit code, or death by its signal (without a core
 * dump of the launcher's own: CMD dumped already, if it was to). */
void cli_exit_like(int status) __attribute__((noreturn));
/* From here on, a crash of the launcher (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 * SIGABRT, SIGSYS: a bug of rcshim's in the report, the summary or the
 * metrics) says so in one line and exits as cli_exit_like(@status): the
 * program's status is not lost to the launcher's bug. */
void cli_guard_status(int status);

/* ---- env.c ---- */

/* The library to preload: $RCSHIM_LIB, else librcshim.so.0 next to
 * @self_exe, else in the library directory relative to it, else in the
 * configured RCSHIM_LIBDIR.  Writes an absolute path to @out; returns 0, or
 * -1 with a message printed. */
int cli_find_lib(const char *rcshim_lib, const char *self_exe, char *out, size_t len);

/* rcshim --version: the version, the library `rcshim run` preloads, and
 * the optional parts (libdw, libunwind, SQLite, CUDA).  The exit status. */
int cli_version(void);

/* The LD_PRELOAD value for the child: @old (may be NULL) with @lib
 * appended, unless an entry already is a librcshim (the same file, or any
 * file named librcshim.so*): the shim is never loaded twice.  Returns a
 * malloc'd string. */
char *cli_ld_preload(const char *old, const char *lib);

/* The value of @name in @envp, or NULL (the first entry wins). */
const char *cli_env_get(char *const *envp, const char *name);

/* ---- check.c ---- */

/* Looks @cmd up as execvp does (@path_env: $PATH, NULL = the default).
 * Returns a malloc'd path of an executable regular file, or NULL. */
char *cli_which(const char *cmd, const char *path_env);

/* Why preloading @lib into the program @path cannot work: statically
 * linked, set-user-ID or set-group-ID, file capabilities, another ELF class
 * or machine; for a #! script, the same about its interpreter.  Returns
 * true and a sentence in @why when it cannot; false when it can, or when
 * that cannot be told. */
bool cli_check_preloadable(const char *path, const char *lib, const char *path_env,
			   char *why, size_t len);

/* What one kind held, as a report says it. */
struct cli_kind_count {
	char kind[16];
	uint64_t count, bytes;
};
#define CLI_MAX_KINDS 16
struct cli_kinds {
	bool found;
	size_t n;
	struct cli_kind_count k[CLI_MAX_KINDS];
};

/* ---- json.c ---- */

/* How many JSON values [p, p + n) holds, one after another, separated by
 * white space (1 for a JSON document, several for JSON Lines); 0 for
 * white space only, -1 if it is not JSON. */
int cli_json_values(const char *p, size_t n);

/* The end of the one JSON value at @p (no white space before it), or NULL
 * if there is none before @end. */
const char *cli_json_skip(const char *p, const char *end);

/* Writes the JSON in [p, p + n): one value as it is, several as an array
 * of them.  False (and nothing written) if it is not JSON. */
bool cli_json_write_values(FILE *f, const char *p, size_t n);

/* The "kinds" of the last report object (one with a "kinds" member) in the
 * JSON text [p, p + n): what the process held.  False if there is none or
 * it is not JSON. */
bool cli_json_report_kinds(const char *p, size_t n, struct cli_kinds *out);

/* @s as a JSON string, quotes included; a byte that is not part of
 * well-formed UTF-8 is written as the code point of the same value
 * (as Latin-1), like the shim's reports (docs/report-format.md). */
void cli_json_string(FILE *f, const char *s);
/* Whether @s is not well-formed UTF-8: its JSON string alone does not
 * give its bytes back, a "_hex" member beside it does. */
bool cli_json_needs_hex(const char *s);
/* The bytes of @s in hex, as a JSON string. */
void cli_json_hex(FILE *f, const char *s);

/* ---- jv.c: a small DOM-style JSON reader ---- */

enum cli_jt { CLI_J_NULL, CLI_J_BOOL, CLI_J_NUM, CLI_J_STR, CLI_J_ARR, CLI_J_OBJ };

struct cli_jv {
	enum cli_jt t;
	double num;           /* CLI_J_NUM; CLI_J_BOOL: 0 or 1 */
	char *str;            /* CLI_J_STR */
	struct cli_jv *items; /* CLI_J_ARR, CLI_J_OBJ */
	char **keys;          /* CLI_J_OBJ */
	size_t n;
};

/* realloc, or abort. */
void *cli_xrealloc(void *p, size_t n);
/* The first @n bytes of @s and a NUL, malloc'd, or abort. */
char *cli_xstrndup(const char *s, size_t n);
/* Every JSON value of [text, text + n) (one document, or JSON Lines) as the
 * items of the array *@all (cli_jv_free it, also on failure).  False if
 * it is not JSON. */
bool cli_jv_parse_all(const char *text, size_t n, struct cli_jv *all);
void cli_jv_free(struct cli_jv *v);
/* Member @key of object @o; NULL if @o is not an object or has none. */
const struct cli_jv *cli_jv_get(const struct cli_jv *o, const char *key);
/* Its number (0 if absent or not one), its string (NULL). */
double cli_jv_num(const struct cli_jv *o, const char *key);
const char *cli_jv_str(const struct cli_jv *o, const char *key);
/* @v as JSON. */
void cli_jv_write(FILE *f, const struct cli_jv *v);
/* The whole file @path ("-": stdin), malloc'd, *@n bytes; NULL with errno. */
char *cli_read_file(const char *path, size_t *n);

/* ---- symbolize.c ---- */

struct rc_sym_offline;
struct cli_symcache;
/* The names of one run's frames: the cache of earlier runs' (symcache.c),
 * then the object files, opened at the first frame the cache lacks. */
struct cli_sym_memo;
struct cli_sym {
	struct rc_sym_offline *off;
	struct cli_symcache *cache;
	bool cache_tried;
	struct cli_sym_memo *memo; /* this run's names (symbolize.c) */
	size_t memo_n, memo_cap;
};
/* Names the frames a process report left unnamed (RCSHIM_INTERNAL_GATHER),
 * text or JSON: takes @text (malloc'd, *@len bytes) and returns it or a
 * new one.  @sym starts zeroed; cli_sym_end ends it. */
char *cli_symbolize(char *text, size_t *len, struct cli_sym *sym);
void cli_sym_end(struct cli_sym *sym);

/* ---- symcache.c ---- */

struct rc_frame_info;
/* The cache directory, made if missing; NULL where there is none this
 * user alone owns. */
struct cli_symcache *cli_symcache_open(void);
/* The name kept for @addr (an address in the object, as the report has
 * it) of the object with @build_id (hex). */
bool cli_symcache_get(struct cli_symcache *c, const char *build_id, uintptr_t addr,
		      struct rc_frame_info *out);
/* Keeps @f for a later run, if it is complete (a file and a line). */
void cli_symcache_put(struct cli_symcache *c, const char *build_id, uintptr_t addr,
		      const struct rc_frame_info *f);
void cli_symcache_close(struct cli_symcache *c);

/* ---- held.c ---- */

/* cli_json_report_kinds for a text report: its "heap: N blocks, M bytes"
 * and "KIND: N held[, M bytes]" lines, from its last "== rcshim report". */
bool cli_text_report_kinds(const char *p, size_t n, struct cli_kinds *out);

/* The figure at [p, end): an optional minus sign and decimal digits, read
 * as a count that never wraps: a negative one is 0, one above UINT64_MAX
 * is UINT64_MAX.  Returns the characters read, 0 (and *@v = 0) when there
 * is no digit. */
size_t cli_figure(const char *p, const char *end, uint64_t *v);

/* Adds what one process held (@one) to @sum, kind by kind, saturating at
 * UINT64_MAX. */
void cli_kinds_add(struct cli_kinds *sum, const struct cli_kinds *one);

/* ---- records.c: the session's shared report file under the launcher ---- */

enum cli_rec_kind {
	CLI_REC_NONE,    /* nothing taken: more bytes are needed */
	CLI_REC_SKIPPED, /* bytes that are no item (one cut short): skipped */
	CLI_REC_QUIET,   /* a "held nothing" line (text, len: without its newline) */
	CLI_REC_REPORT,  /* a process's full report (text, len), its pid and time */
};
struct cli_record {
	enum cli_rec_kind kind;
	long pid;
	struct timespec at;
	const char *text;
	size_t len;
};
/* The next item of [p, p + n), read from the start of an item.  Returns
 * the bytes it takes (0 with CLI_REC_NONE: an item not yet whole, which
 * more bytes may complete).  With @end (nothing more will come), every
 * byte is taken: what is not a whole item is skipped. */
size_t cli_record_next(const char *p, size_t n, bool end, struct cli_record *rec);

/* ---- tally.c: the processes' own cleanups, from their report files ---- */

/* Kinds as rcshim.h numbers them, then one more: "unknown" (the bytes of a
 * cleanup in a text report, which gives them only in total). */
#define CLI_TALLY_KINDS (RCSHIM_KIND_COUNT + 1)
#define CLI_TALLY_MAX 64
struct cli_tally {
	struct {
		char trigger[16], prio[16]; /* "live_signal", "HIGH" */
		uint64_t n;
	} c[CLI_TALLY_MAX];
	size_t nc;
	uint64_t cleaned[CLI_TALLY_KINDS], bytes[CLI_TALLY_KINDS];
	uint64_t changes; /* cleanups counted so far */
};
/* Where a text report file is, between its lines. */
struct cli_tally_file {
	int state;
	char trigger[16], prio[16];
};
/* Counts one line of a process's report file (text or JSON, a live
 * cleanup's line or the final report), without or with its newline. */
void cli_tally_line(struct cli_tally *t, struct cli_tally_file *f, const char *line, size_t len);
/* "temp", ..., "custom", then "unknown". */
const char *cli_tally_kind(int k);

/* ---- session.c, gather.c: after the program has ended ---- */

struct cli_session {
	const char *id;  /* the session id (32 hex digits) */
	const char *dir; /* journal directory, "" if none */
	/* The default report pattern this launcher set ("" if the user chose
	 * one): "<dir>/<id>.%p.report", merged at the end. */
	const char *report_default;
	const char *report_user; /* RCSHIM_REPORT the user set, or NULL */
	bool json;               /* RCSHIM_REPORT_FORMAT=json */
	char *const *cmd;        /* the command line */
	time_t started;          /* when the launcher started */
};

/* Paths the replay reports, in the order it met them. */
struct cli_paths {
	char **v;
	size_t n;
};
#define CLI_LIST_MAX 10 /* paths named in the summary, then a count */

struct cli_outcome {
	struct rcshim_result replay; /* what the journal replay reclaimed */
	struct cli_paths removed;    /* the temp artifacts it removed */
	struct cli_paths kept;       /* left alone: they name something else now */
	struct cli_paths refused;    /* journal lines refused, with the reason */
	int journals;                /* journal files replayed */
	int journal_errors;          /* journal files that could not be read */
	int reports;                 /* process reports found */
	struct cli_kinds held;       /* what they held at their end, summed */
	struct cli_paths reclaimed;  /* what their final cleanups reclaimed:
				      * "pid N: KIND WHAT", escaped */
	uint64_t reclaimed_more;     /* and how many more, not named */
	char report_path[1024];      /* what the summary names, "" if none */
};

/* File names. */
struct cli_names {
	char **v;
	size_t n;
};
void cli_names_free(struct cli_names *l);
/* The entries of @dir named "<id>.<rest>" where @rest_ok(rest). */
void cli_session_files(const char *dir, const char *id, bool (*rest_ok)(const char *),
		       struct cli_names *out);
/* Opens for reading a file the processes of a session wrote in its journal
 * directory: a regular file of this user's, reached through no symlink
 * (the directory is private, but nothing there is followed anywhere); its
 * modification time in *@mtime if not NULL.  -1 if it is not one. */
int cli_session_file_open(const char *path, struct timespec *mtime);
/* Past one or more decimal digits at @p; NULL if there are none. */
const char *cli_digits(const char *p);
/* "file or directory" for 1, else "files and directories". */
const char *cli_things(uint64_t n);

/* Replays and deletes every journal of the session: "<id>.journal" and
 * "<id>.p<pid>.journal", with the checks of DESIGN §2 (clean/journal.h). */
void cli_session_replay(const struct cli_session *s, struct cli_outcome *o);
void cli_outcome_free(struct cli_outcome *o);

/* RCSHIM_REPORT as the user set it (@value, NULL if unset), checked before
 * the program starts with the rules the shim applies when it writes
 * (report/dest.h): returns @value when the shim may write there; ""
 * when it is not a path the shim accepts ("none", "1": the shim's own
 * parser says so, and there is no report); NULL, after one line on stderr
 * unless @log is quiet, when the file is refused (a symlink, another user's
 * file, one others can write, a file that is not an rcshim report, a
 * missing directory): the run's report is then gathered as without one. */
const char *cli_report_checked(const char *value, const char *log);

/* Merges the processes' reports into one file (the default), or finds the
 * user's report files.  @status: the program's wait status. */
void cli_session_reports(const struct cli_session *s, int status, struct cli_outcome *o);

/* The summary lines on stderr. */
void cli_session_summary(const struct cli_session *s, int status, const struct cli_outcome *o);

/* "exited with status 3", "was killed by signal 9 (SIGKILL)". */
const char *cli_status_text(int status, char *buf, size_t len);

/* "39.1 KiB", "17 bytes". */
const char *cli_human_bytes(uint64_t b, char *buf, size_t len);

/* ---- summary.c: the gathered report's summary ---- */

struct cli_sum_proc {
	long pid;
	char *cmd;                /* its command line, escaped as text */
	uint64_t count[6], bytes[6];
	char where[6][200];       /* the function of each kind's largest group */
	uint64_t reclaimed[6];    /* by its final cleanup and the launcher */
	char **items;             /* "KIND WHAT", escaped as text */
	size_t nitems;
	size_t nown;              /* the first nown: its own final cleanup's */
	uint64_t items_more;      /* reclaimed, not named */
	char **temps;             /* temp paths it held at its end */
	size_t ntemps;
	char *line;               /* the summary's line */
};
struct cli_summary {
	struct cli_sum_proc *p;
	size_t n;
};
/* Adds the process report @text (@n bytes and a NUL, JSON if @json, else
 * text).
 * The temp paths it held that @removed names are counted reclaimed. */
void cli_summary_add(struct cli_summary *s, long pid, const char *text, size_t n, bool json,
		     const struct cli_paths *removed);
/* Sorts (most important first) and makes the lines. */
void cli_summary_finish(struct cli_summary *s);
/* Its lines, indented. */
void cli_summary_text(FILE *f, const struct cli_summary *s);
/* ,"summary": [...] */
void cli_summary_json(FILE *f, const struct cli_summary *s);
void cli_summary_free(struct cli_summary *s);

/* ---- metrics.c ---- */

/* The metrics of one run (--metrics @dir, label job=@job).  With the
 * session's journal directory @sdir and id @id, the processes' report
 * files there are watched (inotify, close-on-exec; its SIGIO for fd
 * cli_metrics_fd, -1 without) and their cleanups counted (tally.c).
 * NULL, said on stderr, where @dir or @job is too long to keep whole
 * (1023 and 127 bytes): cut, they would name another directory or job. */
struct cli_metrics;
struct cli_metrics *cli_metrics_start(const char *dir, const char *job, const char *sdir,
				      const char *id);
int cli_metrics_fd(const struct cli_metrics *m);
/* The wait's SIGIO of that fd (a struct cli_metrics): reads what the
 * report files gained, a bounded amount, and rewrites DIR/rcshim_<job>.prom
 * when a count changed.  True when there is more to read. */
bool cli_metrics_live(void *m);
/* After the program ended, before the reports are gathered (which removes
 * the files): the rest of every report file of the session. */
void cli_metrics_collect(struct cli_metrics *m);
/* Adds the run (@status, @o) to DIR/rcshim_<job>.prom, atomically, and
 * frees @m.  0, or -1 after one line on stderr. */
int cli_metrics_finish(struct cli_metrics *m, int status, const struct cli_outcome *o);
void cli_metrics_free(struct cli_metrics *m);
