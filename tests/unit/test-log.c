#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "core/log.h"
#include "test.h"

/* rc_fmt's warnings are the ones printf would give: the formats below are
 * deliberate (a trailing '%', an unknown conversion). */
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
#pragma GCC diagnostic ignored "-Wformat-truncation"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-overflow"
#pragma GCC diagnostic ignored "-Wformat-zero-length"

#define FMT_EQ(expect, ...)                                                  \
	do {                                                                 \
		char b_[256];                                                \
		size_t n_ = rc_fmt(b_, sizeof(b_), __VA_ARGS__);             \
		ck_assert_str_eq(b_, (expect));                              \
		ck_assert_uint_eq(n_, strlen(expect));                       \
	} while (0)

/* The same format through libc, for the conversions both implement alike. */
#define FMT_LIKE_LIBC(...)                                                   \
	do {                                                                 \
		char a_[256], b_[256];                                       \
		size_t n_ = rc_fmt(a_, sizeof(a_), __VA_ARGS__);             \
		snprintf(b_, sizeof(b_), __VA_ARGS__);                       \
		ck_assert_str_eq(a_, b_);                                    \
		ck_assert_uint_eq(n_, strlen(b_));                           \
	} while (0)

START_TEST(fmt_strings)
{
	FMT_EQ("hello", "%s", "hello");
	FMT_EQ("a-b-c", "%s-%s-%s", "a", "b", "c");
	FMT_EQ("", "%s", "");
	FMT_EQ("(null)", "%s", (char *)NULL);
	FMT_EQ("   ab|", "%5s|", "ab");
	FMT_EQ("ab   |", "%-5s|", "ab");
	FMT_EQ("abcdef", "%3s", "abcdef"); /* width never truncates */
	FMT_EQ("abc", "%.*s", 3, "abcdef");
	FMT_EQ("ab", "%.*s", 10, "ab");
	FMT_EQ("", "%.*s", 0, "abcdef");
	FMT_EQ("abc   |", "%-6.*s|", 3, "abcdef");
	FMT_EQ("   abc|", "%6.*s|", 3, "abcdef");
	/* A precision stops at the count: the string need not be terminated. */
	const char raw[4] = { 'w', 'x', 'y', 'z' };
	FMT_EQ("wx", "%.*s", 2, raw);
}
END_TEST

START_TEST(fmt_integers)
{
	FMT_EQ("0", "%d", 0);
	FMT_EQ("42", "%d", 42);
	FMT_EQ("-42", "%d", -42);
	FMT_EQ("-7", "%i", -7);
	FMT_EQ("4294967295", "%u", UINT_MAX);
	FMT_EQ("deadbeef", "%x", 0xdeadbeefu);
	FMT_EQ("0", "%x", 0u);
	FMT_EQ("   42|", "%5d|", 42);
	FMT_EQ("42   |", "%-5d|", 42);
	FMT_EQ("  -42|", "%5d|", -42);
	FMT_EQ("-42  |", "%-5d|", -42);
	FMT_EQ("  ff|", "%4x|", 255u);
	FMT_EQ("123456", "%3d", 123456);

	FMT_LIKE_LIBC("%d %d %d", INT_MIN, INT_MAX, -1);
	FMT_LIKE_LIBC("%ld %ld", LONG_MIN, LONG_MAX);
	FMT_LIKE_LIBC("%lu", ULONG_MAX);
	FMT_LIKE_LIBC("%lld %lld", LLONG_MIN, LLONG_MAX);
	FMT_LIKE_LIBC("%llu", ULLONG_MAX);
	FMT_LIKE_LIBC("%zu", SIZE_MAX);
	FMT_LIKE_LIBC("%zu", (size_t)0);
	FMT_LIKE_LIBC("%zd", (ssize_t)-5);
	FMT_LIKE_LIBC("%lx %llx", 0x123456789abcdefUL, 0xfedcba9876543210ULL);
	FMT_LIKE_LIBC("[%8u] [%-8u] [%12ld] [%-12lx]", 17u, 17u, -99999L, 0xabcUL);

	/* A spread of values, each through every width. */
	const long vals[] = { 0, 1, -1, 9, 10, -10, 99, 100, 65535, -65536,
			      2147483647L, -2147483647L - 1, 123456789012L };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		for (int w = 0; w < 24; w += 3) {
			char spec[16];
			snprintf(spec, sizeof(spec), "%%%dld|%%-%dld", w, w);
			FMT_LIKE_LIBC(spec, vals[i], vals[i]);
			snprintf(spec, sizeof(spec), "%%%dlu|%%%dlx", w, w);
			FMT_LIKE_LIBC(spec, (unsigned long)vals[i], (unsigned long)vals[i]);
		}
	}
}
END_TEST

START_TEST(fmt_pointer_char_percent)
{
	char buf[64];
	void *p = (void *)(uintptr_t)0x7ffc1234abcdUL;

	FMT_EQ("0x7ffc1234abcd", "%p", p);
	FMT_LIKE_LIBC("%p", p);
	/* NULL: libc writes "(nil)"; the shim writes a number that reads
	 * back as 0. */
	rc_fmt(buf, sizeof(buf), "%p", (void *)NULL);
	ck_assert_int_eq(strncmp(buf, "0x", 2), 0);
	ck_assert_uint_eq(strtoull(buf, NULL, 16), 0);

	FMT_EQ("ab", "%c%c", 'a', 'b');
	FMT_EQ("x=Z!", "x=%c!", 'Z');
	FMT_EQ("100%", "100%%");
	FMT_EQ("%d", "%%d");
	FMT_EQ("a % b", "a %% b");
	/* Unknown conversions are copied, not consumed; a trailing '%' is
	 * dropped without reading past the end of the format. */
	FMT_EQ("%q", "%q");
	FMT_EQ("abc", "abc%");
	FMT_EQ("no conversion", "no conversion");
	FMT_EQ("", "");
}
END_TEST

START_TEST(fmt_mixed)
{
	FMT_LIKE_LIBC("pid %d opened fd %d at %p: %s (%zu bytes, %lu%%)",
		      1234, 7, (void *)0xdead0, "/tmp/x y", (size_t)4096, 55UL);
	FMT_EQ("[  7] [fd   ] [-1]", "[%3d] [%-5s] [%ld]", 7, "fd", -1L);
}
END_TEST

START_TEST(fmt_truncation)
{
	char buf[32];

	/* n smaller than the output: n - 1 characters, NUL, and not a byte
	 * past n. */
	memset(buf, 'X', sizeof(buf));
	ck_assert_uint_eq(rc_fmt(buf, 8, "%s", "hello world"), 7);
	ck_assert_str_eq(buf, "hello w");
	for (size_t i = 8; i < sizeof(buf); i++) {
		ck_assert_int_eq(buf[i], 'X');
	}

	/* Exactly fits, and one short. */
	memset(buf, 'X', sizeof(buf));
	ck_assert_uint_eq(rc_fmt(buf, 6, "%s", "hello"), 5);
	ck_assert_str_eq(buf, "hello");
	memset(buf, 'X', sizeof(buf));
	ck_assert_uint_eq(rc_fmt(buf, 5, "%s", "hello"), 4);
	ck_assert_str_eq(buf, "hell");
	ck_assert_int_eq(buf[5], 'X');

	/* In the middle of a number, of padding, of a pointer. */
	memset(buf, 'X', sizeof(buf));
	ck_assert_uint_eq(rc_fmt(buf, 4, "%d", 123456), 3);
	ck_assert_str_eq(buf, "123");
	memset(buf, 'X', sizeof(buf));
	ck_assert_uint_eq(rc_fmt(buf, 4, "%10d", 1), 3);
	ck_assert_str_eq(buf, "   ");
	memset(buf, 'X', sizeof(buf));
	ck_assert_uint_eq(rc_fmt(buf, 5, "%p", (void *)0xabcdef), 4);
	ck_assert_str_eq(buf, "0xab");

	/* n == 1: only the terminator. */
	memset(buf, 'X', sizeof(buf));
	ck_assert_uint_eq(rc_fmt(buf, 1, "%s", "abc"), 0);
	ck_assert_int_eq(buf[0], '\0');
	ck_assert_int_eq(buf[1], 'X');

	/* n == 0: nothing written at all. */
	memset(buf, 'X', sizeof(buf));
	ck_assert_uint_eq(rc_fmt(buf, 0, "%s", "abc"), 0);
	ck_assert_int_eq(buf[0], 'X');

	/* Long input through a large buffer. */
	char big[5000], out[100];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(out, 'X', sizeof(out));
	ck_assert_uint_eq(rc_fmt(out, sizeof(out), "<%s>", big), sizeof(out) - 1);
	ck_assert_uint_eq(strlen(out), sizeof(out) - 1);
	ck_assert_int_eq(out[0], '<');
	ck_assert_int_eq(out[98], 'q');
}
END_TEST

/* Reads what is in the pipe now (the write end stays open). */
static size_t
drain(int fd, char *buf, size_t n)
{
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, n - 1 - got);
		if (r <= 0) {
			break;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	return got;
}

static int pipefd[2];

static void
redirect_log(void)
{
	ck_assert_int_eq(pipe2(pipefd, O_NONBLOCK | O_CLOEXEC), 0);
	rc_log_fd = pipefd[1];
}

static void
restore_log(void)
{
	rc_log_fd = 2;
	rc_log_threshold = RC_LOG_WARN;
	close(pipefd[0]);
	close(pipefd[1]);
}

START_TEST(log_writes_one_line)
{
	char buf[4096];

	redirect_log();
	rc_log_threshold = RC_LOG_WARN;
	rc_log(RC_LOG_WARN, "could not remove %s (error %d)", "/tmp/x", 13);
	ck_assert_uint_eq(drain(pipefd[0], buf, sizeof(buf)),
			  strlen("rcshim: could not remove /tmp/x (error 13)\n"));
	ck_assert_str_eq(buf, "rcshim: could not remove /tmp/x (error 13)\n");

	/* The wrappers, in order, one line each. */
	rc_warn("first");
	rc_warn("second %u", 2u);
	drain(pipefd[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "rcshim: first\nrcshim: second 2\n");

	/* An empty message is still a line. */
	rc_warn("%s", "");
	drain(pipefd[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "rcshim: \n");
	restore_log();
}
END_TEST

START_TEST(log_threshold)
{
	char buf[4096];

	redirect_log();

	rc_log_threshold = RC_LOG_WARN;
	rc_info("info at warn");
	rc_debug("debug at warn");
	ck_assert_uint_eq(drain(pipefd[0], buf, sizeof(buf)), 0);

	rc_log_threshold = RC_LOG_INFO;
	rc_warn("w");
	rc_info("i");
	rc_debug("d");
	drain(pipefd[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "rcshim: w\nrcshim: i\n");

	rc_log_threshold = RC_LOG_DEBUG;
	rc_warn("w");
	rc_info("i");
	rc_debug("d");
	drain(pipefd[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "rcshim: w\nrcshim: i\nrcshim: d\n");

	/* quiet silences everything, warnings included. */
	rc_log_threshold = RC_LOG_QUIET;
	rc_warn("w");
	rc_info("i");
	rc_debug("d");
	ck_assert_uint_eq(drain(pipefd[0], buf, sizeof(buf)), 0);

	/* A message at level QUIET is never a message. */
	rc_log_threshold = RC_LOG_DEBUG;
	rc_log(RC_LOG_QUIET, "never");
	ck_assert_uint_eq(drain(pipefd[0], buf, sizeof(buf)), 0);

	restore_log();
}
END_TEST

START_TEST(log_long_message)
{
	static char big[8192];
	char buf[16384];

	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	redirect_log();
	rc_log_threshold = RC_LOG_WARN;
	rc_warn("%s", big);
	rc_warn("after");
	size_t n = drain(pipefd[0], buf, sizeof(buf));

	/* Truncated, but still one line with its newline, and the next line
	 * whole after it. */
	char *nl = strchr(buf, '\n');
	ck_assert_ptr_nonnull(nl);
	ck_assert_int_eq(strncmp(buf, "rcshim: mmm", 11), 0);
	ck_assert_uint_le((size_t)(nl - buf) + 1, 1024);
	ck_assert_uint_gt((size_t)(nl - buf), 900);
	for (char *p = buf + 8; p < nl; p++) {
		ck_assert_int_eq(*p, 'm');
	}
	ck_assert_str_eq(nl + 1, "rcshim: after\n");
	ck_assert_uint_eq(n, (size_t)(nl - buf) + 1 + strlen("rcshim: after\n"));
	restore_log();
}
END_TEST

START_TEST(log_preserves_errno)
{
	char buf[256];

	redirect_log();
	errno = EXDEV;
	rc_warn("x %d", 1);
	ck_assert_int_eq(errno, EXDEV);
	/* A failing write (closed fd) must not show through errno either. */
	rc_log_fd = 1000;
	errno = ENOTTY;
	rc_warn("lost");
	ck_assert_int_eq(errno, ENOTTY);
	rc_log_fd = pipefd[1];
	drain(pipefd[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "rcshim: x 1\n");
	restore_log();
}
END_TEST

/* A name in a line cannot start a line of its own (DESIGN §5). */
START_TEST(log_escapes_names)
{
	char buf[4096];

	redirect_log();
	rc_warn("cannot remove %s (error %d)", "/tmp/a\ncd;touch PWNED #", 5);
	rc_warn("%s", "esc\033[2J tab\t back\\slash caf\xc3\xa9 bad\xff c1\xc2\x9b");
	drain(pipefd[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "rcshim: cannot remove /tmp/a\\ncd;touch PWNED # (error 5)\n"
			      "rcshim: esc\\x1b[2J tab\\t back\\\\slash caf\xc3\xa9 bad\\xff "
			      "c1\\xc2\\x9b\n");
	restore_log();
}
END_TEST

static int saved_stderr = -1;

static void
save_stderr(void)
{
	saved_stderr = dup(2);
	ck_assert_int_ge(saved_stderr, 0);
}

/* Puts the test's stderr back, as the identity the shim compares with. */
static void
restore_stderr(void)
{
	ck_assert_int_eq(dup2(saved_stderr, 2), 2);
	close(saved_stderr);
	rc_log_stderr_init();
	rc_log_threshold = RC_LOG_WARN;
}

static char *
data_file(char *path, size_t n)
{
	snprintf(path, n, "/tmp/rcshim-test-log-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	return path;
}

/* A program that closed stderr and opened a data file on fd 2 gets no
 * shim text in its data; while fd 2 is the stderr it started with, the
 * lines are written. */
START_TEST(log_only_to_the_original_stderr)
{
	char buf[4096], path[64];
	int p[2];

	save_stderr();
	ck_assert_int_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	ck_assert_int_eq(dup2(p[1], 2), 2);
	rc_log_stderr_init();
	rc_log_fd = 2;
	rc_log_threshold = RC_LOG_WARN;
	ck_assert(rc_log_stderr_ok());
	rc_warn("one");
	drain(p[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "rcshim: one\n");

	/* The program's data file now on fd 2. */
	data_file(path, sizeof(path));
	close(2);
	ck_assert_int_eq(open(path, O_WRONLY | O_APPEND), 2);
	ck_assert(write(2, "data", 4) == 4);
	ck_assert(!rc_log_stderr_ok());
	rc_warn("two");
	char *got = NULL;
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t cap = 0;
	ck_assert_int_eq(getdelim(&got, &cap, '\0', f), 4);
	fclose(f);
	ck_assert_str_eq(got, "data");
	free(got);
	drain(p[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "");

	/* The same stderr back on fd 2 (another fd of the same pipe). */
	ck_assert_int_eq(dup2(p[1], 2), 2);
	rc_warn("three");
	drain(p[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "rcshim: three\n");

	/* Closed: nothing, and nothing breaks. */
	close(2);
	ck_assert(!rc_log_stderr_ok());
	rc_warn("four");

	unlink(path);
	close(p[0]);
	close(p[1]);
	restore_stderr();
}
END_TEST

/* fd 2 closed when the process started: whatever lands on fd 2 later is
 * the program's. */
START_TEST(log_never_to_a_later_fd_2)
{
	char path[64];

	save_stderr();
	close(2);
	rc_log_stderr_init();
	data_file(path, sizeof(path));
	ck_assert_int_eq(open(path, O_WRONLY | O_APPEND), 2);
	rc_log_fd = 2;
	rc_log_threshold = RC_LOG_WARN;
	ck_assert(!rc_log_stderr_ok());
	rc_warn("never");
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	unlink(path);
	restore_stderr();
}
END_TEST

TEST_SUITE(log)
{
	ADD_TEST(s, fmt_strings);
	ADD_TEST(s, fmt_integers);
	ADD_TEST(s, fmt_pointer_char_percent);
	ADD_TEST(s, fmt_mixed);
	ADD_TEST(s, fmt_truncation);
	ADD_TEST(s, log_writes_one_line);
	ADD_TEST(s, log_threshold);
	ADD_TEST(s, log_long_message);
	ADD_TEST(s, log_preserves_errno);
	ADD_TEST(s, log_escapes_names);
	ADD_TEST(s, log_only_to_the_original_stderr);
	ADD_TEST(s, log_never_to_a_later_fd_2);
}
