#include "build-config.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "clean/engine.h"
#include "core/log.h"
#include "core/state.h"
#include "core/sys.h"
#include "report/report.h"
#include "trigger/live.h"
#include "trigger/signals.h"
#include "trigger/worker.h"

static rc_sigaction_fn real_sigaction RC_HOT;
static atomic_bool held[NSIG] RC_HOT;
/* 0 idle, 1 a final or crash cleanup is running, 2 it has run. */
static atomic_int fatal_state RC_HOT;

static const int final_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };
static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
/* RCSHIM_SIGNAL, 0 when none. */
static int live_sig RC_HOT;

static bool
is_managed(int sig, bool *crash)
{
	if (sig == live_sig && sig > 0) {
		*crash = false;
		return true;
	}
	for (size_t i = 0; i < sizeof(final_signals) / sizeof(*final_signals); i++) {
		if (final_signals[i] == sig) {
			*crash = false;
			return true;
		}
	}
	for (size_t i = 0; i < sizeof(crash_signals) / sizeof(*crash_signals); i++) {
		if (crash_signals[i] == sig) {
			*crash = true;
			return true;
		}
	}
	return false;
}

bool
rc_signals_installed(void)
{
	return real_sigaction != NULL;
}

bool
rc_signal_held(int sig)
{
	return sig > 0 && sig < NSIG && atomic_load(&held[sig]);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000 };
	rc_sys(SYS_nanosleep, &ts, NULL, 0, 0, 0, 0);
}

/* Runs once per process, whichever fatal signal comes first; a second
 * thread arriving meanwhile waits for the first (bounded) so the process
 * does not die half-cleaned. */
static void
fatal_cleanup(int sig, bool crash)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&fatal_state, &expected, 1)) {
		for (unsigned waited = 0; atomic_load(&fatal_state) == 1 &&
					  waited < RC_SIGNAL_DEADLINE_MS + 1000;
		     waited += 10) {
			sleep_ms(10);
		}
		return;
	}
	struct rcshim_result res;
	rc_result_init(&res);
	bool done = false;
	struct rc_clean_req req = { RC_MODE_FINAL, rc_cfg.priority, RC_REASON_SIGNAL, sig, 0 };
	if (!crash && rc_worker_running()) {
		done = rc_worker_request_wait(&req, RC_SIGNAL_DEADLINE_MS);
		if (!done) {
			rc_warn("cleanup for signal %d did not finish in %u ms; "
				"doing the async-signal-safe steps only",
				sig, RC_SIGNAL_DEADLINE_MS);
		}
	} else if (!crash && rc_self.locks == 0) {
		/* No worker: the process holds nothing whose cleanup needs
		 * one, and the final cleanup's steps that are
		 * async-signal-safe, with its report, run here.  Not when
		 * the signal interrupted the shim's own critical section on
		 * this thread (the crash steps below take no lock). */
		rc_self.signal_safe++;
		/* What was held before the cleanup, for the report (no lock
		 * of this thread's is held here). */
		rc_report_before_exit();
		if (rc_clean(&req, &res) != RCSHIM_BUSY) {
			rc_report_cleanup(&req, &res);
			done = true;
		}
		rc_self.signal_safe--;
	}
	if (!done) {
		/* Final mode leaves fds to the kernel; the crash column
		 * closes them. */
		rc_clean_crash(rc_cfg.priority, crash, sig, &res);
	}
	atomic_store(&rc_finished, true);
	atomic_store(&fatal_state, 2);
}

/* @own: the process is the one the shim's state belongs to (not a vfork
 * child, whose memory is its parent's). */
static void
reraise(int sig, const siginfo_t *si, bool own)
{
	struct sigaction dfl;
	sigset_t set;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	real_sigaction(sig, &dfl, NULL);
	if (own) {
		atomic_store(&held[sig], false);
	}

	/* A fault raised by the kernel re-executes the faulting instruction
	 * on return and dies of it there: the core shows the real place. */
	if (si && si->si_code > 0 && sig != SIGABRT &&
	    (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE)) {
		return;
	}
	sigemptyset(&set);
	sigaddset(&set, sig);
	rc_sys_tgkill(rc_sys_getpid(), rc_sys_gettid(), sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void
on_fatal(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	bool crash = false;

	(void)uc;
	is_managed(sig, &crash);
	/* A child that shares the parent's memory (vfork) or ran no fork
	 * handler (_Fork), or that the shim is off in, owns nothing: the
	 * default action only, nothing written. */
	bool own = rc_own_process();
	if (own && atomic_load(&rc_ready) == 2 && !atomic_load(&rc_off)) {
		rc_guard++;
		fatal_cleanup(sig, crash);
		rc_guard--;
	}
	reraise(sig, si, own);
	errno = saved;
}

static void
on_live(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)uc;
	if (!rc_own_process()) {
		/* A vfork child, say, before its exec: as without the shim,
		 * the signal's default action. */
		reraise(sig, si, false);
	} else if (atomic_load(&rc_ready) == 2 && !atomic_load(&rc_off)) {
		rc_live_on_signal(sig, si ? si->si_code : 0, si ? si->si_value.sival_int : 0);
	}
	errno = saved;
}

static void
trigger_lost(int sig, const char *why)
{
	rc_info("the live trigger (signal %d) is lost: %s", sig, why);
	rc_report_note("live trigger signal %d lost: %s", sig, why);
}

static bool
is_default(const struct sigaction *a)
{
	return (a->sa_flags & SA_SIGINFO) ? !a->sa_sigaction : a->sa_handler == SIG_DFL;
}

/* Installs the shim's handler for @sig where the program has none.  With
 * @blocked (every signal blocked by the caller) in one call that returns
 * the old action, put back when it was not the default: a signal that
 * comes meanwhile stays pending until the old action is back.  A process
 * that starts under the shim makes ten calls, not twenty. */
static void
install_as(int sig, bool blocked)
{
	struct sigaction sa, old;

	if (!blocked && real_sigaction(sig, NULL, &old) != 0) {
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sig == live_sig ? on_live : on_fatal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	/* Let a crash inside the cleanup kill the process at once rather
	 * than hang it: synchronous faults are not maskable anyway. */
	sigfillset(&sa.sa_mask);
	if (blocked && real_sigaction(sig, &sa, &old) != 0) {
		return;
	}
	if (!is_default(&old)) {
		/* Ignored or handled by the program already: it wins. */
		if (blocked) {
			real_sigaction(sig, &old, NULL);
		}
		if (sig == live_sig) {
			trigger_lost(sig, old.sa_handler == SIG_IGN
						  ? "the program ignores it"
						  : "the program handles it");
		}
		return;
	}
	if (blocked || real_sigaction(sig, &sa, NULL) == 0) {
		atomic_store(&held[sig], true);
	}
}

static void
install(int sig)
{
	install_as(sig, false);
}

void
rc_signals_install(rc_sigaction_fn real)
{
	bool crash;

	real_sigaction = real;
	if (!real_sigaction) {
		return;
	}
	live_sig = rc_cfg.live_signal;
	sigset_t all, old;
	sigfillset(&all);
	bool blocked = rc_sys(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof(long), 0, 0) == 0;
	for (int sig = 1; sig < NSIG; sig++) {
		if (is_managed(sig, &crash)) {
			install_as(sig, blocked);
		}
	}
	if (blocked) {
		rc_sys(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(long), 0, 0);
	}
}

static void
as_default(struct sigaction *old)
{
	memset(old, 0, sizeof(*old));
	old->sa_handler = SIG_DFL;
}

int
rc_signals_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	bool crash;

	if (!real_sigaction) {
		errno = ENOSYS;
		return -1;
	}
	if (sig <= 0 || sig >= NSIG || !is_managed(sig, &crash)) {
		return real_sigaction(sig, act, old);
	}
	/* A child that shares this memory (Python's subprocess children are
	 * vfork children, which reset every handler to the default before
	 * exec) must not change what the shim knows about its parent's
	 * signals: to it the calls go straight through, and it sees the
	 * shim's handler as it is. */
	if (!rc_own_process()) {
		return real_sigaction(sig, act, old);
	}
	bool was_held = atomic_load(&held[sig]);
	bool to_default = act && !(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL;

	if (was_held && (!act || to_default)) {
		/* A query, or asking for what it already "has": the default
		 * action (which the shim's handler ends in) stays. */
		if (old) {
			as_default(old);
		}
		return 0;
	}
	if (was_held) {
		/* The program installs its own handler, or ignores: it wins. */
		int r = real_sigaction(sig, act, NULL);
		if (r == 0) {
			atomic_store(&held[sig], false);
			if (sig == live_sig) {
				trigger_lost(sig, "the program installed its own handler");
			}
			if (old) {
				as_default(old);
			}
		}
		return r;
	}
	int r = real_sigaction(sig, act, old);
	if (r == 0 && to_default && atomic_load(&rc_ready) == 2) {
		/* Back to the default: the shim takes it up again, unseen. */
		install(sig);
	}
	return r;
}
