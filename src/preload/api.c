/* The public C API (include/rcshim.h): each function makes sure the shim is
 * initialised, then calls the core. */
#include "build-config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clean/custom.h"
#include "clean/engine.h"
#include "clean/render.h"
#include "clean/scope.h"
#include "core/config.h"
#include "core/scope.h"
#include "core/state.h"
#include "preload/real.h"
#include "trigger/live.h"
#include "trigger/worker.h"

/* A final cleanup from inside a custom cleaner would wait for the engine
 * that the cleanup running the cleaner holds. */
static rcshim_status
busy(struct rcshim_result *result)
{
	if (result) {
		rc_result_init(result);
		result->status = RCSHIM_BUSY;
	}
	return RCSHIM_BUSY;
}

RC_EXPORT rcshim_status
rcshim_clean(rcshim_priority priority, struct rcshim_result *result)
{
	rc_ensure_init();
	struct rc_clean_req req = { RC_MODE_LIVE, priority, RC_REASON_API, 0, 0 };
	return rc_clean(&req, result);
}

RC_EXPORT rcshim_status
rcshim_emergency_cleanup(struct rcshim_result *result)
{
	rc_ensure_init();
	if (rc_custom_running()) {
		return busy(result);
	}
	struct rc_clean_req req = { RC_MODE_FINAL, RCSHIM_CRITICAL, RC_REASON_API, 0, 0 };
	return rc_clean(&req, result);
}

RC_EXPORT const char *
rcshim_version(void)
{
	return RCSHIM_VERSION;
}

/* --- results ---------------------------------------------------------------- */

RC_EXPORT size_t
rcshim_result_format(const struct rcshim_result *result, rcshim_format format, char *buf,
		     size_t size)
{
	return rc_result_render(result, format, buf, size);
}

RC_EXPORT size_t
rcshim_last_reclaimed(struct rcshim_reclaimed *items, size_t max)
{
	const struct rc_reclaimed *l = &rc_last_reclaimed;
	for (size_t i = 0; items && i < max && i < l->n; i++) {
		items[i] = l->item[i];
	}
	return (size_t)l->total;
}

RC_EXPORT const char *
rcshim_status_name(rcshim_status status)
{
	return rc_status_name((int)status);
}

RC_EXPORT const char *
rcshim_kind_name(rcshim_kind kind)
{
	return (int)kind >= 0 && kind < RCSHIM_KIND_COUNT ? rc_kind_name((int)kind) : "unknown";
}

RC_EXPORT const char *
rcshim_priority_name(rcshim_priority priority)
{
	return (int)priority >= RCSHIM_LOW && priority <= RCSHIM_CRITICAL
		       ? rc_priority_name((int)priority) : "unknown";
}

/* --- scopes ------------------------------------------------------------------ */

/* What a scope or a registration holds is reclaimed, at a termination
 * signal or a live request, by code that is not async-signal-safe (a
 * cleaner, SQLite, the driver): the worker's, started before the call
 * returns. */
static uint64_t
needs_worker(uint64_t id)
{
	if (id) {
		int saved_errno = errno;
		rc_worker_need();
		errno = saved_errno;
	}
	return id;
}

RC_EXPORT rcshim_scope
rcshim_scope_begin_flags(const char *name, unsigned flags)
{
	rc_ensure_init();
	return (rcshim_scope)needs_worker(rc_scope_begin(name, flags));
}

RC_EXPORT rcshim_scope
rcshim_scope_begin(const char *name)
{
	return rcshim_scope_begin_flags(name, 0);
}

RC_EXPORT rcshim_status
rcshim_scope_end(rcshim_scope scope, rcshim_priority priority, struct rcshim_result *result)
{
	rc_ensure_init();
	return rc_scope_end(scope, priority, result);
}

RC_EXPORT rcshim_scope
rcshim_scope_current(void)
{
	return rc_scope_cur;
}

/* --- registration -------------------------------------------------------------- */

RC_EXPORT rcshim_id
rcshim_register_temp_dir(const char *path, const char *name)
{
	rc_ensure_init();
	return needs_worker(rc_custom_register_temp_dir(path, name));
}

RC_EXPORT rcshim_id
rcshim_register_fd(int fd, const char *name)
{
	rc_ensure_init();
	return needs_worker(rc_custom_register_fd(fd, NULL, name));
}

RC_EXPORT rcshim_id
rcshim_register_file(FILE *file, const char *name)
{
	rc_ensure_init();
	if (!file) {
		errno = EINVAL;
		return 0;
	}
	return needs_worker(rc_custom_register_fd(fileno(file), file, name));
}

RC_EXPORT rcshim_id
rcshim_register_gpu_buffer(uint64_t dptr, size_t size, const char *name)
{
	rc_ensure_init();
	return needs_worker(rc_custom_register_gpu(dptr, size, name));
}

RC_EXPORT rcshim_id
rcshim_register_db(struct sqlite3 *db, const char *name)
{
	rc_ensure_init();
	return needs_worker(rc_custom_register_db(db, name));
}

RC_EXPORT rcshim_id
rcshim_register_cleaner(rcshim_cleaner_fn fn, void *ctx, rcshim_priority priority,
			const char *name)
{
	rc_ensure_init();
	return needs_worker(rc_custom_register_cleaner(fn, ctx, priority, name));
}

RC_EXPORT rcshim_id
rcshim_register_cleaner_flags(rcshim_cleaner_fn fn, void *ctx, rcshim_priority priority,
			      const char *name, unsigned flags)
{
	rc_ensure_init();
	return needs_worker(rc_custom_register_cleaner_flags(fn, ctx, priority, name, flags));
}

RC_EXPORT unsigned
rcshim_runtime_owns(unsigned kinds)
{
	rc_ensure_init();
	return rc_runtime_owns(kinds);
}

RC_EXPORT void
rcshim_runtime_close(void)
{
	rc_runtime_close();
}

RC_EXPORT rcshim_status
rcshim_set_interval(double seconds, rcshim_priority priority)
{
	rc_ensure_init();
	if (!(seconds >= 0 && seconds <= 1e6)) {
		return RCSHIM_INVALID;
	}
	unsigned ms = (unsigned)(seconds * 1000.0 + 0.5);
	if (seconds > 0 && ms == 0) {
		ms = 1;
	}
	return rc_live_set_interval(ms, priority);
}

RC_EXPORT rcshim_status
rcshim_set_pressure(const char *spec)
{
	rc_ensure_init();
	return rc_live_set_pressure(spec);
}

RC_EXPORT rcshim_status
rcshim_depends_on(rcshim_id item, rcshim_id dependency)
{
	return rc_custom_depends(item, dependency);
}

RC_EXPORT rcshim_status
rcshim_unregister(rcshim_id id)
{
	return rc_custom_unregister(id, false);
}

RC_EXPORT rcshim_status
rcshim_unregister_cleaner(rcshim_id id)
{
	return rc_custom_unregister(id, true);
}
