/* Stacks without libunwind linked (core/stack.h): the one-frame fallback
 * before the load, full stacks after it, the bounded wait for a load
 * promised to another thread, and fork during that wait.
 *
 * Each test runs in its own process (Check's fork mode), where libunwind
 * has not been opened yet; where it has (CK_FORK=no), the parts that need
 * it absent are skipped. */
#include "build-config.h"

#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/stack.h"
#include "core/state.h"
#include "test.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Whether @pc is a return address inside @fn (a small function). */
static bool
inside(uintptr_t pc, void (*fn)(void))
{
	return pc > (uintptr_t)fn && pc < (uintptr_t)fn + 512;
}

/* As the heap sampler does; the frame stays for the unwinder to see. */
static uint32_t alloc_id;
static __attribute__((noinline)) void
capture_alloc_here(void)
{
	alloc_id = rc_stack_capture_alloc(16);
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
load_later(void *arg)
{
	struct timespec ts = { 0, 30 * 1000000 };
	(void)arg;
	nanosleep(&ts, NULL);
	rc_guard++;
	rc_stack_load();
	rc_guard--;
	return NULL;
}

START_TEST(stack_waits_for_a_promised_load)
{
	const uintptr_t *pc;
	pthread_t t;

	rc_guard++;
	if (loaded_already()) {
		rc_guard--;
		return;
	}
	rc_stack_load_promise();
	ck_assert_int_eq(pthread_create(&t, NULL, load_later, NULL), 0);
	uint64_t t0 = now_ms();
	capture_alloc_here();
	uint64_t waited = now_ms() - t0;
	pthread_join(t, NULL);
	ck_assert_uint_ge(rc_stack_frames(alloc_id, &pc), 2);
	ck_assert_uint_ge(waited, 20);
	ck_assert_uint_lt(waited, RC_STACK_START_WAIT_MS);
	rc_guard--;
}
END_TEST

START_TEST(stack_wait_is_bounded)
{
	const uintptr_t *pc;

	rc_guard++;
	if (loaded_already()) {
		rc_guard--;
		return;
	}
	/* Promised, and nobody makes it. */
	rc_stack_load_promise();
	uint64_t t0 = now_ms();
	capture_alloc_here();
	uint64_t waited = now_ms() - t0;
	ck_assert_uint_eq(alloc_id, 0);
	ck_assert_uint_ge(waited, RC_STACK_START_WAIT_MS - 10);
	ck_assert_uint_lt(waited, 5 * RC_STACK_START_WAIT_MS);

	/* This thread waited its turn: it falls back at once from now on,
	 * with the program's call site where one is known (without the
	 * shim's bounds: the caller of rc_stack_capture). */
	t0 = now_ms();
	capture_alloc_here();
	capture_here();
	ck_assert_uint_lt(now_ms() - t0, RC_STACK_START_WAIT_MS / 2);
	ck_assert_uint_eq(alloc_id, 0);
	ck_assert_uint_eq(rc_stack_frames(capture_id, &pc), 1);
	ck_assert(inside(pc[0], capture_here));

	/* Any thread may still make the promised load. */
	ck_assert(rc_stack_load());
	capture_here();
	ck_assert_uint_ge(rc_stack_frames(capture_id, &pc), 2);
	rc_guard--;
}
END_TEST

START_TEST(stack_fork_child_does_not_wait)
{
	rc_guard++;
	if (loaded_already()) {
		rc_guard--;
		return;
	}
	rc_stack_load_promise();
	rc_stack_fork_prepare();
	pid_t pid = fork();
	if (pid == 0) {
		rc_stack_fork_child();
		/* Nobody here will make the load: no waiting for it. */
		uint64_t t0 = now_ms();
		capture_alloc_here();
		uint64_t waited = now_ms() - t0;
		/* Where loading is allowed, the child loads it itself. */
		capture_here();
		const uintptr_t *pc;
		_exit(alloc_id == 0 && waited < RC_STACK_START_WAIT_MS / 2 &&
				      rc_stack_frames(capture_id, &pc) >= 2
			      ? 0
			      : 1);
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
	ADD_TEST(s, stack_waits_for_a_promised_load);
	ADD_TEST(s, stack_wait_is_bounded);
	ADD_TEST(s, stack_fork_child_does_not_wait);
}
