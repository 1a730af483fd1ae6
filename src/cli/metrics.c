/* rcshim run --metrics DIR: the run in the Prometheus text exposition
 * format, for node_exporter's textfile collector (issue 18).
 *
 * One file per job, DIR/rcshim_<job>.prom, whose counters add up the runs
 * of that job on this machine: the previous file (ours: it starts with our
 * header line) is read, this run added, and the whole written to a
 * temporary name that does not end in .prom (the collector reads *.prom
 * only), fsynced and renamed over it.  Runs of one job that end together
 * take turns on an flock of DIR/.rcshim_<job>.lock.  A file of that name
 * that is not ours is never replaced: the run says so and writes nothing.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
	{ "rcshim_reclaimed_total", "counter", "Resources reclaimed by the launcher after the program ended, by kind." },
	{ "rcshim_reclaimed_bytes_total", "counter", "Bytes of those resources, by kind." },
	{ "rcshim_left_alone_total", "counter",
	  "Temp artifacts left alone after the program ended: the name named something else, or "
	  "removal failed." },
	{ "rcshim_cleanups_total", "counter", "Cleanups, by trigger and priority." },
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

int
cli_metrics_write(const char *dir, const char *job, int status, const struct cli_outcome *o)
{
	char fjob[128], ljob[160], path[1400], tmp[1500], lock[1500], key[400], sig[32];
	struct samples *m = calloc(1, sizeof(*m));
	const struct rcshim_kind_result *t = &o->replay.kind[RCSHIM_KIND_TEMP];

	if (!m) {
		abort();
	}
	file_safe(fjob, sizeof(fjob), job);
	label_escape(ljob, sizeof(ljob), job);
	snprintf(path, sizeof(path), "%s/rcshim_%s.prom", dir, fjob);
	snprintf(tmp, sizeof(tmp), "%s/.rcshim_%s.prom.%d.tmp", dir, fjob, (int)getpid());
	snprintf(lock, sizeof(lock), "%s/.rcshim_%s.lock", dir, fjob);

	int lfd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (lfd < 0) {
		cli_msg("metrics not written to %s: %s", dir, strerror(errno));
		free(m);
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

	/* This run. */
	if (WIFSIGNALED(status)) {
		snprintf(key, sizeof(key), "rcshim_runs_total{job=\"%s\",status=\"%s\"}", ljob,
			 cli_signal_name(WTERMSIG(status), sig, sizeof(sig)));
	} else {
		snprintf(key, sizeof(key), "rcshim_runs_total{job=\"%s\",status=\"exit_%d\"}", ljob,
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	add(m, key, 1);
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
		add(m, key, (double)c);
		snprintf(key, sizeof(key), "rcshim_leaked_bytes_total{job=\"%s\",kind=\"%s\"}", ljob,
			 kinds[k]);
		add(m, key, (double)b);
	}
	/* Temp artifacts are the session's: what the journal still held at
	 * the end was left behind, and the launcher reclaimed what it could. */
	snprintf(key, sizeof(key), "rcshim_leaked_total{job=\"%s\",kind=\"temp\"}", ljob);
	add(m, key, (double)(t->cleaned + t->skipped + t->failed));
	snprintf(key, sizeof(key), "rcshim_leaked_bytes_total{job=\"%s\",kind=\"temp\"}", ljob);
	add(m, key, 0);
	snprintf(key, sizeof(key), "rcshim_reclaimed_total{job=\"%s\",kind=\"temp\"}", ljob);
	add(m, key, (double)t->cleaned);
	snprintf(key, sizeof(key), "rcshim_reclaimed_bytes_total{job=\"%s\",kind=\"temp\"}", ljob);
	add(m, key, (double)t->bytes);
	snprintf(key, sizeof(key), "rcshim_left_alone_total{job=\"%s\",kind=\"temp\"}", ljob);
	add(m, key, (double)(t->skipped + t->failed));
	snprintf(key, sizeof(key),
		 "rcshim_cleanups_total{job=\"%s\",trigger=\"after_exit\",priority=\"LOW\"}", ljob);
	add(m, key, 1);
	snprintf(key, sizeof(key), "rcshim_last_run_timestamp_seconds{job=\"%s\"}", ljob);
	set(m, key, (double)time(NULL));
	snprintf(key, sizeof(key), "rcshim_last_run_exit_code{job=\"%s\"}", ljob);
	set(m, key, WIFSIGNALED(status) ? 128 + WTERMSIG(status)
					: WIFEXITED(status) ? WEXITSTATUS(status) : -1);

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
	rc = 0;
out:
	flock(lfd, LOCK_UN);
	close(lfd);
	free(m);
	return rc;
}
