/* Test registration, after libevdev: each file declares its suites with
 * TEST_SUITE(name) { tcase...; } and test-main.c finds them through an ELF
 * section, so adding a test file needs no edit anywhere else.
 */
#pragma once

#include <check.h>

struct rc_test_suite {
	const char *name;
	void (*setup)(Suite *s);
};

#define TEST_SUITE(name_)                                                     \
	static void rc_suite_setup_##name_(Suite *s);                         \
	static const struct rc_test_suite rc_suite_##name_                    \
		__attribute__((used, section("rc_test_section"),              \
			       aligned(sizeof(void *)))) = {                  \
			.name = #name_, .setup = rc_suite_setup_##name_ };    \
	static void rc_suite_setup_##name_(Suite *s)

/* Adds one test function in its own tcase. */
#define ADD_TEST(s_, fn_)                                                     \
	do {                                                                  \
		TCase *tc_ = tcase_create(#fn_);                              \
		tcase_set_timeout(tc_, 60);                                   \
		tcase_add_test(tc_, fn_);                                     \
		suite_add_tcase((s_), tc_);                                   \
	} while (0)

/* The same with its own timeout in seconds, for the few tests that do a
 * lot of real work (a million temp files). */
#define ADD_TEST_TIMEOUT(s_, fn_, secs_)                                      \
	do {                                                                  \
		TCase *tc_ = tcase_create(#fn_);                              \
		tcase_set_timeout(tc_, (secs_));                              \
		tcase_add_test(tc_, fn_);                                     \
		suite_add_tcase((s_), tc_);                                   \
	} while (0)
