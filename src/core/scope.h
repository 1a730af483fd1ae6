/* Scopes (DESIGN §7): the C form of a `with resource_cleanup_context()`
 * block.
 *
 * Each thread has a stack of open scopes; the innermost one's id is
 * rc_scope_cur (core/state.h), which the tracking core stores on every
 * record and fd entry it makes.  Ending a scope (clean/scope.h) runs the
 * engine in final mode restricted to that scope (rc_clean with
 * req.scope), then reclaims its heap blocks, then hands what is left —
 * below the priority, or failed — to the enclosing scope of the thread,
 * or to the process (scope 0).
 *
 * Every open scope is also on one process-wide list, so a scope ended on
 * the wrong thread is told apart from one that is not open at all.  Ids
 * come from a 32-bit counter and are never those of an open scope.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcshim.h"

#define RC_SCOPE_NAME_MAX 48
#define RC_SCOPE_FLAGS_ALL ((unsigned)RCSHIM_SCOPE_FREE_HEAP)

/* Opens a scope on the calling thread, inside its current one.  Returns
 * the id, or 0 with errno set (EINVAL for unknown @flags, ENOMEM). */
uint32_t rc_scope_begin(const char *name, unsigned flags);

/* The end of a scope is a cleanup: rc_scope_end (clean/scope.h) pops the
 * scopes with these, cleans, and retires them. */
struct rc_scope;
struct rc_scope_popped {
	struct rc_scope *s;
	uint32_t id, parent; /* parent 0: the process */
	unsigned flags;
};
/* Whether @id is open on the calling thread. */
bool rc_scope_open_here(uint32_t id);
/* The calling thread's innermost open scope; 0 if none. */
uint32_t rc_scope_top(void);
/* Takes the calling thread's innermost scope off its stack: from here on
 * nothing the thread acquires is the scope's.  It stays on the process's
 * list (rc_scope_name still names it) until rc_scope_retire.  False if
 * the thread has none open. */
bool rc_scope_pop(struct rc_scope_popped *p);
/* What the popped scope keeps passes to its parent; it leaves the list. */
void rc_scope_retire(const struct rc_scope_popped *p);
/* The thread and name of open scope @id (any thread's); false if none. */
bool rc_scope_owner(uint32_t id, int32_t *tid, char *name, size_t len);

/* Number of scopes open on the calling thread. */
unsigned rc_scope_depth(void);
/* Number of scopes open in the process, all threads. */
size_t rc_scope_open_count(void);
/* Copies the name of the open scope @id (any thread) into @buf; false if
 * no such scope is open.  For logs and reports. */
bool rc_scope_name(uint32_t id, char *buf, size_t len);

/* The calling thread is exiting or the test harness starts afresh: its
 * open scopes are closed without reclaiming anything, their contents
 * handed to the process.  Called from a thread-exit destructor. */
void rc_scope_abandon_thread(void);

/* Around fork: the list's lock (see rc_fork_managed, core/state.h). */
void rc_scope_fork_prepare(void);
void rc_scope_fork_parent(void);
void rc_scope_fork_child(void);
