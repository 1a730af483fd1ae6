/* Temp artifacts: at the end, the session journal is replayed by its owner
 * and the records of this process that the journal does not cover are
 * removed; at scope end, the scope's records. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "clean/journal.h"
#include "core/journal.h"
#include "core/roots.h"
#include "clean/rmtree.h"
#include "clean/step.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/session.h"
#include "core/state.h"
#include "core/sys.h"

/* Whether any fd of this process, whoever opened it, refers to (dev, ino):
 * the fd table knows only the fds the shim saw open with an identity. */
static bool
open_anywhere(uint64_t dev, uint64_t ino)
{
	char buf[4096];
	bool found = false;
	int dfd = rc_sys_openat(AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dfd < 0) {
		return true; /* cannot tell: assume it is in use */
	}
	long n;
	while (!found && (n = rc_sys_getdents64(dfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n && !found;) {
			struct linux_dirent64 {
				uint64_t d_ino;
				int64_t d_off;
				unsigned short d_reclen;
				unsigned char d_type;
				char d_name[];
			} *d = (void *)(buf + off);
			off += d->d_reclen;
			int fd = 0;
			const char *p = d->d_name;
			if (*p < '0' || *p > '9') {
				continue;
			}
			while (*p >= '0' && *p <= '9') {
				fd = fd * 10 + (*p++ - '0');
			}
			struct stat st;
			if (fd != dfd && rc_sys_fstat(fd, &st) == 0 &&
			    (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino) {
				found = true;
			}
		}
	}
	rc_sys_close(dfd);
	return found;
}

int
rc_temp_remove(const struct rc_record *r)
{
	bool dir = r->flags & RC_REC_DIR;
	if (r->sub == RC_ROOT_NONE) {
		/* Registered through the API: its own path, no component
		 * of which is followed if it is a symlink. */
		return dir ? rc_rmtree(r->path, r->dev, r->ino, NULL)
			   : rc_unlink_checked(r->path, r->dev, r->ino);
	}
	/* From the root's fd, checked, by the single name (DESIGN §5). */
	const struct rc_root *root = rc_tmp_root(r->sub);
	size_t rl = root ? strlen(root->path) : 0;
	if (!root || strncmp(r->path, root->path, rl) != 0 || r->path[rl] != '/') {
		return -ESTALE;
	}
	int fd = rc_root_open(root->path, root->dev, root->ino);
	if (fd < 0) {
		return fd == -ENOENT ? -ESTALE : fd;
	}
	const char *name = r->path + rl + 1;
	int rc = dir ? rc_rmtree_at(fd, name, r->dev, r->ino, NULL)
		     : rc_unlink_at(fd, name, r->dev, r->ino);
	rc_sys_close(fd);
	return rc == -EISDIR ? -ESTALE : rc;
}

/* Live LOW with RCSHIM_TMP_IDLE: temp files that nobody has open and that
 * nobody has read, written or changed for that long are removed. */
static void
remove_idle(const struct rc_step_ctx *ctx)
{
	struct rc_step_match m = { RCSHIM_KIND_TEMP, ctx->pid, 0, 0, RC_REC_DIR };
	struct rc_record *list;
	struct timespec now;

	if (!rc_cfg.tmp_idle_s) {
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	size_t n = rc_reg_collect(rc_step_match, &m, false, &list);
	for (size_t i = 0; i < n; i++) {
		struct rc_record *r = &list[i];
		struct stat st;
		if (rc_sys_fstatat(AT_FDCWD, r->path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (uint32_t)st.st_dev != r->dev || (uint64_t)st.st_ino != r->ino) {
			continue;
		}
		time_t last = st.st_atime;
		if (st.st_mtime > last) {
			last = st.st_mtime;
		}
		if (st.st_ctime > last) {
			last = st.st_ctime;
		}
		if (now.tv_sec - last < (time_t)rc_cfg.tmp_idle_s || open_anywhere(r->dev, r->ino)) {
			continue;
		}
		int rc = rc_temp_remove(r);
		rc_result_count_temp(ctx->res, rc, r->path);
		if (rc == 0) {
			rc_result_add(ctx->res, RCSHIM_KIND_TEMP, 0, 0, 0, (uint64_t)st.st_size);
			if (rc_reg_take_path(r->path, NULL) && (r->flags & RC_REC_JOURNALED)) {
				rc_journal_append('-', false, r->dev, r->ino, r->sub, r->path);
			}
		}
	}
	rc_reg_free_list(list, n);
}

void
rc_step_temp(const struct rc_step_ctx *ctx)
{
	bool whole = ctx->req->scope == 0;
	bool owner = whole && rc_session_owner();
	bool replayed = false;

	if (!rc_step_final(ctx)) {
		remove_idle(ctx);
		return;
	}
	/* The journal holds the whole session's artifacts (or this process's,
	 * in process mode): replayed by its owner when it ends. */
	if (owner) {
		int r = rc_journal_replay_own(ctx->res, true);
		if (r == -EACCES || r == -EPERM) {
			/* The process changed its user (setpriv, su): the
			 * journal is out of its reach, and not its own any more. */
			rc_info("the session journal is out of reach (error %d)", -r);
		} else if (r < 0 && r != -ENOENT) {
			rc_warn("could not read the session journal (error %d)", -r);
		}
		replayed = r == 0 || r == -ENOENT;
	}

	/* Then the records.  A scope's artifacts go at its end (the journal
	 * is told).  At the end of the process: after a replay, the records
	 * the journal does not cover (a write to it failed), which only this
	 * process knows about.  A member of a session leaves the session's
	 * artifacts to its owner (`d=$(mktemp -d)` outlives mktemp), even
	 * those it could not journal: a leak, not a loss; only what it
	 * registered itself and the journal does not cover is its own. */
	struct rc_step_match m = { RCSHIM_KIND_TEMP, ctx->pid, ctx->req->scope, 0, 0 };
	bool forget_journaled = whole && owner && replayed;
	if (whole && !owner) {
		m.need_flags = RC_REC_REGISTERED;
		m.deny_flags = RC_REC_JOURNALED;
	}
	struct rc_record *list;
	size_t n = rc_reg_collect(rc_step_match, &m, true, &list);
	for (size_t i = 0; i < n; i++) {
		struct rc_record *r = &list[i];
		if (forget_journaled && (r->flags & RC_REC_JOURNALED)) {
			continue; /* the replay took care of it */
		}
		int rc = rc_temp_remove(r);
		rc_result_count_temp(ctx->res, rc, r->path);
		if (rc == 0 && (r->flags & RC_REC_JOURNALED)) {
			rc_journal_append('-', r->flags & RC_REC_DIR, r->dev, r->ino, r->sub, r->path);
		}
	}
	rc_reg_free_list(list, n);
	if (whole) {
		/* What stays for the session's owner, said once. */
		size_t left = rc_reg_count(RCSHIM_KIND_TEMP);
		if (left && !owner) {
			rc_debug("%zu temp artifacts left to the session's owner", left);
		}
	}
}
