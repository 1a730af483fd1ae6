#include "build-config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <check.h>

#include "core/arena.h"
#include "test.h"

static bool
all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != v) {
			return false;
		}
	}
	return true;
}

/* A pattern that differs per block and per byte, so overlapping blocks or
 * a block handed out twice show up. */
static void
fill(unsigned char *p, size_t n, uint32_t tag)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = (unsigned char)(tag * 131u + i * 7u + (i >> 8));
	}
}

static bool
check_fill(const unsigned char *p, size_t n, uint32_t tag)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != (unsigned char)(tag * 131u + i * 7u + (i >> 8))) {
			return false;
		}
	}
	return true;
}

static size_t
size_at(size_t i)
{
	static const size_t extra[] = { 4064, 4079, 4080, 4081, 4095, 4096, 4097,
					 8191, 8192, 8193, 65536, 100000, 1u << 20 };
	if (i < 600) {
		return i; /* every small size, 0 included */
	}
	i -= 600;
	if (i < sizeof(extra) / sizeof(extra[0])) {
		return extra[i];
	}
	i -= sizeof(extra) / sizeof(extra[0]);
	return 600 + i * 37; /* up to ~4 KiB in odd steps */
}

#define NSIZES (600 + 13 + 100)

START_TEST(alloc_zeroed_aligned)
{
	static unsigned char *blocks[NSIZES];
	size_t base = rc_arena_in_use();

	for (size_t i = 0; i < NSIZES; i++) {
		size_t sz = size_at(i);
		blocks[i] = rc_alloc(sz);
		ck_assert_ptr_nonnull(blocks[i]);
		ck_assert_uint_eq((uintptr_t)blocks[i] % 16, 0);
		ck_assert_msg(all_bytes(blocks[i], sz, 0), "size %zu not zeroed", sz);
		fill(blocks[i], sz, (uint32_t)i);
	}
	ck_assert_uint_ge(rc_arena_mapped(), rc_arena_in_use());
	/* Every block still holds its own pattern: none overlaps another. */
	for (size_t i = 0; i < NSIZES; i++) {
		ck_assert_msg(check_fill(blocks[i], size_at(i), (uint32_t)i),
			      "block %zu (size %zu) was overwritten", i, size_at(i));
	}
	for (size_t i = 0; i < NSIZES; i++) {
		rc_free(blocks[i]);
	}
	ck_assert_uint_eq(rc_arena_in_use(), base);
}
END_TEST

START_TEST(alloc_reuse_is_zeroed)
{
	/* A block freed dirty comes back clean, whatever its class. */
	const size_t sizes[] = { 1, 16, 17, 100, 1000, 4000, 4080, 5000, 70000 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		for (int round = 0; round < 4; round++) {
			unsigned char *p = rc_alloc(sizes[k]);
			ck_assert_ptr_nonnull(p);
			ck_assert_msg(all_bytes(p, sizes[k], 0),
				      "size %zu round %d not zeroed", sizes[k], round);
			memset(p, 0xab, sizes[k]);
			rc_free(p);
		}
	}
}
END_TEST

START_TEST(free_memory_is_reused)
{
	/* Allocating and freeing in a loop must not keep mapping memory. */
	void *warm = rc_alloc(200);
	rc_free(warm);
	size_t mapped = rc_arena_mapped();
	size_t base = rc_arena_in_use();

	for (int i = 0; i < 100000; i++) {
		void *a = rc_alloc((size_t)(i % 3000) + 1);
		void *b = rc_alloc(64);
		ck_assert_ptr_nonnull(a);
		ck_assert_ptr_nonnull(b);
		rc_free(a);
		rc_free(b);
	}
	/* At most a chunk for the classes first used in the loop. */
	ck_assert_uint_le(rc_arena_mapped(), mapped + 512 * 1024);
	ck_assert_uint_eq(rc_arena_in_use(), base);

	/* Large blocks go back on free. */
	for (int i = 0; i < 1000; i++) {
		void *big = rc_alloc(1u << 20);
		ck_assert_ptr_nonnull(big);
		ck_assert_uint_ge(rc_arena_in_use(), base + (1u << 20));
		rc_free(big);
	}
	ck_assert_uint_le(rc_arena_mapped(), mapped + 512 * 1024);
	ck_assert_uint_eq(rc_arena_in_use(), base);
}
END_TEST

START_TEST(in_use_accounting)
{
	void *p[64];
	size_t base = rc_arena_in_use();
	size_t want = 0;

	for (int i = 0; i < 64; i++) {
		size_t sz = (size_t)i * 150 + 1;
		p[i] = rc_alloc(sz);
		ck_assert_ptr_nonnull(p[i]);
		want += sz;
		/* Each block counts at least what was asked for. */
		ck_assert_uint_ge(rc_arena_in_use(), base + want);
	}
	/* Down again, one block at a time, in another order. */
	size_t prev = rc_arena_in_use();
	for (int i = 0; i < 64; i += 2) {
		rc_free(p[i]);
		ck_assert_uint_lt(rc_arena_in_use(), prev);
		prev = rc_arena_in_use();
	}
	for (int i = 1; i < 64; i += 2) {
		rc_free(p[i]);
		ck_assert_uint_lt(rc_arena_in_use(), prev);
		prev = rc_arena_in_use();
	}
	ck_assert_uint_eq(rc_arena_in_use(), base);
	rc_free(NULL); /* a no-op */
	ck_assert_uint_eq(rc_arena_in_use(), base);
}
END_TEST

START_TEST(alloc_too_large)
{
	size_t base = rc_arena_in_use();
	ck_assert_ptr_null(rc_alloc(SIZE_MAX));
	ck_assert_ptr_null(rc_alloc(SIZE_MAX - 8));
	ck_assert_ptr_null(rc_alloc((size_t)1 << 41));
	ck_assert_uint_eq(rc_arena_in_use(), base);
}
END_TEST

START_TEST(strdup_strndup)
{
	size_t base = rc_arena_in_use();
	const char *src = "hello, world";

	char *d = rc_strdup(src);
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_ne(d, src);
	ck_assert_str_eq(d, src);
	rc_free(d);

	d = rc_strdup("");
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d, "");
	rc_free(d);

	d = rc_strndup(src, 5);
	ck_assert_str_eq(d, "hello");
	rc_free(d);

	d = rc_strndup("hi", 100);
	ck_assert_str_eq(d, "hi");
	rc_free(d);

	d = rc_strndup(src, 0);
	ck_assert_str_eq(d, "");
	rc_free(d);

	/* Not terminated within n: reads no further than n. */
	const char raw[4] = { 'a', 'b', 'c', 'd' };
	d = rc_strndup(raw, sizeof(raw));
	ck_assert_str_eq(d, "abcd");
	rc_free(d);

	/* Longer than the largest class. */
	static char big[10001];
	memset(big, 'z', sizeof(big) - 1);
	d = rc_strdup(big);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(strlen(d), sizeof(big) - 1);
	ck_assert_str_eq(d, big);
	rc_free(d);

	ck_assert_uint_eq(rc_arena_in_use(), base);
}
END_TEST

#define NTHREADS 8
#define NSLOTS 48
#define NITER 4000

struct worker {
	pthread_t t;
	unsigned id;
	unsigned errors;
};

static size_t
thread_size(uint32_t r)
{
	/* Mostly small, sometimes across the class limit, now and then large. */
	switch (r % 16) {
	case 0:
		return 4000 + r % 9000;
	case 1:
		return 70000;
	default:
		return r % 700;
	}
}

static void *
thread_main(void *arg)
{
	struct worker *w = arg;
	unsigned char *slot[NSLOTS] = { 0 };
	size_t size[NSLOTS] = { 0 };
	uint32_t tag[NSLOTS] = { 0 };
	uint32_t rnd = 2463534242u ^ (w->id * 0x9e3779b9u);

	for (uint32_t it = 0; it < NITER; it++) {
		rnd ^= rnd << 13;
		rnd ^= rnd >> 17;
		rnd ^= rnd << 5;
		unsigned s = rnd % NSLOTS;
		if (slot[s]) {
			if (!check_fill(slot[s], size[s], tag[s])) {
				w->errors++;
			}
			rc_free(slot[s]);
			slot[s] = NULL;
			continue;
		}
		size[s] = thread_size(rnd >> 7);
		slot[s] = rc_alloc(size[s]);
		if (!slot[s] || (uintptr_t)slot[s] % 16 || !all_bytes(slot[s], size[s], 0)) {
			w->errors++;
			slot[s] = NULL;
			continue;
		}
		tag[s] = (w->id << 24) | it;
		fill(slot[s], size[s], tag[s]);
	}
	for (unsigned s = 0; s < NSLOTS; s++) {
		if (slot[s]) {
			if (!check_fill(slot[s], size[s], tag[s])) {
				w->errors++;
			}
			rc_free(slot[s]);
		}
	}
	return NULL;
}

START_TEST(threads_alloc_free)
{
	struct worker w[NTHREADS];
	size_t base = rc_arena_in_use();

	for (unsigned i = 0; i < NTHREADS; i++) {
		w[i].id = i + 1;
		w[i].errors = 0;
		ck_assert_int_eq(pthread_create(&w[i].t, NULL, thread_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++) {
		ck_assert_int_eq(pthread_join(w[i].t, NULL), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++) {
		ck_assert_msg(w[i].errors == 0, "thread %u saw %u corrupt blocks",
			      i, w[i].errors);
	}
	ck_assert_uint_eq(rc_arena_in_use(), base);
}
END_TEST

TEST_SUITE(arena)
{
	ADD_TEST(s, alloc_zeroed_aligned);
	ADD_TEST(s, alloc_reuse_is_zeroed);
	ADD_TEST(s, free_memory_is_reused);
	ADD_TEST(s, in_use_accounting);
	ADD_TEST(s, alloc_too_large);
	ADD_TEST(s, strdup_strndup);
	ADD_TEST(s, threads_alloc_free);
}
