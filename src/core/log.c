#include "build-config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/escape.h"
#include "core/log.h"
#include "core/state.h"
#include "core/sys.h"

enum rc_log_level rc_log_threshold = RC_LOG_WARN;
int rc_log_fd = 2;

/* What fd 2 was when the process started (rc_log_stderr_init). */
static struct {
	enum { STDERR_UNKNOWN = 0, STDERR_FILE, STDERR_NONE } state;
	dev_t dev;
	ino_t ino;
} err_id RC_HOT;

struct out {
	char *buf;
	size_t n;
	size_t len;
};

static void
put(struct out *o, char c)
{
	if (o->len + 1 < o->n) {
		o->buf[o->len] = c;
	}
	o->len++;
}

static void
put_padded(struct out *o, const char *s, size_t slen, int width, int left)
{
	int pad = width > (int)slen ? width - (int)slen : 0;

	if (!left) {
		while (pad-- > 0) {
			put(o, ' ');
		}
	}
	for (size_t i = 0; i < slen; i++) {
		put(o, s[i]);
	}
	if (left) {
		while (pad-- > 0) {
			put(o, ' ');
		}
	}
}

static void
put_unsigned(struct out *o, unsigned long long v, unsigned base, int neg,
	     int width, int left)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg) {
		tmp[--i] = '-';
	}
	put_padded(o, tmp + i, sizeof(tmp) - i, width, left);
}

size_t
rc_vfmt(char *buf, size_t n, const char *fmt, va_list ap)
{
	struct out o = { buf, n, 0 };

	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&o, *p);
			continue;
		}
		p++;
		int left = 0, width = 0, prec = -1, lng = 0;
		if (*p == '-') {
			left = 1;
			p++;
		}
		while (*p >= '0' && *p <= '9') {
			width = width * 10 + (*p++ - '0');
		}
		if (*p == '.' && p[1] == '*') {
			prec = va_arg(ap, int);
			p += 2;
		}
		while (*p == 'l') {
			lng++;
			p++;
		}
		if (*p == 'z') {
			lng = 1;
			p++;
		}
		switch (*p) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s) {
				s = "(null)";
			}
			/* With a precision the string need not be terminated. */
			size_t sl = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
			put_padded(&o, s, sl, width, left);
			break;
		}
		case 'd':
		case 'i': {
			long long v = lng == 0 ? va_arg(ap, int)
				    : lng == 1 ? va_arg(ap, long)
					       : va_arg(ap, long long);
			unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
						     : (unsigned long long)v;
			put_unsigned(&o, u, 10, v < 0, width, left);
			break;
		}
		case 'u':
		case 'x': {
			unsigned long long v = lng == 0 ? va_arg(ap, unsigned)
					     : lng == 1 ? va_arg(ap, unsigned long)
							: va_arg(ap, unsigned long long);
			put_unsigned(&o, v, *p == 'x' ? 16 : 10, 0, width, left);
			break;
		}
		case 'p': {
			uintptr_t v = (uintptr_t)va_arg(ap, void *);
			put(&o, '0');
			put(&o, 'x');
			put_unsigned(&o, v, 16, 0, 0, 0);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			p--;
			break;
		default:
			put(&o, '%');
			put(&o, *p);
			break;
		}
	}
	if (n) {
		buf[o.len < n ? o.len : n - 1] = '\0';
	}
	return o.len < n ? o.len : (n ? n - 1 : 0);
}

size_t
rc_fmt(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t len = rc_vfmt(buf, n, fmt, ap);
	va_end(ap);
	return len;
}

void
rc_log_stderr_init(void)
{
	struct stat st;
	if (rc_sys_fstat(2, &st) < 0) {
		err_id.state = STDERR_NONE;
		return;
	}
	err_id.dev = st.st_dev;
	err_id.ino = st.st_ino;
	err_id.state = STDERR_FILE;
}

bool
rc_log_stderr_ok(void)
{
	struct stat st;
	switch (err_id.state) {
	case STDERR_UNKNOWN:
		return true;
	case STDERR_NONE:
		return false;
	default:
		return rc_sys_fstat(2, &st) == 0 && st.st_dev == err_id.dev &&
		       st.st_ino == err_id.ino;
	}
}

void
rc_log(enum rc_log_level level, const char *fmt, ...)
{
	char msg[1024], line[1024];
	static const char prefix[] = "rcshim: ";
	size_t len;
	va_list ap;

	if (level > rc_log_threshold || level == RC_LOG_QUIET) {
		return;
	}
	if (rc_log_fd == 2 && !rc_log_stderr_ok()) {
		return; /* fd 2 is no longer the stderr the process started with */
	}
	va_start(ap, fmt);
	len = rc_vfmt(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line, whatever the names in it hold (core/escape.h). */
	memcpy(line, prefix, sizeof(prefix) - 1);
	len = sizeof(prefix) - 1 +
	      rc_esc_text(line + sizeof(prefix) - 1, sizeof(line) - sizeof(prefix), msg, len);
	line[len++] = '\n';
	rc_sys_write(rc_log_fd, line, len);
}
