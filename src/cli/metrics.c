/* rcshim run --metrics DIR: the run in the Prometheus text exposition
 * format, for node_exporter's textfile collector (issue 18), at its end and
 * at each live cleanup of its processes.
 *
 * One file per job, DIR/rcshim_<job>.prom, whose counters add up the runs
 * of that job on this machine: the previous file (ours: it starts with our
 * header line) is read, this run added, and the whole written to a
 * temporary name that does not end in .prom (the collector reads *.prom
 * only), fsynced and renamed over it.  Runs of one job that end together
 * take turns on an flock of DIR/.rcshim_<job>.lock.  A file of that name
 * that is not ours is never replaced: the run says so and writes nothing.
 *
 * Each write adds what this run counted since its previous write (the
 * file may hold other runs', and runs of the job may write in turn).
 *
 * Live: an inotify watch on the session's journal directory, whose fd
 * signals SIGIO to the launcher (blocked there, taken by its wait in
 * wait.c): the processes' report files "<id>.<pid>.report" get a line at
 * each live cleanup, and only their new bytes are read (tally.c counts
 * them), a bounded amount per wake-up; the file is rewritten when a count
 * changed.  The fd is close-on-exec and the program's signal mask is its
 * own: the program sees neither.  Without inotify: at the end only.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define HEADER "# rcshim metrics (rcshim run --metrics); one file per job\n"
#define MAX_SAMPLES 256

struct sample {
	char key[400]; /* name{labels} */
	double v;
};

struct samples {
	struct sample s[MAX_SAMPLES];
	size_t n;
};

static void
add(struct samples *m, const char *key, double v)
{
	for (size_t i = 0; i < m->n; i++) {
		if (!strcmp(m->s[i].key, key)) {
			m->s[i].v += v;
			return;
		}
	}
	if (m->n < MAX_SAMPLES) {
		snprintf(m->s[m->n].key, sizeof(m->s[0].key), "%s", key);
		m->s[m->n++].v = v;
	}
}

static void
set(struct samples *m, const char *key, double v)
{
	for (size_t i = 0; i < m->n; i++) {
		if (!strcmp(m->s[i].key, key)) {
			m->s[i].v = v;
			return;
		}
	}
	add(m, key, v);
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void
label_escape(char *out, size_t len, const char *s)
{
	size_t n = 0;
	for (; *s && n + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			out[n++] = '\\';
			out[n++] = *s;
		} else if (*s == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
}

/* The job as a file name: [A-Za-z0-9_-], others as '_'. */
static void
file_safe(char *out, size_t len, const char *s)
{
	size_t n = 0;
	for (; *s && n + 1 < len; s++) {
		char c = *s;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '-';
		out[n++] = ok ? c : '_';
	}
	out[n] = '\0';
	if (!n) {
		snprintf(out, len, "_");
	}
}

/* The samples of our previous file: lines "name{labels} value". */
static void
load_previous(int fd, struct samples *m)
{
	FILE *f = fdopen(fd, "r");
	char line[1024];
	if (!f) {
		close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *sp = strrchr(line, ' ');
		if (line[0] == '#' || !sp || sp - line >= (long)sizeof(m->s[0].key)) {
			continue;
		}
		*sp = '\0';
		/* Only the counters add up; gauges are this run's. */
		if (strstr(line, "_total{")) {
			add(m, line, strtod(sp + 1, NULL));
		}
	}
	fclose(f);
}

static const struct {
	const char *name, *type, *help;
} families[] = {
	{ "rcshim_runs_total", "counter", "Runs of the job under rcshim run, by how the program ended." },
	{ "rcshim_leaked_total", "counter",
	  "Resources still held when the program's processes ended, by kind (temp: artifacts "
	  "left for the launcher)." },
	{ "rcshim_leaked_bytes_total", "counter", "Bytes of those resources, by kind." },
	{ "rcshim_reclaimed_total", "counter",
	  "Resources reclaimed, by kind: by the processes' own cleanups (at exit, signal, live) "
	  "and by the launcher after the program ended." },
	{ "rcshim_reclaimed_bytes_total", "counter", "Bytes of those resources, by kind." },
	{ "rcshim_left_alone_total", "counter",
	  "Temp artifacts left alone after the program ended: the name named something else, or "
	  "removal failed." },
	{ "rcshim_cleanups_total", "counter",
	  "Cleanups, by trigger (exit, signal, live_signal, timer, pressure, ...; after_exit: "
	  "the launcher's) and priority." },
	{ "rcshim_last_run_timestamp_seconds", "gauge", "When the last run of the job ended." },
	{ "rcshim_last_run_exit_code", "gauge",
	  "Exit code of the last run (128 + the signal for a program killed by one)." },
};

static void
write_all(FILE *f, const struct samples *m)
{
	fputs(HEADER, f);
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		size_t nl = strlen(families[i].name);
		bool any = false;
		for (size_t j = 0; j < m->n; j++) {
			if (strncmp(m->s[j].key, families[i].name, nl) || m->s[j].key[nl] != '{') {
				continue;
			}
			if (!any) {
				fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", families[i].name,
					families[i].help, families[i].name, families[i].type);
				any = true;
			}
			fprintf(f, "%s %.17g\n", m->s[j].key, m->s[j].v);
		}
	}
}


/* ---- the processes' report files ---------------------------------------------- */

/* Read per wake-up at most (the rest at the next turn of the wait), and the
 * longest line kept whole (a report with many stacks is one JSON line). */
#define LIVE_BUDGET (1u << 20)
#define LINE_MAX_BYTES (64u << 20)

struct rfile {
	char name[80];  /* "<id>.<pid>.report" */
	off_t off;      /* read up to here */
	char *pend;     /* the bytes after the last newline read */
	size_t npend, cap;
	bool dirty;     /* written since it was read */
	bool skip;      /* the line now read is over LINE_MAX_BYTES: dropped */
	bool shared;    /* "<id>.quiet.report": quiet lines and whole reports */
	struct cli_tally_file st;
};

struct cli_metrics {
	char dir[1024], job[128], sdir[1024], id[64];
	int ifd; /* inotify, or -1 */
	struct rfile *f;
	size_t nf;
	struct cli_tally tally;
	uint64_t published; /* tally.changes at the last write */
	struct samples pub; /* the counters this run has added to the file */
};

/* "<id>.<digits>.report", or the shared "<id>.quiet.report" */
static bool
is_report_name(const struct cli_metrics *m, const char *name)
{
	size_t n = strlen(m->id);
	const char *p;
	return !strncmp(name, m->id, n) && name[n] == '.' &&
	       (!strcmp(name + n + 1, "quiet.report") ||
		((p = cli_digits(name + n + 1)) && !strcmp(p, ".report"))) &&
	       strlen(name) < sizeof(m->f[0].name);
}

static bool
report_rest(const char *rest)
{
	const char *p = cli_digits(rest);
	return p && !strcmp(p, ".report");
}

static struct rfile *
rfile_get(struct cli_metrics *m, const char *name)
{
	for (size_t i = 0; i < m->nf; i++) {
		if (!strcmp(m->f[i].name, name)) {
			return &m->f[i];
		}
	}
	struct rfile *v = realloc(m->f, (m->nf + 1) * sizeof(*v));
	if (!v) {
		abort();
	}
	m->f = v;
	memset(&m->f[m->nf], 0, sizeof(m->f[0]));
	snprintf(m->f[m->nf].name, sizeof(m->f[0].name), "%s", name);
	m->f[m->nf].shared = !strcmp(name + strlen(m->id), ".quiet.report");
	return &m->f[m->nf++];
}

static void
pend_add(struct rfile *r, const char *p, size_t n)
{
	if (r->skip) {
		return;
	}
	if (r->npend + n + 1 > LINE_MAX_BYTES) {
		r->skip = true; /* counted as nothing, up to its newline */
		r->npend = 0;
		return;
	}
	if (r->npend + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap < r->npend + n + 1) {
			cap *= 2;
		}
		char *q = realloc(r->pend, cap);
		if (!q) {
			abort();
		}
		r->pend = q;
		r->cap = cap;
	}
	memcpy(r->pend + r->npend, p, n);
	r->npend += n;
	r->pend[r->npend] = '\0';
}

/* Counts the lines of one whole report (from the shared file). */
static void
tally_report(struct cli_metrics *m, const char *p, size_t n)
{
	struct cli_tally_file st = { 0 };
	for (const char *end = p + n; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		cli_tally_line(&m->tally, &st, p, (size_t)(next - p));
		p = next;
	}
}

/* The shared file: its whole reports counted as they come (its quiet
 * lines count nothing), an item not yet whole kept for later, all taken
 * with @end. */
static void
feed_shared(struct cli_metrics *m, struct rfile *r, const char *p, size_t n, bool end)
{
	if (r->npend + n + 1 > LINE_MAX_BYTES) {
		/* An item over LINE_MAX_BYTES: what is pending is dropped,
		 * and the reader skips the rest of it to the next item. */
		r->npend = 0;
	}
	pend_add(r, p, n);
	size_t off = 0;
	struct cli_record rec;
	for (size_t k; off < r->npend && (k = cli_record_next(r->pend + off, r->npend - off, end,
								 &rec)); off += k) {
		if (rec.kind == CLI_REC_REPORT) {
			tally_report(m, rec.text, rec.len);
		}
	}
	memmove(r->pend, r->pend + off, r->npend - off);
	r->npend -= off;
}

/* Counts the whole lines of [p, p + n), keeping the rest. */
static void
feed(struct cli_metrics *m, struct rfile *r, const char *p, size_t n)
{
	if (r->shared) {
		feed_shared(m, r, p, n, false);
		return;
	}
	for (const char *end = p + n; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			pend_add(r, p, (size_t)(end - p));
			return;
		}
		if (r->npend || r->skip) {
			pend_add(r, p, (size_t)(nl + 1 - p));
			if (!r->skip) {
				cli_tally_line(&m->tally, &r->st, r->pend, r->npend);
			}
			r->npend = 0;
			r->skip = false;
		} else {
			cli_tally_line(&m->tally, &r->st, p, (size_t)(nl + 1 - p));
		}
		p = nl + 1;
	}
}

/* Reads what @r gained, at most *@budget bytes (all with NULL); true when
 * there is more. */
static bool
rfile_read(struct cli_metrics *m, struct rfile *r, size_t *budget)
{
	char path[1200], buf[65536];
	snprintf(path, sizeof(path), "%s/%s", m->sdir, r->name);
	int fd = cli_session_file_open(path, NULL);
	r->dirty = false;
	if (fd < 0) {
		return false;
	}
	bool more = false;
	for (;;) {
		size_t want = sizeof(buf);
		if (budget && *budget < want) {
			want = *budget;
		}
		if (!want) {
			more = r->dirty = true;
			break;
		}
		ssize_t got = pread(fd, buf, want, r->off);
		if (got < 0 && errno == EINTR) {
			continue;
		}
		if (got <= 0) {
			break;
		}
		r->off += got;
		if (budget) {
			*budget -= (size_t)got;
		}
		feed(m, r, buf, (size_t)got);
	}
	close(fd);
	return more;
}

/* ---- the samples of this run ---------------------------------------------------- */

static void
run_samples(const struct cli_metrics *m, struct samples *cur, bool end, int status,
	    const struct cli_outcome *o)
{
	char ljob[160], key[400], sig[32];
	const struct cli_tally *t = &m->tally;
	label_escape(ljob, sizeof(ljob), m->job);

	for (size_t i = 0; i < t->nc; i++) {
		snprintf(key, sizeof(key),
			 "rcshim_cleanups_total{job=\"%s\",trigger=\"%s\",priority=\"%s\"}", ljob,
			 t->c[i].trigger, t->c[i].prio);
		add(cur, key, (double)t->c[i].n);
	}
	for (int k = 0; k < CLI_TALLY_KINDS; k++) {
		if (k == RCSHIM_KIND_COUNT && !t->bytes[k]) {
			continue; /* "unknown": only where a text report gave bytes */
		}
		snprintf(key, sizeof(key), "rcshim_reclaimed_total{job=\"%s\",kind=\"%s\"}", ljob,
			 cli_tally_kind(k));
		add(cur, key, (double)t->cleaned[k]);
		snprintf(key, sizeof(key), "rcshim_reclaimed_bytes_total{job=\"%s\",kind=\"%s\"}",
			 ljob, cli_tally_kind(k));
		add(cur, key, (double)t->bytes[k]);
	}
	if (!end) {
		return;
	}
	const struct rcshim_kind_result *tr = &o->replay.kind[RCSHIM_KIND_TEMP];
	if (WIFSIGNALED(status)) {
		snprintf(key, sizeof(key), "rcshim_runs_total{job=\"%s\",status=\"%s\"}", ljob,
			 cli_signal_name(WTERMSIG(status), sig, sizeof(sig)));
	} else {
		snprintf(key, sizeof(key), "rcshim_runs_total{job=\"%s\",status=\"exit_%d\"}", ljob,
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	add(cur, key, 1);
	static const char *const kinds[] = { "heap", "fd", "sqlite", "gpu", "custom" };
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		uint64_t c = 0, b = 0;
		for (size_t i = 0; i < o->held.n; i++) {
			if (!strcmp(o->held.k[i].kind, kinds[k])) {
				c += o->held.k[i].count;
				b += o->held.k[i].bytes;
			}
		}
		snprintf(key, sizeof(key), "rcshim_leaked_total{job=\"%s\",kind=\"%s\"}", ljob, kinds[k]);
		add(cur, key, (double)c);
		snprintf(key, sizeof(key), "rcshim_leaked_bytes_total{job=\"%s\",kind=\"%s\"}", ljob,
			 kinds[k]);
		add(cur, key, (double)b);
	}
	/* Temp artifacts are the session's: what the journal still held at
	 * the end was left behind, and the launcher reclaimed what it could
	 * (added to what the processes' own cleanups removed). */
	snprintf(key, sizeof(key), "rcshim_leaked_total{job=\"%s\",kind=\"temp\"}", ljob);
	add(cur, key, (double)(tr->cleaned + tr->skipped + tr->failed));
	snprintf(key, sizeof(key), "rcshim_leaked_bytes_total{job=\"%s\",kind=\"temp\"}", ljob);
	add(cur, key, 0);
	snprintf(key, sizeof(key), "rcshim_reclaimed_total{job=\"%s\",kind=\"temp\"}", ljob);
	add(cur, key, (double)tr->cleaned);
	snprintf(key, sizeof(key), "rcshim_reclaimed_bytes_total{job=\"%s\",kind=\"temp\"}", ljob);
	add(cur, key, (double)tr->bytes);
	snprintf(key, sizeof(key), "rcshim_left_alone_total{job=\"%s\",kind=\"temp\"}", ljob);
	add(cur, key, (double)(tr->skipped + tr->failed));
	snprintf(key, sizeof(key),
		 "rcshim_cleanups_total{job=\"%s\",trigger=\"after_exit\",priority=\"LOW\"}", ljob);
	add(cur, key, 1);
	snprintf(key, sizeof(key), "rcshim_last_run_timestamp_seconds{job=\"%s\"}", ljob);
	set(cur, key, (double)time(NULL));
	snprintf(key, sizeof(key), "rcshim_last_run_exit_code{job=\"%s\"}", ljob);
	set(cur, key, WIFSIGNALED(status) ? 128 + WTERMSIG(status)
					  : WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static double
value_of(const struct samples *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++) {
		if (!strcmp(m->s[i].key, key)) {
			return m->s[i].v;
		}
	}
	return 0;
}

/* Adds this run's counts since the last write to the file; the gauges
 * (@end only) are set. */
static int
publish(struct cli_metrics *mx, bool end, int status, const struct cli_outcome *o)
{
	char fjob[128], path[1400], tmp[1500], lock[1500];
	struct samples *m = calloc(1, sizeof(*m)), *cur = calloc(1, sizeof(*cur));

	if (!m || !cur) {
		abort();
	}
	run_samples(mx, cur, end, status, o);
	file_safe(fjob, sizeof(fjob), mx->job);
	snprintf(path, sizeof(path), "%s/rcshim_%s.prom", mx->dir, fjob);
	snprintf(tmp, sizeof(tmp), "%s/.rcshim_%s.prom.%d.tmp", mx->dir, fjob, (int)getpid());
	snprintf(lock, sizeof(lock), "%s/.rcshim_%s.lock", mx->dir, fjob);

	int lfd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (lfd < 0) {
		cli_msg("metrics not written to %s: %s", mx->dir, strerror(errno));
		free(m);
		free(cur);
		return -1;
	}
	flock(lfd, LOCK_EX);
	int rc = -1;
	int pfd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (pfd >= 0) {
		struct stat st;
		char head[sizeof(HEADER)] = "";
		ssize_t n = pread(pfd, head, sizeof(HEADER) - 1, 0);
		if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
		    n != (ssize_t)sizeof(HEADER) - 1 || memcmp(head, HEADER, sizeof(HEADER) - 1)) {
			cli_msg("metrics not written: %s is not a file rcshim wrote; it is left "
				"alone", path);
			close(pfd);
			goto out;
		}
		load_previous(pfd, m);
	} else if (errno != ENOENT) {
		cli_msg("metrics not written: %s: %s", path, strerror(errno));
		goto out;
	}

	for (size_t i = 0; i < cur->n; i++) {
		if (strstr(cur->s[i].key, "_total{")) {
			add(m, cur->s[i].key, cur->s[i].v - value_of(&mx->pub, cur->s[i].key));
		} else {
			set(m, cur->s[i].key, cur->s[i].v);
		}
	}

	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		cli_msg("metrics not written: %s: %s", tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		goto out;
	}
	write_all(f, m);
	bool bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0) {
		cli_msg("metrics not written: %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	/* Added now: the next write adds only what comes after. */
	mx->pub = *cur;
	mx->published = mx->tally.changes;
	rc = 0;
out:
	flock(lfd, LOCK_UN);
	close(lfd);
	free(m);
	free(cur);
	return rc;
}

/* ---- the interface ---------------------------------------------------------------- */

struct cli_metrics *
cli_metrics_start(const char *dir, const char *job, const char *sdir, const char *id)
{
	struct cli_metrics *m = calloc(1, sizeof(*m));
	if (!m) {
		abort();
	}
	/* Cut short, DIR would name another directory (a parent, or a
	 * sibling with the same start) and JOB another job's file: none
	 * written rather than one in the wrong place. */
	bool long_dir = strlen(dir) >= sizeof(m->dir);
	if (long_dir || strlen(job) >= sizeof(m->job)) {
		cli_msg("metrics not written: the %s is longer than %zu bytes",
			long_dir ? "directory's name" : "job's name",
			(long_dir ? sizeof(m->dir) : sizeof(m->job)) - 1);
		free(m);
		return NULL;
	}
	snprintf(m->dir, sizeof(m->dir), "%s", dir);
	snprintf(m->job, sizeof(m->job), "%s", job);
	/* Too long to watch whole: the counts at the end only. */
	if (sdir && id && strlen(sdir) < sizeof(m->sdir) && strlen(id) < sizeof(m->id)) {
		snprintf(m->sdir, sizeof(m->sdir), "%s", sdir);
		snprintf(m->id, sizeof(m->id), "%s", id);
	}
	m->ifd = -1;
	if (!m->sdir[0] || !m->id[0]) {
		return m;
	}
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		return m; /* at the end only */
	}
	/* SIGIO with si_fd when an event is queued (the launcher blocks it
	 * and takes it in its wait). */
	if (inotify_add_watch(fd, m->sdir, IN_MODIFY | IN_CLOSE_WRITE) < 0 ||
	    fcntl(fd, F_SETOWN, (int)getpid()) < 0 || fcntl(fd, F_SETSIG, SIGIO) < 0 ||
	    fcntl(fd, F_SETFL, O_ASYNC | O_NONBLOCK) < 0) {
		close(fd);
		return m;
	}
	m->ifd = fd;
	return m;
}

int
cli_metrics_fd(const struct cli_metrics *m)
{
	return m ? m->ifd : -1;
}

/* The session's report files, all marked to be read (at the end, or when
 * inotify's queue overflowed). */
static void
mark_all(struct cli_metrics *m)
{
	struct cli_names l = { 0 };
	cli_session_files(m->sdir, m->id, report_rest, &l);
	for (size_t i = 0; i < l.n; i++) {
		if (is_report_name(m, l.v[i])) {
			rfile_get(m, l.v[i])->dirty = true;
		}
	}
	cli_names_free(&l);
	char shared[sizeof(m->f[0].name)];
	snprintf(shared, sizeof(shared), "%s.quiet.report", m->id);
	rfile_get(m, shared)->dirty = true;
}

bool
cli_metrics_live(void *ctx)
{
	struct cli_metrics *m = ctx;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	/* Bounded: the events queued now (the queue is the kernel's, 16384
	 * by default; then one overflow event). */
	for (int rounds = 0; rounds < 64 && (n = read(m->ifd, buf, sizeof(buf))) > 0; rounds++) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			if (e->mask & IN_Q_OVERFLOW) {
				mark_all(m);
			} else if (e->len && is_report_name(m, e->name)) {
				rfile_get(m, e->name)->dirty = true;
			}
			p += sizeof(*e) + e->len;
		}
	}
	size_t budget = LIVE_BUDGET;
	bool more = false;
	for (size_t i = 0; i < m->nf; i++) {
		if (m->f[i].dirty) {
			more |= rfile_read(m, &m->f[i], &budget);
		}
	}
	if (m->tally.changes != m->published) {
		publish(m, false, 0, NULL);
	}
	return more;
}

void
cli_metrics_collect(struct cli_metrics *m)
{
	if (!m) {
		return;
	}
	if (m->ifd >= 0) {
		close(m->ifd);
		m->ifd = -1;
	}
	if (!m->sdir[0] || !m->id[0]) {
		return;
	}
	mark_all(m);
	for (size_t i = 0; i < m->nf; i++) {
		struct rfile *r = &m->f[i];
		if (r->dirty) {
			rfile_read(m, r, NULL);
		}
		if (r->shared) {
			feed_shared(m, r, "", 0, true);
			continue;
		}
		/* A last line without its newline. */
		if (r->npend && !r->skip) {
			cli_tally_line(&m->tally, &r->st, r->pend, r->npend);
		}
		r->npend = 0;
	}
}

int
cli_metrics_finish(struct cli_metrics *m, int status, const struct cli_outcome *o)
{
	int rc = publish(m, true, status, o);
	cli_metrics_free(m);
	return rc;
}

void
cli_metrics_free(struct cli_metrics *m)
{
	if (!m) {
		return;
	}
	if (m->ifd >= 0) {
		close(m->ifd);
	}
	for (size_t i = 0; i < m->nf; i++) {
		free(m->f[i].pend);
	}
	free(m->f);
	free(m);
}
