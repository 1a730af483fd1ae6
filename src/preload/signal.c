/* sigaction and signal: the program sees its signal dispositions as they
 * would be without the shim (DESIGN §4).  glibc's signal() calls sigaction
 * internally, past the PLT, so it is wrapped as well. */
#include "build-config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "preload/real.h"
#include "trigger/signals.h"

REAL(int (*)(int, const struct sigaction *, struct sigaction *), sigaction);

RC_EXPORT int
sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	rc_ensure_init();
	if (__builtin_expect(!rc_signals_installed(), 0)) {
		/* Before the shim's initialisation (deferred when called this
		 * early: see rc_preload_init), or while it runs: it holds no
		 * signal yet, so there is nothing to hide. */
		RESOLVE(sigaction, -1);
		return real_sigaction(sig, act, old);
	}
	return rc_signals_sigaction(sig, act, old);
}

static sighandler_t
set_handler(int sig, sighandler_t handler, int flags)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) < 0) {
		return SIG_ERR;
	}
	return old.sa_handler;
}

/* BSD semantics, as glibc's signal() has. */
RC_EXPORT sighandler_t
signal(int sig, sighandler_t handler)
{
	return set_handler(sig, handler, SA_RESTART);
}

RC_EXPORT sighandler_t
bsd_signal(int sig, sighandler_t handler)
{
	return set_handler(sig, handler, SA_RESTART);
}

RC_EXPORT sighandler_t
sysv_signal(int sig, sighandler_t handler)
{
	return set_handler(sig, handler, (int)(SA_RESETHAND | SA_NODEFER));
}
