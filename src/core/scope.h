/* Scopes (DESIGN §7): the C form of a `with resource_cleanup_context()`
 * block.
 *
 * Each thread has a stack of open scopes; the innermost one's id is
 * rc_scope_cur (core/state.h), which the tracking core stores on every
 * record and fd entry it makes.  Ending a scope runs the engine in final
 * mode restricted to that scope (rc_clean with req.scope), then hands what
 * is left — below the priority, or failed — to the enclosing scope of the
 * thread, or to the process (scope 0).
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

/* Ends scope @id of the calling thread (and the scopes still open inside
 * it, innermost first) at @prio; @res may be NULL.  RCSHIM_INVALID, with
 * one warning, if @id is not open on this thread; RCSHIM_BUSY from inside
 * a custom cleaner (the engine is held by the cleanup that called it). */
rcshim_status rc_scope_end(uint32_t id, rcshim_priority prio, struct rcshim_result *res);

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

/* --- hooks for kinds tracked elsewhere --------------------------------------
 *
 * Heap blocks (src/core/heap*, the heap issue).  Called at the end of
 * every scope, after the engine's steps, on the thread that ends it:
 *   - report the blocks allocated inside @scope and still live (count and
 *     bytes into res->kind[RCSHIM_KIND_HEAP]: .skipped when kept, .cleaned
 *     and .bytes when freed; and a report entry naming the scope,
 *     rc_scope_name(@scope) still works during the call);
 *   - free them when @free_blocks (the scope was opened with
 *     RCSHIM_SCOPE_FREE_HEAP), else hand them to @parent (0: the process).
 * @res is NULL when a thread exits with scopes open: hand over silently.
 * Weak: until the heap module defines it, scopes do nothing with the heap.
 * (A weak reference does not pull an object out of a static archive: the
 * definition must live in an object that is linked for other reasons, as
 * everything in librcshim.so is.) */
void rc_heap_scope_end(uint32_t scope, uint32_t parent, rcshim_priority prio,
		       bool free_blocks, struct rcshim_result *res) __attribute__((weak));

/* Around fork: the list's lock (see rc_fork_managed, core/state.h). */
void rc_scope_fork_prepare(void);
void rc_scope_fork_parent(void);
void rc_scope_fork_child(void);
