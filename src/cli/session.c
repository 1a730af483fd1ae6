/* After the program's last process has ended: the session's journals are
 * replayed, and the summary said.  (The report: gather.c.) */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clean/engine.h"
#include "clean/journal.h"
#include "core/log.h"
#include "core/session.h"
#include "cli/cli.h"

static void
names_add(struct cli_names *l, const char *s)
{
	l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	if (!l->v || !(l->v[l->n] = strdup(s))) {
		abort();
	}
	l->n++;
}

void
cli_names_free(struct cli_names *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i]);
	}
	free(l->v);
}

const char *
cli_digits(const char *p)
{
	const char *q = p;
	while (*q >= '0' && *q <= '9') {
		q++;
	}
	return q == p ? NULL : q;
}

void
cli_session_files(const char *dir, const char *id, bool (*rest_ok)(const char *),
		  struct cli_names *out)
{
	size_t idlen = strlen(id);
	DIR *d = opendir(dir);
	if (!d) {
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, id, idlen) == 0 && e->d_name[idlen] == '.' &&
		    rest_ok(e->d_name + idlen + 1)) {
			names_add(out, e->d_name);
		}
	}
	closedir(d);
}

int
cli_session_file_open(const char *path, struct timespec *mtime)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(fd);
		return -1;
	}
	if (mtime) {
		*mtime = st.st_mtim;
	}
	return fd;
}

/* "journal" (session mode) or "p<pid>.journal" (RCSHIM_TMP_OWNER=process). */
static bool
is_journal(const char *rest)
{
	if (!strcmp(rest, "journal")) {
		return true;
	}
	const char *q = rest[0] == 'p' ? cli_digits(rest + 1) : NULL;
	return q && !strcmp(q, ".journal");
}

const char *
cli_things(uint64_t n)
{
	return n == 1 ? "file or directory" : "files and directories";
}

static void
paths_add(struct cli_paths *l, const char *s)
{
	l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	if (!l->v || !(l->v[l->n] = strdup(s))) {
		abort();
	}
	l->n++;
}

static void
paths_free(struct cli_paths *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i]);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void
cli_outcome_free(struct cli_outcome *o)
{
	paths_free(&o->removed);
	paths_free(&o->kept);
	paths_free(&o->refused);
	paths_free(&o->reclaimed);
}

static void
note(void *ctx, enum rc_replay_what what, int err, const char *path, const char *why)
{
	struct cli_outcome *o = ctx;
	/* Messages are escaped as they are written (cli_msg, rc_log). */
	const char *esc = path ? path : "";
	switch (what) {
	case RC_REPLAY_REMOVED:
		paths_add(&o->removed, path);
		break;
	case RC_REPLAY_CHANGED:
		paths_add(&o->kept, path);
		rc_info("left alone: %s now names something else", esc);
		break;
	case RC_REPLAY_FAILED:
		rc_info("could not remove %s: %s", esc, strerror(err));
		break;
	case RC_REPLAY_REFUSED: {
		char *line;
		if (asprintf(&line, "%s%s(%s)", path ? path : "", path && *path ? " " : "",
			     why ? why : "refused") < 0) {
			abort();
		}
		paths_add(&o->refused, line);
		free(line);
		break;
	}
	default:
		break;
	}
}

void
cli_session_replay(const struct cli_session *s, struct cli_outcome *o)
{
	struct cli_names l = { 0 };

	rc_result_init(&o->replay);
	if (!s->dir[0]) {
		return;
	}
	/* The directory is checked as every member checks it: the
	 * launcher's own, private, not a symlink. */
	int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || rc_private_dir_check(dfd) < 0) {
		cli_msg("the journal directory %s is not private to this user: no journal is "
			"replayed", s->dir);
		o->journal_errors++;
		if (dfd >= 0) {
			close(dfd);
		}
		return;
	}
	cli_session_files(s->dir, s->id, is_journal, &l);
	for (size_t i = 0; i < l.n; i++) {
		int r = rc_journal_replay(dfd, l.v[i], &o->replay, true, note, o);
		if (r == 0) {
			o->journals++;
		} else if (r != -ENOENT) {
			o->journal_errors++;
			cli_msg("could not replay the journal %s/%s: %s; it is left there", s->dir,
				l.v[i], strerror(-r));
		}
	}
	close(dfd);
	rc_result_finish(&o->replay);
	cli_names_free(&l);
}

const char *
cli_status_text(int status, char *buf, size_t len)
{
	char sig[32];
	if (WIFEXITED(status)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		snprintf(buf, len, "was killed by signal %d (%s)%s", WTERMSIG(status),
			 cli_signal_name(WTERMSIG(status), sig, sizeof(sig)),
			 WCOREDUMP(status) ? " and dumped core" : "");
	} else {
		snprintf(buf, len, "ended with wait status 0x%x", (unsigned)status);
	}
	return buf;
}

const char *
cli_human_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0) {
		snprintf(buf, len, "%llu bytes", (unsigned long long)b);
	} else {
		snprintf(buf, len, "%.1f %s", v, units[u]);
	}
	return buf;
}

/* The first CLI_LIST_MAX paths of @l, one a line, then a count. */
static void
list_paths(const struct cli_paths *l, const char *indent)
{
	for (size_t i = 0; i < l->n && i < CLI_LIST_MAX; i++) {
		cli_msg("%s%s", indent, l->v[i]); /* escaped there */
	}
	if (l->n > CLI_LIST_MAX) {
		cli_msg("%s... and %zu more (the report lists them all)", indent,
			l->n - CLI_LIST_MAX);
	}
}

void
cli_session_summary(const struct cli_session *s, int status, const struct cli_outcome *o)
{
	char st[128], line[512];
	const char *name = strrchr(s->cmd[0], '/') ? strrchr(s->cmd[0], '/') + 1 : s->cmd[0];
	const struct rcshim_kind_result *t = &o->replay.kind[RCSHIM_KIND_TEMP];

	cli_msg("%s %s", name, cli_status_text(status, st, sizeof(st)));
	if (!s->dir[0]) {
		cli_msg("after it ended: nothing to replay (no journal directory)");
	} else {
		size_t n = 0;
		if (t->cleaned) {
			n += (size_t)snprintf(line, sizeof(line), "removed %llu temp %s left behind%s",
					      (unsigned long long)t->cleaned, cli_things(t->cleaned),
					      o->removed.n ? ":" : "");
		} else {
			/* Only of the processes the shim was in: a statically
			 * linked one (started by a shell, say) is not tracked,
			 * and what it left is not known here. */
			n += (size_t)snprintf(line, sizeof(line), "no temp files or directories "
								  "were left behind by the processes "
								  "it tracked");
		}
		if (t->failed && n < sizeof(line)) {
			n += (size_t)snprintf(line + n, sizeof(line) - n,
					      "; %llu could not be removed (--log info names them)",
					      (unsigned long long)t->failed);
		}
		if (o->journal_errors && n < sizeof(line)) {
			snprintf(line + n, sizeof(line) - n, "; %d journals could not be read",
				 o->journal_errors);
		}
		cli_msg("after it ended: %s", line);
		/* What went, by name: a user sees at once that nothing of
		 * theirs did. */
		list_paths(&o->removed, "  ");
		if (o->kept.n) {
			cli_msg("left alone, the name now names something else:");
			list_paths(&o->kept, "  ");
		}
		if (o->refused.n) {
			cli_msg("journal lines refused (nothing removed for them):");
			list_paths(&o->refused, "  ");
		}
	}
	char held[512] = "";
	size_t hn = 0;
	/* Kinds in a fixed order, whichever report named them first. */
	size_t order[CLI_MAX_KINDS], no = 0;
	static const char *const kinds[] = { "heap", "fd", "sqlite", "gpu", "custom" };
	for (size_t k = 0; k <= sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (size_t i = 0; i < o->held.n; i++) {
			bool known = false;
			for (size_t j = 0; j < sizeof(kinds) / sizeof(kinds[0]); j++) {
				known |= !strcmp(o->held.k[i].kind, kinds[j]);
			}
			if (k < sizeof(kinds) / sizeof(kinds[0]) ? !strcmp(o->held.k[i].kind, kinds[k])
								  : !known) {
				order[no++] = i;
			}
		}
	}
	for (size_t i = 0; i < no && hn < sizeof(held) - 64; i++) {
		const struct cli_kind_count *k = &o->held.k[order[i]];
		char size[32];
		/* Temp artifacts are the session's: the line above says what
		 * became of them. */
		if (!k->count || !strcmp(k->kind, "temp")) {
			continue;
		}
		hn += (size_t)snprintf(held + hn, sizeof(held) - hn, "%s%s %llu%s", hn ? ", " : "",
				       k->kind, (unsigned long long)k->count,
				       !strcmp(k->kind, "heap") ? " blocks" : "");
		if (k->bytes) {
			hn += (size_t)snprintf(held + hn, sizeof(held) - hn, " (%s)",
					       cli_human_bytes(k->bytes, size, sizeof(size)));
		}
	}
	if (held[0]) {
		cli_msg("in use when its processes ended: %s", held);
	}
	if (o->reclaimed.n) {
		cli_msg("their own final cleanups reclaimed:");
		for (size_t i = 0; i < o->reclaimed.n; i++) {
			/* Escaped already (summary.c): not twice. */
			fprintf(stderr, "rcshim:   %s\n", o->reclaimed.v[i]);
		}
		if (o->reclaimed_more) {
			cli_msg("  ... and %llu more (the report lists what it can)",
				(unsigned long long)o->reclaimed_more);
		}
	}
	if (o->report_path[0]) {
		if (s->report_user && strstr(s->report_user, "%p")) {
			cli_msg("reports (%d files): %s", o->reports, o->report_path);
		} else if (s->report_user) {
			cli_msg("report: %s", o->report_path);
		} else {
			cli_msg("report (%d process%s): %s", o->reports, o->reports == 1 ? "" : "es",
				o->report_path);
		}
	}
}
