#include "build-config.h"

#include <stdint.h>
#include <string.h>

#include "core/escape.h"

static const char hex[] = "0123456789abcdef";

size_t
rc_utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;

	if (n == 0) {
		return 0;
	}
	if (p[0] < 0x80) {
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len) {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			return 0;
		}
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
		return 0;
	}
	return len;
}

bool
rc_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	while (n > 0) {
		size_t l = rc_utf8_len(p, n);
		if (l == 0) {
			return false;
		}
		p += l;
		n -= l;
	}
	return true;
}

size_t
rc_esc_text_plain(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned char c = p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			i++;
			continue;
		}
		if (c < 0x80) {
			break; /* a control, DEL or backslash */
		}
		size_t l = rc_utf8_len(p + i, n - i);
		/* U+0080-U+009F (C2 80 - C2 9F) are the C1 controls. */
		if (l == 0 || (l == 2 && c == 0xc2 && p[i + 1] < 0xa0)) {
			break;
		}
		i += l;
	}
	return i;
}

size_t
rc_esc_text_byte(unsigned char c, char *out)
{
	out[0] = '\\';
	switch (c) {
	case '\\':
		out[1] = '\\';
		return 2;
	case '\n':
		out[1] = 'n';
		return 2;
	case '\t':
		out[1] = 't';
		return 2;
	case '\r':
		out[1] = 'r';
		return 2;
	default:
		out[1] = 'x';
		out[2] = hex[c >> 4];
		out[3] = hex[c & 15];
		return 4;
	}
}

size_t
rc_esc_text(char *dst, size_t cap, const char *src, size_t n)
{
	size_t len = 0;

	if (cap == 0) {
		return 0;
	}
	while (n > 0) {
		size_t k = rc_esc_text_plain(src, n);
		if (k > 0) {
			/* Never a UTF-8 sequence cut in two: back off to its start. */
			if (len + k >= cap) {
				k = cap - 1 - len;
				while (k > 0 && ((unsigned char)src[k] & 0xc0) == 0x80) {
					k--;
				}
				memcpy(dst + len, src, k);
				len += k;
				break;
			}
			memcpy(dst + len, src, k);
			len += k;
			src += k;
			n -= k;
			continue;
		}
		char esc[5];
		size_t e = rc_esc_text_byte((unsigned char)*src, esc);
		if (len + e >= cap) {
			break;
		}
		memcpy(dst + len, esc, e);
		len += e;
		src++;
		n--;
	}
	dst[len] = '\0';
	return len;
}

bool
rc_esc_text_needed(const char *s, size_t n)
{
	return rc_esc_text_plain(s, n) < n;
}
