/* The end of a scope (DESIGN §7; the scopes themselves: core/scope.h). */
#pragma once

#include <stdint.h>

#include "rcshim.h"

/* Ends scope @id of the calling thread (and the scopes still open inside
 * it, innermost first) at @prio; @res may be NULL.  Each: the engine's
 * final cleanup restricted to the scope (rc_clean with req.scope), its heap
 * blocks reclaimed (rc_heap_scope_reclaim), what is left handed to the
 * enclosing scope.  RCSHIM_INVALID, with one warning, if @id is not open on
 * this thread; RCSHIM_BUSY from inside a custom cleaner (the engine is
 * held by the cleanup that called it). */
rcshim_status rc_scope_end(uint32_t id, rcshim_priority prio, struct rcshim_result *res);
