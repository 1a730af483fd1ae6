/* The shim's own memory.
 *
 * Bookkeeping never comes from the program's malloc: it would be counted as
 * the program's, recurse into the heap hooks, and be unsafe in handlers.
 * Blocks come from mmap'd chunks in power-of-two classes; memory is never
 * returned to the kernel, so a stale pointer read on the crash path still
 * points at mapped memory.
 */
#pragma once

#include <stddef.h>

/* Zeroed, 16-byte aligned; NULL when the kernel refuses memory. */
void *rc_alloc(size_t size);
/* The same, not zeroed (a block reused from the arena holds what it
 * held): for memory that is written before it is read. */
void *rc_alloc_raw(size_t size);
void rc_free(void *p);
char *rc_strdup(const char *s);
char *rc_strndup(const char *s, size_t n);
/* Bytes currently mapped by the arena (for the bookkeeping figures). */
size_t rc_arena_mapped(void);
/* Bytes currently handed out. */
size_t rc_arena_in_use(void);
/* Held across fork so the child never inherits it locked mid-update. */
void rc_arena_lock(void);
void rc_arena_unlock(void);
