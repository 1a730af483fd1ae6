/* The values of `rcshim run`'s options, checked before the program starts:
 * a mistake is one line and exit status 2, never a run at a default
 * (docs/launcher.md, "Mistakes").  The parsers are the shim's own
 * (core/config.c): what passes here is what the shim accepts.  Variables
 * the user set in the environment keep the shim's rule instead: one line,
 * and the default. */
#include "build-config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "core/config.h"
#include "report/dest.h"

const char *const cli_priority_words[] = { "LOW", "MEDIUM", "HIGH", "CRITICAL", NULL };

/* The words an option takes, for "did you mean"; NULL-terminated. */
static const struct {
	const char *option;
	const char *const words[12];
	bool list; /* a comma list: each item is checked */
} option_words[] = {
	{ "priority", { "LOW", "MEDIUM", "HIGH", "CRITICAL" }, false },
	{ "exit-priority", { "LOW", "MEDIUM", "HIGH", "CRITICAL" }, false },
	{ "signal-priority", { "LOW", "MEDIUM", "HIGH", "CRITICAL" }, false },
	{ "signal", { "USR1", "USR2", "HUP", "INT", "TERM", "WINCH", "RTMIN", "none" }, false },
	{ "pressure", { "on", "off" }, false },
	{ "track", { "temp", "fd", "sqlite", "gpu", "heap", "custom", "all", "none" }, true },
	{ "tmp-owner", { "session", "process" }, false },
	{ "heap", { "counts", "exact" }, false },
	{ "report-format", { "text", "json" }, false },
	{ "log", { "quiet", "warn", "info", "debug" }, false },
};

/* Optimal string alignment distance, case-insensitive; stops counting at
 * 3 (all that matters is whether it is 2 or less). */
static int
distance(const char *a, size_t na, const char *b)
{
	size_t nb = strlen(b);
	if (na > 32 || nb > 32 || (na > nb ? na - nb : nb - na) > 2) {
		return 3;
	}
	int d[33][33];
	for (size_t i = 0; i <= na; i++) {
		d[i][0] = (int)i;
	}
	for (size_t j = 0; j <= nb; j++) {
		d[0][j] = (int)j;
	}
	for (size_t i = 1; i <= na; i++) {
		for (size_t j = 1; j <= nb; j++) {
			int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
			int v = d[i - 1][j - 1] + (ca != cb);
			if (d[i - 1][j] + 1 < v) {
				v = d[i - 1][j] + 1;
			}
			if (d[i][j - 1] + 1 < v) {
				v = d[i][j - 1] + 1;
			}
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < v) {
				v = d[i - 2][j - 2] + 1;
			}
			d[i][j] = v;
		}
	}
	return d[na][nb] < 3 ? d[na][nb] : 3;
}

/* The one nearest word to @arg[0..n) within two edits, fewer than the
 * word's own length (not "fd" for "xy"); NULL if none, or a tie. */
static const char *
nearest(const char *arg, size_t n, const char *const *words)
{
	const char *best = NULL;
	int bd = 3;
	bool tie = false;
	for (const char *const *w = words; *w; w++) {
		int d = distance(arg, n, *w);
		if (d >= (int)strlen(*w)) {
			continue;
		}
		if (d < bd) {
			bd = d;
			best = *w;
			tie = false;
		} else if (d == bd) {
			tie = true;
		}
	}
	return bd <= 2 && !tie ? best : NULL;
}

const char *
cli_did_you_mean(const char *arg, const char *const *words, char *buf, size_t len)
{
	const char *w = nearest(arg, strlen(arg), words);
	if (!w || !strcmp(arg, w)) {
		buf[0] = '\0';
	} else {
		snprintf(buf, len, "; did you mean '%s'?", w);
	}
	return buf;
}

/* The first item of the comma list @val that is not a word of @words, and
 * the word it is near to. */
static void
list_hint(const char *val, const char *const *words, char *buf, size_t len)
{
	buf[0] = '\0';
	for (const char *p = val; *p;) {
		size_t n = strcspn(p, ",");
		bool known = false;
		for (const char *const *w = words; *w && !known; w++) {
			known = strlen(*w) == n && !strncasecmp(p, *w, n);
		}
		const char *near = known || !n ? NULL : nearest(p, n, words);
		if (near) {
			snprintf(buf, len, "; did you mean '%.*s' -> '%s'?", (int)n, p, near);
			return;
		}
		p += n;
		p += *p == ',';
	}
}

/* The warning core/config.c gives for "VAR=val": its reason, without the
 * variable and the default it would use. */
struct captured {
	char line[512];
	int n;
};

static void
capture(void *ctx, const char *line)
{
	struct captured *c = ctx;
	if (c->n++ == 0) {
		snprintf(c->line, sizeof(c->line), "%s", line);
	}
}

int
cli_check_option(const char *option, const char *var, const char *val)
{
	/* An empty --report is a setting: no report at all. */
	if (!*val && strcmp(option, "report") != 0) {
		cli_msg("run: --%s needs a value (an empty one is not a setting)", option);
		return CLI_EXIT_USAGE;
	}
	size_t vl = strlen(var) + strlen(val) + 2;
	char *env = malloc(vl);
	struct rc_config *cfg = calloc(1, sizeof(*cfg));
	if (!env || !cfg) {
		abort();
	}
	snprintf(env, vl, "%s=%s", var, val);
	char *envp[] = { env, NULL };
	struct captured c = { "", 0 };
	rc_config_load(cfg, envp, capture, &c);
	free(cfg);
	free(env);
	if (c.n) {
		/* "RCSHIM_X=v is not valid (accepted: ...); using D": keep
		 * the part in parentheses. */
		const char *why = strstr(c.line, " is not valid (");
		const char *end = why ? strrchr(c.line, ')') : NULL;
		char reason[400];
		if (why && end > why) {
			why += strlen(" is not valid (");
			snprintf(reason, sizeof(reason), "%.*s", (int)(end - why), why);
		} else {
			snprintf(reason, sizeof(reason), "%s", c.line);
		}
		char hint[128] = "";
		for (size_t i = 0; i < sizeof(option_words) / sizeof(option_words[0]); i++) {
			if (strcmp(option_words[i].option, option) != 0) {
				continue;
			}
			if (option_words[i].list) {
				list_hint(val, option_words[i].words, hint, sizeof(hint));
			} else {
				cli_did_you_mean(val, option_words[i].words, hint, sizeof(hint));
			}
		}
		cli_msg("run: --%s %s: not valid (%s)%s", option, val, reason, hint);
		return CLI_EXIT_USAGE;
	}
	/* A report file is checked now, with the rules the shim writes by
	 * (report/dest.h): a run whose report cannot be written does not
	 * start. */
	if (!strcmp(option, "report") && strchr(val, '/') && strcmp(val, "-") != 0) {
		char why[200];
		int r = strstr(val, "%p") ? rc_report_dest_check_dir(val, why, sizeof(why))
					  : rc_report_dest_open(val, RC_DEST_CHECK, NULL, why,
								sizeof(why));
		if (r < 0) {
			cli_msg("run: --report %s: not written there: %s; nothing was run", val, why);
			return CLI_EXIT_USAGE;
		}
	}
	return 0;
}
