/* The cleanup engine (DESIGN §3): plan by mode and priority, reclaim in
 * dependency order, count every outcome into a struct rcshim_result.
 *
 * Order: SQLite connections, then fds (both may live inside a temp tree),
 * then GPU memory, then temp artifacts.  One failure never stops the rest.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcshim.h"

enum rc_mode {
	RC_MODE_FINAL = 0, /* the process ends, or a scope does */
	RC_MODE_LIVE = 1,  /* the program goes on and must not notice */
	RC_MODE_CRASH = 2, /* async-signal-safe steps only */
};

enum rc_reason {
	RC_REASON_EXIT = 0,
	RC_REASON_SIGNAL,      /* termination signal */
	RC_REASON_CRASH,       /* crash signal */
	RC_REASON_API,         /* rcshim_clean / rcshim_emergency_cleanup */
	RC_REASON_SCOPE,
	RC_REASON_LIVE_SIGNAL, /* RCSHIM_SIGNAL */
	RC_REASON_TIMER,
	RC_REASON_PRESSURE,
};

struct rc_clean_req {
	enum rc_mode mode;
	rcshim_priority prio;
	enum rc_reason reason;
	int signo;
	uint32_t scope; /* 0: the whole process */
};

/* Runs a final or live cleanup.  Not async-signal-safe.  Serialised: a live
 * request finding another cleanup running returns RCSHIM_BUSY. */
rcshim_status rc_clean(const struct rc_clean_req *req, struct rcshim_result *res);

/* The crash steps: temp trees through the journal (raw system calls) and,
 * at MEDIUM and above with @close_fds, owned fds other than 0, 1, 2.
 * Async-signal-safe. */
void rc_clean_crash(rcshim_priority prio, bool close_fds, int signo,
		    struct rcshim_result *res);

/* Result bookkeeping. */
void rc_result_init(struct rcshim_result *res);
void rc_result_add(struct rcshim_result *res, int kind, uint64_t cleaned,
		   uint64_t failed, uint64_t skipped, uint64_t bytes);
/* Counts the outcome of removing one temp artifact (rc_rmtree codes). */
void rc_result_count_temp(struct rcshim_result *res, int rc, const char *path);
/* Sums the kinds into the totals and sets the status. */
void rc_result_finish(struct rcshim_result *res);

/* "temp 2, sqlite 1 (1 failed)" or "nothing".  Async-signal-safe. */
size_t rc_result_describe(const struct rcshim_result *res, char *buf, size_t len);
/* One info line: "<reason>[ <signo>]: reclaimed <description>". */
void rc_result_log(enum rc_reason reason, int signo, const struct rcshim_result *res);

/* clean/heap.c: malloc_trim(0); returns how many bytes resident memory
 * dropped by.  Not async-signal-safe. */
uint64_t rc_heap_trim(void);
/* clean/heap.c: the heap's part of a scope's end (clean/scope.c): the
 * blocks scope @scope still holds reported by stack (when @res), then
 * freed when @free_blocks, else handed to @parent (0: the process). */
void rc_heap_scope_reclaim(uint32_t scope, uint32_t parent, rcshim_priority prio,
			   bool free_blocks, struct rcshim_result *res);

/* The fork child: a cleanup another thread was running in the parent
 * does not exist in the child, nor must its lock. */
void rc_engine_after_fork_child(void);

/* What the last cleanup of this process reclaimed, item by item: the
 * first RC_RECLAIMED_MAX of them described ("/tmp/x", "fd 4 /tmp/x.log",
 * a database's path, "GPU 256 MiB at 0x7f..."), all of them counted.
 * Emptied when a cleanup begins; read by the report (its "final cleanup")
 * and rcshim_last_reclaimed().  A cleanup of a scope, or a live one,
 * replaces it too. */
#define RC_RECLAIMED_MAX RCSHIM_RECLAIMED_MAX
struct rc_reclaimed {
	uint64_t total;
	uint32_t n;
	struct rcshim_reclaimed item[RC_RECLAIMED_MAX];
};
extern struct rc_reclaimed rc_last_reclaimed;
/* Adds one item (printf-like, rc_fmt's conversions).  Async-signal-safe. */
void rc_reclaimed_add(int kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether the next item will be described (not merely counted): a step
 * skips the work of describing one (a readlink) when it will not be. */
bool rc_reclaimed_room(void);
/* "256 MiB", "39 KiB", "17 bytes".  Async-signal-safe. */
size_t rc_human_bytes(char *buf, size_t len, uint64_t bytes);

/* Totals over the process's life, for the report and the launcher. */
extern struct rcshim_result rc_lifetime;
