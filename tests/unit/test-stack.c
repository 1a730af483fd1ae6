/* Stacks (core/stack.h).  The shim's own walker (core/unwind.h): the
 * same frames as libunwind's, through the C library, a realigned frame and
 * a signal handler, nothing read off the main thread's stack, and no
 * libunwind opened for them.  With
 * the own walker off, libunwind's paths: the one-frame fallback before
 * the load, full stacks after it, where a capture inside malloc may load
 * it, and fork before the load.
 *
 * Each test runs in its own process (Check's fork mode), where libunwind
 * has not been opened yet; where it has (CK_FORK=no), the parts that need
 * it absent are skipped. */
#include "build-config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/single_threaded.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/stack.h"
#include "core/state.h"
#include "core/unwind.h"
#include "test.h"

/* Whether @pc is a return address inside @fn (a small function). */
static bool
inside(uintptr_t pc, void (*fn)(void))
{
	return pc > (uintptr_t)fn && pc < (uintptr_t)fn + 512;
}

/* As the heap sampler does, for a block allocated at capture_alloc_site;
 * the frame stays for the unwinder to see. */
static uint32_t alloc_id;
static const void *capture_alloc_site;
static __attribute__((noinline)) void
capture_alloc_here(void)
{
	alloc_id = rc_stack_capture_alloc(16, capture_alloc_site);
	__asm__ volatile("" ::: "memory");
}

static uint32_t capture_id;
static __attribute__((noinline)) void
capture_here(void)
{
	capture_id = rc_stack_capture(16);
	__asm__ volatile("" ::: "memory");
}

/* True if libunwind was opened in this process before the test.  These
 * tests are about libunwind's paths: the shim's own walker is off. */
static bool
loaded_already(void)
{
	rc_stack_own_walker(false);
	rc_stack_malloc_hooked();
	capture_alloc_here();
	return alloc_id != 0;
}

START_TEST(stack_one_frame_until_loaded)
{
	const uintptr_t *pc;

	rc_guard++;
	if (!loaded_already()) {
		/* Inside malloc nothing loads it, and no pc is known. */
		capture_alloc_here();
		ck_assert_uint_eq(alloc_id, 0);
		/* A call site alone; not remembered for the site. */
		uintptr_t site = (uintptr_t)capture_here + 1;
		uint32_t id = rc_stack_site(site, 16);
		ck_assert_uint_eq(rc_stack_frames(id, &pc), 1);
		ck_assert(pc[0] == site);
	}
	ck_assert(rc_stack_load());
	ck_assert(rc_stack_load());

	capture_alloc_here();
	unsigned n = rc_stack_frames(alloc_id, &pc);
	ck_assert_uint_ge(n, 2);
	bool found = false;
	for (unsigned i = 0; i < n && i < 4; i++) {
		found |= inside(pc[i], capture_alloc_here);
	}
	ck_assert_msg(found, "capture_alloc_here not among the first frames");
	capture_here();
	ck_assert_uint_ge(rc_stack_frames(capture_id, &pc), 2);
	rc_guard--;
}
END_TEST

static void *
idle_thread(void *arg)
{
	(void)arg;
	return NULL;
}

/* Inside malloc (the hook installed), a capture loads libunwind itself
 * only for a block the program allocated in a single-threaded process:
 * not for one the loader or the C library allocated (their ranges), nor
 * once a second thread has existed; the stack is then the call site. */
START_TEST(stack_loads_in_malloc_only_where_safe)
{
	const uintptr_t *pc;

	rc_guard++;
	if (loaded_already()) {
		rc_guard--;
		return;
	}
	rc_pid_cached = getpid();
	if (fork() == 0) {
		rc_pid_cached = getpid();
		/* A second thread ever: no load inside malloc, whatever the
		 * site; a capture outside malloc still loads. */
		pthread_t t;
		if (pthread_create(&t, NULL, idle_thread, NULL) != 0 ||
		    pthread_join(t, NULL) != 0) {
			_exit(2);
		}
		uint32_t id = rc_stack_capture_alloc(16, (const void *)capture_here);
		bool site_only = rc_stack_frames(id, &pc) == 1 && pc[0] == (uintptr_t)capture_here;
		capture_here();
		_exit(site_only && rc_stack_frames(capture_id, &pc) >= 2 ? 0 : 1);
	}
	int status;
	ck_assert_int_gt(wait(&status), 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %d", status);

	if (!__libc_single_threaded) {
		rc_guard--;
		return; /* Check ran this test on a thread (CK_FORK=no) */
	}
	rc_pid_cached = getpid(); /* as the constructor sets it */
	/* A site in a "system" range (here: this file's helpers). */
	uintptr_t sys[1][2] = { { (uintptr_t)capture_here, (uintptr_t)capture_here + 512 } };
	rc_stack_set_system((const uintptr_t(*)[2])sys, 1);
	/* Not loaded for it: the call site alone. */
	uint32_t id = rc_stack_capture_alloc(16, (const void *)(sys[0][0] + 8));
	ck_assert_uint_eq(rc_stack_frames(id, &pc), 1);
	ck_assert(pc[0] == sys[0][0] + 8);
	ck_assert_uint_eq(rc_stack_capture_alloc(16, NULL), 0);
	/* The program's own site: loaded, and this capture has its frames. */
	capture_alloc_site = (const void *)inside;
	capture_alloc_here();
	ck_assert_uint_ge(rc_stack_frames(alloc_id, &pc), 2);
	rc_stack_set_system(NULL, 0);
	rc_guard--;
}
END_TEST

/* A child forked before any load loads libunwind itself where it may. */
START_TEST(stack_fork_child_loads_itself)
{
	rc_guard++;
	if (loaded_already()) {
		rc_guard--;
		return;
	}
	rc_stack_fork_prepare();
	pid_t pid = fork();
	if (pid == 0) {
		rc_stack_fork_child();
		capture_alloc_here(); /* no site: no load inside malloc */
		capture_here();
		const uintptr_t *pc;
		_exit(alloc_id == 0 && rc_stack_frames(capture_id, &pc) >= 2 ? 0 : 1);
	}
	rc_stack_fork_parent();
	ck_assert_int_gt(pid, 0);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert(rc_stack_load());
	rc_guard--;
}
END_TEST


/* --- the own walker against libunwind ------------------------------------ */

/* Both walks of one frame: the own walker's from own_walk, libunwind's
 * from rc_stack_capture with the own walker off. */
static struct {
	uintptr_t own[RC_STACK_MAX_DEPTH];
	int n;
	bool complete;
	uint32_t lib;
	int walks;
} W;

static __attribute__((noinline)) void
own_walk(void)
{
	struct rc_unw_regs regs;
	RC_UNW_HERE(&regs);
	W.n = rc_unwind(&regs, W.own, RC_STACK_MAX_DEPTH, &W.complete);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void
walk_both(void)
{
	own_walk();
	rc_stack_own_walker(false);
	W.lib = rc_stack_capture(RC_STACK_MAX_DEPTH);
	rc_stack_own_walker(true);
	W.walks++;
	__asm__ volatile("" ::: "memory");
}

/* The walks agree: the own walker's frame 0 is own_walk, its frame 1 and
 * libunwind's frame 0 are in walk_both (two call sites), and every frame
 * above is the same return address, to the outermost. */
static void
expect_same(const char *where)
{
	const uintptr_t *lib;
	unsigned m = rc_stack_frames(W.lib, &lib);
	ck_assert_msg(W.complete, "%s: the own walk stopped after %d frames", where, W.n);
	ck_assert_msg(m >= 3, "%s: libunwind found %u frames", where, m);
	ck_assert_msg(inside(W.own[0], own_walk), "%s: frame 0", where);
	ck_assert_msg(inside(W.own[1], walk_both) && inside(lib[0], walk_both), "%s: frame 1",
		      where);
	ck_assert_msg((unsigned)W.n == m + 1, "%s: own %d frames, libunwind %u", where, W.n - 1,
		      m);
	for (unsigned i = 1; i < m; i++) {
		ck_assert_msg(W.own[i + 1] == lib[i], "%s: frame %u: own %#lx, libunwind %#lx",
			      where, i, (unsigned long)W.own[i + 1], (unsigned long)lib[i]);
	}
}

/* Frames through the C library: qsort calls the comparison. */
static int
compare_and_walk(const void *a, const void *b)
{
	if (W.walks == 0) {
		walk_both();
	}
	return *(const int *)a - *(const int *)b;
}

/* A frame realigned for an over-aligned local with a variable-length
 * array: the compiler describes its CFA with an expression (DRAP). */
static __attribute__((noinline)) int
realigned(int n)
{
	char *vla = __builtin_alloca((size_t)n);
	char big[64] __attribute__((aligned(64)));
	memset(vla, 1, (size_t)n);
	memset(big, 2, sizeof(big));
	walk_both();
	__asm__ volatile("" : : "r"(vla), "r"(big) : "memory");
	return vla[0] + big[0];
}

static void
on_signal(int sig)
{
	(void)sig;
	walk_both();
}

static void *
thread_walk(void *arg)
{
	(void)arg;
	walk_both();
	return NULL;
}

START_TEST(stack_own_walker_matches_libunwind)
{
	rc_guard++;
	rc_stack_own_walker(true);
	ck_assert(rc_stack_load());

	W.walks = 0;
	walk_both();
	expect_same("direct");

	W.walks = 0;
	int v[64];
	for (int i = 0; i < 64; i++) {
		v[i] = (i * 37) % 64;
	}
	qsort(v, 64, sizeof(v[0]), compare_and_walk);
	ck_assert_int_eq(W.walks, 1);
	expect_same("qsort");

	W.walks = 0;
	ck_assert_int_eq(realigned(40), 3);
	expect_same("realigned");

	/* Through the kernel's signal frame (glibc's restorer). */
	struct sigaction sa = { .sa_handler = on_signal }, old;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR2, &sa, &old), 0);
	W.walks = 0;
	raise(SIGUSR2);
	sigaction(SIGUSR2, &old, NULL);
	ck_assert_int_eq(W.walks, 1);
	expect_same("signal handler");

	/* A thread's stack is libunwind's (the own walker does not know
	 * where it ends without a system call per page). */
	pthread_t t;
	W.walks = 0;
	ck_assert_int_eq(pthread_create(&t, NULL, thread_walk, NULL), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(W.walks, 1);
	ck_assert_int_eq(W.n, 0);
	ck_assert(!W.complete);
	const uintptr_t *lib;
	ck_assert_uint_ge(rc_stack_frames(W.lib, &lib), 3);
	ck_assert(inside(lib[0], walk_both));
	rc_guard--;
}
END_TEST

/* Off the main thread's stack the walker reads nothing: here the
 * registers put the frame on the last word of a mapping whose next page
 * is not mapped (the caller's frame would be there: a read would crash
 * the program), and then on an alternate signal stack. */
static __attribute__((noinline)) void
walk_fake_stack(uintptr_t sp)
{
	struct rc_unw_regs regs;
	RC_UNW_HERE(&regs);
	regs.r[RC_UNW_RSP] = sp;
	regs.r[RC_UNW_RBP] = sp;
	W.n = rc_unwind(&regs, W.own, RC_STACK_MAX_DEPTH, &W.complete);
	__asm__ volatile("" ::: "memory");
}

static void
on_alt_signal(int sig)
{
	(void)sig;
	own_walk();
}

START_TEST(stack_own_walker_only_main_stack)
{
	long page = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(m != MAP_FAILED);
	ck_assert_int_eq(munmap(m + page, (size_t)page), 0);
	W.n = -1;
	W.complete = true;
	walk_fake_stack((uintptr_t)(m + page - 8));
	ck_assert_int_eq(W.n, 0);
	ck_assert(!W.complete);
	munmap(m, (size_t)page);

	static char alt[64 * 1024];
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt) }, old_ss;
	ck_assert_int_eq(sigaltstack(&ss, &old_ss), 0);
	struct sigaction sa = { .sa_handler = on_alt_signal, .sa_flags = SA_ONSTACK }, old;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR2, &sa, &old), 0);
	W.n = -1;
	W.complete = true;
	raise(SIGUSR2);
	sigaction(SIGUSR2, &old, NULL);
	sigaltstack(&old_ss, NULL);
	ck_assert_int_eq(W.n, 0);
	ck_assert(!W.complete);

	/* On the main stack, the same function walks. */
	own_walk();
	ck_assert_int_ge(W.n, 3);
	ck_assert(W.complete);
}
END_TEST

/* A process's first stacks, inside malloc or not, come without libunwind
 * opened. */
START_TEST(stack_own_walker_needs_no_libunwind)
{
	/* Linked in sanitizer builds (src/meson.build): nothing to see. */
	bool linked = dlopen("libunwind.so.8", RTLD_NOW | RTLD_NOLOAD) != NULL;
	rc_guard++;
	rc_stack_own_walker(true);
	rc_stack_malloc_hooked();
	capture_alloc_site = NULL;
	capture_alloc_here();
	capture_here();
	const uintptr_t *pc;
	unsigned n = rc_stack_frames(alloc_id, &pc);
	ck_assert_uint_ge(n, 2);
	ck_assert(inside(pc[0], capture_alloc_here));
	n = rc_stack_frames(capture_id, &pc);
	ck_assert_uint_ge(n, 2);
	ck_assert(inside(pc[0], capture_here));
	if (!linked) {
		ck_assert_msg(dlopen("libunwind.so.8", RTLD_NOW | RTLD_NOLOAD) == NULL,
			      "libunwind was opened");
	}
	rc_guard--;
}
END_TEST

/* Stacks past the first table's share (core/stack.c: SMALL_MAX) go to the
 * large one, and ids past the first page's (FIRST_IDS) to the id chunks;
 * every stack is found again, by its frames and by its id. */
START_TEST(stack_intern_many)
{
	enum { N = 3000 };
	static uint32_t ids[N];
	size_t before = rc_stack_count();
	for (uintptr_t i = 0; i < N; i++) {
		uintptr_t pc[2] = { 0x1000 + i * 16, 0x7000000 + i };
		ids[i] = rc_stack_intern(pc, 2);
		ck_assert_uint_ne(ids[i], 0);
	}
	ck_assert_uint_eq(rc_stack_count(), before + N);
	for (uintptr_t i = 0; i < N; i++) {
		uintptr_t pc[2] = { 0x1000 + i * 16, 0x7000000 + i };
		ck_assert_uint_eq(rc_stack_intern(pc, 2), ids[i]);
		const uintptr_t *got;
		ck_assert_uint_eq(rc_stack_frames(ids[i], &got), 2);
		ck_assert(got[0] == pc[0] && got[1] == pc[1]);
	}
	ck_assert_uint_eq(rc_stack_count(), before + N);
}
END_TEST

TEST_SUITE(stack)
{
	ADD_TEST(s, stack_intern_many);
	ADD_TEST(s, stack_own_walker_matches_libunwind);
	ADD_TEST(s, stack_own_walker_only_main_stack);
	ADD_TEST(s, stack_own_walker_needs_no_libunwind);
	ADD_TEST(s, stack_one_frame_until_loaded);
	ADD_TEST(s, stack_loads_in_malloc_only_where_safe);
	ADD_TEST(s, stack_fork_child_loads_itself);
}
