/* The first step of every cleanup: registered resources and custom
 * cleaners (clean/custom.h), in priority and dependency order.
 *
 * Which items this cleanup takes: those whose record is still there,
 * owned by this process (and of the request's scope, if any), at or below
 * the request's priority — except temp directories in final mode, which
 * the temp step removes by the session's rules, and GPU buffers at process
 * end (never freed then, DESIGN §3) and, where the GPU module is built in,
 * in final mode and live CRITICAL, where its step frees GPU records
 * itself.  In live mode, whatever a kept item uses (rcshim_depends_on) is
 * kept too.
 *
 * Order: an item runs after every item of this cleanup that uses it; among
 * the items ready, cleaners first (LOW ones first), then connections, fds,
 * GPU buffers and temp directories as the engine orders kinds, newest
 * first within each.  A cycle is reported and broken at its first item in
 * that order.  One failure never stops the rest.
 */
#include "build-config.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>

#include "clean/custom.h"
#include "clean/rmtree.h"
#include "clean/sqlite.h"
#include "clean/step.h"
#include "core/arena.h"
#include "core/fdtable.h"
#include "core/log.h"
#include "core/registry.h"
#include "core/journal.h"
#include "core/session.h"
#include "core/sys.h"
#include "report/report.h"

struct run {
	struct rc_custom_item it;
	int32_t *dep_ix;  /* it.deps as indices into the run array, -1 if absent */
	uint32_t pending; /* items of this cleanup that use it and have not run */
	uint32_t scope;
	int32_t pid;
	bool alive;       /* its record is still there */
	bool eligible;    /* released (or run) by this cleanup */
	bool blocked;     /* eligible, but something kept uses it (live mode) */
	bool done;
	bool forget;      /* remove the item afterwards */
};

struct step {
	const struct rc_step_ctx *ctx;
	struct rc_custom_item *items; /* the snapshot, sorted by id */
	struct run *r;                /* one per item, same order */
	size_t n;
	int32_t *ix;                  /* every item's dep_ix, one block */
	size_t *heap;
	size_t nheap;
};

/* The usual order: cleaners first (they may still use anything), LOW
 * ones first; then resources in the engine's order (connections and fds
 * before the GPU, temp directories last); newest first within each. */
static unsigned
rank(const struct run *r)
{
	static const unsigned kind_rank[RCSHIM_KIND_COUNT] = {
		[RCSHIM_KIND_CUSTOM] = 0, [RCSHIM_KIND_SQLITE] = 1, [RCSHIM_KIND_FD] = 2,
		[RCSHIM_KIND_GPU] = 3, [RCSHIM_KIND_HEAP] = 4, [RCSHIM_KIND_TEMP] = 5,
	};
	unsigned k = r->it.kind < RCSHIM_KIND_COUNT ? kind_rank[r->it.kind] : 6;
	return k * 8 + (r->it.kind == RCSHIM_KIND_CUSTOM ? r->it.prio : 0);
}

static bool
before(const struct run *a, const struct run *b)
{
	unsigned ra = rank(a), rb = rank(b);
	return ra != rb ? ra < rb : a->it.id > b->it.id;
}

static void
heap_push(struct step *s, size_t i)
{
	size_t k = s->nheap++;
	s->heap[k] = i;
	while (k > 0) {
		size_t p = (k - 1) / 2;
		if (!before(&s->r[s->heap[k]], &s->r[s->heap[p]])) {
			break;
		}
		size_t t = s->heap[k];
		s->heap[k] = s->heap[p];
		s->heap[p] = t;
		k = p;
	}
}

static size_t
heap_pop(struct step *s)
{
	size_t top = s->heap[0];
	s->heap[0] = s->heap[--s->nheap];
	for (size_t k = 0;;) {
		size_t m = k, l = 2 * k + 1, r = l + 1;
		if (l < s->nheap && before(&s->r[s->heap[l]], &s->r[s->heap[m]])) {
			m = l;
		}
		if (r < s->nheap && before(&s->r[s->heap[r]], &s->r[s->heap[m]])) {
			m = r;
		}
		if (m == k) {
			break;
		}
		size_t t = s->heap[k];
		s->heap[k] = s->heap[m];
		s->heap[m] = t;
		k = m;
	}
	return top;
}

/* Heapsort of records by (kind, handle), allocation-free. */
static bool
rec_less(const struct rc_record *a, const struct rc_record *b)
{
	return a->kind != b->kind ? a->kind < b->kind : a->handle < b->handle;
}

/* The record of @it among @recs (sorted), or NULL. */
static const struct rc_record *
rec_find(const struct rc_record *recs, size_t n, const struct rc_custom_item *it)
{
	struct rc_record key = { .kind = it->kind, .handle = it->handle };
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rec_less(&recs[mid], &key)) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	for (; lo < n && recs[lo].kind == it->kind && recs[lo].handle == it->handle; lo++) {
		if (!it->path || (recs[lo].path && strcmp(recs[lo].path, it->path) == 0)) {
			return &recs[lo];
		}
	}
	return NULL;
}

static bool
match_registered(const struct rc_record *r, void *p)
{
	(void)p;
	return r->flags & RC_REC_REGISTERED;
}

static int32_t
run_index(const struct step *s, uint64_t id)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->r[mid].it.id < id) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo < s->n && s->r[lo].it.id == id ? (int32_t)lo : -1;
}

/* Copies the items and works out, for each, whether its resource is
 * still there and whether this cleanup releases it.  False when there is
 * nothing, or memory ran out. */
static bool
snapshot(struct step *s)
{
	const struct rc_clean_req *req = s->ctx->req;
	struct rc_record *recs;

	if (!rc_custom_count()) {
		return false;
	}
	/* An item registered before this point whose record is missing from
	 * the collection below is gone for good; one registered after may
	 * just not have its record in it yet. */
	uint64_t gen0 = rc_custom_generation();
	size_t nrecs = rc_reg_collect(match_registered, NULL, false, &recs);
	rc_reg_sort(recs, nrecs, rec_less);
	s->n = rc_custom_snapshot(&s->items);
	size_t ndeps = 0;
	for (size_t i = 0; i < s->n; i++) {
		ndeps += s->items[i].ndeps;
	}
	s->r = s->n ? rc_alloc(s->n * sizeof(*s->r)) : NULL;
	s->ix = ndeps ? rc_alloc(ndeps * sizeof(*s->ix)) : NULL;
	if (!s->r || (ndeps && !s->ix)) {
		rc_reg_free_list(recs, nrecs);
		return false;
	}

	bool process_end = req->mode == RC_MODE_FINAL && req->scope == 0 &&
			   (req->reason == RC_REASON_EXIT || req->reason == RC_REASON_SIGNAL ||
			    req->reason == RC_REASON_CRASH);
	bool gpu_module = rc_gpu_free_registered != NULL;
	size_t d = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct run *r = &s->r[i];
		r->it = s->items[i];
		r->dep_ix = s->ix ? s->ix + d : NULL;
		d += r->it.ndeps;
		if (r->it.kind == RCSHIM_KIND_FD) {
			struct rc_fd_entry e;
			uint32_t f = 0;
			if (rc_fd_get((int)r->it.handle, &e)) {
				f = atomic_load_explicit(&e.flags, memory_order_relaxed);
			}
			r->alive = (f & RC_FD_REGISTERED) && (f & RC_FD_IDENT) &&
				   e.dev == r->it.dev && e.ino == r->it.ino;
			if (r->alive) {
				r->pid = e.pid;
				r->scope = e.scope;
			}
		} else {
			const struct rc_record *rec = rec_find(recs, nrecs, &r->it);
			r->alive = rec != NULL;
			if (rec) {
				r->pid = rec->pid;
				r->scope = rec->scope;
			}
		}
		r->forget = !r->alive && r->it.gen <= gen0;
		bool in_run = r->alive && r->pid == s->ctx->pid &&
			      (!req->scope || r->scope == req->scope);
		r->eligible = in_run && req->prio >= (rcshim_priority)r->it.prio;
		if (req->mode == RC_MODE_FINAL && r->it.kind == RCSHIM_KIND_TEMP) {
			/* At the end temp artifacts follow the session's rules
			 * (the session's root removes them): the temp step. */
			r->eligible = false;
		}
		if (r->it.kind == RCSHIM_KIND_GPU &&
		    (process_end || (gpu_module && rc_step_final(s->ctx)))) {
			/* Never freed at process end (DESIGN §3); at other
			 * ends, and in live CRITICAL, the GPU module's step
			 * frees GPU records itself, when there is one. */
			r->eligible = false;
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		for (uint32_t k = 0; k < s->r[i].it.ndeps; k++) {
			s->r[i].dep_ix[k] = run_index(s, s->r[i].it.deps[k]);
		}
	}
	rc_reg_free_list(recs, nrecs);
	return true;
}

/* Live mode: what a kept item uses is kept too, transitively. */
static void
block_kept_dependencies(struct step *s)
{
	size_t *work = s->heap; /* free until ordering starts */
	size_t nwork = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct run *r = &s->r[i];
		bool kept = r->alive && r->pid == s->ctx->pid && !r->eligible;
		if (kept) {
			work[nwork++] = i;
		}
	}
	while (nwork) {
		const struct run *k = &s->r[work[--nwork]];
		for (uint32_t d = 0; d < k->it.ndeps; d++) {
			int32_t j = k->dep_ix[d];
			if (j >= 0 && s->r[j].eligible && !s->r[j].blocked) {
				s->r[j].blocked = true;
				work[nwork++] = (size_t)j;
			}
		}
	}
}

static bool
runs(const struct run *r)
{
	return r->eligible && !r->blocked;
}

/* No item is ready: every one left is used by another one left.
 * Following users from any of them ends on a loop; reports the loop and
 * returns its first item in the usual order, to be cleaned first. */
static size_t
break_cycle(struct step *s)
{
	size_t start = SIZE_MAX;
	for (size_t i = 0; i < s->n; i++) {
		if (runs(&s->r[i]) && !s->r[i].done &&
		    (start == SIZE_MAX || before(&s->r[i], &s->r[start]))) {
			start = i;
		}
	}
	/* The first user of each item, as found below, is a function of the
	 * item: n steps of it from anywhere end on one of its loops. */
	size_t cur = start;
	for (size_t step = 0; step < s->n; step++) {
		size_t next = SIZE_MAX;
		for (size_t i = 0; i < s->n && next == SIZE_MAX; i++) {
			const struct run *u = &s->r[i];
			if (!runs(u) || u->done) {
				continue;
			}
			for (uint32_t d = 0; d < u->it.ndeps; d++) {
				if (u->dep_ix[d] == (int32_t)cur) {
					next = i;
					break;
				}
			}
		}
		if (next == SIZE_MAX) {
			break;
		}
		cur = next;
	}
	/* @cur is on a loop: collect it, pick its first item. */
	char line[512];
	size_t len = 0, pick = cur, at = cur;
	line[0] = '\0';
	for (size_t guard = 0; guard <= s->n; guard++) {
		const struct run *r = &s->r[at];
		if (before(r, &s->r[pick])) {
			pick = at;
		}
		len += rc_fmt(line + len, sizeof(line) - len, "%s\"%s\" (%lu)",
			      guard ? " is used by " : "", r->it.name ? r->it.name : "",
			      (unsigned long)r->it.id);
		/* Next on the loop: a user of @at. */
		size_t next = SIZE_MAX;
		for (size_t i = 0; i < s->n && next == SIZE_MAX; i++) {
			const struct run *u = &s->r[i];
			if (!runs(u) || u->done) {
				continue;
			}
			for (uint32_t d = 0; d < u->it.ndeps; d++) {
				if (u->dep_ix[d] == (int32_t)at) {
					next = i;
					break;
				}
			}
		}
		if (next == SIZE_MAX || next == cur) {
			if (next == cur) {
				rc_fmt(line + len, sizeof(line) - len, " is used by \"%s\"",
				       s->r[cur].it.name ? s->r[cur].it.name : "");
			}
			break;
		}
		at = next;
	}
	rc_warn("dependency cycle: %s; cleaning \"%s\" first", line,
		s->r[pick].it.name ? s->r[pick].it.name : "");
	rc_report_note("dependency cycle: %s; broken at \"%s\"", line,
		       s->r[pick].it.name ? s->r[pick].it.name : "");
	return pick;
}

/* --- releasing one item --------------------------------------------------------- */

static void
run_cleaner(struct step *s, struct run *r)
{
	long n = 0;
	if (r->it.flags & RCSHIM_CLEANER_RUNTIME) {
		/* Its runtime (an interpreter) cannot run at the process's
		 * end — finalized, or stopped inside the signal handler that
		 * waits for this cleanup — nor once it began finalizing. */
		bool called = false;
		if (!rc_req_process_end(s->ctx->req)) {
			n = rc_custom_call_runtime(r->it.fn, r->it.ctx, &called);
		}
		if (!called) {
			rc_result_add(s->ctx->res, RCSHIM_KIND_CUSTOM, 0, 0, 1, 0);
			rc_debug("cleaner \"%s\" not called: its runtime is gone", r->it.name);
			goto done;
		}
	} else {
		n = rc_custom_call(r->it.fn, r->it.ctx);
	}
	if (n < 0) {
		rc_result_add(s->ctx->res, RCSHIM_KIND_CUSTOM, 0, 1, 0, 0);
		rc_info("cleaner \"%s\" failed (%ld)", r->it.name, n);
	} else {
		rc_result_add(s->ctx->res, RCSHIM_KIND_CUSTOM, (uint64_t)n, 0, 0, 0);
		rc_reclaimed_add(RCSHIM_KIND_CUSTOM, "cleaner \"%s\": %ld", r->it.name, n);
	}
done:
	if (s->ctx->req->mode == RC_MODE_FINAL) {
		/* Its scope, or the process, is ending. */
		r->forget = true;
		rc_reg_take(RCSHIM_KIND_CUSTOM, r->it.handle, NULL);
	}
}

static void
release_fd(struct step *s, struct run *r)
{
	struct rc_fd_entry e;
	struct stat st;
	int fd = (int)r->it.handle;

	r->forget = true;
	if (!rc_fd_get(fd, &e) || e.dev != r->it.dev || e.ino != r->it.ino) {
		return; /* closed meanwhile */
	}
	uint32_t flags = atomic_load_explicit(&e.flags, memory_order_relaxed);
	rc_fd_untrack(fd);
	if (rc_sys_fstat(fd, &st) < 0 || (uint64_t)st.st_dev != e.dev ||
	    (uint64_t)st.st_ino != e.ino) {
		rc_result_add(s->ctx->res, RCSHIM_KIND_FD, 0, 0, 1, 0);
		return;
	}
	bool ok;
	if ((flags & RC_FD_STDIO) && e.aux) {
		/* Flushed, then closed: the stream's buffer is the program's
		 * data. */
		ok = fclose((FILE *)(uintptr_t)e.aux) == 0;
		if (!ok) {
			rc_info("fclose of \"%s\" (fd %d) lost buffered data", r->it.name, fd);
		}
	} else {
		ok = rc_sys_close(fd) == 0;
	}
	rc_result_add(s->ctx->res, RCSHIM_KIND_FD, ok, !ok, 0, 0);
	if (ok) {
		rc_reclaimed_add(RCSHIM_KIND_FD, "fd %d \"%s\"", fd, r->it.name);
	}
}

static void
release_db(struct step *s, struct run *r)
{
	struct rc_record rec;

	if (!rc_reg_take(RCSHIM_KIND_SQLITE, r->it.handle, &rec)) {
		r->forget = true;
		return;
	}
	int rc = rc_sqlite_close_db((rc_sqlite_db *)(uintptr_t)r->it.handle);
	if (rc == 0) {
		rc_result_add(s->ctx->res, RCSHIM_KIND_SQLITE, 1, 0, 0, 0);
		rc_reclaimed_add(RCSHIM_KIND_SQLITE, "%s", rec.path ? rec.path : r->it.name);
		r->forget = true;
	} else {
		rc_result_add(s->ctx->res, RCSHIM_KIND_SQLITE, 0, 1, 0, 0);
		rc_info("could not close SQLite connection \"%s\" (error %d)", r->it.name, -rc);
		rc_reg_put_back(&rec);
	}
	rc_free(rec.path);
}

static void
release_gpu(struct step *s, struct run *r)
{
	static atomic_bool said;

	/* The GPU module frees it in the context it was allocated in, and
	 * takes its record; without a driver it keeps it. */
	int rc = rc_gpu_free_registered ? rc_gpu_free_registered(r->it.handle, r->it.size)
					: -ENOSYS;
	switch (rc) {
	case 0:
		rc_result_add(s->ctx->res, RCSHIM_KIND_GPU, 1, 0, 0, r->it.size);
		rc_reclaimed_add(RCSHIM_KIND_GPU, "GPU buffer \"%s\" at 0x%llx",
				 r->it.name, (unsigned long long)r->it.handle);
		r->forget = true;
		break;
	case -ENOENT:
		/* Freed behind the shim's back. */
		rc_result_add(s->ctx->res, RCSHIM_KIND_GPU, 0, 0, 1, 0);
		r->forget = true;
		break;
	case -ENOSYS:
		rc_result_add(s->ctx->res, RCSHIM_KIND_GPU, 0, 0, 1, 0);
		if (!atomic_exchange(&said, true)) {
			rc_info("GPU buffer \"%s\" kept: no CUDA driver to free it with",
				r->it.name);
		}
		break;
	default:
		rc_result_add(s->ctx->res, RCSHIM_KIND_GPU, 0, 1, 0, 0);
		rc_info("could not free GPU buffer \"%s\" (error %d)", r->it.name, -rc);
		break;
	}
}

static void
release_temp(struct step *s, struct run *r)
{
	struct rc_record rec;

	if (!rc_reg_take_path(r->it.path, &rec)) {
		r->forget = true;
		return;
	}
	int rc = rc_temp_remove(&rec);
	rc_result_count_temp(s->ctx->res, rc, rec.path);
	if (rc == 0 || rc == -ENOENT || rc == -ESTALE) {
		if (rc == 0 && (rec.flags & RC_REC_JOURNALED)) {
			rc_journal_append('-', true, rec.dev, rec.ino, rec.sub, rec.path);
		}
		r->forget = true;
	} else {
		rc_reg_put_back(&rec); /* tried again next time */
	}
	rc_free(rec.path);
}

static void
release(struct step *s, struct run *r)
{
	switch (r->it.kind) {
	case RCSHIM_KIND_CUSTOM:
		run_cleaner(s, r);
		break;
	case RCSHIM_KIND_FD:
		release_fd(s, r);
		break;
	case RCSHIM_KIND_SQLITE:
		release_db(s, r);
		break;
	case RCSHIM_KIND_GPU:
		release_gpu(s, r);
		break;
	case RCSHIM_KIND_TEMP:
		release_temp(s, r);
		break;
	default:
		break;
	}
}

static void
forget(struct step *s)
{
	uint64_t *ids = rc_alloc(s->n * sizeof(*ids));
	size_t n = 0;

	if (!ids) {
		return; /* forgotten at the next cleanup */
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->r[i].forget) {
			ids[n++] = s->r[i].it.id;
		}
	}
	rc_custom_forget(ids, n);
	rc_free(ids);
}

static void
step_free(struct step *s)
{
	rc_custom_free_snapshot(s->items, s->n);
	rc_free(s->r);
	rc_free(s->ix);
	rc_free(s->heap);
}

void
rc_step_custom(const struct rc_step_ctx *ctx)
{
	struct step s = { .ctx = ctx };

	if (ctx->req->mode == RC_MODE_CRASH) {
		return;
	}
	if (!snapshot(&s)) {
		step_free(&s);
		return;
	}
	s.heap = rc_alloc(s.n * sizeof(*s.heap));
	if (!s.heap) {
		goto out;
	}
	if (!rc_step_final(ctx)) {
		block_kept_dependencies(&s);
	}
	size_t left = 0;
	for (size_t i = 0; i < s.n; i++) {
		struct run *r = &s.r[i];
		if (r->blocked) {
			rc_result_add(ctx->res, r->it.kind, 0, 0, 1, 0);
			rc_debug("\"%s\" kept: something kept uses it", r->it.name);
		}
		if (!runs(r)) {
			continue;
		}
		left++;
		for (uint32_t d = 0; d < r->it.ndeps; d++) {
			int32_t j = r->dep_ix[d];
			if (j >= 0 && runs(&s.r[j])) {
				s.r[j].pending++;
			}
		}
	}
	for (size_t i = 0; i < s.n; i++) {
		if (runs(&s.r[i]) && s.r[i].pending == 0) {
			heap_push(&s, i);
		}
	}
	while (left) {
		if (!s.nheap) {
			size_t i = break_cycle(&s);
			s.r[i].pending = 0;
			heap_push(&s, i);
		}
		size_t i = heap_pop(&s);
		struct run *r = &s.r[i];
		if (r->done) {
			continue;
		}
		r->done = true;
		left--;
		release(&s, r);
		for (uint32_t d = 0; d < r->it.ndeps; d++) {
			int32_t j = r->dep_ix[d];
			if (j >= 0 && runs(&s.r[j]) && !s.r[j].done && s.r[j].pending &&
			    --s.r[j].pending == 0) {
				heap_push(&s, (size_t)j);
			}
		}
	}
	forget(&s);
out:
	step_free(&s);
}
