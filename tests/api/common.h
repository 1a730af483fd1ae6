/* Shared by the API tests (test-*.c): they link librcshim.so and use only
 * the public API, libc and SQLite, as a user's program would. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <check.h>
#include <rcshim.h>

/* Entries of /proc/self/fd (the count includes the one reading it). */
int t_open_fds(void);
bool t_is_open(int fd);
bool t_exists(const char *path);
/* A fresh directory under /tmp for one test, made outside any scope: the
 * process's own temp artifact, removed at its end at the latest. */
const char *t_base(void);
/* <t_base()>/<name> in a static buffer (eight in rotation). */
const char *t_path(const char *name);
/* The first line of a small file, "" if unreadable. */
const char *t_first_line(const char *path);

/* Items cleaned of every kind but the heap: a live cleanup at MEDIUM and
 * above also trims the heap, and counts that under "heap". */
static inline unsigned long long
t_items_cleaned(const struct rcshim_result *r)
{
	unsigned long long n = 0;
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		n += k == RCSHIM_KIND_HEAP ? 0 : r->kind[k].cleaned;
	}
	return n;
}

/* A result's counts for one kind, for messages. */
#define ck_assert_kind(res, k, c, f, s)                                               \
	do {                                                                          \
		const struct rcshim_kind_result *kr_ = &(res)->kind[(k)];             \
		ck_assert_msg(kr_->cleaned == (c) && kr_->failed == (f) &&            \
				      kr_->skipped == (s),                            \
			      "%s: cleaned %llu failed %llu skipped %llu, expected "  \
			      "%d %d %d",                                             \
			      rcshim_kind_name(k), (unsigned long long)kr_->cleaned,  \
			      (unsigned long long)kr_->failed,                        \
			      (unsigned long long)kr_->skipped, (c), (f), (s));       \
	} while (0)
