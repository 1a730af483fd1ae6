/* struct rcshim_result as text or JSON (rcshim_result_format). */
#pragma once

#include <stddef.h>

#include "rcshim.h"

/* Renders @res in @format into @buf as snprintf does; returns the length
 * of the whole rendering.  The formats are documented at
 * rcshim_result_format in include/rcshim.h.  Async-signal-safe. */
size_t rc_result_render(const struct rcshim_result *res, rcshim_format format, char *buf,
			size_t size);

/* "ok", "partial", ...; "unknown" for a value out of range. */
const char *rc_status_name(int status);
