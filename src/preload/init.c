/* Start-up and exit of the shim in a process. */
#include "build-config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>

#include "clean/custom.h"
#include "clean/engine.h"
#include "core/arena.h"
#include "core/fdtable.h"
#include "core/heap.h"
#include "core/log.h"
#include "core/registry.h"
#include "core/scope.h"
#include "core/session.h"
#include "core/stack.h"
#include "core/state.h"
#include "core/sys.h"
#include "preload/heap.h"
#include "preload/real.h"
#include "report/report.h"
#include "report/symbol.h"
#include "report/timeline.h"
#include "trigger/live.h"
#include "trigger/signals.h"
#include "trigger/worker.h"

extern char **environ;

/* How long a fork waits for the worker to finish what it is doing. */
#define FORK_WAIT_MS 2000

/* This fork copies a thread that holds, or may hold, the shim's own locks:
 * the forking thread is inside one of the shim's critical sections (a fork
 * from a signal handler that interrupted the shim, or from a cleaner the
 * engine runs), or the worker stayed busy past FORK_WAIT_MS.  The fork
 * handlers then take no lock (waiting on one this thread holds would never
 * end), and the child turns the shim off (rc_off). */
static RC_TLS bool fork_blind; /* per forking thread: forks may overlap */
static atomic_ulong forks_blind;

/* This fork is made by the process's only thread, which is not inside the
 * shim's own work (else it forks blind): no other thread can hold a lock
 * of the shim's or be inside the unwinder, so none is taken, and the
 * handlers write nothing they need not.  After a fork every page either
 * process writes first is copied (on these machines a page fault costs
 * about as much as the rest of a shell's fork): taking and releasing the
 * locks wrote ten of them in each process.  glibc clears
 * __libc_single_threaded at the first pthread_create (the shim's worker
 * included) and never sets it again. */
static RC_TLS bool fork_single;

/* The C library's _exit and _Exit, which the shim's own call after its
 * cleanup.  Resolved by the first fork's parent (before_fork), not by the
 * child that exits: a subshell ends with _exit, and a look-up there read
 * the loader's and every object's symbol tables anew (a fork child has
 * none of its parent's page table entries for them), eight page faults
 * in each. */
REAL(void (*)(int), _exit);
REAL(void (*)(int), _Exit);

/* The worker is made idle first (it may need any lock to finish its job,
 * and a lock it held would stay held in the child: SQLite's inside a
 * close, the allocator's inside its thread start-up under ASan); then the
 * registry, the heap tables, the stack table and the arena are taken, in
 * that order (each one's holders may take the next): the child gets them
 * consistent and unlocked.  No thread is left inside the unwinder, which
 * can hold the loader's locks; a load of libunwind in progress is waited
 * for first (bounded), while the loading thread can still take any lock
 * its allocations need.  Nothing here waits on the forking thread itself:
 * a thread inside the shim's own work forks blind. */
static void
before_fork(void)
{
	rc_guard++;
	fork_blind = rc_self.locks != 0 || rc_worker_is_self();
	if (fork_blind) {
		return;
	}
	static bool resolved;
	if (!resolved) {
		resolved = true;
		rc_preload_fd_resolve();
		real__exit = (__typeof__(real__exit))rc_real_next("_exit");
		real__Exit = (__typeof__(real__Exit))rc_real_next("_Exit");
	}
	if (__libc_single_threaded) {
		fork_single = true;
		return;
	}
	if (!rc_worker_fork_prepare(FORK_WAIT_MS)) {
		rc_worker_fork_parent();
		fork_blind = true;
		return;
	}
	rc_stack_fork_wait_load();
	rc_custom_fork_prepare();
	rc_scope_fork_prepare();
	rc_reg_lock();
	rc_heap_fork_prepare();
	rc_stack_fork_prepare();
	rc_arena_lock();
	/* Last: the unwinders have drained (an unwinder's allocation may
	 * count or record), and their holders take no other lock. */
	rc_heap_fork_lock();
}

static void
after_fork_parent(void)
{
	if (fork_blind) {
		fork_blind = false;
		atomic_fetch_add(&forks_blind, 1);
		rc_guard--;
		return;
	}
	if (fork_single) {
		fork_single = false;
		rc_guard--;
		return;
	}
	rc_heap_fork_unlock();
	rc_arena_unlock();
	rc_stack_fork_parent();
	rc_heap_fork_parent();
	rc_reg_unlock();
	rc_scope_fork_parent();
	rc_custom_fork_parent();
	rc_worker_fork_parent();
	rc_guard--;
}

static void
after_fork_child(void)
{
	/* The parent's pending work is not the child's. */
	if (atomic_load(&rc_due)) {
		atomic_store(&rc_due, 0);
	}
	rc_state_after_fork_child();
	rc_worker_after_fork_child();
	if (fork_blind) {
		/* The shim's state may be half-changed here, and its locks
		 * held by a thread that is gone or by the frame this fork
		 * interrupted: the child tracks nothing and, at its end,
		 * does nothing.  Its only thread keeps the guard up. */
		fork_blind = false;
		atomic_store(&rc_off, true);
		atomic_store(&rc_finished, true);
		rc_heap_off();
		rc_info("forked inside the shim's own work: tracking is off in process %d",
			rc_pid_cached);
		return;
	}
	if (fork_single) {
		/* No lock was taken; the rest is reset where it differs. */
		fork_single = false;
		rc_stack_fork_child_reset();
		rc_engine_after_fork_child();
		rc_timeline_after_fork_child();
		rc_guard--;
		return;
	}
	rc_heap_fork_unlock_child();
	rc_arena_unlock();
	rc_stack_fork_child();
	rc_heap_fork_child();
	rc_reg_unlock();
	rc_scope_fork_child();
	rc_custom_fork_child();
	rc_engine_after_fork_child();
	rc_timeline_after_fork_child();
	rc_guard--;
}

/* Signals blocked around work done outside a handler that a handler could
 * otherwise interrupt on the same thread. */
static void
block_signals(sigset_t *old)
{
	sigset_t all;
	sigfillset(&all);
	rc_sys(SYS_rt_sigprocmask, SIG_SETMASK, &all, old, sizeof(long), 0, 0);
}

static void
restore_signals(const sigset_t *old)
{
	rc_sys(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, sizeof(long), 0, 0);
}

/* Work that waited for a safe point (core/state.h): live requests that
 * arrived while this or another thread was inside the shim (anywhere the
 * thread holds none of the shim's locks), a heap trim a handler asked for
 * (in the allocator's general path), the worker's deferred start (a
 * tracked call, made by the program). */
static void
safe_point(enum rc_safe_point_kind at)
{
	static const unsigned here[] = {
		[RC_AT_UNLOCK] = RC_DUE_DRAIN,
		[RC_AT_CALL] = RC_DUE_DRAIN | RC_DUE_START,
		[RC_AT_ALLOC] = RC_DUE_DRAIN | RC_DUE_TRIM,
	};
	unsigned due = atomic_load(&rc_due) & here[at];
	if (!due || atomic_load(&rc_off) || !rc_own_process()) {
		return;
	}
	if ((due & RC_DUE_DRAIN) &&
	    (atomic_fetch_and(&rc_due, ~RC_DUE_DRAIN) & RC_DUE_DRAIN)) {
		sigset_t old;
		int saved_errno = errno;
		block_signals(&old);
		rc_live_drain();
		restore_signals(&old);
		errno = saved_errno;
	}
	if (at == RC_AT_ALLOC && (due & RC_DUE_TRIM) &&
	    (atomic_fetch_and(&rc_due, ~RC_DUE_TRIM) & RC_DUE_TRIM)) {
		int saved_errno = errno;
		rc_guard++;
		uint64_t bytes = rc_heap_trim();
		rc_result_add(&rc_lifetime, RCSHIM_KIND_HEAP, 0, 0, 0, bytes);
		rc_info("heap trim asked for by a live signal: %lu bytes given back",
			(unsigned long)bytes);
		rc_guard--;
		errno = saved_errno;
	}
	if (at == RC_AT_CALL && (due & RC_DUE_START) &&
	    (atomic_fetch_and(&rc_due, ~RC_DUE_START) & RC_DUE_START)) {
		rc_worker_start_deferred();
	}
}

/* Puts @entry ("RCSHIM_SESSION=id", kept for good) in the environment, in
 * place of an earlier value.  Like putenv, without its malloc: the new
 * array comes from the shim's arena, so that start-up does not set up the
 * program's heap (a brk and three pages) for one array.  glibc's setenv
 * and putenv copy an array they did not make before changing it, and never
 * free it; unsetenv edits it in place. */
static void
export_session(char *entry)
{
	size_t len = strlen(RC_SESSION_ENV) + 1; /* "NAME=" */
	size_t n = 0, at = SIZE_MAX;
	for (; environ && environ[n]; n++) {
		if (at == SIZE_MAX && strncmp(environ[n], entry, len) == 0) {
			at = n;
		}
	}
	char **env = rc_alloc((n + 2) * sizeof(*env));
	if (!env) {
		putenv(entry);
		return;
	}
	if (n) {
		memcpy(env, environ, n * sizeof(*env));
	}
	if (at == SIZE_MAX) {
		at = n++;
	}
	env[at] = entry;
	env[n] = NULL;
	environ = env;
}

static void
init(bool from_constructor)
{
	static atomic_int once RC_HOT;
	int expected = 0;

	/* A hook called before libc's own initialisation: by a function in
	 * the executable's .preinit_array, which runs before every library's
	 * initialiser (AddressSanitizer's __asan_init installs its signal
	 * handlers through our sigaction there).  libc has not set environ
	 * yet, so the settings and the session could not be read, putenv
	 * would start a new environment holding only the session variable,
	 * and a dlopen (of libunwind) would run libc's initialiser with that
	 * one as the program's: the program would lose its environment.  The
	 * constructor initialises, after libc's; until then hooks pass
	 * through.  The constructor itself goes on whatever environ is (an
	 * earlier library's constructor may have called clearenv). */
	if (!from_constructor && !environ) {
		return;
	}
	if (!atomic_compare_exchange_strong(&once, &expected, 1)) {
		/* Another thread is initialising, or we are inside it. */
		return;
	}
	rc_guard++;
	/* The heap sampler may run inside the loader from now on: it opens
	 * libunwind only where that is safe (core/stack.h). */
	rc_stack_malloc_hooked();
	if (rc_state_init(environ)) {
		/* Descendants join this session. */
		export_session(rc_session.var);
	}
	/* Under the launcher, the names of a report's frames are looked up
	 * by the launcher, once, not in every process (report/symbol.h),
	 * and a process that held nothing writes one line, not a report. */
	const char *g = getenv("RCSHIM_INTERNAL_GATHER");
	if (g && g[0] == '/' && strlen(g) < 1024) {
		rc_cfg.gather = g;
	}
	rc_heap_preload_init();
	rc_safe_point_set(safe_point);
	rc_fork_managed = true;
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
	bool periodic = rc_live_init();
	rc_signals_install((rc_sigaction_fn)rc_real_next("sigaction"));
	/* The worker only where it is needed (DESIGN §4): here for a timer
	 * or a pressure monitor; else when the process first holds
	 * something whose cleanup needs it (rc_worker_need).  The live
	 * signal needs no thread: without one its handler does the
	 * async-signal-safe steps itself (trigger/live.h).  libunwind is
	 * opened when a stack is first taken (core/stack.h), not here. */
	if (periodic) {
		rc_worker_start_or_defer();
	}
	rc_guard--;
}

void
rc_preload_init(void)
{
	init(false);
}

__attribute__((constructor)) static void
rc_constructor(void)
{
	init(true);
}

static void
final_at_exit(void)
{
	/* Not in a child that shares this memory (vfork, a raw clone) or ran
	 * no fork handler (_Fork): it owns nothing, and the state is its
	 * parent's. */
	if (atomic_load(&rc_ready) != 2 || atomic_load(&rc_finished) || !rc_own_process() ||
	    atomic_exchange(&rc_finished, true)) {
		return;
	}
	unsigned long blind = atomic_load(&forks_blind);
	if (blind) {
		rc_report_note("%lu fork %s made inside the shim's own work (from a signal "
			       "handler or a cleaner, or while the worker stayed busy): tracking "
			       "was off in %s", blind, blind == 1 ? "child was" : "children were",
			       blind == 1 ? "it" : "them");
	}
	/* Finished first: nothing after this point is tracked, and a signal
	 * arriving now finds the work done. */
	struct rc_clean_req req = { RC_MODE_FINAL, rc_cfg.exit_priority,
				    RC_REASON_EXIT, 0, 0 };
	struct rcshim_result res;
	/* What is held now, with its stacks, before the cleanup takes it. */
	rc_report_before_exit();
	rc_clean(&req, &res);
	rc_report_at_exit(&res);
	unsigned long sig = rc_worker_live_runs(RC_REASON_LIVE_SIGNAL),
		      tim = rc_worker_live_runs(RC_REASON_TIMER),
		      pre = rc_worker_live_runs(RC_REASON_PRESSURE);
	if (sig || tim || pre || rc_live_signals_received()) {
		rc_info("live cleanups: %lu on signal (%lu signals received, %lu refused), "
			"%lu on the timer, %lu under memory pressure",
			sig, rc_live_signals_received(), rc_live_signals_refused(), tim, pre);
	}
}

/* The loader's last call into the shim at exit (DT_FINI), after the
 * destructors.  The C runtime's own _fini (crti and crtn: an empty
 * prologue and epilogue) sits in .fini, after all of .text: a page that
 * nothing else a process runs is on, so a page fault in every process.
 * The link names this one instead (-Wl,-fini, src/meson.build); it is in
 * the hot code (src/hot.ld). */
__attribute__((visibility("hidden"), used)) void rc_fini(void);
void
rc_fini(void)
{
}

/* Runs after the program's atexit handlers and its own destructors
 * (DESIGN §4: exit and return from main). */
__attribute__((destructor)) static void
rc_destructor(void)
{
	final_at_exit();
}

/* Shells (dash among them) end with _exit, which runs no destructor: the
 * process still ends, and what it owns is reclaimed.  A vfork child shares
 * its parent's memory and must not touch it: its pid differs from the one
 * the shim knows (no fork handler ran), and it does nothing. */
static void
final_at__exit(void)
{
	if (rc_own_process() && (rc_guard == 0 || rc_vfork_over())) {
		rc_guard++;
		final_at_exit();
		rc_guard--;
	}
}

RC_EXPORT __attribute__((noreturn)) void
_exit(int status)
{
	final_at__exit();
	if (!real__exit) {
		real__exit = (__typeof__(real__exit))rc_real_next("_exit");
	}
	if (real__exit) {
		real__exit(status);
	}
	for (;;) {
		rc_sys(SYS_exit_group, status, 0, 0, 0, 0, 0);
	}
}

RC_EXPORT __attribute__((noreturn)) void
_Exit(int status)
{
	final_at__exit();
	if (!real__Exit) {
		real__Exit = (__typeof__(real__Exit))rc_real_next("_Exit");
	}
	if (real__Exit) {
		real__Exit(status);
	}
	for (;;) {
		rc_sys(SYS_exit_group, status, 0, 0, 0, 0, 0);
	}
}
