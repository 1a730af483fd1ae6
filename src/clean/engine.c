#include "build-config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

#include "clean/engine.h"
#include "clean/journal.h"
#include "clean/step.h"
#include "core/config.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/session.h"
#include "core/state.h"
#include "core/sys.h"

struct rcshim_result rc_lifetime RC_HOT;
struct rc_reclaimed rc_last_reclaimed RC_COLD_BSS;
static struct rc_spinlock engine_lock RC_HOT;
/* Whether rc_last_reclaimed has anything to forget: a cleanup that found
 * nothing (every exit of a process that held nothing) leaves its 2.6 KiB,
 * and their page, alone. */
static bool reclaimed_dirty RC_HOT;

static void
reclaimed_reset(void)
{
	if (reclaimed_dirty) {
		rc_last_reclaimed.n = 0;
		rc_last_reclaimed.total = 0;
		reclaimed_dirty = false;
	}
}

bool
rc_reclaimed_room(void)
{
	return rc_last_reclaimed.n < RC_RECLAIMED_MAX;
}

void
rc_reclaimed_add(int kind, const char *fmt, ...)
{
	struct rc_reclaimed *l = &rc_last_reclaimed;
	reclaimed_dirty = true;
	l->total++;
	if (l->n >= RC_RECLAIMED_MAX) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	l->item[l->n].kind = (rcshim_kind)kind;
	rc_vfmt(l->item[l->n].what, sizeof(l->item[l->n].what), fmt, ap);
	va_end(ap);
	l->n++;
}

size_t
rc_human_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	if (bytes < 1024) {
		return rc_fmt(buf, len, "%lu bytes", (unsigned long)bytes);
	}
	int u = 0;
	uint64_t div = 1024;
	while (u < 3 && bytes >= div * 1024) {
		div *= 1024;
		u++;
	}
	/* One decimal below 10 ("1.5 MiB"), none above ("39 KiB"). */
	uint64_t tenths = (bytes * 10 + div / 2) / div;
	if (tenths < 100 && tenths % 10) {
		return rc_fmt(buf, len, "%lu.%lu %s", (unsigned long)(tenths / 10),
			      (unsigned long)(tenths % 10), unit[u]);
	}
	return rc_fmt(buf, len, "%lu %s", (unsigned long)((tenths + 5) / 10), unit[u]);
}

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
		rc_reclaimed_add(RCSHIM_KIND_TEMP, "%s", path ? path : "?");
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

bool
rc_step_tracked(int kind)
{
	return rc_cfg.track & (1u << kind);
}

bool
rc_step_match(const struct rc_record *r, void *p)
{
	const struct rc_step_match *m = p;
	return r->kind == m->kind && r->pid == m->pid &&
	       (!m->scope || r->scope == m->scope) &&
	       (r->flags & m->need_flags) == m->need_flags && !(r->flags & m->deny_flags);
}

/* Dependency order (step.h).  Inside a signal handler (rc_self.signal_safe:
 * a process without the worker thread) only the steps that are
 * async-signal-safe run; the others call into code the interrupted thread
 * may be inside (a cleaner, SQLite, the GPU driver).  Such a process holds
 * nothing of their kinds unless its worker failed to start. */
static const struct {
	void (*run)(const struct rc_step_ctx *);
	bool signal_safe;
} steps[] = {
	{ rc_step_custom, false }, { rc_step_sqlite, false }, { rc_step_fd, true },
	{ rc_step_gpu, false },    { rc_step_temp, true },    { rc_step_heap, true },
};

static void
run_steps(const struct rc_clean_req *req, struct rcshim_result *res)
{
	struct rc_step_ctx ctx = { req, rc_sys_getpid(), res };
	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		if (steps[i].signal_safe || !rc_self.signal_safe) {
			steps[i].run(&ctx);
		}
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
	if (rc_self.signal_safe) {
		/* A handler never waits long: the holder may be waiting for
		 * something the interrupted code holds (a cleaner's lock,
		 * the allocator's). */
		if (!rc_spin_trylock_for(&engine_lock, req->mode == RC_MODE_LIVE ? 1000 : 100)) {
			res->status = RCSHIM_BUSY;
			return res->status;
		}
	} else if (req->mode == RC_MODE_LIVE) {
		if (!rc_spin_trylock(&engine_lock)) {
			res->status = RCSHIM_BUSY;
			return res->status;
		}
	} else {
		rc_spin_lock(&engine_lock);
	}
	rc_guard++;
	reclaimed_reset();
	run_steps(req, res);
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
	int32_t me = rc_sys_getpid();

	reclaimed_reset();
	if (close_fds && prio >= RCSHIM_MEDIUM) {
		/* The process dies right after: an fd without a recorded
		 * identity is closed too, the kernel would close it anyway. */
		rc_close_owned_fds(me, 0, false, res);
	}
	if (rc_session_owner()) {
		rc_journal_replay_own(res, true);
	}
	rc_result_finish(res);
	rc_result_log(close_fds ? RC_REASON_CRASH : RC_REASON_SIGNAL, signo, res);
}

void
rc_engine_after_fork_child(void)
{
	rc_spin_reset(&engine_lock);
}
