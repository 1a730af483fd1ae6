/* rcshim sweep: the sessions nobody replayed (DESIGN §2, issue 18).
 *
 * A launcher that is itself SIGKILLed (a cgroup OOM-killed, `kill -9` of
 * the process group) leaves its journal, its reports and every temp
 * artifact of the session.  The sweep finds the sessions of the user whose
 * every member is gone and replays their journals with the launcher's own
 * replay (clean/journal.c: a line is a claim, not an order), then removes
 * the journals and old reports.  What it cannot judge it leaves, and says
 * why: a leaked temp dir is a small harm, a dir removed under a live
 * program is not.
 *
 * A session is live while
 *   - its root (the S line of the journal: pid, start time, PID namespace,
 *     boot id) runs: the same pid with the same start time, in our PID
 *     namespace, since the same boot;
 *   - or any process we can see carries RCSHIM_SESSION=<id>. in its
 *     environment (/proc/PID/environ: every member inherits it).
 * It cannot be judged when the journal has no S line (an older rcshim),
 * its root was in another PID namespace, or a process of the user started
 * after the session's root has an environment we may not read.
 * A different boot id means every member is gone (the machine restarted).
 */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clean/engine.h"
#include "clean/journal.h"
#include "cli/cli.h"
#include "core/escape.h"
#include "core/journal.h"
#include "core/roots.h"
#include "core/session.h"

/* Reports of ended sessions are kept this long by default. */
#define KEEP_REPORTS_S (7 * 24 * 3600)
#define MAX_FILES 64

struct sweep_opts {
	bool dry, all_users, quiet;
	long older_than, keep_reports; /* seconds */
	const char *dirs[16];
	size_t ndirs;
};

struct sweep_totals {
	unsigned over, live, unjudged;
	uint64_t removed, journals, reports, kept, failed;
	int errors;
};

/* What /proc shows: members by session id, and processes we cannot read. */
struct proc_view {
	struct {
		char id[RC_SESSION_ID_LEN + 1];
		int pid;
	} *members;
	size_t nmembers;
	struct {
		int pid;
		uint64_t start;
	} *opaque;
	size_t nopaque;
	uint64_t pidns;
	char boot[40];
};

/* ---- output ---------------------------------------------------------------------- */

static void
out_line(const struct sweep_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
out_line(const struct sweep_opts *o, const char *fmt, ...)
{
	char line[2048], esc[4096];
	va_list ap;

	if (o->quiet) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* A path with a newline in it must not start a line of its own. */
	rc_esc_text(esc, sizeof(esc), line, strlen(line));
	printf("%s\n", esc);
}

/* ---- what the processes show ------------------------------------------------------ */

static ssize_t
read_file(const char *path, char *buf, size_t len, int *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			*err = errno;
			close(fd);
			return -1;
		}
		if (n == 0 || (got += (size_t)n) == len) {
			break;
		}
	}
	close(fd);
	return (ssize_t)got;
}

static uid_t
real_uid(int pid)
{
	char path[64], buf[2048];
	int err;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	ssize_t n = read_file(path, buf, sizeof(buf) - 1, &err);
	if (n <= 0) {
		return (uid_t)-1;
	}
	buf[n] = '\0';
	const char *u = strstr(buf, "\nUid:");
	return u ? (uid_t)strtoul(u + 5, NULL, 10) : (uid_t)-1;
}

static void
proc_scan(struct proc_view *v)
{
	static const char key[] = RC_SESSION_ENV "=";
	size_t cap_m = 0, cap_o = 0;
	struct stat st;
	int err;
	char *env = malloc(1 << 20);
	DIR *d = opendir("/proc");

	memset(v, 0, sizeof(*v));
	if (stat("/proc/self/ns/pid", &st) == 0) {
		v->pidns = (uint64_t)st.st_ino;
	}
	ssize_t bn = read_file("/proc/sys/kernel/random/boot_id", v->boot, 36, &err);
	v->boot[bn == 36 ? 36 : 0] = '\0';
	if (!env || !d) {
		abort();
	}
	struct dirent *e;
	int self = getpid();
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self) {
			continue;
		}
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
		ssize_t n = read_file(path, env, (1 << 20) - 1, &err);
		if (n < 0) {
			/* Not ours to read: a member only if it is the user's
			 * (a set-user-ID program it runs, a non-dumpable one). */
			if ((err == EACCES || err == EPERM) && real_uid((int)pid) == getuid()) {
				if (v->nopaque == cap_o) {
					cap_o = cap_o ? cap_o * 2 : 16;
					v->opaque = realloc(v->opaque, cap_o * sizeof(*v->opaque));
					if (!v->opaque) {
						abort();
					}
				}
				v->opaque[v->nopaque].pid = (int)pid;
				v->opaque[v->nopaque++].start = rc_proc_start_time_of((int32_t)pid);
			}
			continue;
		}
		env[n] = '\0';
		for (char *p = env; p < env + n; p += strlen(p) + 1) {
			if (strncmp(p, key, sizeof(key) - 1) != 0) {
				continue;
			}
			struct rc_session s;
			if (!rc_session_parse(p + sizeof(key) - 1, &s)) {
				continue;
			}
			if (v->nmembers == cap_m) {
				cap_m = cap_m ? cap_m * 2 : 16;
				v->members = realloc(v->members, cap_m * sizeof(*v->members));
				if (!v->members) {
					abort();
				}
			}
			memcpy(v->members[v->nmembers].id, s.id, sizeof(s.id));
			v->members[v->nmembers++].pid = (int)pid;
		}
	}
	closedir(d);
	free(env);
}

static void
proc_free(struct proc_view *v)
{
	free(v->members);
	free(v->opaque);
}

/* ---- the files of a session ------------------------------------------------------- */

enum file_kind { F_JOURNAL, F_REPORT, F_LEFTOVER };

struct sfile {
	char name[128];
	enum file_kind kind;
	time_t mtime;
};

struct session_files {
	char id[RC_SESSION_ID_LEN + 1];
	struct sfile *f; /* n of them, room for cap (at most MAX_FILES) */
	size_t n, cap;
	bool gathered; /* the launcher wrote its report: it ended */
	time_t newest;
};

static bool
hex_id(const char *s)
{
	for (int i = 0; i < RC_SESSION_ID_LEN; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return s[RC_SESSION_ID_LEN] == '.';
}

/* What rcshim makes in the journal directory, by the part after "<id>."
 * (session.c, gather.c, core/journal.c); -1 for anything else, which is
 * never touched. */
static int
classify(const char *rest, bool *gathered)
{
	const char *q;
	if (!strcmp(rest, "journal")) {
		return F_JOURNAL;
	}
	if (rest[0] == 'p' && (q = cli_digits(rest + 1)) && !strcmp(q, ".journal")) {
		return F_JOURNAL;
	}
	if ((q = cli_digits(rest)) && !strcmp(q, ".report")) {
		return F_REPORT;
	}
	if (!strcmp(rest, "quiet.report")) {
		return F_REPORT; /* the processes' shared one (cli/records.c) */
	}
	if (!strcmp(rest, "report.txt") || !strcmp(rest, "report.json")) {
		*gathered = true;
		return F_REPORT;
	}
	/* Temporary names: a journal being created or compacted, a report
	 * being gathered, by a process that was killed meanwhile
	 * ("journal.new.<pid>", "p<pid>.journal.compact.<pid>"). */
	const char *j = rest;
	if (rest[0] == 'p' && (q = cli_digits(rest + 1)) && *q == '.') {
		j = q + 1;
	}
	if (!strncmp(j, "journal.new.", 12) && (q = cli_digits(j + 12)) && !*q) {
		return F_LEFTOVER;
	}
	if (!strncmp(j, "journal.compact.", 16) && (q = cli_digits(j + 16)) && !*q) {
		return F_LEFTOVER;
	}
	if (!strcmp(rest, "report.txt.tmp") || !strcmp(rest, "report.json.tmp")) {
		return F_LEFTOVER;
	}
	return -1;
}

/* The session with id @id among @v's @n, by a table of indices hashed on
 * the id (random hex): a directory holds a report per run, hundreds of
 * sessions, which a search along the list compared each file against. */
struct session_index {
	size_t *slot; /* index + 1; 0 free */
	size_t mask;
};

static size_t
id_hash(const char *id)
{
	size_t h = 0;
	for (int i = 0; i < 16; i++) {
		h = h * 16 + (size_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
	}
	return h;
}

/* Where @id's index is, or the free slot it would take. */
static size_t *
index_find(const struct session_index *x, const struct session_files *v, const char *id)
{
	size_t i = id_hash(id) & x->mask;
	while (x->slot[i] && strncmp(v[x->slot[i] - 1].id, id, RC_SESSION_ID_LEN)) {
		i = (i + 1) & x->mask;
	}
	return &x->slot[i];
}

/* Room for @n + 1 sessions at most half full. */
static void
index_grow(struct session_index *x, const struct session_files *v, size_t n)
{
	if (x->slot && (n + 1) * 2 <= x->mask + 1) {
		return;
	}
	size_t size = x->slot ? (x->mask + 1) * 2 : 64;
	free(x->slot);
	x->slot = calloc(size, sizeof(*x->slot));
	if (!x->slot) {
		abort();
	}
	x->mask = size - 1;
	for (size_t i = 0; i < n; i++) {
		*index_find(x, v, v[i].id) = i + 1;
	}
}

static void
free_sessions(struct session_files *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].f);
	}
	free(v);
}

/* Groups the directory's files by session. */
static size_t
list_sessions(int dfd, struct session_files **out)
{
	size_t n = 0, cap = 0;
	struct session_files *v = NULL;
	struct session_index x = { NULL, 0 };
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0) {
			close(fd);
		}
		*out = NULL;
		return 0;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		bool gathered = false;
		if (!hex_id(e->d_name) || strlen(e->d_name) >= sizeof(v->f[0].name)) {
			continue;
		}
		int k = classify(e->d_name + RC_SESSION_ID_LEN + 1, &gathered);
		/* Only regular files of this user's, not followed. */
		if (k < 0 || fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
			continue;
		}
		index_grow(&x, v, n);
		size_t *at = index_find(&x, v, e->d_name);
		if (!*at) {
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				v = realloc(v, cap * sizeof(*v));
				if (!v) {
					abort();
				}
			}
			memset(&v[n], 0, sizeof(v[n]));
			memcpy(v[n].id, e->d_name, RC_SESSION_ID_LEN);
			*at = ++n;
		}
		struct session_files *s = &v[*at - 1];
		if (s->n == MAX_FILES) {
			continue; /* the rest at the next sweep */
		}
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 2;
			s->f = realloc(s->f, s->cap * sizeof(*s->f));
			if (!s->f) {
				abort();
			}
		}
		snprintf(s->f[s->n].name, sizeof(s->f[0].name), "%s", e->d_name);
		s->f[s->n].kind = (enum file_kind)k;
		s->f[s->n].mtime = st.st_mtime;
		s->n++;
		s->gathered |= gathered;
		if (st.st_mtime > s->newest) {
			s->newest = st.st_mtime;
		}
	}
	closedir(d);
	free(x.slot);
	*out = v;
	return n;
}

/* ---- judging ------------------------------------------------------------------------ */

/* V_REPORTS: over, with only its processes' reports left (judge). */
enum verdict { V_OVER, V_LIVE, V_UNKNOWN, V_REPORTS };

/* The S line of the session's journals, if any.  0 found, else -1. */
static int
session_line(int dfd, const struct session_files *s, struct rc_jline *sl, char *boot,
	     size_t blen)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->f[i].kind != F_JOURNAL) {
			continue;
		}
		int fd = openat(dfd, s->f[i].name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			continue;
		}
		int r = rc_journal_session_line(fd, sl, boot, blen);
		close(fd);
		if (r == 0) {
			return 0;
		}
	}
	return -1;
}

static enum verdict
judge(int dfd, const struct session_files *s, const struct proc_view *pv, char *why,
      size_t len)
{
	struct rc_jline sl;
	char boot[40];
	bool journal = false;

	for (size_t i = 0; i < pv->nmembers; i++) {
		if (!strcmp(pv->members[i].id, s->id)) {
			snprintf(why, len, "process %d is a member", pv->members[i].pid);
			return V_LIVE;
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		journal |= s->f[i].kind == F_JOURNAL;
	}
	if (!journal) {
		if (s->gathered) {
			snprintf(why, len, "its launcher gathered its report");
			return V_OVER;
		}
		/* Only its processes' reports, and no member: its launcher
		 * ended (killed) before it gathered them, and a sweep has
		 * replayed its journal.  Over: the reports go when they are
		 * older than --keep-reports (sweep_session), as with a
		 * journal. */
		bool reports = s->n > 0;
		for (size_t i = 0; i < s->n; i++) {
			reports &= s->f[i].kind == F_REPORT;
		}
		if (reports) {
			snprintf(why, len, "no journal is left and its processes' reports were "
					   "never gathered");
			return V_REPORTS;
		}
		snprintf(why, len, "no journal says who its root was");
		return V_UNKNOWN;
	}
	if (session_line(dfd, s, &sl, boot, sizeof(boot)) < 0) {
		snprintf(why, len, "its journal has no session line (an older rcshim wrote it)");
		return V_UNKNOWN;
	}
	if (pv->boot[0] && strcmp(boot, "-") && strcmp(boot, pv->boot)) {
		snprintf(why, len, "the machine has restarted since it began");
		return V_OVER;
	}
	if (sl.ino == 0) {
		snprintf(why, len, "its root, pid %d, was not visible to the process that wrote "
				   "the journal (another PID namespace)", sl.pid);
		return V_UNKNOWN;
	}
	if (sl.ino != pv->pidns) {
		snprintf(why, len, "its root, pid %d, ran in another PID namespace "
				   "(pid:[%llu])", sl.pid, (unsigned long long)sl.ino);
		return V_UNKNOWN;
	}
	if (rc_proc_start_time_of(sl.pid) == sl.dev) {
		snprintf(why, len, "its root, pid %d, runs", sl.pid);
		return V_LIVE;
	}
	for (size_t i = 0; i < pv->nopaque; i++) {
		if (pv->opaque[i].start >= sl.dev) {
			snprintf(why, len, "process %d of this user started after it and its "
					   "environment cannot be read", pv->opaque[i].pid);
			return V_UNKNOWN;
		}
	}
	snprintf(why, len, "its root, pid %d, and every member are gone", sl.pid);
	return V_OVER;
}

/* ---- sweeping a directory ------------------------------------------------------------ */

struct note_ctx {
	const struct sweep_opts *o;
	struct sweep_totals *t;
};

static void
note(void *ctx, enum rc_replay_what what, int err, const char *path, const char *why)
{
	struct note_ctx *c = ctx;
	switch (what) {
	case RC_REPLAY_REMOVED:
		out_line(c->o, "  %s %s", c->o->dry ? "would remove" : "removed", path);
		c->t->removed++;
		break;
	case RC_REPLAY_CHANGED:
		out_line(c->o, "  left alone (the name now names something else): %s", path);
		c->t->kept++;
		break;
	case RC_REPLAY_FAILED:
		out_line(c->o, "  could not remove %s: %s", path, strerror(err));
		c->t->failed++;
		break;
	case RC_REPLAY_REFUSED:
		out_line(c->o, "  journal line refused (nothing removed for it): %s%s(%s)",
			 path ? path : "", path && *path ? " " : "", why ? why : "refused");
		break;
	default:
		break;
	}
}

static void
sweep_session(int dfd, const char *dir, const struct session_files *s,
	      const struct proc_view *pv, const struct sweep_opts *o, struct sweep_totals *t)
{
	char why[256];
	time_t now = time(NULL);
	enum verdict v = judge(dfd, s, pv, why, sizeof(why));

	if (v == V_LIVE) {
		out_line(o, "session %s: live (%s): left alone", s->id, why);
		t->live++;
		return;
	}
	if (v == V_UNKNOWN) {
		out_line(o, "session %s: cannot be judged (%s): left alone", s->id, why);
		t->unjudged++;
		return;
	}
	if (now - s->newest < o->older_than) {
		return; /* over, but younger than asked */
	}
	long keep = o->keep_reports > o->older_than ? o->keep_reports : o->older_than;
	/* Nothing to do until its reports are old enough; and never within
	 * a minute of the last one: a launcher replays its journals before
	 * it gathers the reports, so a session that ended just now may be
	 * one whose launcher is reading them. */
	if (v == V_REPORTS && now - s->newest < (keep > 60 ? keep : 60)) {
		return;
	}
	t->over++;
	out_line(o, "session %s in %s: over (%s)", s->id, dir, why);
	struct note_ctx c = { o, t };
	for (size_t i = 0; i < s->n; i++) {
		if (s->f[i].kind != F_JOURNAL) {
			continue;
		}
		struct rcshim_result res;
		rc_result_init(&res);
		int r = rc_journal_replay_ex(dfd, s->f[i].name, &res, true, o->dry, note, &c);
		if (r < 0 && r != -ENOENT) {
			out_line(o, "  could not replay the journal %s/%s: %s; it is left there", dir,
				 s->f[i].name, strerror(-r));
			t->errors++;
			continue;
		}
		out_line(o, "  %s journal %s/%s", o->dry ? "would remove" : "removed", dir,
			 s->f[i].name);
		t->journals++;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct sfile *f = &s->f[i];
		if (f->kind == F_JOURNAL || (f->kind == F_REPORT && now - f->mtime < keep)) {
			continue;
		}
		if (!o->dry && unlinkat(dfd, f->name, 0) < 0 && errno != ENOENT) {
			out_line(o, "  could not remove %s/%s: %s", dir, f->name, strerror(errno));
			t->errors++;
			continue;
		}
		out_line(o, "  %s %s %s/%s", o->dry ? "would remove" : "removed",
			 f->kind == F_REPORT ? "report" : "leftover", dir, f->name);
		t->reports += f->kind == F_REPORT;
	}
}

/* A journal directory of this user's: private, not a symlink.  With @own_id
 * (a fresh /tmp/rcshim-UID.<id> made for one session), removed when that
 * session is over and nothing else is in it. */
static void
sweep_dir(const char *dir, const struct proc_view *pv, const struct sweep_opts *o,
	  struct sweep_totals *t, bool fallback)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		return;
	}
	if (rc_private_dir_check(dfd) < 0) {
		out_line(o, "%s is not a private directory of this user: left alone", dir);
		close(dfd);
		return;
	}
	struct session_files *s;
	size_t n = list_sessions(dfd, &s);
	for (size_t i = 0; i < n; i++) {
		sweep_session(dfd, dir, &s[i], pv, o, t);
	}
	free_sessions(s, n);
	close(dfd);
	if (fallback && !o->dry && rmdir(dir) == 0) {
		/* Empty: only ever removed when nothing is left in it. */
		out_line(o, "removed the empty journal directory %s", dir);
	}
}

/* /tmp/rcshim-UID.<32 hex>: the directories of sessions whose usual one
 * was squatted (core/session.c). */
static void
sweep_fallbacks(const struct proc_view *pv, const struct sweep_opts *o, struct sweep_totals *t)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "rcshim-%u.", (unsigned)geteuid());
	DIR *d = opendir("/tmp");
	if (!d) {
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t pl = strlen(prefix);
		if (strncmp(e->d_name, prefix, pl) || strlen(e->d_name) != pl + RC_SESSION_ID_LEN) {
			continue;
		}
		char path[300];
		snprintf(path, sizeof(path), "/tmp/%s", e->d_name);
		sweep_dir(path, pv, o, t, true);
	}
	closedir(d);
}

/* The user's journal directories: $XDG_RUNTIME_DIR/rcshim (else
 * /run/user/UID/rcshim), /tmp/rcshim-UID, and the fallbacks. */
static void
sweep_user(const struct sweep_opts *o, struct sweep_totals *t)
{
	struct proc_view pv;
	proc_scan(&pv);
	if (o->ndirs) {
		for (size_t i = 0; i < o->ndirs; i++) {
			sweep_dir(o->dirs[i], &pv, o, t, false);
		}
		proc_free(&pv);
		return;
	}
	char a[RC_SESSION_DIR_MAX + 16] = "", b[64];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && xdg[0] == '/' && !o->all_users) {
		snprintf(a, sizeof(a), "%s/rcshim", xdg);
	} else {
		snprintf(a, sizeof(a), "/run/user/%u/rcshim", (unsigned)geteuid());
	}
	snprintf(b, sizeof(b), "/tmp/rcshim-%u", (unsigned)geteuid());
	sweep_dir(a, &pv, o, t, false);
	sweep_dir(b, &pv, o, t, false);
	sweep_fallbacks(&pv, o, t);
	proc_free(&pv);
}

/* ---- every user (root) ---------------------------------------------------------------- */

static void
add_uid(uid_t **v, size_t *n, uid_t u)
{
	for (size_t i = 0; i < *n; i++) {
		if ((*v)[i] == u) {
			return;
		}
	}
	*v = realloc(*v, (*n + 1) * sizeof(**v));
	if (!*v) {
		abort();
	}
	(*v)[(*n)++] = u;
}

/* The owners of journal directories: /run/user/UID/rcshim, /tmp/rcshim-UID*. */
static size_t
owners(uid_t **out)
{
	uid_t *v = NULL;
	size_t n = 0;
	struct stat st;
	DIR *d = opendir("/run/user");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[300];
		snprintf(path, sizeof(path), "/run/user/%s/rcshim", e->d_name);
		if (e->d_name[0] != '.' && lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			add_uid(&v, &n, st.st_uid);
		}
	}
	if (d) {
		closedir(d);
	}
	d = opendir("/tmp");
	while (d && (e = readdir(d))) {
		char path[300];
		snprintf(path, sizeof(path), "/tmp/%s", e->d_name);
		if (!strncmp(e->d_name, "rcshim-", 7) && lstat(path, &st) == 0 &&
		    S_ISDIR(st.st_mode)) {
			add_uid(&v, &n, st.st_uid);
		}
	}
	if (d) {
		closedir(d);
	}
	*out = v;
	return n;
}

/* Each user's sessions by a process of that user's (root never follows a
 * path another user controls), with that user's home for the root checks. */
static int
sweep_as(uid_t uid, const struct sweep_opts *o, struct sweep_totals *t)
{
	struct passwd *pw = getpwuid(uid);
	int pfd[2];
	if (uid == 0) {
		sweep_user(o, t);
		return 0;
	}
	if (!pw) {
		out_line(o, "user %u has no password entry: its sessions are left alone",
			 (unsigned)uid);
		return 0;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
		    setuid(uid) < 0 || setuid(0) == 0) {
			_exit(CLI_EXIT_FAILED);
		}
		setenv("HOME", pw->pw_dir, 1);
		rc_tmp_roots_set(NULL, 0, pw->pw_dir, false);
		struct sweep_totals mine = { 0 };
		sweep_user(o, &mine);
		fflush(NULL);
		ssize_t w = write(pfd[1], &mine, sizeof(mine));
		_exit(w == (ssize_t)sizeof(mine) ? 0 : 1);
	}
	close(pfd[1]);
	struct sweep_totals mine;
	ssize_t r;
	while ((r = read(pfd[0], &mine, sizeof(mine))) < 0 && errno == EINTR) {
	}
	close(pfd[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	if (r != (ssize_t)sizeof(mine)) {
		out_line(o, "could not sweep as user %s (%u)", pw->pw_name, (unsigned)uid);
		t->errors++;
		return 0;
	}
	t->over += mine.over;
	t->live += mine.live;
	t->unjudged += mine.unjudged;
	t->removed += mine.removed;
	t->journals += mine.journals;
	t->reports += mine.reports;
	t->kept += mine.kept;
	t->failed += mine.failed;
	t->errors += mine.errors;
	return 0;
}

/* ---- the command ----------------------------------------------------------------------- */

/* "90", "90s", "10m", "2h", "7d": seconds, or -1. */
long
cli_parse_age(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0) {
		return -1;
	}
	double mul = 1;
	if (*end == 's') {
		end++;
	} else if (*end == 'm') {
		mul = 60, end++;
	} else if (*end == 'h') {
		mul = 3600, end++;
	} else if (*end == 'd') {
		mul = 86400, end++;
	}
	if (*end || v * mul > 1e12) {
		return -1;
	}
	return (long)(v * mul);
}

int
cli_sweep(int argc, char **argv)
{
	struct sweep_opts o = { .keep_reports = KEEP_REPORTS_S };
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "older-than", required_argument, NULL, 'o' },
		{ "keep-reports", required_argument, NULL, 'k' },
		{ "all-users", no_argument, NULL, 'a' },
		{ "dir", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	opterr = 0;
	optind = 0;
	for (;;) {
		int c = getopt_long(argc, argv, "+:nq", longopts, NULL);
		if (c == -1) {
			break;
		}
		switch (c) {
		case 'n':
			o.dry = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'a':
			o.all_users = true;
			break;
		case 'o':
		case 'k': {
			long v = cli_parse_age(optarg);
			if (v < 0) {
				return cli_usage_error("sweep: '%s' is not an age (90, 90s, 10m, 2h, "
						       "7d)", optarg);
			}
			*(c == 'o' ? &o.older_than : &o.keep_reports) = v;
			break;
		}
		case 'd':
			if (optarg[0] != '/' || o.ndirs == sizeof(o.dirs) / sizeof(o.dirs[0])) {
				return cli_usage_error("sweep: --dir needs an absolute path");
			}
			o.dirs[o.ndirs++] = optarg;
			break;
		case ':':
			return cli_usage_error("sweep: option '%s' needs an argument",
					       argv[optind - 1]);
		default:
			return cli_usage_error("sweep: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		return cli_usage_error("sweep: unexpected argument '%s'", argv[optind]);
	}
	if (o.all_users && geteuid() != 0) {
		cli_msg("sweep: --all-users needs root");
		return 1;
	}
	if (o.all_users && o.ndirs) {
		return cli_usage_error("sweep: --all-users and --dir go not together");
	}
	rc_tmp_roots_set(NULL, 0, getenv("HOME"), false);

	struct sweep_totals t = { 0 };
	if (o.all_users) {
		uid_t *u;
		size_t n = owners(&u);
		for (size_t i = 0; i < n; i++) {
			if (sweep_as(u[i], &o, &t) < 0) {
				t.errors++;
			}
		}
		free(u);
	} else {
		sweep_user(&o, &t);
	}
	const char *verb = o.dry ? "would remove" : "removed";
	out_line(&o, "sweep: %u sessions over, %u live, %u could not be judged; %s %llu temp %s, "
		     "%llu journals, %llu reports (%llu left alone, %llu could not be removed)",
		 t.over, t.live, t.unjudged, verb, (unsigned long long)t.removed,
		 cli_things(t.removed), (unsigned long long)t.journals,
		 (unsigned long long)t.reports, (unsigned long long)t.kept,
		 (unsigned long long)t.failed);
	return fflush(stdout) == 0 && !t.errors && !t.failed ? 0 : 1;
}

/* ---- the launcher's background sweep ------------------------------------------------ */

#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13

/* Whether the last background sweep of @dir began less than
 * CLI_SWEEP_EVERY_S ago (its stamp's time); if not, the stamp is set now.
 * Only sessions over for a minute are swept: a sweep at every start of a
 * build's or a test suite's thousand launchers found nothing new, and
 * cost each a process reading every journal and /proc (30 ms of CPU here
 * with 300 files in the directory).  The stamp is an empty file of ours
 * in our private directory, never followed through a link; one we cannot
 * read or make means a sweep, as before. */
static bool
swept_lately(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		return false;
	}
	struct stat st;
	time_t now = time(NULL);
	bool lately = fstatat(dfd, CLI_SWEEP_STAMP, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		      S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
		      st.st_mtime <= now && now - st.st_mtime < CLI_SWEEP_EVERY_S;
	if (!lately) {
		int fd = openat(dfd, CLI_SWEEP_STAMP,
				O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
		if (fd >= 0) {
			futimens(fd, NULL);
			close(fd);
		}
	}
	close(dfd);
	return lately;
}

pid_t
cli_sweep_background(const char *self_exe, const char *dir, const sigset_t *mask)
{
	if (!dir[0] || !self_exe[0] || swept_lately(dir)) {
		return -1;
	}
	pid_t pid = fork();
	if (pid != 0) {
		return pid;
	}
	/* Nothing of the launcher's: the original mask, quiet output, the
	 * lowest priorities, and a deadline. */
	sigprocmask(SIG_SETMASK, mask, NULL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	setpriority(PRIO_PROCESS, 0, 19);
	syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0,
		IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT);
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
	}
	alarm(CLI_SWEEP_DEADLINE_S);
	char *argv[] = { "rcshim", "sweep", "--quiet", "--older-than", "60", "--dir",
			 (char *)dir, NULL };
	execv(self_exe, argv);
	_exit(CLI_EXIT_NOEXEC);
}
