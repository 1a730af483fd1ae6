/* Registered resources and custom cleaners: the registrations
 * (clean/custom.h).  The step that releases them is clean/step-custom.c. */
#include "build-config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clean/custom.h"
#include "clean/engine.h"
#include "clean/sqlite.h"
#include "core/arena.h"
#include "core/fdtable.h"
#include "core/lock.h"
#include "core/journal.h"
#include "core/path.h"
#include "core/roots.h"
#include "core/registry.h"
#include "core/session.h"
#include "core/state.h"
#include "core/sys.h"

struct item {
	uint64_t id;
	uint64_t gen;      /* when it was (re)registered: see forget_stale */
	uint64_t handle;   /* fd, pointer, cleaner id, or path hash */
	uint64_t dev, ino; /* TEMP and FD: identity at registration */
	uint64_t size;     /* GPU */
	char *path;        /* TEMP */
	char *name;
	FILE *fp;          /* FD over a stream */
	rcshim_cleaner_fn fn;
	void *ctx;
	uint64_t *deps;    /* ids this item uses: cleaned after it */
	uint32_t ndeps, capdeps;
	uint8_t kind;
	uint8_t prio;
	uint8_t flags;    /* RCSHIM_CLEANER_* */
	bool made_record; /* the registration made the record: unregistering removes it */
};

/* The program's runtime: rcshim_runtime_owns, rcshim_runtime_close. */
static atomic_uint runtime_kinds;
static atomic_bool runtime_closed;
/* Runtime cleaners being called now, on any thread. */
static atomic_int runtime_inflight;

/* Items, sorted by id.  The lock is taken after no other lock of the shim
 * but the arena's, and user code never runs under it. */
static struct {
	struct rc_spinlock lock;
	struct item **v;
	size_t n, cap;
	uint64_t last_id;
	uint64_t gen;
} T;

static RC_TLS bool in_cleaner;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* A fork while another thread holds the table's lock must not leave the
 * child with it held (the child's registrations would spin for ever).
 * The preload layer's fork handlers call these (rc_fork_managed); the core
 * alone registers them itself. */
void
rc_custom_fork_prepare(void)
{
	rc_spin_lock(&T.lock);
}

void
rc_custom_fork_parent(void)
{
	rc_spin_unlock(&T.lock);
}

void
rc_custom_fork_child(void)
{
	rc_spin_unlock(&T.lock); /* taken by this thread in prepare */
}

static void
fork_handlers(void)
{
	if (!rc_fork_managed) {
		pthread_atfork(rc_custom_fork_prepare, rc_custom_fork_parent,
			       rc_custom_fork_child);
	}
}

bool
rc_custom_running(void)
{
	return in_cleaner;
}

long
rc_custom_call(rcshim_cleaner_fn fn, void *ctx)
{
	int guard = rc_guard;
	int saved_errno = errno;

	/* The cleaner is the program's code: what it opens and closes is
	 * tracked as the program's. */
	rc_guard = 0;
	in_cleaner = true;
	long n = fn(ctx);
	in_cleaner = false;
	rc_guard = guard;
	errno = saved_errno;
	return n;
}

/* --- the program's runtime (rcshim_runtime_owns, rcshim_runtime_close) -------- */


unsigned
rc_runtime_owns(unsigned kinds)
{
	return atomic_exchange(&runtime_kinds, kinds & RC_RUNTIME_KINDS);
}

bool
rc_runtime_leaves(const struct rc_clean_req *req, int kind)
{
	if (!(atomic_load_explicit(&runtime_kinds, memory_order_relaxed) & (1u << kind))) {
		return false;
	}
	/* Only where the program goes on: at its end its objects are
	 * never used again, and the usual final steps apply. */
	return !rc_req_process_end(req);
}

bool
rc_req_process_end(const struct rc_clean_req *req)
{
	return req->mode == RC_MODE_CRASH ||
	       (req->mode == RC_MODE_FINAL && req->scope == 0 &&
		(req->reason == RC_REASON_EXIT || req->reason == RC_REASON_SIGNAL ||
		 req->reason == RC_REASON_CRASH));
}

void
rc_runtime_close(void)
{
	atomic_store(&runtime_closed, true);
	/* A cleaner already called may be waiting for the runtime's lock
	 * (an interpreter's GIL), which our caller has let go of: it ends,
	 * then no other starts.  The caller's own call, if it is one, is not
	 * waited for. */
	int self = in_cleaner ? 1 : 0;
	struct timespec ms = { 0, 1000000 };
	while (atomic_load(&runtime_inflight) > self) {
		nanosleep(&ms, NULL);
	}
}

bool
rc_runtime_is_closed(void)
{
	return atomic_load(&runtime_closed);
}

long
rc_custom_call_runtime(rcshim_cleaner_fn fn, void *ctx, bool *called)
{
	atomic_fetch_add(&runtime_inflight, 1);
	long n = 0;
	*called = !atomic_load(&runtime_closed);
	if (*called) {
		n = rc_custom_call(fn, ctx);
	}
	atomic_fetch_sub(&runtime_inflight, 1);
	return n;
}

rcshim_priority
rc_custom_kind_priority(int kind)
{
	switch (kind) {
	case RCSHIM_KIND_TEMP:
		return RCSHIM_LOW;
	case RCSHIM_KIND_GPU:
		return RCSHIM_HIGH;
	default:
		return RCSHIM_MEDIUM;
	}
}

/* --- the item table (caller holds T.lock) ------------------------------------ */

static size_t
lower_bound(uint64_t id)
{
	size_t lo = 0, hi = T.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (T.v[mid]->id < id) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

static struct item *
find_id(uint64_t id, size_t *at)
{
	size_t i = lower_bound(id);
	if (i < T.n && T.v[i]->id == id) {
		if (at) {
			*at = i;
		}
		return T.v[i];
	}
	return NULL;
}

static struct item *
find_res(int kind, uint64_t handle, const char *path)
{
	for (size_t i = 0; i < T.n; i++) {
		struct item *it = T.v[i];
		if (it->kind == kind && it->handle == handle &&
		    (!path || (it->path && strcmp(it->path, path) == 0))) {
			return it;
		}
	}
	return NULL;
}

static bool
insert(struct item *it)
{
	if (T.n == T.cap) {
		size_t cap = T.cap ? T.cap * 2 : 32;
		struct item **v = rc_alloc(cap * sizeof(*v));
		if (!v) {
			return false;
		}
		if (T.n) {
			memcpy(v, T.v, T.n * sizeof(*v));
		}
		rc_free(T.v);
		T.v = v;
		T.cap = cap;
	}
	size_t i = lower_bound(it->id);
	memmove(&T.v[i + 1], &T.v[i], (T.n - i) * sizeof(*T.v));
	T.v[i] = it;
	T.n++;
	it->gen = ++T.gen;
	return true;
}

static void
remove_at(size_t i)
{
	memmove(&T.v[i], &T.v[i + 1], (T.n - i - 1) * sizeof(*T.v));
	T.n--;
}

static void
item_free(struct item *it)
{
	if (it) {
		rc_free(it->path);
		rc_free(it->name);
		rc_free(it->deps);
		rc_free(it);
	}
}

static struct item *
item_new(int kind, uint64_t handle, const char *name)
{
	pthread_once(&fork_once, fork_handlers);
	struct item *it = rc_alloc(sizeof(*it));
	if (!it) {
		return NULL;
	}
	it->kind = (uint8_t)kind;
	it->handle = handle;
	it->prio = (uint8_t)rc_custom_kind_priority(kind);
	it->name = rc_strdup(name ? name : "");
	if (!it->name) {
		rc_free(it);
		return NULL;
	}
	return it;
}

/* Adds the resource item @it, or updates the item already registered for
 * the same resource (which keeps its id).  Returns the id, 0 when out of
 * memory.  Takes @it. */
static uint64_t
add_resource(struct item *it)
{
	uint64_t id = 0;

	rc_spin_lock(&T.lock);
	struct item *old = find_res(it->kind, it->handle, it->path);
	if (old) {
		char *name = old->name;
		old->name = it->name;
		it->name = name;
		old->dev = it->dev;
		old->ino = it->ino;
		old->fp = it->fp;
		old->size = it->size;
		old->made_record = old->made_record || it->made_record;
		old->gen = ++T.gen;
		id = old->id;
	} else {
		it->id = ++T.last_id;
		if (insert(it)) {
			id = it->id;
			it = NULL;
		}
	}
	rc_spin_unlock(&T.lock);
	item_free(it);
	return id;
}

/* --- registration ------------------------------------------------------------- */

uint64_t
rc_custom_register_temp_dir(const char *path, const char *name)
{
	char abs[PATH_MAX], canon[PATH_MAX], key[PATH_MAX];
	struct stat st;
	struct rc_record rec;
	int r;

	if (!path || !*path) {
		errno = EINVAL;
		return 0;
	}
	/* By its canonical name, found without following another user's
	 * symlink: removal later follows none (DESIGN §5). */
	if ((r = rc_path_abs(AT_FDCWD, path, abs, sizeof(abs))) < 0 ||
	    (r = rc_chase_dir(abs, (long)rc_sys_geteuid(), canon, sizeof(canon))) < 0) {
		errno = r == -EPERM ? EPERM : -r;
		return 0;
	}
	int dfd = r;
	r = rc_sys_fstat(dfd, &st);
	rc_sys_close(dfd);
	if (r < 0) {
		errno = -r;
		return 0;
	}
	if (strcmp(canon, "/") == 0) {
		errno = EINVAL;
		return 0;
	}
	/* Directly inside a temp root it is a temp artifact like any, and the
	 * session removes it should this process die; elsewhere only this
	 * process knows it, by its path. */
	int root = rc_tmp_key(canon, key, sizeof(key));
	struct item *it = item_new(RCSHIM_KIND_TEMP, rc_path_hash(canon), name);
	if (!it || !(it->path = rc_strdup(canon))) {
		item_free(it);
		errno = ENOMEM;
		return 0;
	}
	it->dev = (uint32_t)st.st_dev;
	it->ino = st.st_ino;

	rc_guard++;
	if (rc_reg_take_path(canon, &rec)) {
		if (rec.dev != (uint32_t)st.st_dev || rec.ino != (uint64_t)st.st_ino) {
			/* The tracked one was replaced behind our back: the
			 * directory there now is the one meant. */
			rec.dev = (uint32_t)st.st_dev;
			rec.ino = st.st_ino;
			rec.flags &= (uint8_t)~RC_REC_JOURNALED;
			if (root >= 0 && rc_journal_append('+', true, rec.dev, rec.ino, (unsigned)root,
							   canon) == 0) {
				rec.flags |= RC_REC_JOURNALED;
			}
		}
		rec.flags |= RC_REC_REGISTERED | RC_REC_DIR;
		rec.pid = rc_pid_cached;
		rc_reg_put_back(&rec);
		rc_free(rec.path);
	} else {
		memset(&rec, 0, sizeof(rec));
		rec.kind = RCSHIM_KIND_TEMP;
		rec.flags = RC_REC_DIR | RC_REC_REGISTERED;
		rec.sub = root >= 0 ? (uint16_t)root : RC_ROOT_NONE;
		rec.dev = (uint32_t)st.st_dev;
		rec.ino = st.st_ino;
		rec.pid = rc_pid_cached;
		rec.scope = rc_scope_cur;
		rec.path = canon;
		if (root >= 0 &&
		    rc_journal_append('+', true, rec.dev, rec.ino, (unsigned)root, canon) == 0) {
			rec.flags |= RC_REC_JOURNALED;
		}
		if (!rc_reg_add(&rec)) {
			rc_guard--;
			item_free(it);
			errno = ENOMEM;
			return 0;
		}
		it->made_record = true;
	}
	rc_guard--;
	uint64_t id = add_resource(it);
	if (!id) {
		errno = ENOMEM;
	}
	return id;
}

uint64_t
rc_custom_register_fd(int fd, FILE *fp, const char *name)
{
	struct stat st;
	struct rc_fd_entry e;

	if (fd < 0 || rc_sys_fstat(fd, &st) < 0) {
		errno = EBADF;
		return 0;
	}
	if (fd <= 2) {
		/* Never closed by the shim (DESIGN §5). */
		errno = EINVAL;
		return 0;
	}
	struct item *it = item_new(RCSHIM_KIND_FD, (uint64_t)fd, name);
	if (!it) {
		errno = ENOMEM;
		return 0;
	}
	it->dev = (uint64_t)st.st_dev;
	it->ino = (uint64_t)st.st_ino;
	it->fp = fp;

	rc_guard++;
	bool had = rc_fd_get(fd, &e);
	uint32_t flags = had ? atomic_load_explicit(&e.flags, memory_order_relaxed) : 0;
	flags &= ~(uint32_t)(RC_FD_LIVE | RC_FD_IDENT);
	flags |= RC_FD_REGISTERED | (fp ? RC_FD_STDIO : 0);
	uint64_t aux = fp ? (uint64_t)(uintptr_t)fp : (had ? e.aux : 0);
	/* A FILE takes aux over: a call site kept there unwalked is
	 * interned first. */
	uint32_t stack = !had ? 0 : fp ? rc_fd_stack_of(&e) : e.stack;
	rc_fd_track(fd, flags, had ? e.scope : rc_scope_cur, stack, rc_pid_cached, aux, &st);
	it->made_record = !had;
	rc_guard--;
	uint64_t id = add_resource(it);
	if (!id) {
		errno = ENOMEM;
	}
	return id;
}

/* Sets RC_REC_REGISTERED on the record of (@kind, @handle), taking it for
 * this process, or adds @fresh.  True when it made the record; *@ok false
 * when out of memory. */
static bool
flag_or_add(int kind, uint64_t handle, struct rc_record *fresh, bool *ok)
{
	struct rc_record rec;

	*ok = true;
	if (rc_reg_take(kind, handle, &rec)) {
		rec.flags |= RC_REC_REGISTERED;
		rec.pid = rc_pid_cached;
		if (fresh->size && !rec.size) {
			rec.size = fresh->size;
		}
		rc_reg_put_back(&rec);
		rc_free(rec.path);
		return false;
	}
	*ok = rc_reg_add(fresh) != NULL;
	return *ok;
}

uint64_t
rc_custom_register_db(void *db, const char *name)
{
	bool ok;

	if (!db) {
		errno = EINVAL;
		return 0;
	}
	if (!rc_sqlite_ready()) {
		/* The connection was opened where the shim did not see it: find
		 * SQLite through a function the shim does not define. */
		void *fn = dlsym(RTLD_DEFAULT, "sqlite3_libversion");
		if (!fn || !rc_sqlite_bind(fn)) {
			errno = ENOSYS;
			return 0;
		}
	}
	struct item *it = item_new(RCSHIM_KIND_SQLITE, (uint64_t)(uintptr_t)db, name);
	if (!it) {
		errno = ENOMEM;
		return 0;
	}
	rc_guard++;
	const char *file = rc_sqlite.db_filename ? rc_sqlite.db_filename(db, "main") : NULL;
	struct rc_record rec = {
		.kind = RCSHIM_KIND_SQLITE,
		.flags = RC_REC_REGISTERED,
		.handle = (uint64_t)(uintptr_t)db,
		.pid = rc_pid_cached,
		.scope = rc_scope_cur,
		.path = (char *)(file && *file ? file : NULL),
	};
	it->made_record = flag_or_add(RCSHIM_KIND_SQLITE, rec.handle, &rec, &ok);
	rc_guard--;
	if (!ok) {
		item_free(it);
		errno = ENOMEM;
		return 0;
	}
	uint64_t id = add_resource(it);
	if (!id) {
		errno = ENOMEM;
	}
	return id;
}

uint64_t
rc_custom_register_gpu(uint64_t dptr, uint64_t size, const char *name)
{
	bool ok;

	if (!dptr) {
		errno = EINVAL;
		return 0;
	}
	struct item *it = item_new(RCSHIM_KIND_GPU, dptr, name);
	if (!it) {
		errno = ENOMEM;
		return 0;
	}
	it->size = size;
	struct rc_record rec = {
		.kind = RCSHIM_KIND_GPU,
		.flags = RC_REC_REGISTERED,
		.handle = dptr,
		.size = size,
		.pid = rc_pid_cached,
		.scope = rc_scope_cur,
	};
	rc_guard++;
	it->made_record = flag_or_add(RCSHIM_KIND_GPU, dptr, &rec, &ok);
	rc_guard--;
	if (!ok) {
		item_free(it);
		errno = ENOMEM;
		return 0;
	}
	uint64_t id = add_resource(it);
	if (!id) {
		errno = ENOMEM;
	}
	return id;
}

uint64_t
rc_custom_register_cleaner(rcshim_cleaner_fn fn, void *ctx, rcshim_priority prio,
			   const char *name)
{
	return rc_custom_register_cleaner_flags(fn, ctx, prio, name, 0);
}

uint64_t
rc_custom_register_cleaner_flags(rcshim_cleaner_fn fn, void *ctx, rcshim_priority prio,
				 const char *name, unsigned flags)
{
	if (!fn || prio < RCSHIM_LOW || prio > RCSHIM_CRITICAL ||
	    (flags & ~(unsigned)RCSHIM_CLEANER_RUNTIME)) {
		errno = EINVAL;
		return 0;
	}
	struct item *it = item_new(RCSHIM_KIND_CUSTOM, 0, name);
	if (!it) {
		errno = ENOMEM;
		return 0;
	}
	it->fn = fn;
	it->ctx = ctx;
	it->prio = (uint8_t)prio;
	it->flags = (uint8_t)flags;
	it->made_record = true;

	rc_spin_lock(&T.lock);
	it->id = it->handle = ++T.last_id;
	rc_spin_unlock(&T.lock);

	/* The record first (owner and scope live there), then the item: a
	 * cleanup in between sees a record without an item, and ignores it. */
	struct rc_record rec = {
		.kind = RCSHIM_KIND_CUSTOM,
		.flags = RC_REC_REGISTERED,
		.handle = it->id,
		.pid = rc_pid_cached,
		.scope = rc_scope_cur,
		.path = it->name,
	};
	rc_guard++;
	bool ok = rc_reg_add(&rec) != NULL;
	rc_guard--;
	if (ok) {
		rc_spin_lock(&T.lock);
		ok = insert(it);
		rc_spin_unlock(&T.lock);
		if (!ok) {
			rc_reg_take(RCSHIM_KIND_CUSTOM, rec.handle, NULL);
		}
	}
	if (!ok) {
		item_free(it);
		errno = ENOMEM;
		return 0;
	}
	return rec.handle;
}

rcshim_status
rc_custom_depends(uint64_t item, uint64_t dep)
{
	rcshim_status st = RCSHIM_OK;

	rc_spin_lock(&T.lock);
	struct item *it = find_id(item, NULL);
	if (!it || !find_id(dep, NULL)) {
		st = RCSHIM_INVALID;
		goto out;
	}
	for (uint32_t i = 0; i < it->ndeps; i++) {
		if (it->deps[i] == dep) {
			goto out;
		}
	}
	if (it->ndeps == it->capdeps) {
		uint32_t cap = it->capdeps ? it->capdeps * 2 : 4;
		uint64_t *d = rc_alloc(cap * sizeof(*d));
		if (!d) {
			st = RCSHIM_INVALID;
			goto out;
		}
		if (it->ndeps) {
			memcpy(d, it->deps, it->ndeps * sizeof(*d));
		}
		rc_free(it->deps);
		it->deps = d;
		it->capdeps = cap;
	}
	it->deps[it->ndeps++] = dep;
out:
	rc_spin_unlock(&T.lock);
	return st;
}

/* Takes the registration off the resource's record, or the record itself
 * when the registration made it. */
static void
unflag(const struct item *it)
{
	struct rc_record rec;
	struct rc_fd_entry e;

	rc_guard++;
	switch (it->kind) {
	case RCSHIM_KIND_CUSTOM:
		rc_reg_take(RCSHIM_KIND_CUSTOM, it->handle, NULL);
		break;
	case RCSHIM_KIND_FD: {
		int fd = (int)it->handle;
		if (!rc_fd_get(fd, &e) || e.dev != it->dev || e.ino != it->ino) {
			break;
		}
		uint32_t flags = atomic_load_explicit(&e.flags, memory_order_relaxed);
		if (it->made_record) {
			rc_fd_untrack(fd);
			break;
		}
		struct stat st;
		memset(&st, 0, sizeof(st));
		st.st_dev = (dev_t)e.dev;
		st.st_ino = (ino_t)e.ino;
		rc_fd_track(fd, flags & ~(uint32_t)(RC_FD_LIVE | RC_FD_IDENT | RC_FD_REGISTERED),
			    e.scope, e.stack, e.pid, e.aux, (flags & RC_FD_IDENT) ? &st : NULL);
		break;
	}
	default: {
		bool got = it->kind == RCSHIM_KIND_TEMP ? rc_reg_take_path(it->path, &rec)
							: rc_reg_take(it->kind, it->handle, &rec);
		if (!got) {
			break;
		}
		if (it->made_record) {
			if (it->kind == RCSHIM_KIND_TEMP && (rec.flags & RC_REC_JOURNALED)) {
				/* Kept: the session must not remove it either. */
				rc_journal_append('-', true, rec.dev, rec.ino, rec.sub, rec.path);
			}
		} else {
			rec.flags &= (uint8_t)~RC_REC_REGISTERED;
			rc_reg_put_back(&rec);
		}
		rc_free(rec.path);
		break;
	}
	}
	rc_guard--;
}

rcshim_status
rc_custom_unregister(uint64_t id, bool cleaners_only)
{
	size_t at;

	rc_spin_lock(&T.lock);
	struct item *it = find_id(id, &at);
	if (!it || (cleaners_only && it->kind != RCSHIM_KIND_CUSTOM)) {
		rc_spin_unlock(&T.lock);
		return RCSHIM_INVALID;
	}
	remove_at(at);
	rc_spin_unlock(&T.lock);
	unflag(it);
	item_free(it);
	return RCSHIM_OK;
}

size_t
rc_custom_count(void)
{
	rc_spin_lock(&T.lock);
	size_t n = T.n;
	rc_spin_unlock(&T.lock);
	return n;
}

const char *
rc_custom_name(int kind, uint64_t handle, char *buf, size_t len)
{
	const char *found = NULL;

	if (!len) {
		return NULL;
	}
	rc_spin_lock(&T.lock);
	struct item *it = find_res(kind, handle, NULL);
	if (it) {
		size_t n = strnlen(it->name, len - 1);
		memcpy(buf, it->name, n);
		buf[n] = '\0';
		found = buf;
	}
	rc_spin_unlock(&T.lock);
	return found;
}

void
rc_custom_reset(void)
{
	atomic_store(&runtime_kinds, 0);
	atomic_store(&runtime_closed, false);
	rc_spin_lock(&T.lock);
	struct item **v = T.v;
	size_t n = T.n;
	T.v = NULL;
	T.n = T.cap = 0;
	rc_spin_unlock(&T.lock);
	for (size_t i = 0; i < n; i++) {
		item_free(v[i]);
	}
	rc_free(v);
}

/* --- for the step ----------------------------------------------------------- */

uint64_t
rc_custom_generation(void)
{
	rc_spin_lock(&T.lock);
	uint64_t g = T.gen;
	rc_spin_unlock(&T.lock);
	return g;
}

void
rc_custom_free_snapshot(struct rc_custom_item *items, size_t n)
{
	for (size_t i = 0; items && i < n; i++) {
		rc_free(items[i].name);
		rc_free(items[i].path);
		rc_free(items[i].deps);
	}
	rc_free(items);
}

size_t
rc_custom_snapshot(struct rc_custom_item **out)
{
	bool ok = true;

	*out = NULL;
	/* Copied under the lock: another thread may unregister (and free)
	 * an item while a cleanup runs. */
	rc_spin_lock(&T.lock);
	size_t n = T.n;
	struct rc_custom_item *v = n ? rc_alloc(n * sizeof(*v)) : NULL;
	for (size_t i = 0; v && i < n; i++) {
		const struct item *it = T.v[i];
		struct rc_custom_item *c = &v[i];
		c->id = it->id;
		c->gen = it->gen;
		c->handle = it->handle;
		c->dev = it->dev;
		c->ino = it->ino;
		c->size = it->size;
		c->fp = it->fp;
		c->fn = it->fn;
		c->ctx = it->ctx;
		c->kind = it->kind;
		c->prio = it->prio;
		c->flags = it->flags;
		c->name = rc_strdup(it->name);
		c->path = it->path ? rc_strdup(it->path) : NULL;
		c->ndeps = it->ndeps;
		c->deps = it->ndeps ? rc_alloc(it->ndeps * sizeof(*c->deps)) : NULL;
		if (c->deps) {
			memcpy(c->deps, it->deps, it->ndeps * sizeof(*c->deps));
		}
		ok = ok && c->name && (!it->path || c->path) && (!it->ndeps || c->deps);
	}
	rc_spin_unlock(&T.lock);
	if (!v || !ok) {
		rc_custom_free_snapshot(v, n);
		return 0;
	}
	*out = v;
	return n;
}

void
rc_custom_forget(const uint64_t *ids, size_t n)
{
	struct item *dead = NULL;

	rc_spin_lock(&T.lock);
	for (size_t i = 0; i < n; i++) {
		size_t at;
		struct item *it = find_id(ids[i], &at);
		if (it) {
			remove_at(at);
			/* Chained through fp, unused from here on: nothing is
			 * freed under the lock. */
			it->fp = (FILE *)dead;
			dead = it;
		}
	}
	rc_spin_unlock(&T.lock);
	while (dead) {
		struct item *next = (struct item *)dead->fp;
		item_free(dead);
		dead = next;
	}
}
