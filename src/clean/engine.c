#include "build-config.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <string.h>

#include "clean/engine.h"
#include "clean/journal.h"
#include "clean/rmtree.h"
#include "clean/sqlite.h"
#include "core/config.h"
#include "core/fdtable.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/registry.h"
#include "core/session.h"
#include "core/state.h"
#include "core/sys.h"

struct rcshim_result rc_lifetime;
static struct rc_spinlock engine_lock;

void
rc_result_init(struct rcshim_result *res)
{
	memset(res, 0, sizeof(*res));
}

void
rc_result_add(struct rcshim_result *res, int kind, uint64_t cleaned,
	      uint64_t failed, uint64_t skipped, uint64_t bytes)
{
	if (!res || kind < 0 || kind >= RCSHIM_KIND_COUNT) {
		return;
	}
	res->kind[kind].cleaned += cleaned;
	res->kind[kind].failed += failed;
	res->kind[kind].skipped += skipped;
	res->kind[kind].bytes += bytes;
}

void
rc_result_count_temp(struct rcshim_result *res, int rc, const char *path)
{
	switch (rc) {
	case 0:
		rc_result_add(res, RCSHIM_KIND_TEMP, 1, 0, 0, 0);
		break;
	case -ENOENT:
		break; /* the program removed it itself */
	case -ESTALE:
		rc_result_add(res, RCSHIM_KIND_TEMP, 0, 0, 1, 0);
		rc_info("left alone: %s now names something else", path);
		break;
	default:
		rc_result_add(res, RCSHIM_KIND_TEMP, 0, 1, 0, 0);
		rc_info("could not remove %s (error %d)", path, -rc);
		break;
	}
}

void
rc_result_finish(struct rcshim_result *res)
{
	if (!res) {
		return;
	}
	res->cleaned = res->failed = res->skipped = res->bytes = 0;
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		res->cleaned += res->kind[k].cleaned;
		res->failed += res->kind[k].failed;
		res->skipped += res->kind[k].skipped;
		res->bytes += res->kind[k].bytes;
	}
	res->status = res->failed ? RCSHIM_PARTIAL : RCSHIM_OK;
}

static const char *const reason_names[] = {
	[RC_REASON_EXIT] = "exit",
	[RC_REASON_SIGNAL] = "signal",
	[RC_REASON_CRASH] = "crash",
	[RC_REASON_API] = "api",
	[RC_REASON_SCOPE] = "scope",
	[RC_REASON_LIVE_SIGNAL] = "live signal",
	[RC_REASON_TIMER] = "timer",
	[RC_REASON_PRESSURE] = "pressure",
};

size_t
rc_result_describe(const struct rcshim_result *res, char *buf, size_t len)
{
	size_t n = 0;
	bool any = false;

	buf[0] = '\0';
	for (int k = 0; k < RCSHIM_KIND_COUNT && n + 1 < len; k++) {
		const struct rcshim_kind_result *r = &res->kind[k];
		if (!r->cleaned && !r->failed && !r->skipped) {
			continue;
		}
		n += rc_fmt(buf + n, len - n, "%s%s %lu", any ? ", " : "", rc_kind_name(k),
			    (unsigned long)r->cleaned);
		if (r->failed && n + 1 < len) {
			n += rc_fmt(buf + n, len - n, " (%lu failed)", (unsigned long)r->failed);
		}
		if (r->skipped && n + 1 < len) {
			n += rc_fmt(buf + n, len - n, " (%lu left alone)", (unsigned long)r->skipped);
		}
		any = true;
	}
	if (!any) {
		n = rc_fmt(buf, len, "nothing");
	}
	return n;
}

void
rc_result_log(enum rc_reason reason, int signo, const struct rcshim_result *res)
{
	char what[256];
	if (rc_log_threshold < RC_LOG_INFO ||
	    (!res->cleaned && !res->failed && !res->skipped)) {
		return;
	}
	rc_result_describe(res, what, sizeof(what));
	const char *name = (unsigned)reason < sizeof(reason_names) / sizeof(*reason_names)
				   ? reason_names[reason] : "?";
	if (signo) {
		rc_info("%s %d: reclaimed %s", name, signo, what);
	} else {
		rc_info("%s: reclaimed %s", name, what);
	}
}

struct match_ctx {
	int kind;
	int32_t pid;
	uint32_t scope;
	bool unjournaled_only;
};

static bool
match_owned(const struct rc_record *r, void *p)
{
	const struct match_ctx *m = p;
	if (r->kind != m->kind || r->pid != m->pid) {
		return false;
	}
	if (m->scope && r->scope != m->scope) {
		return false;
	}
	if (m->unjournaled_only && (r->flags & RC_REC_JOURNALED)) {
		return false;
	}
	return true;
}

static void
clean_sqlite(const struct rc_clean_req *req, int32_t me, struct rcshim_result *res)
{
	struct match_ctx m = { RCSHIM_KIND_SQLITE, me, req->scope, false };
	struct rc_record *list;
	size_t n = rc_reg_collect(match_owned, &m, true, &list);

	for (size_t i = 0; i < n; i++) {
		int r = rc_sqlite_close_db((rc_sqlite_db *)(uintptr_t)list[i].handle);
		if (r == 0) {
			rc_result_add(res, RCSHIM_KIND_SQLITE, 1, 0, 0, 0);
			continue;
		}
		rc_result_add(res, RCSHIM_KIND_SQLITE, 0, 1, 0, 0);
		rc_info("could not close SQLite connection to %s (error %d)",
			list[i].path ? list[i].path : "?", -r);
		/* Still open: keep tracking it. */
		rc_reg_put_back(&list[i]);
	}
	rc_reg_free_list(list, n);
}

static void
live_sqlite(struct rcshim_result *res, int32_t me)
{
	struct match_ctx m = { RCSHIM_KIND_SQLITE, me, 0, false };
	struct rc_record *list;
	size_t n = rc_reg_collect(match_owned, &m, false, &list);

	for (size_t i = 0; i < n; i++) {
		int frames = 0;
		long r = rc_sqlite_live_reclaim((rc_sqlite_db *)(uintptr_t)list[i].handle,
						&frames);
		if (r >= 0) {
			rc_result_add(res, RCSHIM_KIND_SQLITE, 1, 0, 0, (uint64_t)r);
		} else {
			rc_result_add(res, RCSHIM_KIND_SQLITE, 0, 0, 1, 0);
		}
	}
	rc_reg_free_list(list, n);
}

struct fd_close_ctx {
	int32_t pid;
	uint32_t scope;
	bool verified_only;
	struct rcshim_result *res;
};

static bool
close_one_fd(int fd, const struct rc_fd_entry *e, void *p)
{
	struct fd_close_ctx *c = p;
	uint32_t flags = atomic_load_explicit(&((struct rc_fd_entry *)e)->flags,
					      memory_order_relaxed);

	if (fd <= 2 || e->pid != c->pid || (c->scope && e->scope != c->scope)) {
		return true;
	}
	if (flags & RC_FD_IDENT) {
		struct stat st;
		if (rc_sys_fstat(fd, &st) < 0 || (uint64_t)st.st_dev != e->dev ||
		    (uint64_t)st.st_ino != e->ino) {
			/* The number was reused behind our back. */
			rc_fd_untrack(fd);
			rc_result_add(c->res, RCSHIM_KIND_FD, 0, 0, 1, 0);
			return true;
		}
	} else if (c->verified_only) {
		rc_result_add(c->res, RCSHIM_KIND_FD, 0, 0, 1, 0);
		return true;
	}
	rc_fd_untrack(fd);
	if (rc_sys_close(fd) == 0) {
		rc_result_add(c->res, RCSHIM_KIND_FD, 1, 0, 0, 0);
	} else {
		rc_result_add(c->res, RCSHIM_KIND_FD, 0, 1, 0, 0);
	}
	return true;
}

static void
clean_temp_final(const struct rc_clean_req *req, int32_t me, struct rcshim_result *res)
{
	char jpath[512];
	bool whole = req->scope == 0;
	bool replayed = false;

	/* The journal holds the whole session's artifacts (or this process's,
	 * in process mode): replayed by its owner when it ends. */
	if (whole && rc_session_owner() && rc_journal_path(jpath, sizeof(jpath))[0]) {
		int r = rc_journal_replay(jpath, res, true);
		if (r < 0 && r != -ENOENT) {
			rc_warn("could not read the session journal %s (error %d)", jpath, -r);
		}
		replayed = r == 0 || r == -ENOENT;
	}

	/* Then the records: a scope's artifacts (removed at its end, before
	 * the session's), anything a journal write failed for (which only
	 * this process knows about), and after a replay the journaled ones,
	 * which are only forgotten. */
	struct match_ctx m = { RCSHIM_KIND_TEMP, me, req->scope, whole && !replayed };
	struct rc_record *list;
	size_t n = rc_reg_collect(match_owned, &m, true, &list);
	for (size_t i = 0; i < n; i++) {
		struct rc_record *r = &list[i];
		if (whole && replayed && (r->flags & RC_REC_JOURNALED)) {
			continue;
		}
		int rc = (r->flags & RC_REC_DIR)
				 ? rc_rmtree(r->path, r->dev, r->ino, NULL)
				 : rc_unlink_checked(r->path, r->dev, r->ino);
		rc_result_count_temp(res, rc, r->path);
		if (rc == 0 && (r->flags & RC_REC_JOURNALED)) {
			rc_journal_append('-', r->flags & RC_REC_DIR, r->dev, r->ino, r->path);
		}
	}
	rc_reg_free_list(list, n);
}

static void
run_final(const struct rc_clean_req *req, struct rcshim_result *res)
{
	int32_t me = rc_sys_getpid();

	if (req->prio >= RCSHIM_MEDIUM && (rc_cfg.track & (1u << RCSHIM_KIND_SQLITE))) {
		clean_sqlite(req, me, res);
	}
	if (req->prio >= RCSHIM_MEDIUM) {
		if (req->scope) {
			struct fd_close_ctx c = { me, req->scope, true, res };
			rc_fd_foreach(close_one_fd, &c);
		}
		/* At process end fds are left to the kernel: closing them
		 * early would lose stdio buffers (DESIGN §3).  The report
		 * lists them; the result counts only what was reclaimed. */
	}
	clean_temp_final(req, me, res);
}

static void
run_live(const struct rc_clean_req *req, struct rcshim_result *res)
{
	int32_t me = rc_sys_getpid();

	if (req->prio == RCSHIM_CRITICAL) {
		/* Destructive: everything, as in final mode, fds included
		 * (those the shim can verify). */
		struct rc_clean_req f = *req;
		f.mode = RC_MODE_FINAL;
		if (rc_cfg.track & (1u << RCSHIM_KIND_SQLITE)) {
			clean_sqlite(&f, me, res);
		}
		struct fd_close_ctx c = { me, 0, true, res };
		rc_fd_foreach(close_one_fd, &c);
		clean_temp_final(&f, me, res);
		return;
	}
	if (req->prio >= RCSHIM_MEDIUM) {
		live_sqlite(res, me);
		malloc_trim(0);
	}
}

rcshim_status
rc_clean(const struct rc_clean_req *req, struct rcshim_result *res)
{
	struct rcshim_result local;

	if (!res) {
		res = &local;
	}
	rc_result_init(res);
	if (req->prio < RCSHIM_LOW || req->prio > RCSHIM_CRITICAL) {
		res->status = RCSHIM_INVALID;
		return res->status;
	}
	if (req->mode == RC_MODE_LIVE) {
		if (!rc_spin_trylock(&engine_lock)) {
			res->status = RCSHIM_BUSY;
			return res->status;
		}
	} else {
		rc_spin_lock(&engine_lock);
	}
	rc_guard++;
	if (req->mode == RC_MODE_LIVE) {
		run_live(req, res);
	} else {
		run_final(req, res);
	}
	rc_guard--;
	rc_result_finish(res);
	if (req->mode != RC_MODE_LIVE || req->prio == RCSHIM_CRITICAL) {
		rc_result_log(req->reason, req->signo, res);
	}
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		rc_result_add(&rc_lifetime, k, res->kind[k].cleaned, res->kind[k].failed,
			      res->kind[k].skipped, res->kind[k].bytes);
	}
	rc_spin_unlock(&engine_lock);
	return res->status;
}

void
rc_clean_crash(rcshim_priority prio, bool close_fds, int signo, struct rcshim_result *res)
{
	char jpath[512];
	int32_t me = rc_sys_getpid();

	if (close_fds && prio >= RCSHIM_MEDIUM) {
		/* The process dies right after: an fd without a recorded
		 * identity is closed too, the kernel would close it anyway. */
		struct fd_close_ctx c = { me, 0, false, res };
		rc_fd_foreach(close_one_fd, &c);
	}
	if (rc_session_owner() && rc_journal_path(jpath, sizeof(jpath))[0]) {
		rc_journal_replay(jpath, res, true);
	}
	rc_result_finish(res);
	rc_result_log(close_fds ? RC_REASON_CRASH : RC_REASON_SIGNAL, signo, res);
}

void
rc_engine_after_fork_child(void)
{
	rc_spin_reset(&engine_lock);
}
