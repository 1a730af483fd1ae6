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

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RCSHIM_WEAK) && RCSHIM_WEAK
#define RCSHIM_API __attribute__((weak))
#else
#define RCSHIM_API
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

#ifdef __cplusplus
}
#endif

#endif /* RCSHIM_H */
