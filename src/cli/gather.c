/* The report of a run: by default the processes' own reports, written into
 * the journal directory, gathered into one file (text or JSON); else the
 * user's own report files, found for the summary. */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/escape.h"
#include "report/dest.h"
#include "report/symbol.h"

/* A process report larger than this is cut (reports are text for people). */
#define MAX_REPORT (64u << 20)

/* "<pid>.report": the default per-process report files. */
static bool
is_process_report(const char *rest)
{
	const char *q = cli_digits(rest);
	return q && !strcmp(q, ".report");
}

struct preport {
	long pid;
	struct timespec mtime;
	char *text;
	size_t len;
};

static int
by_time(const void *a, const void *b)
{
	const struct preport *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec) {
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	}
	if (x->mtime.tv_nsec != y->mtime.tv_nsec) {
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	}
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* A report a process of the run wrote: a regular file of this user's,
 * reached through no symlink (the directory is private, but nothing there
 * is followed anywhere).  NULL if it is not one. */
static char *
read_all(const char *path, size_t *len, struct timespec *mtime)
{
	int fd = cli_session_file_open(path, mtime);
	if (fd < 0) {
		return NULL;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	for (;;) {
		if (!b) {
			abort();
		}
		size_t got = fread(b + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0 || n >= MAX_REPORT) {
			break;
		}
		if (n + 1 == cap) {
			cap *= 2;
			b = realloc(b, cap);
		}
	}
	fclose(f);
	b[n] = '\0';
	*len = n;
	return b;
}

static bool
blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!strchr(" \t\r\n", p[i])) {
			return false;
		}
	}
	return true;
}

/* Whether @a holds a byte that text output escapes, other than a
 * backslash (which single quotes keep as it is). */
static bool
needs_ansi_quotes(const char *a)
{
	size_t n = strlen(a);
	while (n > 0) {
		size_t k = rc_esc_text_plain(a, n);
		if (k == n) {
			return false;
		}
		if (a[k] != '\\') {
			return true;
		}
		a += k + 1;
		n -= k + 1;
	}
	return false;
}

/* The command line as a shell would need it typed, on one line: a word
 * with a control character (or a byte that is not UTF-8) in it is written
 * $'...', with the escapes of text output (core/escape.h), which bash,
 * zsh and ksh read back as the same bytes. */
static void
shell_words(FILE *f, char *const *argv)
{
	for (size_t i = 0; argv[i]; i++) {
		const char *a = argv[i];
		fputs(i ? " " : "", f);
		if (*a && !a[strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789_-+=./,:@%")]) {
			fputs(a, f);
			continue;
		}
		if (needs_ansi_quotes(a)) {
			size_t n = strlen(a);
			fputs("$'", f);
			while (n > 0) {
				size_t k = rc_esc_text_plain(a, n);
				for (size_t j = 0; j < k; j++) {
					if (a[j] == '\'') {
						fputc('\\', f);
					}
					fputc(a[j], f);
				}
				a += k;
				n -= k;
				if (n > 0) {
					char esc[5];
					fwrite(esc, 1, rc_esc_text_byte((unsigned char)*a, esc), f);
					a++;
					n--;
				}
			}
			fputc('\'', f);
			continue;
		}
		fputc('\'', f);
		for (; *a; a++) {
			if (*a == '\'') {
				fputs("'\\''", f);
			} else {
				fputc(*a, f);
			}
		}
		fputc('\'', f);
	}
}

static void
text_paths(FILE *f, const char *what, const struct cli_paths *l)
{
	for (size_t i = 0; i < l->n; i++) {
		size_t n = strlen(l->v[i]);
		char *esc = malloc(n * 4 + 1);
		if (!esc) {
			abort();
		}
		rc_esc_text(esc, n * 4 + 1, l->v[i], n);
		fprintf(f, "  %s: %s\n", what, esc);
		free(esc);
	}
}

/* ,"@key": [paths] and, where a path is not UTF-8, "@key_hex". */
static void
json_paths(FILE *f, const char *key, const struct cli_paths *l)
{
	bool hex = false;
	fprintf(f, ", \"%s\": [", key);
	for (size_t i = 0; i < l->n; i++) {
		fputs(i ? ", " : "", f);
		cli_json_string(f, l->v[i]);
		hex |= cli_json_needs_hex(l->v[i]);
	}
	fputc(']', f);
	if (hex) {
		fprintf(f, ", \"%s_hex\": [", key);
		for (size_t i = 0; i < l->n; i++) {
			fputs(i ? ", " : "", f);
			if (cli_json_needs_hex(l->v[i])) {
				cli_json_hex(f, l->v[i]);
			} else {
				fputs("null", f);
			}
		}
		fputc(']', f);
	}
}

/* The processes that held nothing (report/report.c, rc_report_gathered):
 * one line each in "<id>.quiet.report", counted by program. */
struct quiet {
	size_t n;
	long long heap_blocks, heap_bytes;
	struct quiet_exe {
		char *exe; /* as the shim escaped it */
		size_t n;
	} *by_exe;
	size_t nexe;
};

static void
quiet_add(struct quiet *q, const char *exe, long long blocks, long long bytes)
{
	q->n++;
	/* A count below zero is not a count (the shim's figures are
	 * exact, but no sum may wrap because of one that is not). */
	q->heap_blocks += blocks > 0 ? blocks : 0;
	q->heap_bytes += bytes > 0 ? bytes : 0;
	for (size_t i = 0; i < q->nexe; i++) {
		if (!strcmp(q->by_exe[i].exe, exe)) {
			q->by_exe[i].n++;
			return;
		}
	}
	struct quiet_exe *v = realloc(q->by_exe, (q->nexe + 1) * sizeof(*v));
	char *e = strdup(exe);
	if (!v || !e) {
		abort();
	}
	q->by_exe = v;
	q->by_exe[q->nexe++] = (struct quiet_exe){ e, 1 };
}

static int
by_count(const void *a, const void *b)
{
	const struct quiet_exe *x = a, *y = b;
	return x->n != y->n ? (x->n > y->n ? -1 : 1) : strcmp(x->exe, y->exe);
}

/* A process's report, from its own file or the shared one: kept unless
 * blank, its frames named (once per object for the whole run: the
 * processes left them unnamed). */
static void
preport_add(struct preport **r, size_t *n, size_t *cap, long pid, struct timespec at, char *text,
	    size_t len, struct cli_sym *sym)
{
	if (blank(text, len)) {
		free(text);
		return;
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*r = cli_xrealloc(*r, *cap * sizeof(**r));
	}
	struct preport *p = &(*r)[(*n)++];
	p->pid = pid;
	p->mtime = at;
	p->len = len;
	p->text = cli_symbolize(text, &p->len, sym);
}

/* One item of the shared file: a quiet line counted, a report added. */
static void
shared_item(const struct cli_record *rec, struct quiet *q, struct preport **r, size_t *n,
	    size_t *cap, struct cli_sym *sym)
{
	if (rec->kind == CLI_REC_REPORT) {
		char *t = malloc(rec->len + 1);
		if (!t) {
			abort();
		}
		memcpy(t, rec->text, rec->len);
		t[rec->len] = '\0';
		preport_add(r, n, cap, rec->pid, rec->at, t, rec->len, sym);
	} else if (rec->kind == CLI_REC_QUIET) {
		char line[1024];
		int pid, used = 0;
		long long b, y;
		snprintf(line, sizeof(line), "%.*s", (int)rec->len, rec->text);
		if (sscanf(line, "== rcshim report: pid %d held nothing (heap %lld blocks, %lld bytes): %n",
			   &pid, &b, &y, &used) == 3 &&
		    used) {
			quiet_add(q, line + used, b, y);
		}
	}
}

/* Reads and removes the session's shared file (records.c): its quiet
 * lines counted in @q, its reports added to @r.  Read a piece at a time:
 * it holds every process's report (a build's thousands), so no cap on the
 * whole, only on one item (MAX_REPORT, as a file of its own had). */
static void
shared_read(const struct cli_session *s, struct quiet *q, struct preport **r, size_t *n,
	    size_t *cap, struct cli_sym *sym)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s.quiet.report", s->dir, s->id);
	int fd = cli_session_file_open(path, NULL);
	if (fd < 0) {
		return; /* none, or not one the processes wrote: left as it is */
	}
	unlink(path);
	size_t bcap = 1u << 20, have = 0;
	char *buf = malloc(bcap);
	bool end = false;
	while (buf && !end) {
		if (have == bcap) {
			/* One item larger than a report may be: what is
			 * pending is taken as cut short. */
			if (bcap >= MAX_REPORT + (1u << 20)) {
				have = 0;
			} else {
				bcap *= 2;
				buf = cli_xrealloc(buf, bcap);
			}
		}
		ssize_t got = read(fd, buf + have, bcap - have);
		if (got < 0 && errno == EINTR) {
			continue;
		}
		end = got <= 0;
		have += got > 0 ? (size_t)got : 0;
		size_t off = 0, k;
		struct cli_record rec;
		while (off < have && (k = cli_record_next(buf + off, have - off, end, &rec))) {
			shared_item(&rec, q, r, n, cap, sym);
			off += k;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	if (!buf) {
		abort();
	}
	free(buf);
	close(fd);
	if (q->nexe > 1) {
		qsort(q->by_exe, q->nexe, sizeof(*q->by_exe), by_count);
	}
}

static void
quiet_free(struct quiet *q)
{
	for (size_t i = 0; i < q->nexe; i++) {
		free(q->by_exe[i].exe);
	}
	free(q->by_exe);
}

/* "298 other processes held nothing: /usr/bin/true (297), /usr/bin/seq"
 * (the programs, most frequent first, the first 8). */
static void
quiet_text(FILE *f, const struct quiet *q, size_t shown)
{
	if (!q->n) {
		return;
	}
	fprintf(f, "  %zu %sprocess%s held nothing:", q->n, shown ? "other " : "",
		q->n == 1 ? "" : "es");
	for (size_t i = 0; i < q->nexe && i < 8; i++) {
		fprintf(f, "%s %s", i ? "," : "", q->by_exe[i].exe);
		if (q->by_exe[i].n > 1) {
			fprintf(f, " (%zu)", q->by_exe[i].n);
		}
	}
	if (q->nexe > 8) {
		fprintf(f, ", %zu other programs", q->nexe - 8);
	}
	fputc('\n', f);
}

static void
quiet_json(FILE *f, const struct quiet *q)
{
	fprintf(f, ",\n \"held_nothing\": {\"processes\": %zu, \"heap\": {\"count\": %lld, "
		   "\"bytes\": %lld}, \"programs\": [",
		q->n, q->heap_blocks, q->heap_bytes);
	for (size_t i = 0; i < q->nexe; i++) {
		/* The shim escaped the name for text: given as it wrote it. */
		fprintf(f, "%s{\"exe\": ", i ? ", " : "");
		cli_json_string(f, q->by_exe[i].exe);
		fprintf(f, ", \"processes\": %zu}", q->by_exe[i].n);
	}
	fputs("]}", f);
}

static void
write_text(FILE *f, const struct cli_session *s, int status, const struct cli_outcome *o,
	   const struct preport *r, size_t n, const struct quiet *q,
	   const struct cli_summary *sum)
{
	char st[128];
	const struct rcshim_kind_result *t = &o->replay.kind[RCSHIM_KIND_TEMP];

	fputs("rcshim report of: ", f);
	shell_words(f, s->cmd);
	fprintf(f, "\nsession: %s\n", s->id);
	fprintf(f, "status: %s\n", cli_status_text(status, st, sizeof(st)));
	/* The one screen a user reads first; the details follow. */
	if (sum->n || q->n) {
		fputs("\nsummary (what each process held at its end, most important first):\n", f);
		cli_summary_text(f, sum);
		quiet_text(f, q, n);
		fputc('\n', f);
	}
	fprintf(f, "after the last process ended, the launcher removed %llu temp %s "
		   "(%llu left alone, %llu could not be removed)\n",
		(unsigned long long)t->cleaned, cli_things(t->cleaned), (unsigned long long)t->skipped,
		(unsigned long long)t->failed);
	/* Every one by name (escaped): a user sees that nothing of theirs
	 * went. */
	text_paths(f, "removed", &o->removed);
	text_paths(f, "left alone (the name now names something else)", &o->kept);
	text_paths(f, "journal line refused", &o->refused);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "\n=== process %ld ===\n", r[i].pid);
		fwrite(r[i].text, 1, r[i].len, f);
		if (r[i].len && r[i].text[r[i].len - 1] != '\n') {
			fputc('\n', f);
		}
	}
}

static void
write_json(FILE *f, const struct cli_session *s, int status, const struct cli_outcome *o,
	   const struct preport *r, size_t n, const struct quiet *q,
	   const struct cli_summary *sum)
{
	char sig[32];
	const struct rcshim_kind_result *t = &o->replay.kind[RCSHIM_KIND_TEMP];

	fprintf(f, "{\"rcshim\": ");
	cli_json_string(f, RCSHIM_VERSION);
	fprintf(f, ",\n \"session\": ");
	cli_json_string(f, s->id);
	fprintf(f, ",\n \"command\": [");
	for (size_t i = 0; s->cmd[i]; i++) {
		fputs(i ? ", " : "", f);
		cli_json_string(f, s->cmd[i]);
	}
	fputc(']', f);
	bool hex = false;
	for (size_t i = 0; s->cmd[i]; i++) {
		hex |= cli_json_needs_hex(s->cmd[i]);
	}
	if (hex) {
		/* Arguments need not be UTF-8: their bytes, in hex, where
		 * the string alone does not give them back. */
		fprintf(f, ",\n \"command_hex\": [");
		for (size_t i = 0; s->cmd[i]; i++) {
			fputs(i ? ", " : "", f);
			if (cli_json_needs_hex(s->cmd[i])) {
				cli_json_hex(f, s->cmd[i]);
			} else {
				fputs("null", f);
			}
		}
		fputc(']', f);
	}
	fprintf(f, ",\n \"status\": ");
	if (WIFSIGNALED(status)) {
		fprintf(f, "{\"signal\": %d, \"signal_name\": \"%s\", \"core_dumped\": %s}",
			WTERMSIG(status), cli_signal_name(WTERMSIG(status), sig, sizeof(sig)),
			WCOREDUMP(status) ? "true" : "false");
	} else {
		fprintf(f, "{\"exit_code\": %d}", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	fprintf(f, ",\n \"after_exit\": {\"temp\": {\"removed\": %llu, \"left_alone\": %llu, "
		   "\"failed\": %llu",
		(unsigned long long)t->cleaned, (unsigned long long)t->skipped,
		(unsigned long long)t->failed);
	json_paths(f, "removed_paths", &o->removed);
	json_paths(f, "left_alone_paths", &o->kept);
	json_paths(f, "refused_lines", &o->refused);
	fputs("}}", f);
	cli_summary_json(f, sum);
	quiet_json(f, q);
	fprintf(f, ",\n \"processes\": [");
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s\n  {\"pid\": %ld, \"report\": ", i ? "," : "", r[i].pid);
		if (!cli_json_write_values(f, r[i].text, r[i].len)) {
			cli_json_string(f, r[i].text);
		}
		fputc('}', f);
	}
	fprintf(f, "%s]}\n", n ? "\n " : "");
}

/* What the processes' own final cleanups reclaimed, for the launcher's
 * summary on stderr: the first CLI_LIST_MAX by name, then a count. */
static void
reclaimed_list(const struct cli_summary *sum, struct cli_outcome *o)
{
	for (size_t i = 0; i < sum->n; i++) {
		const struct cli_sum_proc *p = &sum->p[i];
		for (size_t j = 0; j < p->nown; j++) {
			if (o->reclaimed.n >= CLI_LIST_MAX) {
				o->reclaimed_more++;
				continue;
			}
			char line[1200];
			snprintf(line, sizeof(line), "%s (pid %ld)", p->items[j], p->pid);
			o->reclaimed.v = cli_xrealloc(o->reclaimed.v,
						      (o->reclaimed.n + 1) * sizeof(*o->reclaimed.v));
			o->reclaimed.v[o->reclaimed.n++] = strdup(line);
		}
		o->reclaimed_more += p->items_more;
	}
}

/* The default: every process wrote "<dir>/<id>.<pid>.report"; they become
 * one "<dir>/<id>.report.txt" (or .json), written whole, then renamed. */
static void
merge_reports(const struct cli_session *s, int status, struct cli_outcome *o)
{
	struct cli_names l = { 0 };
	cli_session_files(s->dir, s->id, is_process_report, &l);
	struct preport *r = NULL;
	struct cli_sym sym = { 0 };
	size_t n = 0, cap = 0;
	/* Files of their own: the reports of processes that wrote a line
	 * while they ran (a live cleanup), or a signal's. */
	for (size_t i = 0; i < l.n; i++) {
		char path[1024], *text;
		size_t len;
		struct timespec mt;
		snprintf(path, sizeof(path), "%s/%s", s->dir, l.v[i]);
		if ((text = read_all(path, &len, &mt))) {
			preport_add(&r, &n, &cap, strtol(l.v[i] + strlen(s->id) + 1, NULL, 10), mt,
				    text, len, &sym);
		}
		unlink(path);
	}
	cli_names_free(&l);
	struct quiet q = { 0 };
	shared_read(s, &q, &r, &n, &cap, &sym);
	cli_sym_end(&sym);
	if (q.n) {
		struct cli_kinds k = { .found = true, .n = 1 };
		snprintf(k.k[0].kind, sizeof(k.k[0].kind), "heap");
		k.k[0].count = (uint64_t)q.heap_blocks;
		k.k[0].bytes = (uint64_t)q.heap_bytes;
		cli_kinds_add(&o->held, &k);
	}
	for (size_t i = 0; i < n; i++) {
		struct cli_kinds k;
		if ((s->json ? cli_json_report_kinds : cli_text_report_kinds)(r[i].text, r[i].len,
									      &k)) {
			cli_kinds_add(&o->held, &k);
		}
	}
	struct cli_summary sum = { 0 };
	for (size_t i = 0; i < n; i++) {
		cli_summary_add(&sum, r[i].pid, r[i].text, r[i].len, s->json, &o->removed);
	}
	cli_summary_finish(&sum);
	reclaimed_list(&sum, o);
	if (n || q.n) {
		if (n > 1) {
			qsort(r, n, sizeof(*r), by_time);
		}
		char path[1024], tmp[1100];
		snprintf(path, sizeof(path), "%s/%s.report.%s", s->dir, s->id,
			 s->json ? "json" : "txt");
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (fd >= 0 && !f) {
			close(fd);
		}
		if (f) {
			(s->json ? write_json : write_text)(f, s, status, o, r, n, &q, &sum);
			if (fclose(f) == 0 && rename(tmp, path) == 0) {
				snprintf(o->report_path, sizeof(o->report_path), "%s", path);
				o->reports = (int)(n + q.n);
			} else {
				unlink(tmp);
			}
		}
		if (!o->report_path[0]) {
			cli_msg("could not write the report %s: %s", path, strerror(errno));
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(r[i].text);
	}
	free(r);
	quiet_free(&q);
	cli_summary_free(&sum);
}

/* Whether @name matches @pat, where each "%p" stands for a pid. */
static bool
pid_match(const char *pat, const char *name)
{
	while (*pat) {
		if (pat[0] == '%' && pat[1] == 'p') {
			if (!(name = cli_digits(name))) {
				return false;
			}
			pat += 2;
		} else if (*pat++ != *name++) {
			return false;
		}
	}
	return !*name;
}

/* Whether @path is a report this run may have written: a regular file of
 * this user's (not through a symlink: another user's file or link that
 * matches the pattern is not named as this run's report). */
static bool
own_report_file(const char *path, time_t since)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	       st.st_mtime >= since;
}

/* The user chose RCSHIM_REPORT: name it if this run wrote it. */
static void
find_user_reports(const struct cli_session *s, struct cli_outcome *o)
{
	const char *p = s->report_user;

	if (!*p || !strcmp(p, "-")) {
		return;
	}
	if (!strstr(p, "%p")) {
		if (own_report_file(p, s->started)) {
			snprintf(o->report_path, sizeof(o->report_path), "%s", p);
			o->reports = 1;
		}
		return;
	}
	const char *slash = strrchr(p, '/');
	char dir[1024];
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - p) : 1, slash ? p : ".");
	if (slash == p) {
		strcpy(dir, "/");
	}
	const char *base = slash ? slash + 1 : p;
	if (strstr(dir, "%p")) {
		return;
	}
	DIR *d = opendir(dir);
	if (!d) {
		return;
	}
	struct dirent *e;
	int count = 0;
	while ((e = readdir(d))) {
		char path[2048];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (pid_match(base, e->d_name) && own_report_file(path, s->started)) {
			count++;
		}
	}
	closedir(d);
	if (count) {
		snprintf(o->report_path, sizeof(o->report_path), "%s", p);
		o->reports = count;
	}
}

const char *
cli_report_checked(const char *value, const char *log)
{
	char why[200];
	int r;

	if (!value || !*value || !strcmp(value, "-")) {
		return value;
	}
	if (!strchr(value, '/')) {
		return ""; /* the shim's parser refuses it, and says so */
	}
	/* With %p every process creates its own file: only the directory
	 * can be checked now. */
	r = strstr(value, "%p") ? rc_report_dest_check_dir(value, why, sizeof(why))
				: rc_report_dest_open(value, RC_DEST_CHECK, NULL, why, sizeof(why));
	if (r >= 0) {
		return value;
	}
	if (!log || (strcasecmp(log, "quiet") && strcmp(log, "0"))) {
		cli_msg("warning: report not written to %s: %s; the run's report is gathered as "
			"without one", value, why);
	}
	return NULL;
}

void
cli_session_reports(const struct cli_session *s, int status, struct cli_outcome *o)
{
	if (s->report_user) {
		find_user_reports(s, o);
	} else if (s->report_default[0] && s->dir[0]) {
		merge_reports(s, status, o);
	}
}

