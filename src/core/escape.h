/* Escaping of names in output (DESIGN §5: "Paths and names in text output
 * have control characters escaped; JSON keeps every byte recoverable").
 *
 * A path or a name comes from the program or the file system and may hold
 * any byte but NUL.  Written raw into a line of text, a newline in it
 * starts a line of its own ("a\ncd;touch PWNED #"), an ESC drives the
 * reader's terminal.  The rules are in docs/report-format.md, "Escaping".
 *
 * Text: every byte stays itself except
 *   backslash       \\
 *   \n \t \r        \n \t \r
 *   other controls  \xNN (bytes 0x00-0x1f and 0x7f; the C1 controls
 *                   U+0080-U+009F, whose UTF-8 bytes are each written \xNN)
 *   non-UTF-8       \xNN for each byte that is not part of a well-formed
 *                   UTF-8 sequence
 * so that the escaped text is one line, and the bytes can be had back.
 *
 * JSON: see rc_utf8_valid and the "_hex" members of docs/report-format.md.
 *
 * Everything here is async-signal-safe: no allocation, no locale.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Length of the well-formed UTF-8 sequence at @p (at most @n bytes
 * available): 1 for an ASCII byte, 2-4 for a sequence, 0 when the bytes
 * there are not one (overlong forms, surrogates, > U+10FFFF, cut short). */
size_t rc_utf8_len(const unsigned char *p, size_t n);

/* Whether @s[0..n) is well-formed UTF-8 throughout. */
bool rc_utf8_valid(const char *s, size_t n);

/* The length of the run at the start of @s[0..n) that text output keeps as
 * it is (stops before the first byte that needs an escape). */
size_t rc_esc_text_plain(const char *s, size_t n);

/* The escape of the byte @c, one that rc_esc_text_plain stopped at, into
 * @out (at least 5 bytes; not NUL-terminated).  Returns its length. */
size_t rc_esc_text_byte(unsigned char c, char *out);

/* @src[0..n) escaped for text into @dst (NUL-terminated when @cap > 0),
 * cut at the last whole escape that fits.  Returns the length written. */
size_t rc_esc_text(char *dst, size_t cap, const char *src, size_t n);

/* Whether @s[0..n) needs any escape in text output. */
bool rc_esc_text_needed(const char *s, size_t n);
