#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>

#include "clean/engine.h"
#include "clean/journal.h"
#include "clean/rmtree.h"
#include "core/journal.h"
#include "core/log.h"
#include "core/roots.h"
#include "core/session.h"
#include "core/sys.h"

#define MAX_ROOTS 64

struct root {
	const char *path; /* the R line's, canonical */
	size_t len;
	uint64_t dev, ino;
	int fd;
};

struct replay {
	struct rcshim_result *res;
	rc_replay_note note;
	void *ctx;
	struct root roots[MAX_ROOTS];
	size_t nroots;
	char *canon; /* PATH_MAX scratch */
	unsigned refused_said;
	bool dry;
};

static void
tell(struct replay *p, enum rc_replay_what what, int err, const char *path, const char *why)
{
	switch (what) {
	case RC_REPLAY_REMOVED:
		rc_result_add(p->res, RCSHIM_KIND_TEMP, 1, 0, 0, 0);
		rc_reclaimed_add(RCSHIM_KIND_TEMP, "%s", path ? path : "?");
		break;
	case RC_REPLAY_GONE:
		break;
	case RC_REPLAY_CHANGED:
		rc_result_add(p->res, RCSHIM_KIND_TEMP, 0, 0, 1, 0);
		break;
	case RC_REPLAY_FAILED:
		rc_result_add(p->res, RCSHIM_KIND_TEMP, 0, 1, 0, 0);
		break;
	case RC_REPLAY_REFUSED:
		rc_result_add(p->res, RCSHIM_KIND_TEMP, 0, 0, 1, 0);
		break;
	}
	if (p->note) {
		p->note(p->ctx, what, err, path, why);
		return;
	}
	/* rc_log escapes the line: a path may hold any byte. */
	const char *esc = path ? path : "";
	switch (what) {
	case RC_REPLAY_CHANGED:
		rc_info("left alone: %s now names something else", esc);
		break;
	case RC_REPLAY_FAILED:
		rc_info("could not remove %s (error %d)", esc, err);
		break;
	case RC_REPLAY_REFUSED:
		/* A journal only rcshim writes: a refused line is worth
		 * a warning, but a flood of them is not. */
		if (p->refused_said++ < 8) {
			rc_warn("journal line refused (%s): %s", why, esc);
		}
		break;
	default:
		break;
	}
}

static void
accept_root(struct replay *p, const struct rc_jline *l)
{
	struct stat st;
	const char *why;

	for (size_t i = 0; i < p->nroots; i++) {
		if (p->roots[i].dev == l->dev && p->roots[i].ino == l->ino &&
		    !strcmp(p->roots[i].path, l->path)) {
			return; /* the same root again */
		}
	}
	if (p->nroots >= MAX_ROOTS) {
		tell(p, RC_REPLAY_REFUSED, 0, l->path, "too many temp roots");
		return;
	}
	int r = rc_root_check(l->path, rc_tmp_home(), p->canon, PATH_MAX, &st, &why);
	if (r == 0 && strcmp(p->canon, l->path) != 0) {
		r = -EINVAL;
		why = "it is not the canonical path of the root";
	}
	if (r == 0 && ((uint64_t)st.st_dev != l->dev || (uint64_t)st.st_ino != l->ino)) {
		r = -ESTALE;
		why = "the root is another directory now";
	}
	int fd = r == 0 ? rc_root_open(l->path, l->dev, l->ino) : -1;
	if (r == 0 && fd < 0) {
		r = fd;
		why = "the root could not be opened";
	}
	if (r < 0) {
		tell(p, RC_REPLAY_REFUSED, -r, l->path, why);
		return;
	}
	p->roots[p->nroots++] = (struct root){ l->path, strlen(l->path), l->dev, l->ino, fd };
}

static void
replay_line(struct replay *p, const struct rc_jline *l)
{
	const char *slash = strrchr(l->path, '/');
	const char *name = slash ? slash + 1 : "";
	size_t plen = slash ? (size_t)(slash - l->path) : 0;
	const struct root *root = NULL;

	for (size_t i = 0; i < p->nroots && !root; i++) {
		if (p->roots[i].len == plen && !memcmp(p->roots[i].path, l->path, plen)) {
			root = &p->roots[i];
		}
	}
	if (!root) {
		tell(p, RC_REPLAY_REFUSED, 0, l->path, "not directly inside an accepted temp root");
		return;
	}
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
		tell(p, RC_REPLAY_REFUSED, 0, l->path, "not a single name");
		return;
	}
	int rc;
	if (p->dry) {
		/* What removal would find first: the name, not followed,
		 * with the recorded identity and type. */
		struct stat st;
		rc = rc_sys_fstatat(root->fd, name, &st, AT_SYMLINK_NOFOLLOW);
		if (rc == 0 && ((uint64_t)st.st_dev != l->dev || (uint64_t)st.st_ino != l->ino ||
				(l->type == 'd') != S_ISDIR(st.st_mode))) {
			rc = -ESTALE;
		}
	} else if (l->type == 'd') {
		struct rc_rm_stats rs = { 0 };
		rc = rc_rmtree_at(root->fd, name, l->dev, l->ino, &rs);
	} else {
		rc = rc_unlink_at(root->fd, name, l->dev, l->ino);
		if (rc == -EISDIR) {
			rc = -ESTALE; /* recorded as a file: a directory is something else */
		}
	}
	if (rc == 0) {
		tell(p, RC_REPLAY_REMOVED, 0, l->path, NULL);
	} else if (rc == -ENOENT) {
		tell(p, RC_REPLAY_GONE, 0, l->path, NULL);
	} else if (rc == -ESTALE) {
		tell(p, RC_REPLAY_CHANGED, 0, l->path, NULL);
	} else {
		tell(p, RC_REPLAY_FAILED, -rc, l->path, NULL);
	}
}

int
rc_journal_replay(int dirfd, const char *name, struct rcshim_result *res, bool remove,
		  rc_replay_note note, void *ctx)
{
	return rc_journal_replay_ex(dirfd, name, res, remove, false, note, ctx);
}

int
rc_journal_replay_ex(int dirfd, const char *name, struct rcshim_result *res, bool remove,
		     bool dry, rc_replay_note note, void *ctx)
{
	struct stat st;
	struct rc_jview v;
	int fd = rc_sys_openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0) {
		return fd == -ELOOP ? -EPERM : fd;
	}
	int r = rc_sys_fstat(fd, &st);
	if (r == 0 && (!S_ISREG(st.st_mode) ||
		       st.st_uid != (uid_t)rc_sys_geteuid())) {
		r = -EPERM; /* not a journal this user wrote */
	}
	/* Exclusively: no member appends or compacts meanwhile; one that
	 * appends after finds the journal unlinked.  Bounded: the holder may
	 * be the very thread a signal handler replaying now interrupted. */
	for (int i = 0; r == 0 && i < 100; i++) {
		int l = (int)rc_sys(SYS_flock, fd, LOCK_EX | LOCK_NB, 0, 0, 0, 0);
		if (l == 0 || l != -EWOULDBLOCK) {
			break;
		}
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		rc_sys(SYS_nanosleep, &ts, NULL, 0, 0, 0, 0);
	}
	if (r == 0) {
		r = rc_jview_load(fd, &v);
	}
	if (r < 0) {
		rc_sys_close(fd);
		return r;
	}
	struct replay *p = rc_sys_mmap(NULL, sizeof(*p) + PATH_MAX, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == (void *)-1) {
		rc_jview_free(&v);
		rc_sys_close(fd);
		return -ENOMEM;
	}
	p->res = res;
	p->note = note;
	p->ctx = ctx;
	p->canon = (char *)(p + 1);
	p->dry = dry;

	for (size_t i = 0; i < v.n; i++) {
		if (v.lines[i].op == 'R') {
			accept_root(p, &v.lines[i]);
		}
	}
	if (v.bad) {
		char what[64];
		rc_fmt(what, sizeof(what), "%zu lines that are not journal records", v.bad);
		tell(p, RC_REPLAY_REFUSED, 0, "", what);
	}
	/* Newest first: what was made later may lie inside what was made
	 * earlier (a move into an owned directory). */
	for (size_t i = v.n; i-- > 0;) {
		if (v.lines[i].op == '+' && v.lines[i].live) {
			replay_line(p, &v.lines[i]);
		}
	}
	for (size_t i = 0; i < p->nroots; i++) {
		rc_sys_close(p->roots[i].fd);
	}
	rc_sys_munmap(p, sizeof(*p) + PATH_MAX);
	rc_jview_free(&v);
	if (remove && !dry) {
		rc_sys_unlinkat(dirfd, name, 0);
	}
	rc_sys_close(fd);
	return 0;
}

int
rc_journal_replay_own(struct rcshim_result *res, bool remove)
{
	char name[128], path[RC_SESSION_DIR_MAX + 128];
	if (!rc_journal_name(name, sizeof(name))[0]) {
		return -ENOENT;
	}
	/* Most sessions never write a journal: one look at its name says so,
	 * before the directory is opened and checked (four calls). */
	struct stat st;
	if (rc_sys_fstatat(AT_FDCWD, rc_journal_path(path, sizeof(path)), &st,
			   AT_SYMLINK_NOFOLLOW) == -ENOENT) {
		return -ENOENT;
	}
	int dfd = rc_session_dir_open();
	if (dfd < 0) {
		return dfd;
	}
	int r = rc_journal_replay(dfd, name, res, remove, NULL, NULL);
	rc_sys_close(dfd);
	return r;
}
