/* Scopes: per-thread stacks of open scopes and one process-wide list of
 * them (core/scope.h).  Their end, a cleanup, is clean/scope.c's. */
#include "build-config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "core/arena.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/heap.h"
#include "core/scope.h"
#include "core/state.h"
#include "core/sys.h"
#include "core/track.h"

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

bool
rc_scope_open_here(uint32_t id)
{
	for (struct rc_scope *s = top; s; s = s->parent) {
		if (s->id == id) {
			return true;
		}
	}
	return false;
}

uint32_t
rc_scope_top(void)
{
	return top ? top->id : 0;
}

bool
rc_scope_pop(struct rc_scope_popped *p)
{
	struct rc_scope *s = top;
	if (!s) {
		return false;
	}
	p->s = s;
	p->id = s->id;
	p->parent = s->parent ? s->parent->id : 0;
	p->flags = s->flags;
	top = s->parent;
	rc_scope_cur = p->parent;
	rc_heap_scope_changed();
	return true;
}

void
rc_scope_retire(const struct rc_scope_popped *p)
{
	/* Nothing else acquires under this id meanwhile: it was this
	 * thread's, and it is no longer any thread's current scope. */
	rc_track_rescope(p->id, p->parent);
	drop(p->s);
}

bool
rc_scope_owner(uint32_t id, int32_t *tid, char *name, size_t len)
{
	rc_spin_lock(&G.lock);
	struct rc_scope *s = find_open(id);
	if (s) {
		*tid = s->tid;
		size_t n = len ? strnlen(s->name, len - 1) : 0;
		memcpy(name, s->name, n);
		if (len) {
			name[n] = '\0';
		}
	}
	rc_spin_unlock(&G.lock);
	return s != NULL;
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
		rc_heap_scope_take(s->id, 0, false, NULL);
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
