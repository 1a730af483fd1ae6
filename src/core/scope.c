/* Scopes: per-thread stacks of open scopes, one process-wide list of them,
 * and the end of a scope (core/scope.h). */
#include "build-config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "clean/custom.h"
#include "clean/engine.h"
#include "core/arena.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/heap.h"
#include "core/scope.h"
#include "core/state.h"
#include "core/sys.h"
#include "core/track.h"
#include "report/report.h"

struct rc_scope {
	struct rc_scope *parent;      /* enclosing scope of the same thread */
	struct rc_scope *prev, *next; /* the process-wide list */
	uint32_t id;
	uint32_t flags;
	int32_t tid;
	char name[RC_SCOPE_NAME_MAX];
};

/* The process-wide list.  Its lock is never held while calling anything
 * that takes another lock (allocation happens outside it). */
static struct {
	struct rc_spinlock lock;
	struct rc_scope *head;
	size_t open;
	uint32_t last_id;
	bool wrapped; /* ids went round once: skip those still open */
} G;

static RC_TLS struct rc_scope *top;
/* The thread-exit destructor is armed for this thread. */
static RC_TLS bool armed;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static bool have_key;

static void
on_thread_exit(void *value)
{
	(void)value;
	rc_scope_abandon_thread();
}

/* Called by the preload layer's fork handlers (rc_fork_managed); the core
 * alone registers them itself. */
void
rc_scope_fork_prepare(void)
{
	rc_spin_lock(&G.lock);
}

void
rc_scope_fork_parent(void)
{
	rc_spin_unlock(&G.lock);
}

/* The child keeps the list: the forking thread's scopes are still open
 * there (its code goes on inside them); the other threads' are orphans
 * nobody will end, which only costs their entries. */
void
rc_scope_fork_child(void)
{
	rc_spin_unlock(&G.lock); /* taken by this thread in prepare */
}

static void
init_once(void)
{
	have_key = pthread_key_create(&exit_key, on_thread_exit) == 0;
	if (!rc_fork_managed) {
		pthread_atfork(rc_scope_fork_prepare, rc_scope_fork_parent, rc_scope_fork_child);
	}
}

/* Caller holds G.lock. */
static struct rc_scope *
find_open(uint32_t id)
{
	for (struct rc_scope *s = G.head; s; s = s->next) {
		if (s->id == id) {
			return s;
		}
	}
	return NULL;
}

/* Caller holds G.lock. */
static uint32_t
next_id(void)
{
	for (;;) {
		uint32_t id = ++G.last_id;
		if (id == 0) {
			G.wrapped = true;
			continue;
		}
		if (!G.wrapped || !find_open(id)) {
			return id;
		}
	}
}

uint32_t
rc_scope_begin(const char *name, unsigned flags)
{
	if (flags & ~RC_SCOPE_FLAGS_ALL) {
		errno = EINVAL;
		return 0;
	}
	pthread_once(&once, init_once);
	rc_guard++;
	struct rc_scope *s = rc_alloc(sizeof(*s));
	rc_guard--;
	if (!s) {
		errno = ENOMEM;
		return 0;
	}
	if (name) {
		size_t n = strnlen(name, sizeof(s->name) - 1);
		memcpy(s->name, name, n);
		s->name[n] = '\0';
	}
	s->flags = flags;
	s->tid = rc_sys_gettid();
	s->parent = top;

	rc_spin_lock(&G.lock);
	s->id = next_id();
	s->next = G.head;
	if (G.head) {
		G.head->prev = s;
	}
	G.head = s;
	G.open++;
	rc_spin_unlock(&G.lock);

	if (!armed && have_key) {
		/* A thread that exits inside a scope must not leave it on the
		 * list for ever. */
		armed = pthread_setspecific(exit_key, (void *)1) == 0;
	}
	top = s;
	rc_scope_cur = s->id;
	rc_heap_scope_changed();
	return s->id;
}

/* Takes @s off the list and frees it. */
static void
drop(struct rc_scope *s)
{
	rc_spin_lock(&G.lock);
	if (s->prev) {
		s->prev->next = s->next;
	} else {
		G.head = s->next;
	}
	if (s->next) {
		s->next->prev = s->prev;
	}
	G.open--;
	rc_spin_unlock(&G.lock);
	rc_guard++;
	rc_free(s);
	rc_guard--;
}

static void
add_result(struct rcshim_result *to, const struct rcshim_result *from)
{
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		rc_result_add(to, k, from->kind[k].cleaned, from->kind[k].failed,
			      from->kind[k].skipped, from->kind[k].bytes);
	}
}

/* Ends the innermost scope of this thread. */
static void
end_top(rcshim_priority prio, struct rcshim_result *res)
{
	struct rc_scope *s = top;
	uint32_t parent = s->parent ? s->parent->id : 0;
	struct rcshim_result r;

	/* Popped first: nothing acquired from here on is the scope's. */
	top = s->parent;
	rc_scope_cur = parent;
	rc_heap_scope_changed();

	struct rc_clean_req req = { RC_MODE_FINAL, prio, RC_REASON_SCOPE, 0, s->id };
	rc_clean(&req, &r);
	if (rc_heap_scope_end) {
		rc_heap_scope_end(s->id, parent, prio, s->flags & RCSHIM_SCOPE_FREE_HEAP, &r);
	}
	add_result(res, &r);

	/* What the scope keeps goes to the enclosing one.  Nothing else
	 * acquires under this id meanwhile: it was this thread's, and it is
	 * no longer any thread's current scope. */
	rc_track_rescope(s->id, parent);
	drop(s);
}

/* @id is not open on this thread: say whose it is, if anyone's. */
static void
not_ours(uint32_t id)
{
	char name[RC_SCOPE_NAME_MAX];
	int32_t tid = 0;

	rc_spin_lock(&G.lock);
	struct rc_scope *s = find_open(id);
	if (s) {
		tid = s->tid;
		memcpy(name, s->name, sizeof(name));
	}
	rc_spin_unlock(&G.lock);
	if (s) {
		rc_warn("rcshim_scope_end: scope %u \"%s\" belongs to thread %d, not to "
			"thread %d: left open", id, name, tid, rc_sys_gettid());
		rc_report_note("rcshim_scope_end of scope %u \"%s\" (thread %d) on thread %d "
			       "refused", id, name, tid, rc_sys_gettid());
	} else {
		rc_warn("rcshim_scope_end: scope %u is not open (ended already?)", id);
	}
}

rcshim_status
rc_scope_end(uint32_t id, rcshim_priority prio, struct rcshim_result *res)
{
	struct rcshim_result local;
	struct rc_scope *s;

	if (!res) {
		res = &local;
	}
	rc_result_init(res);
	if (prio < RCSHIM_LOW || prio > RCSHIM_CRITICAL || id == 0) {
		res->status = RCSHIM_INVALID;
		return res->status;
	}
	for (s = top; s && s->id != id; s = s->parent) {
	}
	if (!s) {
		not_ours(id);
		res->status = RCSHIM_INVALID;
		return res->status;
	}
	if (rc_custom_running()) {
		/* The cleanup that runs this cleaner holds the engine. */
		res->status = RCSHIM_BUSY;
		return res->status;
	}
	while (top != s) {
		rc_info("scope %u \"%s\" ended with scope %u \"%s\" still open inside it: "
			"ending that first", s->id, s->name, top->id, top->name);
		end_top(prio, res);
	}
	end_top(prio, res);
	rc_result_finish(res);
	return res->status;
}

void
rc_scope_abandon_thread(void)
{
	while (top) {
		struct rc_scope *s = top;
		top = s->parent;
		rc_scope_cur = top ? top->id : 0;
		rc_debug("thread %d exits inside scope %u \"%s\": its resources pass to "
			 "the process", s->tid, s->id, s->name);
		if (rc_heap_scope_end) {
			rc_heap_scope_end(s->id, 0, RCSHIM_LOW, false, NULL);
		}
		rc_track_rescope(s->id, 0);
		drop(s);
	}
	rc_heap_scope_changed();
}

unsigned
rc_scope_depth(void)
{
	unsigned n = 0;
	for (struct rc_scope *s = top; s; s = s->parent) {
		n++;
	}
	return n;
}

size_t
rc_scope_open_count(void)
{
	rc_spin_lock(&G.lock);
	size_t n = G.open;
	rc_spin_unlock(&G.lock);
	return n;
}

bool
rc_scope_name(uint32_t id, char *buf, size_t len)
{
	bool found = false;

	if (len) {
		buf[0] = '\0';
	}
	rc_spin_lock(&G.lock);
	struct rc_scope *s = find_open(id);
	if (s && len) {
		size_t n = strnlen(s->name, len - 1);
		memcpy(buf, s->name, n);
		buf[n] = '\0';
	}
	found = s != NULL;
	rc_spin_unlock(&G.lock);
	return found;
}
