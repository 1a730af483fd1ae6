/* Names in output (core/escape.h, docs/report-format.md "Escaping"): text
 * is one line and gives every byte back; JSON gives every byte back. */
#include "build-config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "core/escape.h"
#include "report/internal.h"
#include "test.h"

#define ESC_EQ(raw, want)                                                     \
	do {                                                                  \
		char b_[256];                                                 \
		size_t n_ = rc_esc_text(b_, sizeof(b_), (raw), sizeof(raw) - 1); \
		ck_assert_str_eq(b_, (want));                                 \
		ck_assert_uint_eq(n_, strlen(want));                          \
	} while (0)

START_TEST(text_escapes)
{
	ESC_EQ("/tmp/plain name-1.txt", "/tmp/plain name-1.txt");
	ESC_EQ("a\ncd;touch PWNED #", "a\\ncd;touch PWNED #");
	ESC_EQ("tab\there\rcr", "tab\\there\\rcr");
	ESC_EQ("back\\slash", "back\\\\slash");
	ESC_EQ("\033[31mred", "\\x1b[31mred");
	ESC_EQ("del\177", "del\\x7f");
	ESC_EQ("nul\001", "nul\\x01");
	/* Well-formed UTF-8 stays as it is. */
	ESC_EQ("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* Bytes that are not: one \xNN each. */
	ESC_EQ("latin1 caf\xe9", "latin1 caf\\xe9");
	ESC_EQ("\xff\xfe", "\\xff\\xfe");
	ESC_EQ("overlong \xc0\xaf", "overlong \\xc0\\xaf");
	ESC_EQ("surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80");
	ESC_EQ("cut \xe2\x82", "cut \\xe2\\x82");
	/* The C1 controls (U+0080-U+009F), a CSI among them. */
	ESC_EQ("csi \xc2\x9b" "2J", "csi \\xc2\\x9b2J");
	ESC_EQ("nbsp \xc2\xa0", "nbsp \xc2\xa0");
}
END_TEST

/* Cut short, an escape or a UTF-8 sequence is never split. */
START_TEST(text_escape_truncates_whole)
{
	char b[8];
	ck_assert_uint_eq(rc_esc_text(b, sizeof(b), "abcdef\n", 7), 6);
	ck_assert_str_eq(b, "abcdef");
	ck_assert_uint_eq(rc_esc_text(b, sizeof(b), "abc\nfgh", 7), 7);
	ck_assert_str_eq(b, "abc\\nfg");
	ck_assert_uint_eq(rc_esc_text(b, sizeof(b), "abcdef\xc3\xa9", 8), 6);
	ck_assert_str_eq(b, "abcdef");
	ck_assert_uint_eq(rc_esc_text(b, sizeof(b), "ab\xff\xff", 4), 6);
	ck_assert_str_eq(b, "ab\\xff");
	ck_assert_uint_eq(rc_esc_text(b, 1, "abc", 3), 0);
	ck_assert_str_eq(b, "");
	b[0] = 'X';
	ck_assert_uint_eq(rc_esc_text(b, 0, "abc", 3), 0);
	ck_assert_int_eq(b[0], 'X');
}
END_TEST

/* The documented reading of escaped text. */
static size_t
unescape(const char *s, unsigned char *out)
{
	size_t n = 0;
	while (*s) {
		if (*s != '\\') {
			out[n++] = (unsigned char)*s++;
			continue;
		}
		s++;
		switch (*s) {
		case 'n': out[n++] = '\n'; s++; break;
		case 't': out[n++] = '\t'; s++; break;
		case 'r': out[n++] = '\r'; s++; break;
		case '\\': out[n++] = '\\'; s++; break;
		case 'x': {
			char h[3] = { s[1], s[2], 0 };
			out[n++] = (unsigned char)strtoul(h, NULL, 16);
			s += 3;
			break;
		}
		default:
			ck_abort_msg("unknown escape \\%c", *s);
		}
	}
	return n;
}

/* Every byte string but NUL: one line, only printable ASCII or UTF-8 of
 * U+00A0 and above, and the same bytes back. */
START_TEST(text_escape_round_trip)
{
	unsigned char raw[64], back[64];
	char esc[64 * 4 + 1];
	uint32_t x = 12345;
	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(round % 24) + 1;
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			unsigned char c = (unsigned char)(x >> 16);
			/* Often ASCII, sometimes UTF-8 lead and continuation bytes. */
			raw[i] = c ? c : 'z';
		}
		size_t len = rc_esc_text(esc, sizeof(esc), (const char *)raw, n);
		ck_assert_uint_eq(len, strlen(esc));
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)esc[i];
			ck_assert_msg(c >= 0x20 && c != 0x7f, "control 0x%x in output", c);
		}
		ck_assert_msg(rc_utf8_valid(esc, len), "escaped text is not UTF-8");
		ck_assert_uint_eq(unescape(esc, back), n);
		ck_assert(memcmp(back, raw, n) == 0);
		ck_assert(rc_esc_text_needed((const char *)raw, n) == (len != n || memcmp(esc, raw, n)));
	}
}
END_TEST

START_TEST(utf8_lengths)
{
	ck_assert_uint_eq(rc_utf8_len((const unsigned char *)"a", 1), 1);
	ck_assert_uint_eq(rc_utf8_len((const unsigned char *)"\xc3\xa9", 2), 2);
	ck_assert_uint_eq(rc_utf8_len((const unsigned char *)"\xc3\xa9", 1), 0);
	ck_assert_uint_eq(rc_utf8_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
	ck_assert_uint_eq(rc_utf8_len((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
	ck_assert_uint_eq(rc_utf8_len((const unsigned char *)"\xf4\x90\x80\x80", 4), 0);
	ck_assert_uint_eq(rc_utf8_len((const unsigned char *)"\xc1\xbf", 2), 0);
	ck_assert_uint_eq(rc_utf8_len((const unsigned char *)"\xe0\x80\xaf", 3), 0);
	ck_assert_uint_eq(rc_utf8_len((const unsigned char *)"\xed\xbf\xbf", 3), 0);
	ck_assert_uint_eq(rc_utf8_len((const unsigned char *)"\x80", 1), 0);
	ck_assert_uint_eq(rc_utf8_len((const unsigned char *)"", 0), 0);
	ck_assert(rc_utf8_valid("caf\xc3\xa9", 5));
	ck_assert(!rc_utf8_valid("caf\xe9", 4));
}
END_TEST

/* JSON: a name that is UTF-8 is one member; one that is not gets a
 * "_hex" member with its bytes beside it. */
START_TEST(json_members)
{
	struct rc_out o = { 0 };
	rc_out_json_member(&o, "path", "/tmp/caf\xc3\xa9\n\"q\"\\");
	ck_assert_str_eq(o.p, "\"path\":\"/tmp/caf\xc3\xa9\\u000a\\\"q\\\"\\\\\"");
	rc_out_free(&o);

	rc_out_json_member(&o, "path", "/t/\xff\x01");
	ck_assert_str_eq(o.p, "\"path\":\"/t/\\u00ff\\u0001\",\"path_hex\":\"2f742fff01\"");
	rc_out_free(&o);

	rc_out_json_hex_or_null(&o, "ok");
	rc_out_json_hex_or_null(&o, "\xe9");
	ck_assert_str_eq(o.p, "null\"e9\"");
	rc_out_free(&o);

	rc_out_text(&o, "a\nb\\\xff");
	ck_assert_str_eq(o.p, "a\\nb\\\\\\xff");
	rc_out_free(&o);
}
END_TEST

TEST_SUITE(escape)
{
	ADD_TEST(s, text_escapes);
	ADD_TEST(s, text_escape_truncates_whole);
	ADD_TEST(s, text_escape_round_trip);
	ADD_TEST(s, utf8_lengths);
	ADD_TEST(s, json_members);
}
