/* rcshim — resource reclamation for Linux processes.
 *
 * The same library serves as an LD_PRELOAD shim for unmodified programs and
 * as a C API for programs that link it.  Every function here can also be
 * used through a weak reference, so a program can call it when the shim is
 * present and run unchanged when it is not:
 *
 *     #define RCSHIM_WEAK 1
 *     #include <rcshim.h>
 *     ...
 *     if (rcshim_clean)
 *             rcshim_clean(RCSHIM_MEDIUM, &result);
 */
#ifndef RCSHIM_H
#define RCSHIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RCSHIM_WEAK) && RCSHIM_WEAK
#define RCSHIM_API __attribute__((weak))
#else
#define RCSHIM_API
#endif

/* RCSHIM_PRESENT(fn): whether the shim provides @fn.  Always true in a
 * program that links the library; with RCSHIM_WEAK, false where the shim
 * is absent (the weak reference is then NULL). */
#if defined(RCSHIM_WEAK) && RCSHIM_WEAK
#define RCSHIM_PRESENT(fn) ((fn) != 0)
#else
#define RCSHIM_PRESENT(fn) 1
#endif

/** Priorities: each level includes the levels below it. */
typedef enum rcshim_priority {
	RCSHIM_LOW = 0,      /**< temp dirs and files */
	RCSHIM_MEDIUM = 1,   /**< + SQLite connections, registered fds and FILEs */
	RCSHIM_HIGH = 2,     /**< + GPU memory, heap leak report */
	RCSHIM_CRITICAL = 3, /**< everything, continuing past every error */
} rcshim_priority;

/** The kinds of resources rcshim tracks. */
typedef enum rcshim_kind {
	RCSHIM_KIND_TEMP = 0,
	RCSHIM_KIND_FD = 1,
	RCSHIM_KIND_SQLITE = 2,
	RCSHIM_KIND_GPU = 3,
	RCSHIM_KIND_HEAP = 4,
	RCSHIM_KIND_CUSTOM = 5,
	RCSHIM_KIND_COUNT = 6,
} rcshim_kind;

/** Outcome of a cleanup as a whole. */
typedef enum rcshim_status {
	RCSHIM_OK = 0,       /**< every step that was attempted succeeded */
	RCSHIM_PARTIAL = 1,  /**< some steps failed; the others ran */
	RCSHIM_BUSY = 2,     /**< another cleanup was running; nothing was done */
	RCSHIM_INVALID = 3,  /**< bad argument; nothing was done */
	RCSHIM_DISABLED = 4, /**< the shim is not active in this process */
} rcshim_status;

/** Counts for one kind. */
struct rcshim_kind_result {
	uint64_t cleaned; /**< items reclaimed */
	uint64_t failed;  /**< items whose reclamation failed */
	uint64_t skipped; /**< items left alone (changed identity, not owned, kept by policy) */
	uint64_t bytes;   /**< bytes reclaimed, where known */
};

/** The result every cleanup returns. */
struct rcshim_result {
	rcshim_status status;
	uint64_t cleaned;
	uint64_t failed;
	uint64_t skipped;
	uint64_t bytes;
	struct rcshim_kind_result kind[RCSHIM_KIND_COUNT];
};

/** How many items of a cleanup rcshim_last_reclaimed() describes. */
#define RCSHIM_RECLAIMED_MAX 16

/** One item a cleanup reclaimed. */
struct rcshim_reclaimed {
	rcshim_kind kind;
	/** What it was, one line, NUL-terminated: the temp path, "fd 4 /tmp/x.log",
	 *  the database's path, "GPU 256 MiB at 0x7f3a00000000", a cleaner's name. */
	char what[160];
};

/**
 * The items the calling process's last cleanup (live, final, scope,
 * emergency) reclaimed, in the order it reclaimed them: copies up to
 * @p max of the first RCSHIM_RECLAIMED_MAX into @p items (which may be
 * NULL when @p max is 0) and returns how many it reclaimed in all (a
 * struct rcshim_result counts them per kind; this names them).  The
 * result's size is unchanged: this list lives beside it.
 */
RCSHIM_API size_t rcshim_last_reclaimed(struct rcshim_reclaimed *items, size_t max);

/**
 * Live cleanup: reclaims what can be reclaimed while the program keeps
 * running, at @p priority (DESIGN §3, live column).  @p result may be NULL.
 * Returns the status (also stored in @p result).
 */
RCSHIM_API rcshim_status rcshim_clean(rcshim_priority priority,
				      struct rcshim_result *result);

/**
 * Final cleanup at CRITICAL, as at process exit but callable at any time:
 * every owned resource is reclaimed, continuing past every error.  The
 * program should not use the reclaimed resources afterwards.
 */
RCSHIM_API rcshim_status rcshim_emergency_cleanup(struct rcshim_result *result);

/** The library's version string, e.g. "0.1.0". */
RCSHIM_API const char *rcshim_version(void);

/* ---------------------------------------------------------------------------
 * Rendering a result (docs/api.md, "Results").
 */

/** Output formats. */
typedef enum rcshim_format {
	RCSHIM_FORMAT_TEXT = 0, /**< lines for people */
	RCSHIM_FORMAT_JSON = 1, /**< one JSON object, every kind always present */
} rcshim_format;

/**
 * Renders @p result into @p buf as snprintf does: at most @p size - 1
 * characters and a NUL (nothing when @p size is 0, and @p buf may then be
 * NULL).  Returns the length of the whole rendering, so a return value of
 * @p size or more means it was truncated.  Text is a summary line and one
 * line per kind with any count, each ending in a newline:
 *
 *     partial: cleaned 3, failed 1, skipped 0, bytes 0
 *       temp: cleaned 1, failed 0, skipped 0, bytes 0
 *
 * JSON is one object without a trailing newline:
 * {"status":"ok","cleaned":N,"failed":N,"skipped":N,"bytes":N,
 *  "kinds":{"temp":{"cleaned":N,...},"fd":{...},...,"custom":{...}}}.
 * An unknown @p format renders as text.  Async-signal-safe.
 */
RCSHIM_API size_t rcshim_result_format(const struct rcshim_result *result,
				       rcshim_format format, char *buf, size_t size);

/** "ok", "partial", "busy", "invalid", "disabled"; "unknown" otherwise. */
RCSHIM_API const char *rcshim_status_name(rcshim_status status);
/** "temp", "fd", "sqlite", "gpu", "heap", "custom"; "unknown" otherwise. */
RCSHIM_API const char *rcshim_kind_name(rcshim_kind kind);
/** "LOW", "MEDIUM", "HIGH", "CRITICAL"; "unknown" otherwise. */
RCSHIM_API const char *rcshim_priority_name(rcshim_priority priority);

/* ---------------------------------------------------------------------------
 * Scopes (docs/api.md, "Scopes"): the C form of a
 * `with resource_cleanup_context(...)` block.
 *
 * What the calling thread acquires between rcshim_scope_begin() and
 * rcshim_scope_end() — temp dirs and files, fds and FILEs, SQLite
 * connections, GPU allocations, custom cleaners it registers — and still
 * holds at the end is reclaimed in final mode at the priority given to
 * rcshim_scope_end() (DESIGN §3, final column: LOW temp artifacts; MEDIUM
 * + SQLite connections, fds and FILEs (flushed, then closed); HIGH + GPU
 * memory).  What a scope keeps (below the priority, or failed) passes to
 * the enclosing scope of the same thread, or to the process.
 */

/** A scope's id; 0 is "no scope". */
typedef uint32_t rcshim_scope;

/** Flags for rcshim_scope_begin_flags(). */
enum rcshim_scope_flags {
	/** Free the heap blocks allocated inside the scope and still live at
	 * its end.  Without it they are only reported. */
	RCSHIM_SCOPE_FREE_HEAP = 1u << 0,
};

/**
 * Opens a scope on the calling thread, nested in the thread's current one.
 * @p name (may be NULL) appears in logs and reports; it is copied (up to
 * 47 bytes).  Returns the scope's id, or 0 with errno set (ENOMEM).  Ids
 * are not reused while a scope is open.
 */
RCSHIM_API rcshim_scope rcshim_scope_begin(const char *name);

/** rcshim_scope_begin() with flags (enum rcshim_scope_flags); unknown
 * flags give 0 and errno EINVAL. */
RCSHIM_API rcshim_scope rcshim_scope_begin_flags(const char *name, unsigned flags);

/**
 * Ends @p scope and reclaims, in final mode at @p priority, what the
 * thread acquired inside it and still holds.  Scopes still open inside
 * @p scope are ended first, innermost first, at the same priority (their
 * counts are included).  @p result may be NULL.
 *
 * Returns RCSHIM_OK or RCSHIM_PARTIAL; RCSHIM_INVALID when @p scope is not
 * open on the calling thread (ended already, never begun, or begun on
 * another thread: one warning line says which, and nothing is done — the
 * owning thread can still end it) or @p priority is out of range;
 * RCSHIM_BUSY when called from inside a custom cleaner.
 */
RCSHIM_API rcshim_status rcshim_scope_end(rcshim_scope scope, rcshim_priority priority,
					  struct rcshim_result *result);

/** The calling thread's innermost open scope, 0 if none. */
RCSHIM_API rcshim_scope rcshim_scope_current(void);

/** State of a RCSHIM_SCOPE block; use the macros, not this directly. */
struct rcshim_scope_guard {
	rcshim_scope scope;
	rcshim_priority priority;
	struct rcshim_result *result;
};

static inline void
rcshim_scope_guard_end_(struct rcshim_scope_guard *g)
{
	if (g->scope && RCSHIM_PRESENT(rcshim_scope_end)) {
		rcshim_scope_end(g->scope, g->priority, g->result);
	} else if (g->result) {
		/* The shim is absent (weak reference) or the scope could not
		 * be opened: nothing was reclaimed. */
		struct rcshim_result *r = g->result;
		r->status = RCSHIM_DISABLED;
		r->cleaned = r->failed = r->skipped = r->bytes = 0;
		for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
			r->kind[k].cleaned = r->kind[k].failed = 0;
			r->kind[k].skipped = r->kind[k].bytes = 0;
		}
	}
}

static inline rcshim_scope
rcshim_scope_guard_begin_(const char *name, unsigned flags)
{
	return RCSHIM_PRESENT(rcshim_scope_begin_flags) ? rcshim_scope_begin_flags(name, flags) : 0;
}

#define RCSHIM_CAT2_(a, b) a##b
#define RCSHIM_CAT_(a, b) RCSHIM_CAT2_(a, b)

/**
 * RCSHIM_SCOPE(name);  — a declaration: opens a scope that ends, at
 * RCSHIM_CRITICAL (everything the scope holds), when the enclosing block
 * is left by any path (return, break, goto; not longjmp).
 *
 * RCSHIM_SCOPE_EX(name, priority, flags, result);  — the same with the
 * priority, flags (enum rcshim_scope_flags) and a struct rcshim_result *
 * (may be NULL) that receives the outcome; with the shim absent (weak
 * reference) its status is RCSHIM_DISABLED.
 */
#define RCSHIM_SCOPE(name) RCSHIM_SCOPE_EX(name, RCSHIM_CRITICAL, 0u, (struct rcshim_result *)0)
#define RCSHIM_SCOPE_EX(name, priority, flags, result)                                   \
	__attribute__((cleanup(rcshim_scope_guard_end_), unused)) struct rcshim_scope_guard \
	RCSHIM_CAT_(rcshim_scope_guard_, __COUNTER__) = {                                \
		rcshim_scope_guard_begin_((name), (flags)), (priority), (result) }

/* ---------------------------------------------------------------------------
 * Registration (docs/api.md, "Registration"): a name for the report, and
 * consent to release the resource in live mode (rcshim_clean(), the live
 * signal, the timer, memory pressure) at its kind's priority: temp dirs at
 * LOW, fds, FILEs and SQLite connections at MEDIUM, GPU buffers at HIGH.
 * In final mode registered resources are released like the rest of their
 * kind, in dependency order, except that registered fds and FILEs are also
 * flushed and closed at process end (other fds are left to the kernel).
 * A resource the program releases itself is forgotten.
 */

/** Identifies a registered resource or cleaner; 0 is "none". */
typedef uint64_t rcshim_id;

/**
 * Registers the directory at @p path (any directory but "/"; its identity
 * is taken now, and removal happens only if it still matches).  Returns
 * its id, or 0 with errno set (ENOENT, ENOTDIR, EINVAL, ENOMEM).
 * Registering the same path again renames it and returns the same id.
 */
RCSHIM_API rcshim_id rcshim_register_temp_dir(const char *path, const char *name);

/** Registers the open file descriptor @p fd (not 0, 1 or 2: EINVAL; EBADF
 * if not open).  Closed only while fstat still matches its identity now. */
RCSHIM_API rcshim_id rcshim_register_fd(int fd, const char *name);

/** Registers the stream @p file: released with fclose (flushed first). */
RCSHIM_API rcshim_id rcshim_register_file(FILE *file, const char *name);

/**
 * Registers the GPU allocation @p dptr of @p size bytes (a CUdeviceptr, or
 * a pointer from cudaMalloc as an integer).  Freed through the CUDA driver
 * the process has loaded, in the context it was allocated in, by GPU
 * tracking; without a driver (or a build without GPU tracking) it is kept
 * and counted as skipped.  Never freed at process end (DESIGN §3).  EINVAL
 * for 0.  See docs/api.md, "GPU buffers".
 */
RCSHIM_API rcshim_id rcshim_register_gpu_buffer(uint64_t dptr, size_t size, const char *name);

struct sqlite3;
/** Registers the SQLite connection @p db: released by finalizing its
 * statements and closing it (which checkpoints a WAL).  ENOSYS if SQLite's
 * functions cannot be found in the process. */
RCSHIM_API rcshim_id rcshim_register_db(struct sqlite3 *db, const char *name);

/**
 * A custom cleaner: returns how many items it cleaned (>= 0), or a
 * negative value (e.g. -errno) when it failed; it is then counted once as
 * failed, and the other cleaners still run.
 */
typedef long (*rcshim_cleaner_fn)(void *ctx);

/**
 * Registers @p fn, called with @p ctx by every cleanup at @p priority or
 * above: live cleanups call it and keep it; final ones (the end of the
 * scope it was registered in, process end, rcshim_emergency_cleanup())
 * call it and forget it.  Cleaners run before the built-in steps (they
 * may still use any resource), LOW ones first, newest first within a
 * priority, and after whatever depends on them (rcshim_depends_on()).
 * Inside @p fn the calling thread may use the API, but a cleanup started
 * from there returns RCSHIM_BUSY.  Returns the id, or 0 with errno set
 * (EINVAL: @p fn NULL or @p priority out of range; ENOMEM).
 */
RCSHIM_API rcshim_id rcshim_register_cleaner(rcshim_cleaner_fn fn, void *ctx,
					     rcshim_priority priority, const char *name);

/** Flags for rcshim_register_cleaner_flags(). */
enum rcshim_cleaner_flags {
	/**
	 * The cleaner runs code of a language runtime (an interpreter: the
	 * Python binding's cleaners).  It is never called at the process's
	 * end (exit, termination signal, crash: the runtime is finalized, or
	 * stopped inside the handler that waits for the cleanup), nor after
	 * rcshim_runtime_close(); it is then counted as skipped.
	 */
	RCSHIM_CLEANER_RUNTIME = 1u << 0,
};

/** rcshim_register_cleaner() with flags (enum rcshim_cleaner_flags);
 * unknown flags give 0 and errno EINVAL. */
RCSHIM_API rcshim_id rcshim_register_cleaner_flags(rcshim_cleaner_fn fn, void *ctx,
						   rcshim_priority priority, const char *name,
						   unsigned flags);

/**
 * Declares that the program's runtime (the Python binding calls this)
 * owns the process's resources of the kinds in @p kinds — a mask of
 * (1u << RCSHIM_KIND_FD), (1u << RCSHIM_KIND_SQLITE), (1u << RCSHIM_KIND_GPU);
 * other bits are ignored — through objects of its own (file objects,
 * sqlite3.Connection, tensors under a caching allocator).  From then on
 * the cleanups after which the program goes on (scope ends, live
 * cleanups, rcshim_emergency_cleanup()) leave those resources alone and
 * count them as skipped: the runtime releases them through its objects.
 * Resources registered through this API are still released.  At the
 * process's end (exit, termination signal, crash) the usual final steps
 * apply.  0 gives the engine its resources back.  Returns the previous
 * mask.
 */
RCSHIM_API unsigned rcshim_runtime_owns(unsigned kinds);

/**
 * The runtime is finalizing: RCSHIM_CLEANER_RUNTIME cleaners are never
 * called again.  Waits until those already called (on any thread but the
 * caller's) have returned, so the caller must not hold a lock they take
 * (an interpreter's GIL: ctypes releases it around the call).
 */
RCSHIM_API void rcshim_runtime_close(void);

/**
 * Starts, changes or (with @p seconds 0) stops the periodic live cleanup
 * at @p priority (RCSHIM_INTERVAL's timer), on the shim's thread.
 * RCSHIM_INVALID for a negative or non-finite @p seconds or a bad
 * priority; RCSHIM_DISABLED if the thread cannot be started.
 */
RCSHIM_API rcshim_status rcshim_set_interval(double seconds, rcshim_priority priority);

/**
 * Starts (or reconfigures) the memory-pressure monitor with @p spec, in
 * RCSHIM_PRESSURE's syntax ("on" or "" for the defaults; docs/live.md),
 * or stops it with NULL or "off".  Each run's priority is chosen by the
 * monitor from the pressure.  RCSHIM_INVALID for a bad spec (one warning
 * line; the monitor is unchanged).
 */
RCSHIM_API rcshim_status rcshim_set_pressure(const char *spec);

/**
 * Declares that @p item (a cleaner or a registered resource) uses
 * @p dependency: @p item is cleaned first.  In live mode a dependency is
 * not released while something that depends on it is kept (it is counted
 * as skipped).  A cycle is accepted here; a cleanup that meets one logs it,
 * breaks it at its first item in the usual order, and goes on.  Returns
 * RCSHIM_OK, or RCSHIM_INVALID when either id is not registered.
 */
RCSHIM_API rcshim_status rcshim_depends_on(rcshim_id item, rcshim_id dependency);

/** Forgets the registration @p id (a resource stays as it is, a cleaner
 * is no longer called).  RCSHIM_INVALID if @p id is not registered. */
RCSHIM_API rcshim_status rcshim_unregister(rcshim_id id);

/** rcshim_unregister() for cleaners only: RCSHIM_INVALID for any other id. */
RCSHIM_API rcshim_status rcshim_unregister_cleaner(rcshim_id id);

/* ---------------------------------------------------------------------------
 * Reports (docs/report-format.md).
 */

/**
 * Writes the current state to @p fd: per kind, what the process holds now,
 * grouped by the stack that acquired it and symbolized; the heap's exact
 * live blocks and bytes and its sampled stacks; the cleanups that ran.
 * RCSHIM_FORMAT_JSON writes one JSON object on one line (schema in
 * docs/report-format.md), RCSHIM_FORMAT_TEXT lines for people.  Returns 0,
 * or -errno when writing failed.  Not async-signal-safe.
 */
RCSHIM_API int rcshim_report(int fd, rcshim_format format);

#ifdef __cplusplus
}
#endif

#endif /* RCSHIM_H */
