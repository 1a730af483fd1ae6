/* Process-wide state of the shim: configuration, readiness, the per-thread
 * recursion guard and current scope. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

#define RC_TLS __thread __attribute__((tls_model("initial-exec")))

/* Large zero-initialised tables, placed after .bss (the linker puts .lbss,
 * x86-64's large-data bss, at its end): between the shim's small
 * variables they would spread those over more pages, and every page a
 * process touches first costs start-up time.  Elsewhere, plain .bss. */
#if defined(__x86_64__)
#define RC_COLD_BSS __attribute__((section(".lbss")))
#else
#define RC_COLD_BSS
#endif

extern struct rc_config rc_cfg;

/* 0 before rc_state_init, 1 while it runs, 2 after. */
extern atomic_int rc_ready;
/* Set once the final cleanup at exit has run: nothing is tracked after. */
extern atomic_bool rc_finished;

/* Non-zero while the shim itself is working on this thread: its own calls
 * into libc must not be tracked. */
extern RC_TLS int rc_guard;
/* The innermost open scope of this thread (0 = none). */
extern RC_TLS uint32_t rc_scope_cur;

/* This process's pid, refreshed in the fork child. */
extern int32_t rc_pid_cached;

/* Parses the environment @envp (usually environ), applies RCSHIM_LOG and
 * the temp roots, and joins or starts the session.  Idempotent.  Returns
 * true when it started a new session (the caller exports its id). */
bool rc_state_init(char *const *envp);

/* Whether @kind is tracked: configured, initialised, and not finished. */
static inline bool
rc_tracking(int kind)
{
	return atomic_load_explicit(&rc_ready, memory_order_acquire) == 2 &&
	       (rc_cfg.track & (1u << kind)) &&
	       !atomic_load_explicit(&rc_finished, memory_order_relaxed);
}

/* Called in the fork child: it owns nothing it inherited. */
void rc_state_after_fork_child(void);
