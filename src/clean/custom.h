/* Registered resources and custom cleaners (DESIGN §7), and the step that
 * releases them (rc_step_custom, the first step of every cleanup).
 *
 * A registration is two things: the resource's record in the tracking core
 * (registry record or fd entry) flagged RC_REC_REGISTERED /
 * RC_FD_REGISTERED — made if the shim was not tracking it — which keeps
 * owner, scope and identity as for every resource; and an item here that
 * adds what only the API knows: the id, the name, the priority, the
 * dependencies and, for a cleaner, its function.  Cleaners are records of
 * kind CUSTOM whose handle is their id (and whose path is their name).
 *
 * An item whose record is gone (the program closed, removed or freed the
 * resource itself) is forgotten at the next cleanup.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rcshim.h"

/* Each returns the new (or existing, for a resource registered again) id,
 * or 0 with errno set. */
uint64_t rc_custom_register_temp_dir(const char *path, const char *name);
/* @fp: the stream over @fd, or NULL for a bare fd. */
uint64_t rc_custom_register_fd(int fd, FILE *fp, const char *name);
uint64_t rc_custom_register_db(void *db, const char *name);
uint64_t rc_custom_register_gpu(uint64_t dptr, uint64_t size, const char *name);
uint64_t rc_custom_register_cleaner(rcshim_cleaner_fn fn, void *ctx, rcshim_priority prio,
				    const char *name);
/* @flags: RCSHIM_CLEANER_* (others: EINVAL). */
uint64_t rc_custom_register_cleaner_flags(rcshim_cleaner_fn fn, void *ctx, rcshim_priority prio,
					  const char *name, unsigned flags);

/* --- the program's runtime (an interpreter: the Python binding) ----------------
 * rcshim_runtime_owns(): the runtime's objects own the process's fds,
 * SQLite connections and GPU memory; cleanups after which the program goes
 * on leave them (rc_runtime_leaves).  rcshim_runtime_close(): the runtime is
 * finalizing; runtime cleaners (RCSHIM_CLEANER_RUNTIME) are no longer
 * called, and those in flight have returned when it returns. */
#define RC_RUNTIME_KINDS ((1u << RCSHIM_KIND_FD) | (1u << RCSHIM_KIND_SQLITE) | \
			  (1u << RCSHIM_KIND_GPU))
struct rc_clean_req;
unsigned rc_runtime_owns(unsigned kinds);
/* Whether @req must leave resources of @kind to the runtime. */
bool rc_runtime_leaves(const struct rc_clean_req *req, int kind);
/* Whether @req is the process's end (exit, termination signal, crash):
 * the program's code does not run again. */
bool rc_req_process_end(const struct rc_clean_req *req);
void rc_runtime_close(void);
bool rc_runtime_is_closed(void);
/* rc_custom_call for a runtime cleaner: *@called false (and 0 returned)
 * once the runtime is closed. */
long rc_custom_call_runtime(rcshim_cleaner_fn fn, void *ctx, bool *called);

/* @item uses @dep: @item is cleaned first. */
rcshim_status rc_custom_depends(uint64_t item, uint64_t dep);
/* Forgets @id (only if it is a cleaner, with @cleaners_only). */
rcshim_status rc_custom_unregister(uint64_t id, bool cleaners_only);

/* True while the calling thread runs a custom cleaner: a final cleanup
 * started from there would wait for the engine its caller holds. */
bool rc_custom_running(void);

/* Registered items (all processes' records, stale ones included until the
 * next cleanup forgets them). */
size_t rc_custom_count(void);

/* The registered name of the resource (@kind, @handle) — for the report —
 * copied into @buf; NULL if it has none.  @handle: fd number, pointer,
 * cleaner id, or rc_path_hash of a temp dir's path. */
const char *rc_custom_name(int kind, uint64_t handle, char *buf, size_t len);

/* Forgets every item, and the runtime's state (tests; the records stay). */
void rc_custom_reset(void);

/* The priority at which a registered resource of @kind is released. */
rcshim_priority rc_custom_kind_priority(int kind);

/* --- for the step (clean/step-custom.c) ------------------------------------- */

/* A copy of one item. */
struct rc_custom_item {
	uint64_t id;
	uint64_t gen;      /* larger for items registered (again) later */
	uint64_t handle;   /* fd, pointer, cleaner id, or path hash */
	uint64_t dev, ino; /* TEMP and FD: identity at registration */
	uint64_t size;     /* GPU */
	char *path;        /* TEMP */
	char *name;
	FILE *fp;
	rcshim_cleaner_fn fn;
	void *ctx;
	uint64_t *deps;    /* ids of what it uses */
	uint32_t ndeps;
	uint8_t kind;
	uint8_t prio;
	uint8_t flags;     /* RCSHIM_CLEANER_* */
};

/* The current generation: items registered (again) from now on have a
 * larger gen. */
uint64_t rc_custom_generation(void);
/* Copies every item, sorted by id.  Returns the count (0 with *out NULL
 * when there is none or memory ran out). */
size_t rc_custom_snapshot(struct rc_custom_item **out);
void rc_custom_free_snapshot(struct rc_custom_item *items, size_t n);
/* Forgets the items @ids that are still registered. */
void rc_custom_forget(const uint64_t *ids, size_t n);
/* Calls a cleaner as the program's own code: tracking on, and
 * rc_custom_running() true meanwhile.  errno is preserved. */
long rc_custom_call(rcshim_cleaner_fn fn, void *ctx);

/* GPU memory (the GPU module): frees the allocation @dptr of @size bytes
 * that the program registered, and takes its record.  Returns 0 when
 * freed, -ENOENT when the driver no longer knows it (freed behind the
 * shim's back; record taken), -ENOSYS without a driver (record kept),
 * another -errno when the driver refused (record kept).  Called by the
 * registered step in live mode at HIGH; in final mode and live CRITICAL
 * the GPU step frees GPU records itself.  Weak: without a GPU module the
 * registered step counts registered GPU buffers as skipped, in every mode
 * but process end. */
int rc_gpu_free_registered(uint64_t dptr, uint64_t size) __attribute__((weak));

/* Around fork: the table's lock (see rc_fork_managed, core/state.h). */
void rc_custom_fork_prepare(void);
void rc_custom_fork_parent(void);
void rc_custom_fork_child(void);
