/* File descriptors: closed at MEDIUM at the end of a scope and in live
 * CRITICAL, only when fstat still matches the identity recorded at open
 * (streams opened through stdio with fclose, so their buffers are flushed;
 * the crash path closes the bare fd).
 * At process end they are left to the kernel (DESIGN §3): closing them
 * early would lose stdio buffers. */
#include "build-config.h"

#include <fcntl.h>
#include <stdio.h>

#include "clean/custom.h"
#include "clean/step.h"
#include "core/fdtable.h"
#include "core/log.h"
#include "core/state.h"
#include "core/sys.h"

struct fd_close_ctx {
	int32_t pid;
	uint32_t scope;
	bool verified_only;
	bool stdio; /* fclose streams (not async-signal-safe) */
	/* Leave streams alone (a handler: the program goes on, and its FILE
	 * must not be left over a closed fd). */
	bool keep_stdio;
	struct rcshim_result *res;
};

/* "fd 4 /tmp/x.log" (what it names, before it is closed); only while the
 * list of what was reclaimed has room. */
static void
fd_describe(int fd, uint32_t flags, char *what, size_t len)
{
	char link[40], target[128];
	what[0] = '\0';
	if (!rc_reclaimed_room()) {
		return;
	}
	rc_fmt(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = rc_sys_readlinkat(AT_FDCWD, link, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	rc_fmt(what, len, "%s %d %s", flags & RC_FD_STDIO ? "FILE" : "fd", fd, target);
}

static bool
close_one(int fd, const struct rc_fd_entry *e, void *p)
{
	struct fd_close_ctx *c = p;
	uint32_t flags = atomic_load_explicit(&((struct rc_fd_entry *)e)->flags,
					      memory_order_relaxed);

	if (fd <= 2 || e->pid != c->pid || (c->scope && e->scope != c->scope)) {
		return true;
	}
	if (flags & RC_FD_IDENT) {
		struct stat st;
		if (rc_sys_fstat(fd, &st) < 0) {
			/* Closed already, where the shim could not see it (by
			 * SQLite, say, as the engine closed its connection):
			 * nothing to reclaim, nothing left alone. */
			rc_fd_untrack(fd);
			return true;
		}
		if ((uint64_t)st.st_dev != e->dev || (uint64_t)st.st_ino != e->ino) {
			/* The number was reused behind our back. */
			rc_fd_untrack(fd);
			rc_result_add(c->res, RCSHIM_KIND_FD, 0, 0, 1, 0);
			return true;
		}
	} else if (c->verified_only) {
		rc_result_add(c->res, RCSHIM_KIND_FD, 0, 0, 1, 0);
		return true;
	}
	if (c->keep_stdio && (flags & RC_FD_STDIO) && e->aux) {
		rc_result_add(c->res, RCSHIM_KIND_FD, 0, 0, 1, 0);
		return true;
	}
	rc_fd_untrack(fd);
	char what[160];
	fd_describe(fd, flags, what, sizeof(what));
	if (c->stdio && (flags & RC_FD_STDIO) && e->aux) {
		/* A stream opened through stdio: its buffer is the program's
		 * data, and its FILE would dangle over a closed fd.  Flushed
		 * and closed; fclose fails only when the flush did. */
		if (fclose((FILE *)(uintptr_t)e->aux) == 0) {
			rc_result_add(c->res, RCSHIM_KIND_FD, 1, 0, 0, 0);
			rc_reclaimed_add(RCSHIM_KIND_FD, "%s", what);
		} else {
			rc_result_add(c->res, RCSHIM_KIND_FD, 0, 1, 0, 0);
		}
		return true;
	}
	if (rc_sys_close(fd) == 0) {
		rc_result_add(c->res, RCSHIM_KIND_FD, 1, 0, 0, 0);
		rc_reclaimed_add(RCSHIM_KIND_FD, "%s", what);
	} else {
		rc_result_add(c->res, RCSHIM_KIND_FD, 0, 1, 0, 0);
	}
	return true;
}

void
rc_close_owned_fds(int32_t pid, uint32_t scope, bool verified_only,
		   struct rcshim_result *res)
{
	struct fd_close_ctx c = { pid, scope, verified_only, false, false, res };
	rc_fd_foreach(close_one, &c);
}

struct advise_ctx {
	int32_t pid;
	struct rcshim_result *res;
};

/* Drops the page cache of files the program only reads: it reads them
 * back from disk if it needs them, nothing is lost. */
static bool
advise_one(int fd, const struct rc_fd_entry *e, void *p)
{
	struct advise_ctx *c = p;
	uint32_t flags = atomic_load_explicit(&((struct rc_fd_entry *)e)->flags,
					      memory_order_relaxed);
	if (fd <= 2 || e->pid != c->pid || !(flags & RC_FD_RDONLY)) {
		return true;
	}
	if (rc_sys(SYS_fadvise64, fd, 0, 0, POSIX_FADV_DONTNEED, 0, 0) == 0) {
		rc_result_add(c->res, RCSHIM_KIND_FD, 1, 0, 0, 0);
	}
	return true;
}

struct left_ctx {
	int32_t pid;
	uint32_t scope;
	uint64_t n;
};

static bool
count_left(int fd, const struct rc_fd_entry *e, void *p)
{
	struct left_ctx *c = p;
	if (fd > 2 && e->pid == c->pid && (!c->scope || e->scope == c->scope)) {
		c->n++;
	}
	return true;
}

void
rc_step_fd(const struct rc_step_ctx *ctx)
{
	const struct rc_clean_req *req = ctx->req;

	if (req->prio < RCSHIM_MEDIUM) {
		return;
	}
	if (req->mode == RC_MODE_LIVE && req->prio == RCSHIM_HIGH) {
		struct advise_ctx c = { ctx->pid, ctx->res };
		rc_fd_foreach(advise_one, &c);
		return;
	}
	if (req->scope || (req->mode == RC_MODE_LIVE && req->prio == RCSHIM_CRITICAL)) {
		if (rc_runtime_leaves(req, RCSHIM_KIND_FD)) {
			/* The runtime's objects own them (the Python binding
			 * releases its files through Python): closing one under
			 * its object would let that object close a number that
			 * by then names another file.  They pass on. */
			struct left_ctx l = { ctx->pid, req->scope, 0 };
			rc_fd_foreach(count_left, &l);
			rc_result_add(ctx->res, RCSHIM_KIND_FD, 0, 0, l.n, 0);
			return;
		}
		/* In a signal handler (no worker), streams are left open:
		 * fclose is not async-signal-safe. */
		bool in_handler = rc_self.signal_safe;
		struct fd_close_ctx c = { ctx->pid, req->scope, true, !in_handler, in_handler,
					  ctx->res };
		rc_fd_foreach(close_one, &c);
	}
}
