/* The shim's own string and signal-set functions (src/preload/libc.c)
 * against glibc's, on the same inputs: the shim's calls go to them. */
#include "build-config.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <check.h>

#include "test.h"

/* Compiled here under other names; glibc's keep theirs (the headers above
 * are already in, so libc.c's own includes add nothing). */
#define strnlen t_strnlen
#define strcmp t_strcmp
#define strncmp t_strncmp
#define strcasecmp t_strcasecmp
#define memcmp t_memcmp
#define memchr t_memchr
#define strchr t_strchr
#define strcspn t_strcspn
#define strpbrk t_strpbrk
#define strstr t_strstr
#define strcpy t_strcpy
#define getpagesize t_getpagesize
#define sigemptyset t_sigemptyset
#define sigfillset t_sigfillset
#define sigaddset t_sigaddset
#include "preload/libc.c"
#undef strnlen
#undef strcmp
#undef strncmp
#undef strcasecmp
#undef memcmp
#undef memchr
#undef strchr
#undef strcspn
#undef strpbrk
#undef strstr
#undef strcpy
#undef getpagesize
#undef sigemptyset
#undef sigfillset
#undef sigaddset

static const char *const words[] = {
	"", "a", "ab", "abc", "abd", "abcd", "b", "A", "AbC", "aBc", "/tmp/x",
	"/tmp/xy", "/tmp", "RCSHIM_LOG=quiet", "RCSHIM_LOG", "HOME=/root", "\xe9t\xe9",
	"\xff", "\x7f", "some avg10=1.00 avg60", "a - b - c", "on", "ON", "oN",
	"aaab", "aab", "abab", "ba",
};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

static int
sign(int v)
{
	return (v > 0) - (v < 0);
}

START_TEST(compares_like_glibc)
{
	for (size_t i = 0; i < N_WORDS; i++) {
		const char *a = words[i];
		for (size_t j = 0; j < N_WORDS; j++) {
			const char *b = words[j];
			ck_assert_int_eq(sign(t_strcmp(a, b)), sign(strcmp(a, b)));
			/* ASCII letters only: glibc's follows the locale, "C" here. */
			ck_assert_int_eq(sign(t_strcasecmp(a, b)), sign(strcasecmp(a, b)));
			for (size_t n = 0; n < 8; n++) {
				ck_assert_int_eq(sign(t_strncmp(a, b, n)), sign(strncmp(a, b, n)));
				size_t m = n;
				if (m > strlen(a) + 1 || m > strlen(b) + 1) {
					continue;
				}
				ck_assert_int_eq(sign(t_memcmp(a, b, m)), sign(memcmp(a, b, m)));
			}
			ck_assert_ptr_eq(t_strstr(a, b), strstr(a, b));
			ck_assert_uint_eq(t_strcspn(a, b), strcspn(a, b));
			ck_assert_ptr_eq(t_strpbrk(a, b), strpbrk(a, b));
		}
	}
}
END_TEST

START_TEST(finds_like_glibc)
{
	const int chars[] = { 0, 'a', 'b', 'c', '/', '=', 'x', 0xe9, -23, 0xff, -1, 0x7f, 0x161 };
	for (size_t i = 0; i < N_WORDS; i++) {
		const char *a = words[i];
		size_t len = strlen(a);
		for (size_t k = 0; k < sizeof(chars) / sizeof(chars[0]); k++) {
			int c = chars[k];
			ck_assert_ptr_eq(t_strchr(a, c), strchr(a, c));
			for (size_t n = 0; n <= len + 1; n++) {
				ck_assert_ptr_eq(t_memchr(a, c, n), memchr(a, c, n));
			}
		}
		for (size_t n = 0; n <= len + 2; n++) {
			ck_assert_uint_eq(t_strnlen(a, n), strnlen(a, n));
		}
		char d[64], e[64];
		memset(d, 'z', sizeof(d));
		memset(e, 'z', sizeof(e));
		ck_assert_ptr_eq(t_strcpy(d, a), d);
		strcpy(e, a);
		ck_assert_mem_eq(d, e, sizeof(d));
	}
}
END_TEST

START_TEST(signal_sets_like_glibc)
{
	sigset_t a, b;

	memset(&a, 0x5a, sizeof(a));
	memset(&b, 0x5a, sizeof(b));
	ck_assert_int_eq(t_sigemptyset(&a), 0);
	ck_assert_int_eq(sigemptyset(&b), 0);
	ck_assert_mem_eq(&a, &b, sizeof(a));

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(t_sigfillset(&a), 0);
	ck_assert_int_eq(sigfillset(&b), 0);
	ck_assert_mem_eq(&a, &b, sizeof(a));
	/* What that means: the two internal signals out, the rest in. */
	ck_assert_int_eq(sigismember(&a, 32), 0);
	ck_assert_int_eq(sigismember(&a, 33), 0);
	ck_assert_int_eq(sigismember(&a, SIGSEGV), 1);
	ck_assert_int_eq(sigismember(&a, SIGRTMAX), 1);

	t_sigemptyset(&a);
	sigemptyset(&b);
	for (int s = -1; s <= NSIG + 1; s++) {
		errno = 0;
		int ra = t_sigaddset(&a, s);
		int ea = errno;
		errno = 0;
		int rb = sigaddset(&b, s);
		ck_assert_msg(ra == rb && ea == errno, "signal %d: %d/%d errno %d/%d", s, ra, rb,
			      ea, errno);
		ck_assert_mem_eq(&a, &b, sizeof(a));
	}
	ck_assert_int_eq(t_getpagesize(), getpagesize());
}
END_TEST

TEST_SUITE(libc)
{
	ADD_TEST(s, compares_like_glibc);
	ADD_TEST(s, finds_like_glibc);
	ADD_TEST(s, signal_sets_like_glibc);
}
