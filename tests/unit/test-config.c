#include "build-config.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "test.h"

/* Collects the warning lines of one rc_config_load call. */
#define MAX_LINES 32
struct warns {
	int n;
	char line[MAX_LINES][1100];
};

static void
collect(void *ctx, const char *line)
{
	struct warns *w = ctx;

	ck_assert_ptr_nonnull(line);
	ck_assert_msg(strchr(line, '\n') == NULL, "newline in: %s", line);
	ck_assert_uint_lt(strlen(line), sizeof(w->line[0]));
	if (w->n < MAX_LINES) {
		strcpy(w->line[w->n], line);
	}
	w->n++;
}

/* The config is large: keep it off the test's stack. */
static struct rc_config cfg, ref;
static struct warns W;

static int
load(char *const *envp)
{
	memset(&W, 0, sizeof(W));
	return rc_config_load(&cfg, envp, collect, &W);
}

/* Loads a single NAME=VALUE entry. */
static int
load1(const char *entry)
{
	char *envp[] = { (char *)entry, NULL };
	return load(envp);
}

static void
assert_same_config(const struct rc_config *a, const struct rc_config *b)
{
	ck_assert_int_eq(a->priority, b->priority);
	ck_assert_int_eq(a->exit_priority, b->exit_priority);
	ck_assert_int_eq(a->signal_priority, b->signal_priority);
	ck_assert_int_eq(a->live_signal, b->live_signal);
	ck_assert_uint_eq(a->interval_ms, b->interval_ms);
	ck_assert_int_eq(a->pressure, b->pressure);
	ck_assert_str_eq(a->pressure_spec, b->pressure_spec);
	ck_assert_uint_eq(a->track, b->track);
	ck_assert_uint_eq(a->n_tmp_roots, b->n_tmp_roots);
	for (size_t i = 0; i < a->n_tmp_roots; i++) {
		ck_assert_str_eq(a->tmp_roots[i], b->tmp_roots[i]);
	}
	ck_assert_int_eq(a->tmp_owner, b->tmp_owner);
	ck_assert_uint_eq(a->tmp_idle_s, b->tmp_idle_s);
	ck_assert_uint_eq(a->heap_sample, b->heap_sample);
	ck_assert_int_eq(a->heap_exact, b->heap_exact);
	ck_assert_uint_eq(a->stack_depth, b->stack_depth);
	ck_assert_str_eq(a->report, b->report);
	ck_assert_int_eq(a->report_format, b->report_format);
	ck_assert_int_eq(a->log_level, b->log_level);
}

static void
assert_default_roots(const struct rc_config *c)
{
	ck_assert_uint_eq(c->n_tmp_roots, 3);
	ck_assert_str_eq(c->tmp_roots[0], "/tmp");
	ck_assert_str_eq(c->tmp_roots[1], "/var/tmp");
	ck_assert_str_eq(c->tmp_roots[2], "/dev/shm");
}

/* Roots must live in the struct's own buffer, never in envp or statics. */
static void
assert_roots_in_buf(const struct rc_config *c)
{
	for (size_t i = 0; i < c->n_tmp_roots; i++) {
		ck_assert(c->tmp_roots[i] >= c->roots_buf);
		ck_assert(c->tmp_roots[i] + strlen(c->tmp_roots[i]) <
			  c->roots_buf + sizeof(c->roots_buf));
	}
}

START_TEST(defaults_empty_env)
{
	char *envp[] = { NULL };

	ck_assert_int_eq(load(envp), 0);
	ck_assert_int_eq(W.n, 0);
	ck_assert_int_eq(cfg.priority, RCSHIM_MEDIUM);
	ck_assert_int_eq(cfg.exit_priority, RCSHIM_MEDIUM);
	ck_assert_int_eq(cfg.signal_priority, RCSHIM_MEDIUM);
	ck_assert_int_eq(cfg.live_signal, SIGUSR1);
	ck_assert_uint_eq(cfg.interval_ms, 0);
	ck_assert(!cfg.pressure);
	ck_assert_str_eq(cfg.pressure_spec, "");
	ck_assert_uint_eq(cfg.track, RC_TRACK_ALL);
	ck_assert_uint_eq(RC_TRACK_ALL, 0x3f);
	assert_default_roots(&cfg);
	assert_roots_in_buf(&cfg);
	ck_assert_int_eq(cfg.tmp_owner, RC_TMP_OWNER_SESSION);
	ck_assert_uint_eq(cfg.tmp_idle_s, 0);
	ck_assert_uint_eq(cfg.heap_sample, RC_DEFAULT_HEAP_SAMPLE);
	ck_assert_uint_eq(cfg.stack_depth, RC_DEFAULT_STACK_DEPTH);
	ck_assert_str_eq(cfg.report, "");
	ck_assert_int_eq(cfg.report_format, RC_REPORT_TEXT);
	ck_assert_int_eq(cfg.log_level, RC_LOG_WARN);

	rc_config_defaults(&ref);
	assert_same_config(&cfg, &ref);
	assert_roots_in_buf(&ref);

	/* A NULL environment is an empty one. */
	memset(&W, 0, sizeof(W));
	ck_assert_int_eq(rc_config_load(&cfg, NULL, collect, &W), 0);
	ck_assert_int_eq(W.n, 0);
	assert_same_config(&cfg, &ref);
}
END_TEST

START_TEST(empty_values_mean_default)
{
	char *envp[] = {
		"RCSHIM_PRIORITY=",	 "RCSHIM_EXIT_PRIORITY=",
		"RCSHIM_SIGNAL_PRIORITY=", "RCSHIM_SIGNAL=",
		"RCSHIM_INTERVAL=",	 "RCSHIM_PRESSURE=",
		"RCSHIM_TRACK=",	 "RCSHIM_TMP_OWNER=",
		"RCSHIM_TMP_IDLE=",	 "RCSHIM_HEAP_SAMPLE=",
		"RCSHIM_HEAP=",		 "RCSHIM_STACK_DEPTH=",	 "RCSHIM_REPORT=",
		"RCSHIM_REPORT_FORMAT=", "RCSHIM_LOG=",
		/* Without '=' it is not a setting at all. */
		"RCSHIM_PRIORITY",	 NULL,
	};

	ck_assert_int_eq(load(envp), 0);
	ck_assert_int_eq(W.n, 0);
	rc_config_defaults(&ref);
	assert_same_config(&cfg, &ref);
}
END_TEST

START_TEST(priority_valid)
{
	static const struct {
		const char *v;
		rcshim_priority p;
	} cases[] = {
		{ "LOW", RCSHIM_LOW },	       { "low", RCSHIM_LOW },
		{ "0", RCSHIM_LOW },	       { "Medium", RCSHIM_MEDIUM },
		{ "1", RCSHIM_MEDIUM },	       { "high", RCSHIM_HIGH },
		{ "HiGh", RCSHIM_HIGH },       { "2", RCSHIM_HIGH },
		{ "CRITICAL", RCSHIM_CRITICAL }, { "critical", RCSHIM_CRITICAL },
		{ "3", RCSHIM_CRITICAL },
	};
	char e[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(rc_parse_priority(cases[i].v), (int)cases[i].p);
		snprintf(e, sizeof(e), "RCSHIM_PRIORITY=%s", cases[i].v);
		ck_assert_int_eq(load1(e), 0);
		ck_assert_int_eq(cfg.priority, cases[i].p);
		ck_assert_int_eq(cfg.exit_priority, cases[i].p);
		ck_assert_int_eq(cfg.signal_priority, cases[i].p);
		snprintf(e, sizeof(e), "RCSHIM_EXIT_PRIORITY=%s", cases[i].v);
		ck_assert_int_eq(load1(e), 0);
		ck_assert_int_eq(cfg.exit_priority, cases[i].p);
		ck_assert_int_eq(cfg.priority, RCSHIM_MEDIUM);
		snprintf(e, sizeof(e), "RCSHIM_SIGNAL_PRIORITY=%s", cases[i].v);
		ck_assert_int_eq(load1(e), 0);
		ck_assert_int_eq(cfg.signal_priority, cases[i].p);
		ck_assert_int_eq(cfg.priority, RCSHIM_MEDIUM);
	}
	ck_assert_int_eq(rc_parse_priority(NULL), -1);
	ck_assert_int_eq(rc_parse_priority(""), -1);
	ck_assert_int_eq(rc_parse_priority("4"), -1);
	ck_assert_int_eq(rc_parse_priority("-1"), -1);
	ck_assert_int_eq(rc_parse_priority("LOWER"), -1);
	ck_assert_int_eq(rc_parse_priority("LO"), -1);
	ck_assert_int_eq(rc_parse_priority(" LOW"), -1);
}
END_TEST

START_TEST(priority_follow)
{
	char *both[] = { "RCSHIM_EXIT_PRIORITY=critical", "RCSHIM_PRIORITY=low",
			 NULL };
	char *bad_exit[] = { "RCSHIM_PRIORITY=HIGH", "RCSHIM_EXIT_PRIORITY=x",
			     "RCSHIM_SIGNAL_PRIORITY=9", NULL };
	char *bad_base[] = { "RCSHIM_PRIORITY=nope", NULL };

	/* Order in the environment does not matter. */
	ck_assert_int_eq(load(both), 0);
	ck_assert_int_eq(cfg.priority, RCSHIM_LOW);
	ck_assert_int_eq(cfg.exit_priority, RCSHIM_CRITICAL);
	ck_assert_int_eq(cfg.signal_priority, RCSHIM_LOW);

	/* Invalid follower: falls back to PRIORITY's value, and says so. */
	ck_assert_int_eq(load(bad_exit), 2);
	ck_assert_int_eq(W.n, 2);
	ck_assert_int_eq(cfg.exit_priority, RCSHIM_HIGH);
	ck_assert_int_eq(cfg.signal_priority, RCSHIM_HIGH);
	ck_assert_str_eq(W.line[0],
			 "RCSHIM_EXIT_PRIORITY=x is not valid (accepted: LOW, "
			 "MEDIUM, HIGH, CRITICAL or 0-3); using HIGH");
	ck_assert_str_eq(W.line[1],
			 "RCSHIM_SIGNAL_PRIORITY=9 is not valid (accepted: LOW, "
			 "MEDIUM, HIGH, CRITICAL or 0-3); using HIGH");

	ck_assert_int_eq(load(bad_base), 1);
	ck_assert_int_eq(cfg.exit_priority, RCSHIM_MEDIUM);
	ck_assert_int_eq(cfg.signal_priority, RCSHIM_MEDIUM);
}
END_TEST

START_TEST(signal_valid)
{
	char e[64];
	const struct {
		const char *v;
		int sig;
	} cases[] = {
		{ "USR1", SIGUSR1 },
		{ "usr1", SIGUSR1 },
		{ "SIGUSR1", SIGUSR1 },
		{ "USR2", SIGUSR2 },
		{ "SigUsr2", SIGUSR2 },
		{ "sigusr2", SIGUSR2 },
		{ "WINCH", SIGWINCH },
		{ "SIGCHLD", SIGCHLD },
		{ "PWR", SIGPWR },
		{ "RTMIN", SIGRTMIN },
		{ "SIGRTMIN", SIGRTMIN },
		{ "rtmin+0", SIGRTMIN },
		{ "RTMIN+3", SIGRTMIN + 3 },
		{ "SIGRTMAX", SIGRTMAX },
		{ "RTMAX-2", SIGRTMAX - 2 },
		{ "none", 0 },
		{ "NONE", 0 },
		{ "None", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(rc_parse_signal(cases[i].v), cases[i].sig);
		snprintf(e, sizeof(e), "RCSHIM_SIGNAL=%s", cases[i].v);
		ck_assert_int_eq(load1(e), 0);
		ck_assert_int_eq(cfg.live_signal, cases[i].sig);
	}

	/* Numbers, including the real-time range's ends. */
	snprintf(e, sizeof(e), "%d", SIGUSR2);
	ck_assert_int_eq(rc_parse_signal(e), SIGUSR2);
	snprintf(e, sizeof(e), "%d", SIGRTMIN);
	ck_assert_int_eq(rc_parse_signal(e), SIGRTMIN);
	snprintf(e, sizeof(e), "%d", SIGRTMAX);
	ck_assert_int_eq(rc_parse_signal(e), SIGRTMAX);
	snprintf(e, sizeof(e), "RTMIN+%d", SIGRTMAX - SIGRTMIN);
	ck_assert_int_eq(rc_parse_signal(e), SIGRTMAX);
	snprintf(e, sizeof(e), "RTMAX-%d", SIGRTMAX - SIGRTMIN);
	ck_assert_int_eq(rc_parse_signal(e), SIGRTMIN);
	snprintf(e, sizeof(e), "RCSHIM_SIGNAL=%d", SIGUSR2);
	ck_assert_int_eq(load1(e), 0);
	ck_assert_int_eq(cfg.live_signal, SIGUSR2);
}
END_TEST

START_TEST(signal_invalid)
{
	static const char *const bad[] = {
		"KILL", "SIGKILL", "stop", "SIGSTOP", "TERM", "sigterm", "INT",
		"HUP", "QUIT", "SEGV", "BUS", "ILL", "FPE", "ABRT", "IOT",
		"9", "15", "2", "0", "-1", "+10", "10x", "bogus", "SIG",
		"SIGSIGUSR1", "USR", "USR1 ", " USR1", "RTMIN+", "RTMIN-1",
		"RTMAX+1", "RTMAX-", "RTMIN+1000", "RTMAX-1000", "RTMIN+-1",
		"99999999999999999999", "4294967306", "nonee",
	};
	char e[128], v[32];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(rc_parse_signal(bad[i]) == -1, "%s accepted", bad[i]);
		snprintf(e, sizeof(e), "RCSHIM_SIGNAL=%s", bad[i]);
		ck_assert_int_eq(load1(e), 1);
		ck_assert_int_eq(W.n, 1);
		ck_assert_int_eq(cfg.live_signal, SIGUSR1);
		ck_assert_ptr_nonnull(strstr(W.line[0], e));
		ck_assert_ptr_nonnull(strstr(W.line[0], "; using SIGUSR1"));
	}
	/* Past SIGRTMAX, and the C library's own signals below SIGRTMIN. */
	snprintf(v, sizeof(v), "%d", SIGRTMAX + 1);
	ck_assert_int_eq(rc_parse_signal(v), -1);
	snprintf(v, sizeof(v), "RTMIN+%d", SIGRTMAX - SIGRTMIN + 1);
	ck_assert_int_eq(rc_parse_signal(v), -1);
	snprintf(v, sizeof(v), "%d", SIGRTMIN - 1);
	if (SIGRTMIN - 1 >= 32) {
		ck_assert_int_eq(rc_parse_signal(v), -1);
	}
	ck_assert_int_eq(rc_parse_signal(NULL), -1);
	ck_assert_int_eq(rc_parse_signal(""), -1);
}
END_TEST

START_TEST(interval)
{
	static const struct {
		const char *v;
		unsigned ms;
	} good[] = {
		{ "0", 0 },	    { "0.0", 0 },	{ "0.000", 0 },
		{ "0.5", 500 },	    { ".5", 500 },	{ "2", 2000 },
		{ "1.25", 1250 },   { "0.001", 1 },	{ "10.100", 10100 },
		{ "007", 7000 },    { "3600", 3600000 }, { "4294967.295", UINT_MAX },
	};
	static const char *const bad[] = {
		"-1", "-0.5", "abc", "1.2345", "1.", ".", "1e3", "0x10",
		" 1", "1 ", "1..2", "1.2.3", "+1", "1s", "4294967.296",
		"31536001", "99999999999999999999999",
	};
	char e[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(e, sizeof(e), "RCSHIM_INTERVAL=%s", good[i].v);
		ck_assert_msg(load1(e) == 0, "%s rejected", e);
		ck_assert_uint_eq(cfg.interval_ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(e, sizeof(e), "RCSHIM_INTERVAL=%s", bad[i]);
		ck_assert_msg(load1(e) == 1, "%s accepted", e);
		ck_assert_int_eq(W.n, 1);
		ck_assert_uint_eq(cfg.interval_ms, 0);
		ck_assert_ptr_nonnull(strstr(W.line[0], e));
		ck_assert_ptr_nonnull(strstr(W.line[0], "; using 0 (off)"));
	}
}
END_TEST

START_TEST(pressure)
{
	static const char *const on[] = { "1", "on", "ON", "yes", "Yes", "true",
					  "TRUE" };
	static const char *const off[] = { "0", "off", "OFF", "no", "No",
					   "false", "False" };
	char e[300], spec[200];

	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		snprintf(e, sizeof(e), "RCSHIM_PRESSURE=%s", on[i]);
		ck_assert_int_eq(load1(e), 0);
		ck_assert(cfg.pressure);
		ck_assert_str_eq(cfg.pressure_spec, "");
	}
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		snprintf(e, sizeof(e), "RCSHIM_PRESSURE=%s", off[i]);
		ck_assert_int_eq(load1(e), 0);
		ck_assert(!cfg.pressure);
		ck_assert_str_eq(cfg.pressure_spec, "");
	}

	/* Anything else is a spec for the monitor, kept verbatim. */
	ck_assert_int_eq(load1("RCSHIM_PRESSURE=memory some 80% 5s"), 0);
	ck_assert(cfg.pressure);
	ck_assert_str_eq(cfg.pressure_spec, "memory some 80% 5s");

	memset(spec, 'x', 127);
	spec[127] = '\0';
	snprintf(e, sizeof(e), "RCSHIM_PRESSURE=%s", spec);
	ck_assert_int_eq(load1(e), 0);
	ck_assert(cfg.pressure);
	ck_assert_str_eq(cfg.pressure_spec, spec);

	spec[127] = 'y';
	spec[128] = '\0';
	snprintf(e, sizeof(e), "RCSHIM_PRESSURE=%s", spec);
	ck_assert_int_eq(load1(e), 1);
	ck_assert_int_eq(W.n, 1);
	ck_assert(!cfg.pressure);
	ck_assert_str_eq(cfg.pressure_spec, "");
	ck_assert_ptr_nonnull(strstr(W.line[0], "RCSHIM_PRESSURE=xxxx"));
	ck_assert_ptr_nonnull(strstr(W.line[0], "longer than 127 characters"));
	ck_assert_ptr_nonnull(strstr(W.line[0], "; using off"));
}
END_TEST

#define BIT(k) (1u << (k))

START_TEST(track)
{
	static const struct {
		const char *v;
		unsigned bits;
	} good[] = {
		{ "temp", BIT(RCSHIM_KIND_TEMP) },
		{ "TEMP,fd", BIT(RCSHIM_KIND_TEMP) | BIT(RCSHIM_KIND_FD) },
		{ "sqlite,Gpu,HEAP,custom",
		  BIT(RCSHIM_KIND_SQLITE) | BIT(RCSHIM_KIND_GPU) |
			  BIT(RCSHIM_KIND_HEAP) | BIT(RCSHIM_KIND_CUSTOM) },
		{ ",,temp,,fd,", BIT(RCSHIM_KIND_TEMP) | BIT(RCSHIM_KIND_FD) },
		{ "all", RC_TRACK_ALL },
		{ "ALL,temp", RC_TRACK_ALL },
		{ "none", 0 },
		{ "None", 0 },
		{ "none,heap", BIT(RCSHIM_KIND_HEAP) },
	};
	char e[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(e, sizeof(e), "RCSHIM_TRACK=%s", good[i].v);
		ck_assert_int_eq(load1(e), 0);
		ck_assert_uint_eq(cfg.track, good[i].bits);
	}

	/* One warning naming the first unknown item. */
	ck_assert_int_eq(load1("RCSHIM_TRACK=temp,bogus,fd,worse"), 1);
	ck_assert_int_eq(W.n, 1);
	ck_assert_uint_eq(cfg.track, RC_TRACK_ALL);
	ck_assert_str_eq(W.line[0],
			 "RCSHIM_TRACK=temp,bogus,fd,worse is not valid (unknown "
			 "kind 'bogus'; accepted: a comma list of temp, fd, "
			 "sqlite, gpu, heap, custom, all, none); using all");

	ck_assert_int_eq(load1("RCSHIM_TRACK=1"), 1);
	ck_assert_uint_eq(cfg.track, RC_TRACK_ALL);
	ck_assert_int_eq(load1("RCSHIM_TRACK=temp fd"), 1);
	ck_assert_int_eq(load1("RCSHIM_TRACK=,,"), 1);
	ck_assert_int_eq(W.n, 1);
	ck_assert_ptr_nonnull(strstr(W.line[0], "RCSHIM_TRACK=,,"));
	ck_assert_uint_eq(cfg.track, RC_TRACK_ALL);
}
END_TEST

START_TEST(tmp_roots_valid)
{
	ck_assert_int_eq(load1("RCSHIM_TMP_ROOTS=/a:/b,/c"), 0);
	ck_assert_uint_eq(cfg.n_tmp_roots, 3);
	ck_assert_str_eq(cfg.tmp_roots[0], "/a");
	ck_assert_str_eq(cfg.tmp_roots[1], "/b");
	ck_assert_str_eq(cfg.tmp_roots[2], "/c");
	assert_roots_in_buf(&cfg);

	/* Trailing and repeated slashes go; duplicates collapse; empty
	 * items are skipped. */
	ck_assert_int_eq(load1("RCSHIM_TMP_ROOTS=/tmp/::/x//y///,/tmp,/x/y:"), 0);
	ck_assert_int_eq(W.n, 0);
	ck_assert_uint_eq(cfg.n_tmp_roots, 2);
	ck_assert_str_eq(cfg.tmp_roots[0], "/tmp");
	ck_assert_str_eq(cfg.tmp_roots[1], "/x/y");

	/* A name that merely starts with dots is fine. */
	ck_assert_int_eq(load1("RCSHIM_TMP_ROOTS=/x/.cache:/y/...:/z/..a"), 0);
	ck_assert_uint_eq(cfg.n_tmp_roots, 3);
	ck_assert_str_eq(cfg.tmp_roots[0], "/x/.cache");

	/* The explicit list replaces $TMPDIR and the usual places. */
	char *envp[] = { "TMPDIR=/scratch", "RCSHIM_TMP_ROOTS=/only", NULL };
	ck_assert_int_eq(load(envp), 0);
	ck_assert_uint_eq(cfg.n_tmp_roots, 1);
	ck_assert_str_eq(cfg.tmp_roots[0], "/only");

	/* Exactly the maximum number of roots. */
	char e[512] = "RCSHIM_TMP_ROOTS=";
	for (int i = 0; i < RC_MAX_TMP_ROOTS; i++) {
		char item[16];
		snprintf(item, sizeof(item), "%s/r%d", i ? ":" : "", i);
		strcat(e, item);
	}
	ck_assert_int_eq(load1(e), 0);
	ck_assert_uint_eq(cfg.n_tmp_roots, RC_MAX_TMP_ROOTS);
	ck_assert_str_eq(cfg.tmp_roots[RC_MAX_TMP_ROOTS - 1], "/r15");
	assert_roots_in_buf(&cfg);
}
END_TEST

START_TEST(tmp_roots_invalid)
{
	static const struct {
		const char *v;
		const char *why;
	} bad[] = {
		{ "", "no path given" },
		{ ":", "no path given" },
		{ ",,:", "no path given" },
		{ "tmp", "'tmp' is not an absolute path" },
		{ "/a:rel/dir", "'rel/dir' is not an absolute path" },
		{ "/", "'/' itself cannot be a temporary root" },
		{ "/a:///", "'/' itself cannot be a temporary root" },
		{ "/a/../etc", "'/a/../etc' has a '.' or '..' component" },
		{ "/a/./b", "has a '.' or '..' component" },
		{ "/tmp/..", "has a '.' or '..' component" },
		{ "/.", "has a '.' or '..' component" },
	};
	char e[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(e, sizeof(e), "RCSHIM_TMP_ROOTS=%s", bad[i].v);
		ck_assert_msg(load1(e) == 1, "%s accepted", e);
		ck_assert_int_eq(W.n, 1);
		assert_default_roots(&cfg);
		assert_roots_in_buf(&cfg);
		ck_assert_ptr_nonnull(strstr(W.line[0], e));
		ck_assert_msg(strstr(W.line[0], bad[i].why), "%s", W.line[0]);
		ck_assert_msg(strstr(W.line[0],
				     "; using /tmp:/var/tmp:/dev/shm") != NULL,
			      "%s", W.line[0]);
	}
	ck_assert_str_eq(W.line[0],
			 "RCSHIM_TMP_ROOTS=/. is not valid ('/.' has a '.' or '..' "
			 "component; accepted: absolute paths other than /, "
			 "separated by : or ,); using /tmp:/var/tmp:/dev/shm");

	/* Set but empty names no root at all: refused, with $TMPDIR kept in
	 * the default. */
	char *envp[] = { "RCSHIM_TMP_ROOTS=", "TMPDIR=/scratch", NULL };
	ck_assert_int_eq(load(envp), 1);
	ck_assert_int_eq(W.n, 1);
	ck_assert_str_eq(W.line[0],
			 "RCSHIM_TMP_ROOTS= is not valid (no path given; "
			 "accepted: absolute paths other than /, separated by : "
			 "or ,); using /scratch:/tmp:/var/tmp:/dev/shm");
	ck_assert_uint_eq(cfg.n_tmp_roots, 4);
	ck_assert_str_eq(cfg.tmp_roots[0], "/scratch");

	/* One root too many. */
	char many[512] = "RCSHIM_TMP_ROOTS=";
	for (int i = 0; i <= RC_MAX_TMP_ROOTS; i++) {
		char item[16];
		snprintf(item, sizeof(item), "%s/r%d", i ? "," : "", i);
		strcat(many, item);
	}
	ck_assert_int_eq(load1(many), 1);
	ck_assert_ptr_nonnull(strstr(W.line[0], "more than 16 paths"));
	assert_default_roots(&cfg);

	/* More text than roots_buf holds. */
	static char big[RC_TMP_ROOTS_BUF * 2];
	strcpy(big, "RCSHIM_TMP_ROOTS=");
	for (int i = 0; i < 3; i++) {
		size_t len = strlen(big);
		big[len++] = i ? ':' : '/';
		if (i) {
			big[len++] = '/';
		}
		/* Distinct paths, or they would merge. */
		memset(big + len, 'a' + i, 1500);
		big[len + 1500] = '\0';
	}
	ck_assert_int_eq(load1(big), 1);
	ck_assert_int_eq(W.n, 1);
	ck_assert_ptr_nonnull(strstr(W.line[0], "the paths exceed 4095 bytes"));
	assert_default_roots(&cfg);
	assert_roots_in_buf(&cfg);

	/* One path of exactly 4095 bytes fits. */
	big[0] = '\0';
	strcpy(big, "RCSHIM_TMP_ROOTS=/");
	memset(big + strlen(big), 'p', RC_TMP_ROOTS_BUF - 2);
	big[strlen("RCSHIM_TMP_ROOTS=") + RC_TMP_ROOTS_BUF - 1] = '\0';
	ck_assert_int_eq(load1(big), 0);
	ck_assert_uint_eq(cfg.n_tmp_roots, 1);
	ck_assert_uint_eq(strlen(cfg.tmp_roots[0]), RC_TMP_ROOTS_BUF - 1);
	assert_roots_in_buf(&cfg);
}
END_TEST

START_TEST(tmpdir)
{
	char *set[] = { "TMPDIR=/scratch/me/", NULL };
	char *dup[] = { "TMPDIR=/tmp/", NULL };
	char *dup2[] = { "TMPDIR=//dev//shm", NULL };
	char *rel[] = { "TMPDIR=scratch", NULL };
	char *empty[] = { "TMPDIR=", NULL };
	char *root[] = { "TMPDIR=/", NULL };
	char *dots[] = { "TMPDIR=/a/../b", NULL };
	char *first[] = { "TMPDIR=/one", "TMPDIR=/two", NULL };
	char *similar[] = { "TMPDIRX=/nope", "XTMPDIR=/nope", "TMPDIR", NULL };

	ck_assert_int_eq(load(set), 0);
	ck_assert_uint_eq(cfg.n_tmp_roots, 4);
	ck_assert_str_eq(cfg.tmp_roots[0], "/scratch/me");
	ck_assert_str_eq(cfg.tmp_roots[1], "/tmp");
	ck_assert_str_eq(cfg.tmp_roots[2], "/var/tmp");
	ck_assert_str_eq(cfg.tmp_roots[3], "/dev/shm");
	assert_roots_in_buf(&cfg);

	ck_assert_int_eq(load(dup), 0);
	assert_default_roots(&cfg);
	/* Normalised before the comparison; $TMPDIR keeps its place. */
	ck_assert_int_eq(load(dup2), 0);
	ck_assert_uint_eq(cfg.n_tmp_roots, 3);
	ck_assert_str_eq(cfg.tmp_roots[0], "/dev/shm");
	ck_assert_str_eq(cfg.tmp_roots[1], "/tmp");
	ck_assert_str_eq(cfg.tmp_roots[2], "/var/tmp");

	/* A bad $TMPDIR is left out without a word: it is not ours. */
	char **ignored[] = { rel, empty, root, dots, similar };
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		ck_assert_int_eq(load(ignored[i]), 0);
		ck_assert_int_eq(W.n, 0);
		assert_default_roots(&cfg);
	}

	ck_assert_int_eq(load(first), 0);
	ck_assert_uint_eq(cfg.n_tmp_roots, 4);
	ck_assert_str_eq(cfg.tmp_roots[0], "/one");
}
END_TEST

START_TEST(tmp_owner)
{
	ck_assert_int_eq(load1("RCSHIM_TMP_OWNER=process"), 0);
	ck_assert_int_eq(cfg.tmp_owner, RC_TMP_OWNER_PROCESS);
	ck_assert_int_eq(load1("RCSHIM_TMP_OWNER=PROCESS"), 0);
	ck_assert_int_eq(cfg.tmp_owner, RC_TMP_OWNER_PROCESS);
	ck_assert_int_eq(load1("RCSHIM_TMP_OWNER=Session"), 0);
	ck_assert_int_eq(cfg.tmp_owner, RC_TMP_OWNER_SESSION);

	ck_assert_int_eq(load1("RCSHIM_TMP_OWNER=thread"), 1);
	ck_assert_int_eq(cfg.tmp_owner, RC_TMP_OWNER_SESSION);
	ck_assert_str_eq(W.line[0], "RCSHIM_TMP_OWNER=thread is not valid "
				    "(accepted: session or process); using "
				    "session");
}
END_TEST

START_TEST(tmp_idle)
{
	static const struct {
		const char *v;
		unsigned s;
	} good[] = {
		{ "0", 0 },    { "0s", 0 },	  { "90", 90 },
		{ "90s", 90 }, { "90S", 90 },	  { "5m", 300 },
		{ "5M", 300 }, { "1h", 3600 },	  { "2H", 7200 },
		{ "4294967295", UINT_MAX }, { "71582788m", 71582788u * 60 },
	};
	static const char *const bad[] = {
		"-5", "5d", "m", "s", "5mm", "1.5h", " 5", "5 m", "abc",
		"4294967296", "71582789m", "99999999999h", "+5",
	};
	char e[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(e, sizeof(e), "RCSHIM_TMP_IDLE=%s", good[i].v);
		ck_assert_msg(load1(e) == 0, "%s rejected", e);
		ck_assert_uint_eq(cfg.tmp_idle_s, good[i].s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(e, sizeof(e), "RCSHIM_TMP_IDLE=%s", bad[i]);
		ck_assert_msg(load1(e) == 1, "%s accepted", e);
		ck_assert_int_eq(W.n, 1);
		ck_assert_uint_eq(cfg.tmp_idle_s, 0);
		ck_assert_ptr_nonnull(strstr(W.line[0], e));
		ck_assert_ptr_nonnull(strstr(W.line[0], "; using 0 (off)"));
	}
}
END_TEST

START_TEST(heap_sample)
{
	static const struct {
		const char *v;
		size_t n;
	} good[] = {
		{ "1", 1 },	       { "4096", 4096 },    { "64k", 65536 },
		{ "64K", 65536 },      { "2m", 2097152 },   { "2M", 2097152 },
		{ "0001", 1 },
	};
	static const char *const bad[] = {
		"0", "0k", "-1", "1g", "k", "M", "1.5k", "1kb", "1 k", "abc",
		"99999999999999999999", "18014398509481984k",
	};
	char e[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(e, sizeof(e), "RCSHIM_HEAP_SAMPLE=%s", good[i].v);
		ck_assert_msg(load1(e) == 0, "%s rejected", e);
		ck_assert_uint_eq(cfg.heap_sample, good[i].n);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(e, sizeof(e), "RCSHIM_HEAP_SAMPLE=%s", bad[i]);
		ck_assert_msg(load1(e) == 1, "%s accepted", e);
		ck_assert_int_eq(W.n, 1);
		ck_assert_uint_eq(cfg.heap_sample, RC_DEFAULT_HEAP_SAMPLE);
		ck_assert_ptr_nonnull(strstr(W.line[0], e));
		ck_assert_ptr_nonnull(strstr(W.line[0], "; using 524288"));
	}
}
END_TEST

/* RCSHIM_HEAP, and the malloc family's early reading of it. */
START_TEST(heap_mode)
{
	ck_assert_int_eq(load1("RCSHIM_HEAP=exact"), 0);
	ck_assert(cfg.heap_exact);
	ck_assert_int_eq(load1("RCSHIM_HEAP=Counts"), 0);
	ck_assert(!cfg.heap_exact);
	ck_assert_int_eq(load1("RCSHIM_HEAP=tagged"), 1);
	ck_assert(!cfg.heap_exact);
	ck_assert_str_eq(W.line[0], "RCSHIM_HEAP=tagged is not valid "
				    "(accepted: counts or exact); using counts");

	char *exact[] = { "RCSHIM_HEAP=EXACT", NULL };
	char *dup[] = { "RCSHIM_HEAP=counts", "RCSHIM_HEAP=exact", NULL };
	char *bad[] = { "RCSHIM_HEAP=yes", NULL };
	char *empty[] = { "RCSHIM_HEAP=", "RCSHIM_HEAP=exact", NULL };
	ck_assert(rc_config_heap_exact_of(exact));
	ck_assert(!rc_config_heap_exact_of(dup));
	ck_assert(!rc_config_heap_exact_of(bad));
	ck_assert(!rc_config_heap_exact_of(empty));
	ck_assert(!rc_config_heap_exact_of(NULL));
}
END_TEST

START_TEST(stack_depth)
{
	static const char *const bad[] = { "129", "-1", "abc", "1k", "",
					   "4294967297" };
	char e[64];

	ck_assert_int_eq(load1("RCSHIM_STACK_DEPTH=0"), 0);
	ck_assert_uint_eq(cfg.stack_depth, 0);
	ck_assert_int_eq(load1("RCSHIM_STACK_DEPTH=1"), 0);
	ck_assert_uint_eq(cfg.stack_depth, 1);
	ck_assert_int_eq(load1("RCSHIM_STACK_DEPTH=128"), 0);
	ck_assert_uint_eq(cfg.stack_depth, 128);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(e, sizeof(e), "RCSHIM_STACK_DEPTH=%s", bad[i]);
		ck_assert_int_eq(load1(e), bad[i][0] ? 1 : 0);
		ck_assert_int_eq(W.n, bad[i][0] ? 1 : 0);
		ck_assert_uint_eq(cfg.stack_depth, RC_DEFAULT_STACK_DEPTH);
	}
	ck_assert_str_eq(W.line[0], "RCSHIM_STACK_DEPTH=4294967297 is not "
				    "valid (accepted: 0-128); using 16");
}
END_TEST

START_TEST(report)
{
	static char e[2100], path[1100];

	ck_assert_int_eq(load1("RCSHIM_REPORT=/var/log/rc-%p.txt"), 0);
	ck_assert_str_eq(cfg.report, "/var/log/rc-%p.txt");
	ck_assert_int_eq(load1("RCSHIM_REPORT=-"), 0);
	ck_assert_str_eq(cfg.report, "-");
	ck_assert_int_eq(load1("RCSHIM_REPORT=relative/%p"), 0);
	ck_assert_str_eq(cfg.report, "relative/%p");
	ck_assert_int_eq(load1("RCSHIM_REPORT=./report.txt"), 0);
	ck_assert_str_eq(cfg.report, "./report.txt");

	path[0] = '/';
	memset(path + 1, 'r', 1022);
	path[1023] = '\0';
	snprintf(e, sizeof(e), "RCSHIM_REPORT=%s", path);
	ck_assert_int_eq(load1(e), 0);
	ck_assert_str_eq(cfg.report, path);

	path[1023] = 'r';
	path[1024] = '\0';
	snprintf(e, sizeof(e), "RCSHIM_REPORT=%s", path);
	ck_assert_int_eq(load1(e), 1);
	ck_assert_int_eq(W.n, 1);
	ck_assert_str_eq(cfg.report, "");
	ck_assert_str_eq(W.line[0],
			 "RCSHIM_REPORT=/rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"
			 "rrrrrrrrrrrrrrr... is not valid (longer than 1023 "
			 "characters; accepted: a path with a '/' in it (./NAME for the "
			 "current directory, %p for the pid) of at most 1023 characters, "
			 "or - for stderr); using no report");
}
END_TEST

/* A value with no '/' is a switch someone meant, not a file to create in
 * whatever directory the program is in: one line, and no report. */
START_TEST(report_not_a_path)
{
	static const char *const words[] = { "none", "1", "yes", "off", "report.txt", "--" };
	for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++) {
		char e[64], want[512];
		snprintf(e, sizeof(e), "RCSHIM_REPORT=%s", words[i]);
		ck_assert_int_eq(load1(e), 1);
		ck_assert_int_eq(W.n, 1);
		ck_assert_str_eq(cfg.report, "");
		snprintf(want, sizeof(want),
			 "RCSHIM_REPORT=%s is not valid (not a path: no '/' in it; accepted: "
			 "a path with a '/' in it (./NAME for the current directory, %%p for "
			 "the pid) of at most 1023 characters, or - for stderr); using no report",
			 words[i]);
		ck_assert_str_eq(W.line[0], want);
	}
}
END_TEST

START_TEST(report_format)
{
	ck_assert_int_eq(load1("RCSHIM_REPORT_FORMAT=json"), 0);
	ck_assert_int_eq(cfg.report_format, RC_REPORT_JSON);
	ck_assert_int_eq(load1("RCSHIM_REPORT_FORMAT=JSON"), 0);
	ck_assert_int_eq(cfg.report_format, RC_REPORT_JSON);
	ck_assert_int_eq(load1("RCSHIM_REPORT_FORMAT=Text"), 0);
	ck_assert_int_eq(cfg.report_format, RC_REPORT_TEXT);

	ck_assert_int_eq(load1("RCSHIM_REPORT_FORMAT=xml"), 1);
	ck_assert_int_eq(cfg.report_format, RC_REPORT_TEXT);
	ck_assert_str_eq(W.line[0], "RCSHIM_REPORT_FORMAT=xml is not valid "
				    "(accepted: text or json); using text");
	ck_assert_int_eq(load1("RCSHIM_REPORT_FORMAT=1"), 1);
}
END_TEST

START_TEST(log_level)
{
	static const struct {
		const char *v;
		int l;
	} good[] = {
		{ "quiet", RC_LOG_QUIET }, { "QUIET", RC_LOG_QUIET },
		{ "0", RC_LOG_QUIET },	   { "warn", RC_LOG_WARN },
		{ "Warn", RC_LOG_WARN },   { "1", RC_LOG_WARN },
		{ "info", RC_LOG_INFO },   { "2", RC_LOG_INFO },
		{ "DEBUG", RC_LOG_DEBUG }, { "3", RC_LOG_DEBUG },
	};
	char e[64];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(e, sizeof(e), "RCSHIM_LOG=%s", good[i].v);
		ck_assert_int_eq(load1(e), 0);
		ck_assert_int_eq(cfg.log_level, good[i].l);
	}
	ck_assert_int_eq(load1("RCSHIM_LOG=verbose"), 1);
	ck_assert_int_eq(cfg.log_level, RC_LOG_WARN);
	ck_assert_str_eq(W.line[0], "RCSHIM_LOG=verbose is not valid (accepted: "
				    "quiet, warn, info, debug or 0-3); using warn");
	ck_assert_int_eq(load1("RCSHIM_LOG=4"), 1);
	ck_assert_int_eq(cfg.log_level, RC_LOG_WARN);
}
END_TEST

START_TEST(all_valid_together)
{
	char *envp[] = {
		"PATH=/usr/bin",
		"RCSHIM_PRIORITY=high",
		"RCSHIM_EXIT_PRIORITY=CRITICAL",
		"RCSHIM_SIGNAL_PRIORITY=0",
		"RCSHIM_SIGNAL=SIGUSR2",
		"RCSHIM_INTERVAL=2.5",
		"RCSHIM_PRESSURE=on",
		"RCSHIM_TRACK=temp,fd",
		"RCSHIM_TMP_ROOTS=/work/tmp/",
		"RCSHIM_TMP_OWNER=process",
		"RCSHIM_TMP_IDLE=5m",
		"RCSHIM_HEAP_SAMPLE=1M",
		"RCSHIM_STACK_DEPTH=32",
		"RCSHIM_REPORT=/tmp/rc-%p.json",
		"RCSHIM_REPORT_FORMAT=json",
		"RCSHIM_LOG=debug",
		"TMPDIR=/scratch",
		NULL,
	};

	ck_assert_int_eq(load(envp), 0);
	ck_assert_int_eq(W.n, 0);
	ck_assert_int_eq(cfg.priority, RCSHIM_HIGH);
	ck_assert_int_eq(cfg.exit_priority, RCSHIM_CRITICAL);
	ck_assert_int_eq(cfg.signal_priority, RCSHIM_LOW);
	ck_assert_int_eq(cfg.live_signal, SIGUSR2);
	ck_assert_uint_eq(cfg.interval_ms, 2500);
	ck_assert(cfg.pressure);
	ck_assert_uint_eq(cfg.track, BIT(RCSHIM_KIND_TEMP) | BIT(RCSHIM_KIND_FD));
	ck_assert_uint_eq(cfg.n_tmp_roots, 1);
	ck_assert_str_eq(cfg.tmp_roots[0], "/work/tmp");
	ck_assert_int_eq(cfg.tmp_owner, RC_TMP_OWNER_PROCESS);
	ck_assert_uint_eq(cfg.tmp_idle_s, 300);
	ck_assert_uint_eq(cfg.heap_sample, 1048576);
	ck_assert_uint_eq(cfg.stack_depth, 32);
	ck_assert_str_eq(cfg.report, "/tmp/rc-%p.json");
	ck_assert_int_eq(cfg.report_format, RC_REPORT_JSON);
	ck_assert_int_eq(cfg.log_level, RC_LOG_DEBUG);
}
END_TEST

/* Every variable invalid at once: one warning each, naming the variable,
 * the value and the default, and the defaults in force afterwards. */
START_TEST(all_invalid_together)
{
	static char long_report[1100] = "RCSHIM_REPORT=/";
	const struct {
		const char *entry;
		const char *dflt;
	} bad[] = {
		{ "RCSHIM_PRIORITY=bogus", "; using MEDIUM" },
		{ "RCSHIM_EXIT_PRIORITY=4", "; using MEDIUM" },
		{ "RCSHIM_SIGNAL_PRIORITY=-1", "; using MEDIUM" },
		{ "RCSHIM_SIGNAL=KILL", "; using SIGUSR1" },
		{ "RCSHIM_INTERVAL=-2", "; using 0 (off)" },
		{ "RCSHIM_PRESSURE=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		  "xxxxxxxxxxxxxxxxxxx",
		  "; using off" },
		{ "RCSHIM_TRACK=files", "; using all" },
		{ "RCSHIM_TMP_ROOTS=tmp", "; using /tmp:/var/tmp:/dev/shm" },
		{ "RCSHIM_TMP_OWNER=user", "; using session" },
		{ "RCSHIM_TMP_IDLE=1d", "; using 0 (off)" },
		{ "RCSHIM_HEAP_SAMPLE=0", "; using 524288" },
		{ "RCSHIM_STACK_DEPTH=1000", "; using 16" },
		{ long_report, "; using no report" },
		{ "RCSHIM_REPORT_FORMAT=yaml", "; using text" },
		{ "RCSHIM_LOG=loud", "; using warn" },
	};
	enum { N = sizeof(bad) / sizeof(bad[0]) };
	char *envp[N + 1];

	memset(long_report + strlen(long_report), 'p', 1024);

	for (size_t i = 0; i < N; i++) {
		envp[i] = (char *)bad[i].entry;
	}
	envp[N] = NULL;
	ck_assert_int_eq(load(envp), N);
	ck_assert_int_eq(W.n, N);
	/* Warnings come in table order, which this list follows. */
	for (size_t i = 0; i < N; i++) {
		char want[256];
		const char *eq = strchr(bad[i].entry, '=');
		size_t vlen = strlen(eq + 1);

		/* The value, cut to 64 characters where long. */
		snprintf(want, sizeof(want), "%.*s%s is not valid (",
			 (int)(eq + 1 - bad[i].entry + (vlen > 64 ? 64 : vlen)),
			 bad[i].entry, vlen > 64 ? "..." : "");
		ck_assert_msg(strncmp(W.line[i], want, strlen(want)) == 0,
			      "%s does not start with %s", W.line[i], want);
		ck_assert_ptr_nonnull(strstr(W.line[i], "accepted: "));
		size_t ll = strlen(W.line[i]), dl = strlen(bad[i].dflt);
		ck_assert_msg(ll > dl &&
				      strcmp(W.line[i] + ll - dl, bad[i].dflt) == 0,
			      "%s does not end with %s", W.line[i], bad[i].dflt);
	}
	ck_assert_str_eq(W.line[0],
			 "RCSHIM_PRIORITY=bogus is not valid (accepted: LOW, "
			 "MEDIUM, HIGH, CRITICAL or 0-3); using MEDIUM");
	rc_config_defaults(&ref);
	assert_same_config(&cfg, &ref);
}
END_TEST

START_TEST(unknown_variables)
{
	char *envp[] = {
		"RCSHIM_PRIORTY=HIGH",
		"RCSHIM_SESSION=abc123",
		"RCSHIM_LAUNCHER=1",
		"RCSHIM_LIB=/usr/lib/librcshim.so",
		"RCSHIM_INTERNAL_FD=5",
		"RCSHIM_INTERNAL_=x",
		"RCSHIM_PRIORTY=again",
		"RCSHIM_=1",
		"RCSHIM_LIBRARY=x",
		"RCSHIM_SESSIONS=x",
		"RCSHIM_INTERNAL=x",
		"RCSHIM_priority=low",
		"RCSHIM_NOVALUE",
		"rcshim_priority=low",
		"RCSHIMPRIORITY=low",
		"XRCSHIM_PRIORITY=low",
		NULL,
	};

	ck_assert_int_eq(load(envp), 7);
	ck_assert_int_eq(W.n, 7);
	ck_assert_str_eq(W.line[0], "RCSHIM_PRIORTY is not a known variable; ignored");
	ck_assert_str_eq(W.line[1], "RCSHIM_ is not a known variable; ignored");
	ck_assert_str_eq(W.line[2], "RCSHIM_LIBRARY is not a known variable; ignored");
	ck_assert_str_eq(W.line[3], "RCSHIM_SESSIONS is not a known variable; ignored");
	ck_assert_str_eq(W.line[4], "RCSHIM_INTERNAL is not a known variable; ignored");
	ck_assert_str_eq(W.line[5], "RCSHIM_priority is not a known variable; ignored");
	ck_assert_str_eq(W.line[6], "RCSHIM_NOVALUE is not a known variable; ignored");
	rc_config_defaults(&ref);
	assert_same_config(&cfg, &ref);

	char *internal[] = { "RCSHIM_SESSION=abc", "RCSHIM_LAUNCHER=",
			     "RCSHIM_LIB=/x", "RCSHIM_INTERNAL_ANYTHING=1", NULL };
	ck_assert_int_eq(load(internal), 0);
	ck_assert_int_eq(W.n, 0);
}
END_TEST

START_TEST(first_duplicate_wins)
{
	char *envp[] = { "RCSHIM_PRIORITY=low", "RCSHIM_PRIORITY=bogus", NULL };
	char *envp2[] = { "RCSHIM_PRIORITY=bogus", "RCSHIM_PRIORITY=low", NULL };

	ck_assert_int_eq(load(envp), 0);
	ck_assert_int_eq(cfg.priority, RCSHIM_LOW);
	ck_assert_int_eq(load(envp2), 1);
	ck_assert_int_eq(W.n, 1);
	ck_assert_int_eq(cfg.priority, RCSHIM_MEDIUM);
}
END_TEST

START_TEST(long_values)
{
	static char val[20000], e[20100];
	char *envp[3];

	memset(val, 'A', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';

	/* Every variable gets the same huge value. */
	static const char *const names[] = {
		"PRIORITY", "EXIT_PRIORITY", "SIGNAL_PRIORITY", "SIGNAL",
		"INTERVAL", "PRESSURE", "TRACK", "TMP_ROOTS", "TMP_OWNER",
		"TMP_IDLE", "HEAP_SAMPLE", "HEAP", "STACK_DEPTH", "REPORT",
		"REPORT_FORMAT", "LOG",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(e, sizeof(e), "RCSHIM_%s=%s", names[i], val);
		ck_assert_int_eq(load1(e), 1);
		ck_assert_int_eq(W.n, 1);
		ck_assert_uint_lt(strlen(W.line[0]), 1024);
		ck_assert_msg(strstr(W.line[0], "AAA... is not valid") != NULL,
			      "%s", W.line[0]);
	}
	rc_config_defaults(&ref);
	assert_same_config(&cfg, &ref);

	/* A huge unknown name, and a huge $TMPDIR shown in the default. */
	static char name[20000], big_tmpdir[8000];
	memset(name, 'N', sizeof(name) - 1);
	memcpy(name, "RCSHIM_", 7);
	name[sizeof(name) - 1] = '\0';
	memset(big_tmpdir, 'T', 3008);
	memcpy(big_tmpdir, "TMPDIR=/", 8);
	big_tmpdir[3008] = '\0';
	envp[0] = name;
	envp[1] = big_tmpdir;
	envp[2] = NULL;
	ck_assert_int_eq(load(envp), 1);
	ck_assert_uint_lt(strlen(W.line[0]), 128);
	ck_assert_ptr_nonnull(strstr(W.line[0], "NNN... is not a known variable"));
	ck_assert_uint_eq(cfg.n_tmp_roots, 4);
	ck_assert_uint_eq(strlen(cfg.tmp_roots[0]), 3001);

	envp[0] = "RCSHIM_TMP_ROOTS=relative";
	ck_assert_int_eq(load(envp), 1);
	ck_assert_uint_lt(strlen(W.line[0]), 1024);
	ck_assert_ptr_nonnull(strstr(W.line[0], "; using /TTTT"));
	ck_assert_ptr_nonnull(strstr(W.line[0], "TTT..."));

	/* A $TMPDIR too long for roots_buf is left out. */
	static char huge[RC_TMP_ROOTS_BUF + 100];
	memset(huge, 'H', sizeof(huge) - 1);
	memcpy(huge, "TMPDIR=/", 8);
	huge[sizeof(huge) - 1] = '\0';
	envp[0] = huge;
	envp[1] = NULL;
	ck_assert_int_eq(load(envp), 0);
	assert_default_roots(&cfg);
}
END_TEST

START_TEST(control_characters)
{
	ck_assert_int_eq(load1("RCSHIM_LOG=a\nb\tc\x1b[0m"), 1);
	ck_assert_int_eq(W.n, 1);
	ck_assert_str_eq(W.line[0], "RCSHIM_LOG=a?b?c?[0m is not valid (accepted: "
				    "quiet, warn, info, debug or 0-3); using warn");
	ck_assert_int_eq(load1("RCSHIM_TRACK=temp,x\ny"), 1);
	ck_assert_ptr_nonnull(strstr(W.line[0], "unknown kind 'x?y'"));
	ck_assert_int_eq(load1("RCSHIM_BAD\nNAME=1"), 1);
	ck_assert_str_eq(W.line[0], "RCSHIM_BAD?NAME is not a known variable; ignored");
}
END_TEST

START_TEST(warn_null)
{
	char *envp[] = { "RCSHIM_PRIORITY=bogus", "RCSHIM_TYPO=1",
			 "RCSHIM_TMP_ROOTS=", "RCSHIM_SIGNAL=STOP", NULL };

	ck_assert_int_eq(rc_config_load(&cfg, envp, NULL, NULL), 4);
	rc_config_defaults(&ref);
	assert_same_config(&cfg, &ref);
	/* Nothing to fill: nothing to do. */
	ck_assert_int_eq(rc_config_load(NULL, envp, NULL, NULL), 0);
	rc_config_defaults(NULL);
}
END_TEST

START_TEST(names)
{
	ck_assert_str_eq(rc_priority_name(RCSHIM_LOW), "LOW");
	ck_assert_str_eq(rc_priority_name(RCSHIM_MEDIUM), "MEDIUM");
	ck_assert_str_eq(rc_priority_name(RCSHIM_HIGH), "HIGH");
	ck_assert_str_eq(rc_priority_name(RCSHIM_CRITICAL), "CRITICAL");
	ck_assert_str_eq(rc_priority_name(-1), "?");
	ck_assert_str_eq(rc_priority_name(4), "?");

	ck_assert_str_eq(rc_kind_name(RCSHIM_KIND_TEMP), "temp");
	ck_assert_str_eq(rc_kind_name(RCSHIM_KIND_FD), "fd");
	ck_assert_str_eq(rc_kind_name(RCSHIM_KIND_SQLITE), "sqlite");
	ck_assert_str_eq(rc_kind_name(RCSHIM_KIND_GPU), "gpu");
	ck_assert_str_eq(rc_kind_name(RCSHIM_KIND_HEAP), "heap");
	ck_assert_str_eq(rc_kind_name(RCSHIM_KIND_CUSTOM), "custom");
	ck_assert_str_eq(rc_kind_name(RCSHIM_KIND_COUNT), "?");
	ck_assert_str_eq(rc_kind_name(-1), "?");

	/* Each name parses back. */
	for (int p = RCSHIM_LOW; p <= RCSHIM_CRITICAL; p++) {
		ck_assert_int_eq(rc_parse_priority(rc_priority_name(p)), p);
	}
}
END_TEST

START_TEST(timeline_values)
{
	static const struct {
		const char *v;
		unsigned ms;
	} ok[] = {
		{ "on", 100 },	 { "YES", 100 }, { "true", 100 }, { "off", 0 },	    { "0", 0 },
		{ "no", 0 },	 { "50ms", 50 }, { "10ms", 10 },  { "0.5s", 500 },  { "0.25", 250 },
		{ "2", 2000 },	 { "1", 1000 },  { "3s", 3000 },  { "3600s", 3600000 },
		{ "100MS", 100 },
	};
	static const char *const bad[] = { "fast", "5ms", "9ms", "0.001", "3601", "-1", "1.5.2",
					   "ms", "s", ".5x", "1e3", " 50ms", "0.0005s" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		unsigned ms = 12345;
		ck_assert_msg(rc_parse_timeline(ok[i].v, &ms) && ms == ok[i].ms, "%s -> %u",
			      ok[i].v, ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		unsigned ms = 7;
		ck_assert_msg(!rc_parse_timeline(bad[i], &ms) && ms == 7, "%s accepted", bad[i]);
	}
	ck_assert_int_eq(load1("RCSHIM_TIMELINE=50ms"), 0);
	ck_assert_uint_eq(cfg.timeline_ms, 50);
	ck_assert_int_eq(load1("RCSHIM_TIMELINE=fast"), 1);
	ck_assert_uint_eq(cfg.timeline_ms, 0);
	ck_assert_ptr_nonnull(strstr(W.line[0], "RCSHIM_TIMELINE=fast is not valid (accepted: "));
	ck_assert_ptr_nonnull(strstr(W.line[0], "; using off"));
}
END_TEST

TEST_SUITE(config)
{
	ADD_TEST(s, timeline_values);
	ADD_TEST(s, defaults_empty_env);
	ADD_TEST(s, empty_values_mean_default);
	ADD_TEST(s, priority_valid);
	ADD_TEST(s, priority_follow);
	ADD_TEST(s, signal_valid);
	ADD_TEST(s, signal_invalid);
	ADD_TEST(s, interval);
	ADD_TEST(s, pressure);
	ADD_TEST(s, track);
	ADD_TEST(s, tmp_roots_valid);
	ADD_TEST(s, tmp_roots_invalid);
	ADD_TEST(s, tmpdir);
	ADD_TEST(s, tmp_owner);
	ADD_TEST(s, tmp_idle);
	ADD_TEST(s, heap_sample);
	ADD_TEST(s, heap_mode);
	ADD_TEST(s, stack_depth);
	ADD_TEST(s, report);
	ADD_TEST(s, report_not_a_path);
	ADD_TEST(s, report_format);
	ADD_TEST(s, log_level);
	ADD_TEST(s, all_valid_together);
	ADD_TEST(s, all_invalid_together);
	ADD_TEST(s, unknown_variables);
	ADD_TEST(s, first_duplicate_wins);
	ADD_TEST(s, long_values);
	ADD_TEST(s, control_characters);
	ADD_TEST(s, warn_null);
	ADD_TEST(s, names);
}
