#include "build-config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "core/arena.h"
#include "core/registry.h"
#include "test.h"

static struct rc_record *
add_temp(const char *path, uint32_t dev, uint64_t ino, int32_t pid, uint8_t flags)
{
	struct rc_record t = {
		.kind = RCSHIM_KIND_TEMP,
		.path = (char *)path,
		.dev = dev,
		.ino = ino,
		.pid = pid,
		.flags = flags,
	};
	return rc_reg_add(&t);
}

static struct rc_record *
add_kind(int kind, uint64_t handle, const char *path, int32_t pid)
{
	struct rc_record t = {
		.kind = (uint8_t)kind,
		.handle = handle,
		.path = (char *)path,
		.pid = pid,
	};
	return rc_reg_add(&t);
}

static bool
has_path(const char *path)
{
	return rc_reg_has(RCSHIM_KIND_TEMP, rc_path_hash(path));
}

static bool
match_all(const struct rc_record *r, void *ctx)
{
	return true;
}

static bool
match_kind(const struct rc_record *r, void *ctx)
{
	return r->kind == *(int *)ctx;
}

static bool
match_pid(const struct rc_record *r, void *ctx)
{
	return r->pid == *(int32_t *)ctx;
}

START_TEST(path_hash)
{
	/* FNV-1a 64, stable across runs and builds. */
	ck_assert_uint_eq(rc_path_hash(""), 0xcbf29ce484222325ULL);
	ck_assert_uint_eq(rc_path_hash("a"), 0xaf63dc4c8601ec8cULL);
	ck_assert_uint_ne(rc_path_hash("/tmp/a"), rc_path_hash("/tmp/b"));
	ck_assert_uint_eq(rc_path_hash("/tmp/a"), rc_path_hash("/tmp/a"));
}
END_TEST

START_TEST(add_has_take_path)
{
	char path[] = "/tmp/rc/a";
	struct rc_record out;

	rc_reg_reset();
	struct rc_record *r = add_temp(path, 0x801, 4242, 77, RC_REC_DIR);
	ck_assert_ptr_nonnull(r);
	/* The path is a copy, and the handle its hash. */
	ck_assert_ptr_ne(r->path, path);
	ck_assert_str_eq(r->path, "/tmp/rc/a");
	ck_assert_uint_eq(r->handle, rc_path_hash("/tmp/rc/a"));
	ck_assert_uint_gt(r->seq, 0);
	path[8] = 'z'; /* the caller's buffer can change */
	ck_assert(has_path("/tmp/rc/a"));
	ck_assert(!has_path("/tmp/rc/z"));
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 1);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_FD), 0);
	uint32_t seq = r->seq;

	ck_assert(!rc_reg_take_path("/tmp/rc/b", &out));
	ck_assert(!rc_reg_take_path("/tmp/rc", &out));
	ck_assert(rc_reg_take_path("/tmp/rc/a", &out));
	ck_assert_str_eq(out.path, "/tmp/rc/a");
	ck_assert_uint_eq(out.dev, 0x801);
	ck_assert_uint_eq(out.ino, 4242);
	ck_assert_int_eq(out.pid, 77);
	ck_assert_uint_eq(out.flags, RC_REC_DIR);
	ck_assert_uint_eq(out.kind, RCSHIM_KIND_TEMP);
	ck_assert_uint_eq(out.seq, seq);
	ck_assert_ptr_null(out.hnext);
	rc_free(out.path);

	ck_assert(!has_path("/tmp/rc/a"));
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 0);
	ck_assert(!rc_reg_take_path("/tmp/rc/a", &out));

	/* Without @out the path is freed by the registry. */
	size_t base = rc_arena_in_use();
	add_temp("/tmp/rc/c", 1, 2, 3, 0);
	ck_assert(rc_reg_take_path("/tmp/rc/c", NULL));
	ck_assert_uint_eq(rc_arena_in_use(), base);
	ck_assert(!has_path("/tmp/rc/c"));
}
END_TEST

START_TEST(take_by_handle)
{
	struct rc_record out;

	rc_reg_reset();
	ck_assert_ptr_nonnull(add_kind(RCSHIM_KIND_SQLITE, 0x1000, "/data/app.db", 5));
	ck_assert_ptr_nonnull(add_kind(RCSHIM_KIND_GPU, 0x1000, NULL, 5));
	ck_assert_ptr_nonnull(add_kind(RCSHIM_KIND_SQLITE, 0x2000, NULL, 5));

	/* The kind is part of the key. */
	ck_assert(rc_reg_has(RCSHIM_KIND_SQLITE, 0x1000));
	ck_assert(rc_reg_has(RCSHIM_KIND_GPU, 0x1000));
	ck_assert(!rc_reg_has(RCSHIM_KIND_FD, 0x1000));
	ck_assert(!rc_reg_has(RCSHIM_KIND_SQLITE, 0x3000));
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_SQLITE), 2);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_GPU), 1);

	ck_assert(rc_reg_take(RCSHIM_KIND_SQLITE, 0x1000, &out));
	ck_assert_uint_eq(out.handle, 0x1000);
	ck_assert_str_eq(out.path, "/data/app.db");
	rc_free(out.path);
	ck_assert(!rc_reg_has(RCSHIM_KIND_SQLITE, 0x1000));
	ck_assert(rc_reg_has(RCSHIM_KIND_GPU, 0x1000));
	ck_assert(!rc_reg_take(RCSHIM_KIND_SQLITE, 0x1000, &out));

	ck_assert(rc_reg_take(RCSHIM_KIND_SQLITE, 0x2000, &out));
	ck_assert_ptr_null(out.path);
	ck_assert(rc_reg_take(RCSHIM_KIND_GPU, 0x1000, NULL));
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		ck_assert_uint_eq(rc_reg_count(k), 0);
	}
	/* Nothing of that kind at all: a fast "no". */
	ck_assert(!rc_reg_take(RCSHIM_KIND_CUSTOM, 1, &out));
	ck_assert(!rc_reg_has(RCSHIM_KIND_CUSTOM, 1));
}
END_TEST

START_TEST(rename_keeps_record)
{
	struct rc_record *list;
	struct rc_record out;

	rc_reg_reset();
	struct rc_record *a = add_temp("/tmp/rc/a", 9, 99, 7, RC_REC_DIR | RC_REC_JOURNALED);
	add_temp("/tmp/rc/other", 1, 1, 7, 0);
	uint32_t seq = a->seq;

	ck_assert(rc_reg_rename("/tmp/rc/a", "/tmp/rc/b"));
	ck_assert(!has_path("/tmp/rc/a"));
	ck_assert(has_path("/tmp/rc/b"));
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 2);

	ck_assert(rc_reg_take_path("/tmp/rc/b", &out));
	ck_assert_str_eq(out.path, "/tmp/rc/b");
	ck_assert_uint_eq(out.dev, 9);
	ck_assert_uint_eq(out.ino, 99);
	ck_assert_int_eq(out.pid, 7);
	ck_assert_uint_eq(out.flags, RC_REC_DIR | RC_REC_JOURNALED);
	ck_assert_uint_eq(out.seq, seq);
	ck_assert_uint_eq(out.handle, rc_path_hash("/tmp/rc/b"));

	/* Put back as it was: still findable, still the same age. */
	rc_reg_put_back(&out);
	ck_assert(has_path("/tmp/rc/b"));
	rc_free(out.path); /* put_back copied it */
	ck_assert_uint_eq(rc_reg_collect(match_all, NULL, false, &list), 2);
	/* "b" was made before "other": it is the older one. */
	ck_assert_str_eq(list[1].path, "/tmp/rc/b");
	ck_assert_uint_eq(list[1].seq, seq);
	rc_reg_free_list(list, 2);

	ck_assert(!rc_reg_rename("/tmp/rc/absent", "/tmp/rc/c"));
	ck_assert(!has_path("/tmp/rc/c"));
}
END_TEST

START_TEST(put_back_keeps_seq)
{
	struct rc_record *list, out;

	rc_reg_reset();
	add_kind(RCSHIM_KIND_SQLITE, 0xa, "/a.db", 1);
	struct rc_record *b = add_kind(RCSHIM_KIND_SQLITE, 0xb, "/b.db", 1);
	add_kind(RCSHIM_KIND_SQLITE, 0xc, "/c.db", 1);
	uint32_t sb = b->seq;

	ck_assert(rc_reg_take(RCSHIM_KIND_SQLITE, 0xb, &out));
	add_kind(RCSHIM_KIND_SQLITE, 0xd, "/d.db", 1);
	rc_reg_put_back(&out);
	rc_free(out.path);

	size_t n = rc_reg_collect(match_all, NULL, false, &list);
	ck_assert_uint_eq(n, 4);
	/* Newest first: d, c, b (its old place), a. */
	ck_assert_uint_eq(list[0].handle, 0xd);
	ck_assert_uint_eq(list[1].handle, 0xc);
	ck_assert_uint_eq(list[2].handle, 0xb);
	ck_assert_uint_eq(list[2].seq, sb);
	ck_assert_str_eq(list[2].path, "/b.db");
	ck_assert_uint_eq(list[3].handle, 0xa);
	rc_reg_free_list(list, n);
}
END_TEST

START_TEST(count_per_kind)
{
	struct rc_record *list;
	int fd_kind = RCSHIM_KIND_FD;

	rc_reg_reset();
	for (int i = 0; i < 3; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/tmp/c%d", i);
		add_temp(p, 1, (uint64_t)i, 1, 0);
	}
	add_kind(RCSHIM_KIND_FD, 3, NULL, 1);
	add_kind(RCSHIM_KIND_FD, 4, NULL, 1);
	add_kind(RCSHIM_KIND_SQLITE, 0x55, NULL, 1);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 3);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_FD), 2);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_SQLITE), 1);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_GPU), 0);

	ck_assert(rc_reg_take_path("/tmp/c1", NULL));
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 2);

	size_t n = rc_reg_collect(match_kind, &fd_kind, true, &list);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_FD), 0);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 2);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_SQLITE), 1);
	rc_reg_free_list(list, n);
}
END_TEST

START_TEST(collect_newest_first)
{
	struct rc_record *stored[10];
	struct rc_record *list;

	rc_reg_reset();
	for (int i = 0; i < 10; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/tmp/n%d", i);
		stored[i] = add_temp(p, 1, (uint64_t)i, 1, 0);
	}
	size_t n = rc_reg_collect(match_all, NULL, false, &list);
	ck_assert_uint_eq(n, 10);
	for (int i = 0; i < 10; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/tmp/n%d", 9 - i);
		ck_assert_str_eq(list[i].path, p);
		ck_assert_uint_eq(list[i].ino, (uint64_t)(9 - i));
		ck_assert_uint_eq(list[i].seq, stored[9 - i]->seq);
		/* A copy: the caller's list owns its own strings. */
		ck_assert_ptr_ne(list[i].path, stored[9 - i]->path);
		ck_assert_ptr_null(list[i].hnext);
		if (i) {
			ck_assert_uint_lt(list[i].seq, list[i - 1].seq);
		}
	}
	/* Copying leaves the table as it was. */
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 10);
	list[0].path[1] = 'X';
	ck_assert(has_path("/tmp/n9"));
	rc_reg_free_list(list, n);

	/* Taking empties it; the paths stay valid in the list. */
	n = rc_reg_collect(match_all, NULL, true, &list);
	ck_assert_uint_eq(n, 10);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 0);
	for (int i = 0; i < 10; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/tmp/n%d", 9 - i);
		ck_assert_str_eq(list[i].path, p);
		ck_assert(!has_path(p));
	}
	rc_reg_free_list(list, n);

	/* Nothing left: 0 and NULL. */
	list = (struct rc_record *)&n;
	ck_assert_uint_eq(rc_reg_collect(match_all, NULL, true, &list), 0);
	ck_assert_ptr_null(list);
}
END_TEST

START_TEST(collect_filter)
{
	struct rc_record *list;
	int32_t pid = 200;

	rc_reg_reset();
	for (int i = 0; i < 30; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/tmp/f%d", i);
		add_temp(p, 1, (uint64_t)i, 100 + (i % 3) * 100, 0);
	}
	/* No match: 0 and NULL, table intact. */
	int32_t nobody = 12345;
	list = (struct rc_record *)&pid;
	ck_assert_uint_eq(rc_reg_collect(match_pid, &nobody, true, &list), 0);
	ck_assert_ptr_null(list);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 30);

	size_t n = rc_reg_collect(match_pid, &pid, true, &list);
	ck_assert_uint_eq(n, 10);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(list[i].pid, 200);
		ck_assert_uint_eq(list[i].ino % 3, 1);
		if (i) {
			ck_assert_uint_lt(list[i].ino, list[i - 1].ino);
		}
	}
	rc_reg_free_list(list, n);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 20);
	ck_assert(has_path("/tmp/f0"));
	ck_assert(!has_path("/tmp/f1"));
	ck_assert(has_path("/tmp/f2"));
}
END_TEST

#define MANY 5000

START_TEST(thousands)
{
	struct rc_record *list;
	char p[64];

	rc_reg_reset();
	for (int i = 0; i < MANY; i++) {
		snprintf(p, sizeof(p), "/tmp/many/%d", i);
		ck_assert_ptr_nonnull(add_temp(p, 1, (uint64_t)i, 1, 0));
		ck_assert_ptr_nonnull(add_kind(RCSHIM_KIND_SQLITE, 0x10000 + (uint64_t)i * 16,
					       NULL, 1));
	}
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), MANY);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_SQLITE), MANY);
	for (int i = 0; i < MANY; i++) {
		snprintf(p, sizeof(p), "/tmp/many/%d", i);
		ck_assert_msg(has_path(p), "%s lost", p);
		ck_assert(rc_reg_has(RCSHIM_KIND_SQLITE, 0x10000 + (uint64_t)i * 16));
	}
	snprintf(p, sizeof(p), "/tmp/many/%d", MANY);
	ck_assert(!has_path(p));

	/* Take every other one of each kind. */
	for (int i = 0; i < MANY; i += 2) {
		snprintf(p, sizeof(p), "/tmp/many/%d", i);
		ck_assert(rc_reg_take_path(p, NULL));
		ck_assert(rc_reg_take(RCSHIM_KIND_SQLITE, 0x10000 + (uint64_t)i * 16, NULL));
	}
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), MANY / 2);
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_SQLITE), MANY / 2);

	size_t n = rc_reg_collect(match_all, NULL, false, &list);
	ck_assert_uint_eq(n, MANY);
	for (size_t i = 1; i < n; i++) {
		ck_assert_uint_lt(list[i].seq, list[i - 1].seq);
	}
	/* Newest: the last SQLite record, then the last temp. */
	ck_assert_uint_eq(list[0].kind, RCSHIM_KIND_SQLITE);
	ck_assert_uint_eq(list[0].handle, 0x10000 + (uint64_t)(MANY - 1) * 16);
	snprintf(p, sizeof(p), "/tmp/many/%d", MANY - 1);
	ck_assert_str_eq(list[1].path, p);
	rc_reg_free_list(list, n);
}
END_TEST

START_TEST(no_leak)
{
	struct rc_record *list;
	char p[64];

	rc_reg_reset();
	/* Once to grow the table to size, then the same again must give
	 * back every byte. */
	for (int round = 0; round < 2; round++) {
		size_t base = rc_arena_in_use();
		for (int i = 0; i < 1000; i++) {
			snprintf(p, sizeof(p), "/tmp/leak/%d/with-a-longer-name", i);
			add_temp(p, 1, (uint64_t)i, 1, 0);
		}
		for (int i = 0; i < 500; i++) {
			snprintf(p, sizeof(p), "/tmp/leak/%d/with-a-longer-name", i);
			if (i % 2) {
				ck_assert(rc_reg_take_path(p, NULL));
			} else {
				struct rc_record out;
				ck_assert(rc_reg_take_path(p, &out));
				rc_free(out.path);
			}
		}
		size_t n = rc_reg_collect(match_all, NULL, true, &list);
		ck_assert_uint_eq(n, 500);
		rc_reg_free_list(list, n);
		if (round == 1) {
			ck_assert_uint_eq(rc_arena_in_use(), base);
		}
	}
}
END_TEST

START_TEST(reset)
{
	struct rc_record *list;

	rc_reg_reset();
	for (int i = 0; i < 300; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/tmp/r%d", i);
		add_temp(p, 1, (uint64_t)i, 1, 0);
		add_kind(RCSHIM_KIND_FD, (uint64_t)i, NULL, 1);
	}
	rc_reg_reset();
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		ck_assert_uint_eq(rc_reg_count(k), 0);
	}
	ck_assert(!has_path("/tmp/r0"));
	ck_assert(!rc_reg_has(RCSHIM_KIND_FD, 1));
	ck_assert_uint_eq(rc_reg_collect(match_all, NULL, false, &list), 0);

	/* Usable again, and sequence numbers still increase. */
	struct rc_record *a = add_temp("/tmp/after", 1, 1, 1, 0);
	struct rc_record *b = add_temp("/tmp/after2", 1, 2, 1, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_gt(b->seq, a->seq);
	ck_assert(has_path("/tmp/after"));
	ck_assert_uint_eq(rc_reg_count(RCSHIM_KIND_TEMP), 2);
	rc_reg_reset();
}
END_TEST

TEST_SUITE(registry)
{
	ADD_TEST(s, path_hash);
	ADD_TEST(s, add_has_take_path);
	ADD_TEST(s, take_by_handle);
	ADD_TEST(s, rename_keeps_record);
	ADD_TEST(s, put_back_keeps_seq);
	ADD_TEST(s, count_per_kind);
	ADD_TEST(s, collect_newest_first);
	ADD_TEST(s, collect_filter);
	ADD_TEST(s, thousands);
	ADD_TEST(s, no_leak);
	ADD_TEST(s, reset);
}
