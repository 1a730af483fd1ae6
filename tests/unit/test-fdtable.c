#include "build-config.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <check.h>

#include "core/fdtable.h"
#include "test.h"

static uint32_t
flags_of(const struct rc_fd_entry *e)
{
	return atomic_load(&((struct rc_fd_entry *)e)->flags);
}

static struct stat
ident(uint64_t dev, uint64_t ino)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_dev = (dev_t)dev;
	st.st_ino = (ino_t)ino;
	return st;
}

START_TEST(track_get_untrack)
{
	struct rc_fd_entry e;

	rc_fd_reset();
	ck_assert(!rc_fd_get(7, &e));

	rc_fd_track(7, RC_FD_RDONLY, 3, 4, 1234, 0xabc, NULL);
	ck_assert(rc_fd_get(7, &e));
	ck_assert_uint_eq(flags_of(&e), RC_FD_LIVE | RC_FD_RDONLY);
	ck_assert_uint_eq(e.scope, 3);
	ck_assert_uint_eq(e.stack, 4);
	ck_assert_int_eq(e.pid, 1234);
	ck_assert_uint_eq(e.aux, 0xabc);
	ck_assert_uint_eq(e.dev, 0);
	ck_assert_uint_eq(e.ino, 0);
	/* Neighbours are untouched. */
	ck_assert(!rc_fd_get(6, &e));
	ck_assert(!rc_fd_get(8, &e));

	ck_assert_uint_eq(rc_fd_untrack(7), RC_FD_LIVE | RC_FD_RDONLY);
	ck_assert(!rc_fd_get(7, &e));
	ck_assert_uint_eq(rc_fd_untrack(7), 0);

	/* Numbers never tracked, in a chunk never mapped, or out of range. */
	ck_assert_uint_eq(rc_fd_untrack(9), 0);
	ck_assert_uint_eq(rc_fd_untrack(500000), 0);
	ck_assert_uint_eq(rc_fd_untrack(-1), 0);
	ck_assert_uint_eq(rc_fd_untrack(RC_FD_MAX), 0);
	ck_assert(!rc_fd_get(-1, &e));
	ck_assert(!rc_fd_get(INT_MAX, &e));
}
END_TEST

START_TEST(identity_only_with_stat)
{
	struct rc_fd_entry e;
	struct stat st = ident(0x801, 987654321);

	rc_fd_reset();
	rc_fd_track(10, RC_FD_TEMP, 0, 0, 1, 0, &st);
	ck_assert(rc_fd_get(10, &e));
	ck_assert_uint_eq(flags_of(&e), RC_FD_LIVE | RC_FD_TEMP | RC_FD_IDENT);
	ck_assert_uint_eq(e.dev, 0x801);
	ck_assert_uint_eq(e.ino, 987654321);

	/* Asking for IDENT without a stat does not make one up. */
	rc_fd_track(11, RC_FD_IDENT, 0, 0, 1, 0, NULL);
	ck_assert(rc_fd_get(11, &e));
	ck_assert_uint_eq(flags_of(&e), RC_FD_LIVE);
	ck_assert_uint_eq(e.dev, 0);
	ck_assert_uint_eq(e.ino, 0);

	/* Tracking again replaces the whole entry: the old identity goes. */
	rc_fd_track(10, 0, 0, 0, 2, 0, NULL);
	ck_assert(rc_fd_get(10, &e));
	ck_assert_uint_eq(flags_of(&e), RC_FD_LIVE);
	ck_assert_uint_eq(e.dev, 0);
	ck_assert_uint_eq(e.ino, 0);
	ck_assert_int_eq(e.pid, 2);

	/* And the other way round. */
	struct stat st2 = ident(5, 6);
	rc_fd_track(11, RC_FD_DUP, 9, 0, 3, 77, &st2);
	ck_assert(rc_fd_get(11, &e));
	ck_assert_uint_eq(flags_of(&e), RC_FD_LIVE | RC_FD_DUP | RC_FD_IDENT);
	ck_assert_uint_eq(e.dev, 5);
	ck_assert_uint_eq(e.ino, 6);
	ck_assert_uint_eq(e.scope, 9);
	ck_assert_uint_eq(e.aux, 77);
}
END_TEST

START_TEST(set_flags)
{
	struct rc_fd_entry e;

	rc_fd_reset();
	rc_fd_track(20, RC_FD_RDONLY, 0, 0, 1, 111, NULL);
	rc_fd_set_flags(20, RC_FD_STDIO, 0xf11e);
	ck_assert(rc_fd_get(20, &e));
	ck_assert_uint_eq(flags_of(&e), RC_FD_LIVE | RC_FD_RDONLY | RC_FD_STDIO);
	ck_assert_uint_eq(e.aux, 0xf11e);

	/* aux 0 keeps the old one. */
	rc_fd_set_flags(20, RC_FD_REGISTERED, 0);
	ck_assert(rc_fd_get(20, &e));
	ck_assert_uint_eq(flags_of(&e),
			  RC_FD_LIVE | RC_FD_RDONLY | RC_FD_STDIO | RC_FD_REGISTERED);
	ck_assert_uint_eq(e.aux, 0xf11e);

	/* An untracked fd stays untracked. */
	rc_fd_set_flags(21, RC_FD_STDIO, 5);
	ck_assert(!rc_fd_get(21, &e));
	rc_fd_set_flags(300000, RC_FD_STDIO, 5);
	ck_assert(!rc_fd_get(300000, &e));
}
END_TEST

START_TEST(untrack_range)
{
	struct rc_fd_entry e;

	rc_fd_reset();
	for (int fd = 3; fd <= 20; fd++) {
		rc_fd_track(fd, 0, 0, 0, 1, (uint64_t)fd, NULL);
	}
	rc_fd_untrack_range(5, 10);
	for (int fd = 3; fd <= 20; fd++) {
		bool want = fd < 5 || fd > 10;
		ck_assert_msg(rc_fd_get(fd, &e) == want, "fd %d", fd);
	}

	/* Across chunks, some of them never mapped. */
	rc_fd_track(1000, 0, 0, 0, 1, 0, NULL);
	rc_fd_track(1030, 0, 0, 0, 1, 0, NULL);
	rc_fd_track(5000, 0, 0, 0, 1, 0, NULL);
	rc_fd_track(70000, 0, 0, 0, 1, 0, NULL);
	rc_fd_untrack_range(1020, 4999);
	ck_assert(rc_fd_get(1000, &e));
	ck_assert(!rc_fd_get(1030, &e));
	ck_assert(rc_fd_get(5000, &e));
	ck_assert(rc_fd_get(70000, &e));
	rc_fd_untrack_range(5000, 5000);
	ck_assert(!rc_fd_get(5000, &e));
	ck_assert(rc_fd_get(70000, &e));

	/* An empty range does nothing. */
	rc_fd_untrack_range(20, 3);
	ck_assert(rc_fd_get(20, &e));
	ck_assert(rc_fd_get(3, &e));

	/* closefrom(3): everything from 3 up, whatever the bounds. */
	rc_fd_untrack_range(3, INT_MAX);
	for (int fd = 3; fd <= 20; fd++) {
		ck_assert(!rc_fd_get(fd, &e));
	}
	ck_assert(!rc_fd_get(1000, &e));
	ck_assert(!rc_fd_get(70000, &e));

	rc_fd_track(0, 0, 0, 0, 1, 0, NULL);
	rc_fd_track(2, 0, 0, 0, 1, 0, NULL);
	rc_fd_untrack_range(-5, 1);
	ck_assert(!rc_fd_get(0, &e));
	ck_assert(rc_fd_get(2, &e));
}
END_TEST

struct visit {
	int fds[64];
	uint64_t aux[64];
	int n;
	int stop_after;
};

static bool
visit_fd(int fd, const struct rc_fd_entry *e, void *ctx)
{
	struct visit *v = ctx;
	if (v->n < 64) {
		v->fds[v->n] = fd;
		v->aux[v->n] = e->aux;
	}
	v->n++;
	return v->stop_after == 0 || v->n < v->stop_after;
}

START_TEST(foreach_order_and_stop)
{
	const int tracked[] = { 70000, 5, 1500, 3, 1024, 1023, 0, 262143 };
	const int sorted[] = { 0, 3, 5, 1023, 1024, 1500, 70000, 262143 };
	const int n = (int)(sizeof(tracked) / sizeof(tracked[0]));
	struct visit v;

	rc_fd_reset();
	for (int i = 0; i < n; i++) {
		rc_fd_track(tracked[i], 0, 0, 0, 1, (uint64_t)tracked[i] + 100, NULL);
	}
	/* Untracked in between: not visited. */
	rc_fd_track(7, 0, 0, 0, 1, 0, NULL);
	rc_fd_untrack(7);

	memset(&v, 0, sizeof(v));
	rc_fd_foreach(visit_fd, &v);
	ck_assert_int_eq(v.n, n);
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(v.fds[i], sorted[i]);
		ck_assert_uint_eq(v.aux[i], (uint64_t)sorted[i] + 100);
	}

	/* Stops as soon as the callback says so. */
	memset(&v, 0, sizeof(v));
	v.stop_after = 3;
	rc_fd_foreach(visit_fd, &v);
	ck_assert_int_eq(v.n, 3);
	ck_assert_int_eq(v.fds[2], 5);

	memset(&v, 0, sizeof(v));
	v.stop_after = 1;
	rc_fd_foreach(visit_fd, &v);
	ck_assert_int_eq(v.n, 1);

	/* After a reset nothing is visited. */
	rc_fd_reset();
	memset(&v, 0, sizeof(v));
	rc_fd_foreach(visit_fd, &v);
	ck_assert_int_eq(v.n, 0);
}
END_TEST

START_TEST(high_water)
{
	struct rc_fd_entry e;
	const char *fork_env = getenv("CK_FORK");
	int hw0 = rc_fd_high_water();

	/* In its own process nothing was ever tracked. */
	if (!fork_env || strcmp(fork_env, "no") != 0) {
		ck_assert_int_eq(hw0, -1);
	}
	int big = (hw0 > 100 ? hw0 : 100) + 10;
	if (big >= RC_FD_MAX) {
		big = RC_FD_MAX - 1;
	}
	rc_fd_track(big, 0, 0, 0, 1, 0, NULL);
	ck_assert_int_eq(rc_fd_high_water(), big);
	rc_fd_track(4, 0, 0, 0, 1, 0, NULL);
	ck_assert_int_eq(rc_fd_high_water(), big);
	/* "May be tracked": untracking does not lower it, so a concurrent
	 * walk never misses a number. */
	rc_fd_untrack(big);
	ck_assert_int_ge(rc_fd_high_water(), big);

	/* The last possible number works; one past it is refused. */
	rc_fd_track(RC_FD_MAX - 1, 0, 0, 0, 1, 42, NULL);
	ck_assert(rc_fd_get(RC_FD_MAX - 1, &e));
	ck_assert_uint_eq(e.aux, 42);
	ck_assert_int_eq(rc_fd_high_water(), RC_FD_MAX - 1);
	rc_fd_track(RC_FD_MAX, 0, 0, 0, 1, 0, NULL);
	rc_fd_track(-3, 0, 0, 0, 1, 0, NULL);
	ck_assert(!rc_fd_get(RC_FD_MAX, &e));
	ck_assert(!rc_fd_get(-3, &e));
	ck_assert_int_eq(rc_fd_high_water(), RC_FD_MAX - 1);
	rc_fd_untrack(RC_FD_MAX - 1);
	rc_fd_untrack(4);
}
END_TEST

START_TEST(far_apart)
{
	struct rc_fd_entry e;
	struct stat a = ident(1, 5), b = ident(2, 70000);

	rc_fd_reset();
	rc_fd_track(5, 0, 0, 0, 11, 0, &a);
	rc_fd_track(70000, RC_FD_REGISTERED, 0, 0, 22, 0, &b);
	ck_assert(rc_fd_get(5, &e));
	ck_assert_int_eq(e.pid, 11);
	ck_assert_uint_eq(e.ino, 5);
	ck_assert(rc_fd_get(70000, &e));
	ck_assert_int_eq(e.pid, 22);
	ck_assert_uint_eq(e.ino, 70000);
	ck_assert_uint_eq(flags_of(&e), RC_FD_LIVE | RC_FD_REGISTERED | RC_FD_IDENT);
	/* Same offset in another chunk is another entry. */
	ck_assert(!rc_fd_get(70000 - 1024, &e));
	ck_assert(!rc_fd_get(5 + 1024, &e));
	ck_assert_uint_eq(rc_fd_untrack(70000), RC_FD_LIVE | RC_FD_REGISTERED | RC_FD_IDENT);
	ck_assert(rc_fd_get(5, &e));
	rc_fd_reset();
	ck_assert(!rc_fd_get(5, &e));
}
END_TEST

#define NTHREADS 8
#define PER_THREAD 1500 /* ranges straddle chunk boundaries */
#define NROUNDS 40

struct worker {
	pthread_t t;
	int id;
	int errors;
};

static int
fd_of(int thread, int i)
{
	return 3 + thread * PER_THREAD + i;
}

static void *
thread_main(void *arg)
{
	struct worker *w = arg;
	struct rc_fd_entry e;

	for (int round = 0; round < NROUNDS; round++) {
		for (int i = 0; i < PER_THREAD; i++) {
			int fd = fd_of(w->id - 1, i);
			struct stat st = ident((uint64_t)w->id, (uint64_t)fd * 1000 + (uint64_t)round);
			rc_fd_track(fd, RC_FD_TEMP, (uint32_t)round, 0, w->id, (uint64_t)round,
				    (i % 2) ? &st : NULL);
		}
		for (int i = 0; i < PER_THREAD; i++) {
			int fd = fd_of(w->id - 1, i);
			if (!rc_fd_get(fd, &e) || e.pid != w->id || e.aux != (uint64_t)round ||
			    e.scope != (uint32_t)round) {
				w->errors++;
				continue;
			}
			bool has = flags_of(&e) & RC_FD_IDENT;
			if (has != (bool)(i % 2) ||
			    (has && e.ino != (uint64_t)fd * 1000 + (uint64_t)round)) {
				w->errors++;
			}
		}
		/* Leave the last round's even entries in place. */
		for (int i = 0; i < PER_THREAD; i++) {
			if (round == NROUNDS - 1 && i % 2 == 0) {
				continue;
			}
			uint32_t f = rc_fd_untrack(fd_of(w->id - 1, i));
			if (!(f & RC_FD_LIVE) || !(f & RC_FD_TEMP)) {
				w->errors++;
			}
		}
	}
	return NULL;
}

struct expect_ctx {
	int n;
	int errors;
};

static bool
expect_fd(int fd, const struct rc_fd_entry *e, void *p)
{
	struct expect_ctx *c = p;
	int t = (fd - 3) / PER_THREAD, i = (fd - 3) % PER_THREAD;

	c->n++;
	if (fd < 3 || t >= NTHREADS || i % 2 != 0 || e->pid != t + 1 ||
	    e->aux != NROUNDS - 1 || (flags_of(e) & RC_FD_IDENT)) {
		c->errors++;
	}
	return true;
}

START_TEST(threads_distinct_fds)
{
	struct worker w[NTHREADS];

	rc_fd_reset();
	for (int i = 0; i < NTHREADS; i++) {
		w[i].id = i + 1;
		w[i].errors = 0;
	}
	for (int i = 0; i < NTHREADS; i++) {
		ck_assert_int_eq(pthread_create(&w[i].t, NULL, thread_main, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		ck_assert_int_eq(pthread_join(w[i].t, NULL), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		ck_assert_msg(w[i].errors == 0, "thread %d saw %d errors", w[i].id,
			      w[i].errors);
	}

	/* Exactly the even entries of the last round remain. */
	struct expect_ctx c = { 0, 0 };
	rc_fd_foreach(expect_fd, &c);
	ck_assert_int_eq(c.errors, 0);
	ck_assert_int_eq(c.n, NTHREADS * PER_THREAD / 2);
	rc_fd_reset();
}
END_TEST

TEST_SUITE(fdtable)
{
	ADD_TEST(s, track_get_untrack);
	ADD_TEST(s, identity_only_with_stat);
	ADD_TEST(s, set_flags);
	ADD_TEST(s, untrack_range);
	ADD_TEST(s, foreach_order_and_stop);
	ADD_TEST(s, high_water);
	ADD_TEST(s, far_apart);
	ADD_TEST(s, threads_distinct_fds);
}
