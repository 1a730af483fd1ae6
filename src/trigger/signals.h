/* Termination and crash signals (DESIGN §4).
 *
 * A handler is installed only where the disposition is the default, and
 * the program never sees it: sigaction/signal report SIG_DFL for a signal
 * the shim holds, and a handler the program installs replaces the shim's.
 * After the cleanup the signal is re-raised with its default action, so the
 * exit status (and core dump) is the one without the shim.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>

typedef int (*rc_sigaction_fn)(int, const struct sigaction *, struct sigaction *);

/* Installs the handlers (constructor).  @real is libc's sigaction. */
void rc_signals_install(rc_sigaction_fn real);

/* The sigaction interposer's core: performs the call as the program would
 * see it without the shim.  Returns what sigaction returns. */
int rc_signals_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* Whether rc_signals_install has run: before it the shim holds no signal
 * and the interposer passes calls straight through. */
bool rc_signals_installed(void);

/* Whether the shim's handler is installed for @sig. */
bool rc_signal_held(int sig);

/* How long a handler waits for the worker before falling back to the
 * async-signal-safe steps. */
#define RC_SIGNAL_DEADLINE_MS 3000
