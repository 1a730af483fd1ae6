#include "build-config.h"

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"

/* This runs in the program's constructors, possibly before its main() and
 * with its malloc interposed, so nothing here allocates, touches stdio or
 * depends on the locale: values are compared as ASCII and numbers are parsed
 * by hand.  Strings are kept in the struct's own buffers. */

#define PREFIX "RCSHIM_"
#define PREFIX_LEN (sizeof(PREFIX) - 1)

/* How much of a user's value a warning line quotes. */
#define SHOW_VALUE 64
#define SHOW_ITEM 32
#define SHOW_DEFAULT 160

/* RCSHIM_INTERVAL: a year, or what interval_ms can hold if that is less. */
#define INTERVAL_MAX_MS                                                       \
	((uint64_t)86400 * 365 * 1000 < (uint64_t)UINT_MAX                     \
		 ? (uint64_t)86400 * 365 * 1000                                \
		 : (uint64_t)UINT_MAX)

/* ---- ASCII helpers ------------------------------------------------------ */

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* s[0..len) equals the NUL-terminated word w, ignoring ASCII case. */
static bool
ieqn(const char *s, size_t len, const char *w)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (w[i] == '\0' || lower(s[i]) != lower(w[i])) {
			return false;
		}
	}
	return w[i] == '\0';
}

static bool
ieq(const char *s, const char *w)
{
	return ieqn(s, strlen(s), w);
}

/* Decimal digits only (no sign, no spaces, at least one digit), at most max.
 * Parsed by hand: strtoul accepts signs, spaces and "0x", and wraps "-1". */
static bool
parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
		unsigned d = (unsigned)(s[i] - '0');
		if (d > max || v > (max - d) / 10) {
			return false;
		}
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* A copy of src fit for one warning line: at most max bytes, control
 * characters replaced so a value cannot break the line, "..." if cut. */
static void
clip(char *dst, size_t n, const char *src, size_t srclen, size_t max)
{
	size_t i, lim = max;

	if (n < 4) {
		if (n) {
			dst[0] = '\0';
		}
		return;
	}
	if (lim > n - 4) {
		lim = n - 4;
	}
	for (i = 0; i < srclen && i < lim; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (i < srclen) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

/* ---- names -------------------------------------------------------------- */

static const char *const priority_names[] = {
	[RCSHIM_LOW] = "LOW",
	[RCSHIM_MEDIUM] = "MEDIUM",
	[RCSHIM_HIGH] = "HIGH",
	[RCSHIM_CRITICAL] = "CRITICAL",
};

static const char *const kind_names[RCSHIM_KIND_COUNT] = {
	[RCSHIM_KIND_TEMP] = "temp",
	[RCSHIM_KIND_FD] = "fd",
	[RCSHIM_KIND_SQLITE] = "sqlite",
	[RCSHIM_KIND_GPU] = "gpu",
	[RCSHIM_KIND_HEAP] = "heap",
	[RCSHIM_KIND_CUSTOM] = "custom",
};

static const char *const log_names[] = {
	[RC_LOG_QUIET] = "quiet",
	[RC_LOG_WARN] = "warn",
	[RC_LOG_INFO] = "info",
	[RC_LOG_DEBUG] = "debug",
};

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *
rc_priority_name(int p)
{
	return p >= 0 && (size_t)p < N_ELEM(priority_names) ? priority_names[p]
							     : "?";
}

const char *
rc_kind_name(int kind)
{
	return kind >= 0 && kind < RCSHIM_KIND_COUNT ? kind_names[kind] : "?";
}

/* A word from names (any case) or its index as a number; -1 if neither. */
static int
parse_word(const char *s, size_t len, const char *const *names, size_t n)
{
	uint64_t v;

	for (size_t i = 0; i < n; i++) {
		if (ieqn(s, len, names[i])) {
			return (int)i;
		}
	}
	if (parse_uint(s, len, n - 1, &v)) {
		return (int)v;
	}
	return -1;
}

int
rc_parse_priority(const char *s)
{
	if (!s) {
		return -1;
	}
	return parse_word(s, strlen(s), priority_names, N_ELEM(priority_names));
}

/* ---- signals ------------------------------------------------------------ */

/* The names in place, not pointers: a table of pointers needs a relocation
 * each and lives in RELRO, which the loader writes in every process; at
 * 544 bytes it made RELRO span two pages, a page fault more. */
static const struct {
	char name[8];
	int sig;
} signal_names[] = {
	{ "HUP", SIGHUP },	 { "INT", SIGINT },	  { "QUIT", SIGQUIT },
	{ "ILL", SIGILL },	 { "TRAP", SIGTRAP },	  { "ABRT", SIGABRT },
	{ "IOT", SIGIOT },	 { "BUS", SIGBUS },	  { "FPE", SIGFPE },
	{ "KILL", SIGKILL },	 { "USR1", SIGUSR1 },	  { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },	 { "PIPE", SIGPIPE },	  { "ALRM", SIGALRM },
	{ "TERM", SIGTERM },
#ifdef SIGSTKFLT
	{ "STKFLT", SIGSTKFLT },
#endif
	{ "CHLD", SIGCHLD },	 { "CLD", SIGCHLD },	  { "CONT", SIGCONT },
	{ "STOP", SIGSTOP },	 { "TSTP", SIGTSTP },	  { "TTIN", SIGTTIN },
	{ "TTOU", SIGTTOU },	 { "URG", SIGURG },	  { "XCPU", SIGXCPU },
	{ "XFSZ", SIGXFSZ },	 { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH },	 { "IO", SIGIO },	  { "POLL", SIGPOLL },
#ifdef SIGPWR
	{ "PWR", SIGPWR },
#endif
	{ "SYS", SIGSYS },
};

/* KILL and STOP cannot be caught; the others are the shim's final-cleanup
 * and crash triggers, which a live trigger must not take over. */
static bool
signal_refused(int sig)
{
	switch (sig) {
	case SIGKILL:
	case SIGSTOP:
	case SIGTERM:
	case SIGINT:
	case SIGHUP:
	case SIGQUIT:
	case SIGSEGV:
	case SIGBUS:
	case SIGILL:
	case SIGFPE:
	case SIGABRT:
		return true;
	default:
		return false;
	}
}

/* Signal numbers between the last classic signal and SIGRTMIN belong to
 * the C library's threads implementation. */
static bool
signal_number_ok(uint64_t n)
{
	if (n >= 1 && n < 32) {
		return true;
	}
	return n >= (uint64_t)SIGRTMIN && n <= (uint64_t)SIGRTMAX;
}

static int
parse_signal_name(const char *s)
{
	size_t len = strlen(s);
	uint64_t n;

	if (len >= 3 && ieqn(s, 3, "SIG")) {
		s += 3;
		len -= 3;
	}
	if (len >= 5 && ieqn(s, 5, "RTMIN")) {
		int base = SIGRTMIN;
		if (len == 5) {
			return base;
		}
		if (s[5] != '+' ||
		    !parse_uint(s + 6, len - 6, (uint64_t)(SIGRTMAX - base), &n)) {
			return -1;
		}
		return base + (int)n;
	}
	if (len >= 5 && ieqn(s, 5, "RTMAX")) {
		int top = SIGRTMAX;
		if (len == 5) {
			return top;
		}
		if (s[5] != '-' ||
		    !parse_uint(s + 6, len - 6, (uint64_t)(top - SIGRTMIN), &n)) {
			return -1;
		}
		return top - (int)n;
	}
	for (size_t i = 0; i < N_ELEM(signal_names); i++) {
		if (ieqn(s, len, signal_names[i].name)) {
			return signal_names[i].sig;
		}
	}
	return -1;
}

int
rc_parse_signal(const char *s)
{
	size_t len;
	uint64_t n;
	int sig;

	if (!s || !*s) {
		return -1;
	}
	if (ieq(s, "none")) {
		return 0;
	}
	len = strlen(s);
	if (s[0] >= '0' && s[0] <= '9') {
		if (!parse_uint(s, len, INT_MAX, &n) || !signal_number_ok(n)) {
			return -1;
		}
		sig = (int)n;
	} else {
		sig = parse_signal_name(s);
	}
	if (sig <= 0 || signal_refused(sig)) {
		return -1;
	}
	return sig;
}

static void
signal_name(int sig, char *buf, size_t n)
{
	if (sig == 0) {
		rc_fmt(buf, n, "none");
		return;
	}
	for (size_t i = 0; i < N_ELEM(signal_names); i++) {
		if (signal_names[i].sig == sig) {
			rc_fmt(buf, n, "SIG%s", signal_names[i].name);
			return;
		}
	}
	if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		rc_fmt(buf, n, "SIGRTMIN+%d", sig - SIGRTMIN);
		return;
	}
	rc_fmt(buf, n, "%d", sig);
}

/* ---- temp roots ----------------------------------------------------------- */

static const char *const default_roots[] = { "/tmp", "/var/tmp", "/dev/shm" };

/* Appends the absolute path p[0..len) to the root list, normalised so that
 * prefix matching later is purely textual: repeated and trailing slashes
 * dropped, "." and ".." refused.  A duplicate is dropped silently.  On
 * failure, why says what was wrong and the list is unchanged. */
static bool
add_root(struct rc_config *cfg, size_t *used, const char *p, size_t len,
	 char *why, size_t why_n)
{
	char shown[SHOW_ITEM + 4];
	char *dst = cfg->roots_buf + *used;
	size_t room = RC_TMP_ROOTS_BUF - *used;
	size_t l = 0;

	clip(shown, sizeof(shown), p, len, SHOW_ITEM);
	if (len == 0 || p[0] != '/') {
		rc_fmt(why, why_n, "'%s' is not an absolute path", shown);
		return false;
	}
	/* The normalised path is never longer than the original. */
	if (len + 1 > room) {
		rc_fmt(why, why_n, "the paths exceed %d bytes in all",
		       RC_TMP_ROOTS_BUF - 1);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '/' && l > 0 && dst[l - 1] == '/') {
			continue;
		}
		dst[l++] = p[i];
	}
	while (l > 0 && dst[l - 1] == '/') {
		l--;
	}
	dst[l] = '\0';
	if (l == 0) {
		rc_fmt(why, why_n, "'/' itself cannot be a temporary root");
		return false;
	}
	for (size_t i = 0; i < l; i++) {
		/* Every component starts after a '/'. */
		if (dst[i] != '/') {
			continue;
		}
		const char *c = dst + i + 1;
		size_t cl = 0;
		while (i + 1 + cl < l && c[cl] != '/') {
			cl++;
		}
		if ((cl == 1 && c[0] == '.') ||
		    (cl == 2 && c[0] == '.' && c[1] == '.')) {
			rc_fmt(why, why_n, "'%s' has a '.' or '..' component",
			       shown);
			return false;
		}
	}
	for (size_t i = 0; i < cfg->n_tmp_roots; i++) {
		if (strcmp(cfg->tmp_roots[i], dst) == 0) {
			return true;
		}
	}
	if (cfg->n_tmp_roots >= RC_MAX_TMP_ROOTS) {
		rc_fmt(why, why_n, "more than %d paths", RC_MAX_TMP_ROOTS);
		return false;
	}
	cfg->tmp_roots[cfg->n_tmp_roots++] = dst;
	*used += l + 1;
	return true;
}

static void
clear_roots(struct rc_config *cfg)
{
	cfg->n_tmp_roots = 0;
	memset(cfg->tmp_roots, 0, sizeof(cfg->tmp_roots));
	cfg->roots_buf[0] = '\0';
}

/* $TMPDIR when usable, then the usual places.  A bad $TMPDIR is not ours to
 * complain about: it is simply left out. */
static void
default_tmp_roots(struct rc_config *cfg, const char *tmpdir)
{
	char why[128];
	size_t used = 0;

	clear_roots(cfg);
	if (tmpdir && tmpdir[0] == '/') {
		add_root(cfg, &used, tmpdir, strlen(tmpdir), why, sizeof(why));
	}
	for (size_t i = 0; i < N_ELEM(default_roots); i++) {
		/* Cannot fail: a handful of short paths. */
		add_root(cfg, &used, default_roots[i], strlen(default_roots[i]),
			 why, sizeof(why));
	}
}

/* ---- the table ------------------------------------------------------------ */

struct rc_var;

/* parse: stores a valid value, or returns false with an optional detail in
 *        why (the caller then calls reset, so a parser may leave its fields
 *        half-written on failure);
 * reset: stores the default (tmpdir is $TMPDIR from the same environment);
 * show:  the field's current value as text, for the warning's "using ...". */
typedef bool (*rc_parse_fn)(struct rc_config *cfg, const struct rc_var *v,
			    const char *val, char *why, size_t why_n);
typedef void (*rc_reset_fn)(struct rc_config *cfg, const struct rc_var *v,
			    const char *tmpdir);
typedef void (*rc_show_fn)(const struct rc_config *cfg, const struct rc_var *v,
			   char *buf, size_t n);

struct rc_var {
	const char *name;     /* after "RCSHIM_" */
	const char *accepted; /* for the warning */
	rc_parse_fn parse;
	rc_reset_fn reset;
	rc_show_fn show;
	size_t off;           /* field, for parsers shared by several rows */
	bool empty_is_value;  /* "VAR=" is parsed rather than meaning default */
};

#define FIELD(cfg, v, type) ((type *)(void *)((char *)(cfg) + (v)->off))
#define CFIELD(cfg, v, type)                                                  \
	((const type *)(const void *)((const char *)(cfg) + (v)->off))

/* priorities */

static bool
parse_prio(struct rc_config *cfg, const struct rc_var *v, const char *val,
	   char *why, size_t why_n)
{
	int p = rc_parse_priority(val);

	if (p < 0) {
		return false;
	}
	*FIELD(cfg, v, rcshim_priority) = (rcshim_priority)p;
	return true;
}

static void
reset_prio(struct rc_config *cfg, const struct rc_var *v, const char *tmpdir)
{
	*FIELD(cfg, v, rcshim_priority) = RCSHIM_MEDIUM;
}

/* EXIT_ and SIGNAL_PRIORITY follow PRIORITY, which the table resolves
 * first. */
static void
reset_prio_follow(struct rc_config *cfg, const struct rc_var *v,
		  const char *tmpdir)
{
	*FIELD(cfg, v, rcshim_priority) = cfg->priority;
}

static void
show_prio(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	  size_t n)
{
	rc_fmt(buf, n, "%s", rc_priority_name((int)*CFIELD(cfg, v, rcshim_priority)));
}

/* signal */

static bool
parse_sig(struct rc_config *cfg, const struct rc_var *v, const char *val,
	  char *why, size_t why_n)
{
	int sig = rc_parse_signal(val);

	if (sig < 0) {
		return false;
	}
	cfg->live_signal = sig;
	return true;
}

static void
reset_sig(struct rc_config *cfg, const struct rc_var *v, const char *tmpdir)
{
	cfg->live_signal = SIGUSR1;
}

static void
show_sig(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	 size_t n)
{
	signal_name(cfg->live_signal, buf, n);
}

/* interval: seconds with up to three decimals, kept in milliseconds */

static bool
parse_interval(struct rc_config *cfg, const struct rc_var *v, const char *val,
	       char *why, size_t why_n)
{
	const char *dot = strchr(val, '.');
	size_t ilen = dot ? (size_t)(dot - val) : strlen(val);
	uint64_t secs = 0, frac = 0, ms;

	if (ilen > 0 &&
	    !parse_uint(val, ilen, INTERVAL_MAX_MS / 1000 + 1, &secs)) {
		return false;
	}
	if (dot) {
		size_t flen = strlen(dot + 1);
		if (flen == 0 || flen > 3 ||
		    !parse_uint(dot + 1, flen, 999, &frac)) {
			return false;
		}
		while (flen++ < 3) {
			frac *= 10;
		}
	} else if (ilen == 0) {
		return false;
	}
	ms = secs * 1000 + frac;
	if (ms > INTERVAL_MAX_MS) {
		return false;
	}
	cfg->interval_ms = (unsigned)ms;
	return true;
}

static void
reset_interval(struct rc_config *cfg, const struct rc_var *v,
	       const char *tmpdir)
{
	cfg->interval_ms = 0;
}

static void
show_interval(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	      size_t n)
{
	if (cfg->interval_ms == 0) {
		rc_fmt(buf, n, "0 (off)");
	} else if (cfg->interval_ms % 1000 == 0) {
		rc_fmt(buf, n, "%u", cfg->interval_ms / 1000);
	} else {
		char frac[4] = {
			(char)('0' + cfg->interval_ms % 1000 / 100),
			(char)('0' + cfg->interval_ms % 100 / 10),
			(char)('0' + cfg->interval_ms % 10), '\0'
		};
		rc_fmt(buf, n, "%u.%s", cfg->interval_ms / 1000, frac);
	}
}

/* pressure */

static const char *const words_off[] = { "0", "off", "no", "false" };
static const char *const words_on[] = { "1", "on", "yes", "true" };

static bool
parse_pressure(struct rc_config *cfg, const struct rc_var *v, const char *val,
	       char *why, size_t why_n)
{
	size_t len = strlen(val);

	for (size_t i = 0; i < N_ELEM(words_off); i++) {
		if (ieq(val, words_off[i])) {
			cfg->pressure = false;
			cfg->pressure_spec[0] = '\0';
			return true;
		}
		if (ieq(val, words_on[i])) {
			cfg->pressure = true;
			cfg->pressure_spec[0] = '\0';
			return true;
		}
	}
	/* The pressure monitor owns the spec's syntax; only its size is
	 * ours. */
	if (len >= sizeof(cfg->pressure_spec)) {
		rc_fmt(why, why_n, "longer than %zu characters",
		       sizeof(cfg->pressure_spec) - 1);
		return false;
	}
	memcpy(cfg->pressure_spec, val, len + 1);
	cfg->pressure = true;
	return true;
}

static void
reset_pressure(struct rc_config *cfg, const struct rc_var *v,
	       const char *tmpdir)
{
	cfg->pressure = false;
	cfg->pressure_spec[0] = '\0';
}

static void
show_pressure(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	      size_t n)
{
	rc_fmt(buf, n, "%s", cfg->pressure ? "on" : "off");
}

/* track: a comma list of kinds */

static int
kind_by_name(const char *s, size_t len)
{
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		if (ieqn(s, len, kind_names[k])) {
			return k;
		}
	}
	return -1;
}

static bool
parse_track(struct rc_config *cfg, const struct rc_var *v, const char *val,
	    char *why, size_t why_n)
{
	unsigned bits = 0;
	bool named = false;
	const char *p = val;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int k;

		if (len > 0) {
			named = true;
			if (ieqn(p, len, "all")) {
				bits |= RC_TRACK_ALL;
			} else if (ieqn(p, len, "none")) {
				/* Contributes nothing; "none" alone means
				 * track nothing. */
			} else if ((k = kind_by_name(p, len)) >= 0) {
				bits |= 1u << k;
			} else {
				char shown[SHOW_ITEM + 4];
				clip(shown, sizeof(shown), p, len, SHOW_ITEM);
				rc_fmt(why, why_n, "unknown kind '%s'", shown);
				return false;
			}
		}
		if (!end) {
			break;
		}
		p = end + 1;
	}
	if (!named) {
		rc_fmt(why, why_n, "no kind named");
		return false;
	}
	cfg->track = bits;
	return true;
}

static void
reset_track(struct rc_config *cfg, const struct rc_var *v, const char *tmpdir)
{
	cfg->track = RC_TRACK_ALL;
}

static void
show_track(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	   size_t n)
{
	size_t len = 0;

	if (cfg->track == RC_TRACK_ALL) {
		rc_fmt(buf, n, "all");
		return;
	}
	if (cfg->track == 0) {
		rc_fmt(buf, n, "none");
		return;
	}
	buf[0] = '\0';
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		if (cfg->track & (1u << k)) {
			len += rc_fmt(buf + len, n - len, "%s%s",
				      len ? "," : "", kind_names[k]);
		}
	}
}

/* temp roots */

static bool
parse_roots(struct rc_config *cfg, const struct rc_var *v, const char *val,
	    char *why, size_t why_n)
{
	size_t used = 0;
	const char *p = val;

	clear_roots(cfg);
	for (;;) {
		const char *end = p + strcspn(p, ":,");
		size_t len = (size_t)(end - p);

		if (len > 0 && !add_root(cfg, &used, p, len, why, why_n)) {
			return false;
		}
		if (*end == '\0') {
			break;
		}
		p = end + 1;
	}
	/* An empty list would quietly turn temp tracking off. */
	if (cfg->n_tmp_roots == 0) {
		rc_fmt(why, why_n, "no path given");
		return false;
	}
	return true;
}

static void
reset_roots(struct rc_config *cfg, const struct rc_var *v, const char *tmpdir)
{
	default_tmp_roots(cfg, tmpdir);
}

static void
show_roots(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	   size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < cfg->n_tmp_roots && len + 1 < n; i++) {
		len += rc_fmt(buf + len, n - len, "%s%s", i ? ":" : "",
			      cfg->tmp_roots[i]);
	}
}

/* temp owner */

static const char *const owner_names[] = {
	[RC_TMP_OWNER_SESSION] = "session",
	[RC_TMP_OWNER_PROCESS] = "process",
};

static bool
parse_owner(struct rc_config *cfg, const struct rc_var *v, const char *val,
	    char *why, size_t why_n)
{
	for (size_t i = 0; i < N_ELEM(owner_names); i++) {
		if (ieq(val, owner_names[i])) {
			cfg->tmp_owner = (enum rc_tmp_owner)i;
			return true;
		}
	}
	return false;
}

static void
reset_owner(struct rc_config *cfg, const struct rc_var *v, const char *tmpdir)
{
	cfg->tmp_owner = RC_TMP_OWNER_SESSION;
}

static void
show_owner(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	   size_t n)
{
	rc_fmt(buf, n, "%s",
	       (size_t)cfg->tmp_owner < N_ELEM(owner_names)
		       ? owner_names[cfg->tmp_owner]
		       : "?");
}

/* temp idle: seconds, or with an s/m/h suffix */

static bool
parse_idle(struct rc_config *cfg, const struct rc_var *v, const char *val,
	   char *why, size_t why_n)
{
	size_t len = strlen(val);
	uint64_t mult = 1, n;

	if (len > 0) {
		switch (lower(val[len - 1])) {
		case 's':
			len--;
			break;
		case 'm':
			mult = 60;
			len--;
			break;
		case 'h':
			mult = 3600;
			len--;
			break;
		default:
			break;
		}
	}
	if (!parse_uint(val, len, UINT_MAX / mult, &n)) {
		return false;
	}
	cfg->tmp_idle_s = (unsigned)(n * mult);
	return true;
}

static void
reset_idle(struct rc_config *cfg, const struct rc_var *v, const char *tmpdir)
{
	cfg->tmp_idle_s = 0;
}

static void
show_idle(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	  size_t n)
{
	if (cfg->tmp_idle_s == 0) {
		rc_fmt(buf, n, "0 (off)");
	} else {
		rc_fmt(buf, n, "%u", cfg->tmp_idle_s);
	}
}

/* heap sample: bytes, or with a k/m suffix */

static bool
parse_heap(struct rc_config *cfg, const struct rc_var *v, const char *val,
	   char *why, size_t why_n)
{
	size_t len = strlen(val);
	uint64_t mult = 1, n;

	if (len > 0) {
		switch (lower(val[len - 1])) {
		case 'k':
			mult = 1024;
			len--;
			break;
		case 'm':
			mult = 1024 * 1024;
			len--;
			break;
		default:
			break;
		}
	}
	if (!parse_uint(val, len, SIZE_MAX / mult, &n) || n == 0) {
		return false;
	}
	cfg->heap_sample = (size_t)(n * mult);
	return true;
}

static void
reset_heap(struct rc_config *cfg, const struct rc_var *v, const char *tmpdir)
{
	cfg->heap_sample = RC_DEFAULT_HEAP_SAMPLE;
}

static void
show_heap(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	  size_t n)
{
	rc_fmt(buf, n, "%zu", cfg->heap_sample);
}

/* heap mode: what is exact (DESIGN §8) */

static bool
parse_heap_mode(struct rc_config *cfg, const struct rc_var *v, const char *val,
		char *why, size_t why_n)
{
	if (ieq(val, "counts")) {
		cfg->heap_exact = false;
	} else if (ieq(val, "exact")) {
		cfg->heap_exact = true;
	} else {
		return false;
	}
	return true;
}

static void
reset_heap_mode(struct rc_config *cfg, const struct rc_var *v, const char *tmpdir)
{
	cfg->heap_exact = false;
}

static void
show_heap_mode(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	       size_t n)
{
	rc_fmt(buf, n, "%s", cfg->heap_exact ? "exact" : "counts");
}

/* stack depth */

static bool
parse_depth(struct rc_config *cfg, const struct rc_var *v, const char *val,
	    char *why, size_t why_n)
{
	uint64_t n;

	if (!parse_uint(val, strlen(val), 128, &n)) {
		return false;
	}
	cfg->stack_depth = (unsigned)n;
	return true;
}

static void
reset_depth(struct rc_config *cfg, const struct rc_var *v, const char *tmpdir)
{
	cfg->stack_depth = RC_DEFAULT_STACK_DEPTH;
}

static void
show_depth(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	   size_t n)
{
	rc_fmt(buf, n, "%u", cfg->stack_depth);
}

/* report path: kept verbatim, "%p" is expanded by the reporter.  A value
 * with no '/' is refused: "none", "1", "yes" or "off" are far more often
 * meant as a switch than as a file in whatever directory the program
 * happens to be in (each process would create one there); a file in the
 * current directory is "./NAME". */

static bool
parse_report(struct rc_config *cfg, const struct rc_var *v, const char *val,
	     char *why, size_t why_n)
{
	size_t len = strlen(val);

	if (len >= sizeof(cfg->report)) {
		rc_fmt(why, why_n, "longer than %zu characters",
		       sizeof(cfg->report) - 1);
		return false;
	}
	if (strcmp(val, "-") != 0 && !strchr(val, '/')) {
		rc_fmt(why, why_n, "not a path: no '/' in it");
		return false;
	}
	memcpy(cfg->report, val, len + 1);
	return true;
}

static void
reset_report(struct rc_config *cfg, const struct rc_var *v, const char *tmpdir)
{
	cfg->report[0] = '\0';
}

static void
show_report(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	    size_t n)
{
	rc_fmt(buf, n, "%s", cfg->report[0] ? cfg->report : "no report");
}

/* report format */

static const char *const format_names[] = {
	[RC_REPORT_TEXT] = "text",
	[RC_REPORT_JSON] = "json",
};

static bool
parse_format(struct rc_config *cfg, const struct rc_var *v, const char *val,
	     char *why, size_t why_n)
{
	for (size_t i = 0; i < N_ELEM(format_names); i++) {
		if (ieq(val, format_names[i])) {
			cfg->report_format = (enum rc_report_format)i;
			return true;
		}
	}
	return false;
}

static void
reset_format(struct rc_config *cfg, const struct rc_var *v, const char *tmpdir)
{
	cfg->report_format = RC_REPORT_TEXT;
}

static void
show_format(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	    size_t n)
{
	rc_fmt(buf, n, "%s",
	       (size_t)cfg->report_format < N_ELEM(format_names)
		       ? format_names[cfg->report_format]
		       : "?");
}

/* log level */

static bool
parse_log(struct rc_config *cfg, const struct rc_var *v, const char *val,
	  char *why, size_t why_n)
{
	int l = parse_word(val, strlen(val), log_names, N_ELEM(log_names));

	if (l < 0) {
		return false;
	}
	cfg->log_level = l;
	return true;
}

static void
reset_log(struct rc_config *cfg, const struct rc_var *v, const char *tmpdir)
{
	cfg->log_level = RC_LOG_WARN;
}

static void
show_log(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	 size_t n)
{
	rc_fmt(buf, n, "%s",
	       cfg->log_level >= 0 && (size_t)cfg->log_level < N_ELEM(log_names)
		       ? log_names[cfg->log_level]
		       : "?");
}

/* timeline: the sampler's interval (src/report/timeline.c) */

bool
rc_parse_timeline(const char *val, unsigned *out)
{
	size_t len = strlen(val);
	uint64_t secs = 0, frac = 0, ms;

	for (size_t i = 0; i < N_ELEM(words_off); i++) {
		if (ieq(val, words_off[i])) {
			*out = 0;
			return true;
		}
		/* "1" is a number of seconds, not "on". */
		if (i > 0 && ieq(val, words_on[i])) {
			*out = RC_TIMELINE_DEFAULT_MS;
			return true;
		}
	}
	if (len > 2 && ieqn(val + len - 2, 2, "ms")) {
		if (!parse_uint(val, len - 2, RC_TIMELINE_MAX_MS, &ms)) {
			return false;
		}
	} else {
		if (len > 1 && lower(val[len - 1]) == 's') {
			len--;
		}
		const char *dot = memchr(val, '.', len);
		size_t ilen = dot ? (size_t)(dot - val) : len;
		if (ilen > 0 && !parse_uint(val, ilen, RC_TIMELINE_MAX_MS / 1000, &secs)) {
			return false;
		}
		if (dot) {
			size_t flen = len - ilen - 1;
			if (flen == 0 || flen > 3 || !parse_uint(dot + 1, flen, 999, &frac)) {
				return false;
			}
			while (flen++ < 3) {
				frac *= 10;
			}
		} else if (ilen == 0) {
			return false;
		}
		ms = secs * 1000 + frac;
	}
	if (ms < RC_TIMELINE_MIN_MS || ms > RC_TIMELINE_MAX_MS) {
		return false;
	}
	*out = (unsigned)ms;
	return true;
}

static bool
parse_timeline(struct rc_config *cfg, const struct rc_var *v, const char *val,
	       char *why, size_t why_n)
{
	return rc_parse_timeline(val, &cfg->timeline_ms);
}

static void
reset_timeline(struct rc_config *cfg, const struct rc_var *v, const char *tmpdir)
{
	cfg->timeline_ms = 0;
}

static void
show_timeline(const struct rc_config *cfg, const struct rc_var *v, char *buf,
	      size_t n)
{
	if (cfg->timeline_ms == 0) {
		rc_fmt(buf, n, "off");
	} else {
		rc_fmt(buf, n, "%ums", cfg->timeline_ms);
	}
}

#define ACCEPT_PRIO "LOW, MEDIUM, HIGH, CRITICAL or 0-3"
#define OFF(f) offsetof(struct rc_config, f)

/* Order matters where a default depends on another row: PRIORITY comes
 * before the priorities that follow it. */
static const struct rc_var vars[] = {
	{ "PRIORITY", ACCEPT_PRIO, parse_prio, reset_prio, show_prio,
	  OFF(priority), false },
	{ "EXIT_PRIORITY", ACCEPT_PRIO, parse_prio, reset_prio_follow,
	  show_prio, OFF(exit_priority), false },
	{ "SIGNAL_PRIORITY", ACCEPT_PRIO, parse_prio, reset_prio_follow,
	  show_prio, OFF(signal_priority), false },
	{ "SIGNAL",
	  "a signal name with or without SIG (USR1, SIGUSR2, RTMIN+n, "
	  "RTMAX-n, ...), a signal number or none; not KILL, STOP, TERM, "
	  "INT, HUP, QUIT, SEGV, BUS, ILL, FPE or ABRT",
	  parse_sig, reset_sig, show_sig, OFF(live_signal), false },
	/* The top is what interval_ms can hold (INTERVAL_MAX_MS). */
	{ "INTERVAL",
	  "seconds from 0 to 4294967 with up to 3 decimals, e.g. 0.5 or 2",
	  parse_interval, reset_interval, show_interval, OFF(interval_ms),
	  false },
	{ "PRESSURE",
	  "0, off, no, false, 1, on, yes, true or a pressure spec of at most "
	  "127 characters",
	  parse_pressure, reset_pressure, show_pressure, OFF(pressure), false },
	{ "TRACK",
	  "a comma list of temp, fd, sqlite, gpu, heap, custom, all, none",
	  parse_track, reset_track, show_track, OFF(track), false },
	{ "TMP_ROOTS",
	  "absolute paths other than /, separated by : or ,",
	  parse_roots, reset_roots, show_roots, OFF(tmp_roots), true },
	{ "TMP_OWNER", "session or process", parse_owner, reset_owner,
	  show_owner, OFF(tmp_owner), false },
	{ "TMP_IDLE", "whole seconds >= 0, or with a suffix s, m or h",
	  parse_idle, reset_idle, show_idle, OFF(tmp_idle_s), false },
	{ "HEAP_SAMPLE", "bytes >= 1, or with a suffix k or m", parse_heap,
	  reset_heap, show_heap, OFF(heap_sample), false },
	{ "HEAP", "counts or exact", parse_heap_mode, reset_heap_mode,
	  show_heap_mode, OFF(heap_exact), false },
	{ "STACK_DEPTH", "0-128", parse_depth, reset_depth, show_depth,
	  OFF(stack_depth), false },
	{ "REPORT",
	  "a path with a '/' in it (./NAME for the current directory, "
	  "%p for the pid) of at most 1023 characters, or - for stderr",
	  parse_report, reset_report, show_report, OFF(report), false },
	{ "REPORT_FORMAT", "text or json", parse_format, reset_format,
	  show_format, OFF(report_format), false },
	{ "LOG", "quiet, warn, info, debug or 0-3", parse_log, reset_log,
	  show_log, OFF(log_level), false },
	{ "TIMELINE",
	  "on, off, or an interval from 10ms to 3600s: 50ms, 0.5s, 2 (seconds)",
	  parse_timeline, reset_timeline, show_timeline, OFF(timeline_ms), false },
};

#define N_VARS N_ELEM(vars)

/* Set by the launcher and the shim for each other; never the user's. */
static bool
internal_name(const char *name, size_t len)
{
	static const char *const names[] = { "SESSION", "LAUNCHER", "LIB" };
	static const char internal[] = "INTERNAL_";

	for (size_t i = 0; i < N_ELEM(names); i++) {
		if (len == strlen(names[i]) && memcmp(name, names[i], len) == 0) {
			return true;
		}
	}
	return len >= sizeof(internal) - 1 &&
	       memcmp(name, internal, sizeof(internal) - 1) == 0;
}

static size_t
name_len(const char *entry)
{
	/* A loop, not strchr: every process runs this at start-up, and
	 * strchr's page of the C library is one that many never read. */
	size_t n = 0;
	while (entry[n] && entry[n] != '=') {
		n++;
	}
	return n;
}

/* ---- loading -------------------------------------------------------------- */

void
rc_config_defaults(struct rc_config *cfg)
{
	if (!cfg) {
		return;
	}
	/* Not the text buffers: only a string's first bytes are read, and
	 * zeroing all of them would touch pages start-up never needs. */
	memset(cfg, 0, offsetof(struct rc_config, pressure_spec));
	cfg->pressure_spec[0] = '\0';
	cfg->report[0] = '\0';
	cfg->roots_buf[0] = '\0';
	for (size_t i = 0; i < N_VARS; i++) {
		vars[i].reset(cfg, &vars[i], NULL);
	}
}

static void
warn_invalid(const struct rc_config *cfg, const struct rc_var *v,
	     const char *val, const char *why, rc_config_warn_fn warn,
	     void *ctx)
{
	char shown[SHOW_VALUE + 4], raw[512], dflt[SHOW_DEFAULT + 4];
	char line[1024];

	if (!warn) {
		return;
	}
	clip(shown, sizeof(shown), val, strlen(val), SHOW_VALUE);
	v->show(cfg, v, raw, sizeof(raw));
	clip(dflt, sizeof(dflt), raw, strlen(raw), SHOW_DEFAULT);
	if (why[0]) {
		rc_fmt(line, sizeof(line),
		       PREFIX "%s=%s is not valid (%s; accepted: %s); using %s",
		       v->name, shown, why, v->accepted, dflt);
	} else {
		rc_fmt(line, sizeof(line),
		       PREFIX "%s=%s is not valid (accepted: %s); using %s",
		       v->name, shown, v->accepted, dflt);
	}
	warn(ctx, line);
}

/* Whether envp[0..i) already holds an RCSHIM_ entry with this name, so a
 * repeated unknown name is reported once. */
static bool
seen_before(char *const *envp, size_t i, const char *entry, size_t len)
{
	for (size_t j = 0; j < i; j++) {
		if (name_len(envp[j]) == len && memcmp(envp[j], entry, len) == 0) {
			return true;
		}
	}
	return false;
}

/* The value of @name ("RCSHIM_X=") in @envp: the first wins, as with
 * getenv; NULL when absent or empty. */
static const char *
early_value(char *const *envp, const char *name, size_t len)
{
	for (size_t i = 0; envp && envp[i]; i++) {
		if (strncmp(envp[i], name, len) == 0) {
			return envp[i][len] ? envp[i] + len : NULL;
		}
	}
	return NULL;
}

/* The parses behind the two early look-ups, apart: a struct rc_config is
 * 5 KiB of stack, and the first malloc of a process that sets neither
 * variable should not reach a stack page it may never have touched
 * (a page fault). */
static __attribute__((noinline)) unsigned
track_of(const char *val)
{
	struct rc_config cfg;
	char why[128];

	/* Invalid: the default. */
	return parse_track(&cfg, NULL, val, why, sizeof(why)) ? cfg.track : RC_TRACK_ALL;
}

static __attribute__((noinline)) bool
heap_exact_of(const char *val)
{
	struct rc_config cfg;
	char why[128];

	return parse_heap_mode(&cfg, NULL, val, why, sizeof(why)) && cfg.heap_exact;
}

unsigned
rc_config_track_of(char *const *envp)
{
	static const char name[] = PREFIX "TRACK=";
	const char *val = early_value(envp, name, sizeof(name) - 1);

	return val ? track_of(val) : RC_TRACK_ALL;
}

bool
rc_config_heap_exact_of(char *const *envp)
{
	static const char name[] = PREFIX "HEAP=";
	const char *val = early_value(envp, name, sizeof(name) - 1);

	return val && heap_exact_of(val);
}

int
rc_config_load(struct rc_config *cfg, char *const *envp,
	       rc_config_warn_fn warn, void *ctx)
{
	const char *val[N_VARS] = { 0 };
	const char *tmpdir = NULL;
	int bad = 0;

	if (!cfg) {
		return 0;
	}
	rc_config_defaults(cfg);

	/* First pass: pick out our variables (the first of duplicates wins,
	 * as with getenv) and $TMPDIR, and report names we do not know. */
	for (size_t i = 0; envp && envp[i]; i++) {
		const char *e = envp[i];
		size_t len = name_len(e);
		bool known = false;

		if (!tmpdir && len == 6 && memcmp(e, "TMPDIR", 6) == 0 &&
		    e[6] == '=') {
			tmpdir = e + 7;
			continue;
		}
		if (len < PREFIX_LEN || memcmp(e, PREFIX, PREFIX_LEN) != 0) {
			continue;
		}
		const char *name = e + PREFIX_LEN;
		size_t nlen = len - PREFIX_LEN;

		for (size_t k = 0; k < N_VARS; k++) {
			/* Without strlen: most rows differ at the first byte. */
			if (strncmp(name, vars[k].name, nlen) == 0 &&
			    vars[k].name[nlen] == '\0') {
				known = true;
				/* "NAME" without '=' is not a setting. */
				if (!val[k] && e[len] == '=') {
					val[k] = e + len + 1;
				}
				break;
			}
		}
		if (known || internal_name(name, nlen) ||
		    seen_before(envp, i, e, len)) {
			continue;
		}
		bad++;
		if (warn) {
			char shown[SHOW_VALUE + 4], line[256];
			clip(shown, sizeof(shown), e, len, SHOW_VALUE);
			rc_fmt(line, sizeof(line),
			       "%s is not a known variable; ignored", shown);
			warn(ctx, line);
		}
	}

	/* Second pass, in table order so that a default can depend on an
	 * earlier row's final value. */
	for (size_t k = 0; k < N_VARS; k++) {
		const struct rc_var *v = &vars[k];
		char why[128] = "";

		if (!val[k] || (val[k][0] == '\0' && !v->empty_is_value)) {
			v->reset(cfg, v, tmpdir);
			continue;
		}
		if (v->parse(cfg, v, val[k], why, sizeof(why))) {
			continue;
		}
		v->reset(cfg, v, tmpdir);
		bad++;
		warn_invalid(cfg, v, val[k], why, warn, ctx);
	}
	return bad;
}
