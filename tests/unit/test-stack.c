/* Stacks without libunwind linked (core/stack.h): the one-frame fallback
 * before the load, full stacks after it, where a capture inside malloc may
 * load it, and fork before the load.
 *
 * Each test runs in its own process (Check's fork mode), where libunwind
 * has not been opened yet; where it has (CK_FORK=no), the parts that need
 * it absent are skipped. */
#include "build-config.h"

#include <pthread.h>
#include <sys/single_threaded.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/stack.h"
#include "core/state.h"
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

/* True if libunwind was opened in this process before the test. */
static bool
loaded_already(void)
{
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

TEST_SUITE(stack)
{
	ADD_TEST(s, stack_one_frame_until_loaded);
	ADD_TEST(s, stack_loads_in_malloc_only_where_safe);
	ADD_TEST(s, stack_fork_child_loads_itself);
}
