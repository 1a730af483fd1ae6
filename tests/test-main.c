/* Runs every suite linked into this binary.
 *
 * Usage: test-NAME [SUITE]  — SUITE limits the run to one suite by name
 * (CK_RUN_SUITE and CK_RUN_CASE work as Check documents, too).
 */
#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* Weak: a binary with no suite yet still links. */
extern const struct rc_test_suite __start_rc_test_section[] __attribute__((weak));
extern const struct rc_test_suite __stop_rc_test_section[] __attribute__((weak));

int
main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	SRunner *sr = NULL;
	int nfailed;

	for (const struct rc_test_suite *t = __start_rc_test_section;
	     t < __stop_rc_test_section; t++) {
		if (only && strcmp(only, t->name) != 0) {
			continue;
		}
		Suite *s = suite_create(t->name);
		t->setup(s);
		if (!sr) {
			sr = srunner_create(s);
		} else {
			srunner_add_suite(sr, s);
		}
	}
	if (!sr) {
		fprintf(stderr, "no test suite%s%s\n", only ? " named " : "",
			only ? only : "");
		return 99;
	}
	srunner_run_all(sr, CK_ENV);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
