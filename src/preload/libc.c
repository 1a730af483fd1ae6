/* The string functions the shim calls, its own, in librcshim.so only.
 *
 * Each function librcshim.so imports is a symbol lookup the dynamic
 * loader does in every process it is preloaded into, before the program
 * starts (the shim is linked with -z now): about 600 instructions each
 * (callgrind, docs/performance.md).  These are defined here, hidden, so
 * the static linker binds the shim's calls to them and the loader has
 * nothing to look up.  The shim calls them on short strings (paths, the
 * environment, configuration words), where glibc's vector versions win
 * nothing; a caller that compares more than that on a hot path compares
 * words itself (core/stack.c, same_pcs).  memcpy, memset and memmove stay
 * glibc's: the compiler emits them for copies of any size; strlen and
 * strrchr too, which the shim runs on longer texts (a /proc stat line: a
 * byte loop took 3 600 instructions more than the lookup saves).  The
 * signal-set functions and getpagesize follow: what glibc's do, without
 * the lookup.
 *
 * Built with -fno-builtin and without loop-idiom recognition (meson.build),
 * so that a loop here never becomes a call to the function it defines.
 * The launcher and the tests link glibc's as usual: this file is not in
 * librc_core.a.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <unistd.h>

#define RC_LIBC __attribute__((visibility("hidden")))

RC_LIBC size_t
strnlen(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n]) {
		n++;
	}
	return n;
}

RC_LIBC int
strcmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	while (*x && *x == *y) {
		x++;
		y++;
	}
	return *x - *y;
}

RC_LIBC int
strncmp(const char *a, const char *b, size_t n)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	for (; n; n--, x++, y++) {
		if (*x != *y || !*x) {
			return *x - *y;
		}
	}
	return 0;
}

static unsigned char
ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* ASCII only: the shim compares configuration words ("on", "quiet"),
 * whatever the program's locale. */
RC_LIBC int
strcasecmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	while (*x && ascii_lower(*x) == ascii_lower(*y)) {
		x++;
		y++;
	}
	return ascii_lower(*x) - ascii_lower(*y);
}

RC_LIBC int
memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++) {
		if (*x != *y) {
			return *x - *y;
		}
	}
	return 0;
}

RC_LIBC void *
memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;
	for (; n; n--, p++) {
		if (*p == (unsigned char)c) {
			return (void *)p;
		}
	}
	return NULL;
}

RC_LIBC char *
strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c) {
			return (char *)s;
		}
		if (!*s) {
			return NULL;
		}
	}
}

RC_LIBC size_t
strcspn(const char *s, const char *reject)
{
	size_t n = 0;
	for (; s[n]; n++) {
		for (const char *r = reject; *r; r++) {
			if (s[n] == *r) {
				return n;
			}
		}
	}
	return n;
}

RC_LIBC char *
strpbrk(const char *s, const char *accept)
{
	s += strcspn(s, accept);
	return *s ? (char *)s : NULL;
}

RC_LIBC char *
strstr(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	if (!n) {
		return (char *)hay;
	}
	for (; *hay; hay++) {
		if (*hay == *needle && !strncmp(hay, needle, n)) {
			return (char *)hay;
		}
	}
	return NULL;
}

RC_LIBC char *
strcpy(char *dst, const char *src)
{
	char *d = dst;
	while ((*d++ = *src++)) {
	}
	return dst;
}

/* ---- not strings, but as cheap to have as to import ---- */

RC_LIBC int
getpagesize(void)
{
	return (int)getauxval(AT_PAGESZ);
}

/* glibc's: the two signals glibc keeps for itself (SIGCANCEL and
 * SIGSETXID, the first two real-time signals) are never in a set
 * sigfillset makes, and sigaddset refuses them. */
#define RC_SIG_INTERNAL(s) ((s) == 32 || (s) == 33)
#define RC_SIG_WORD(s) (((unsigned)(s) - 1) / (8 * sizeof(unsigned long)))
#define RC_SIG_BIT(s) (1UL << (((unsigned)(s) - 1) % (8 * sizeof(unsigned long))))
/* The words the kernel reads (glibc's leave the rest of sigset_t as is). */
#define RC_SIG_WORDS (RC_SIG_WORD(NSIG - 1) + 1)

RC_LIBC int
sigemptyset(sigset_t *set)
{
	for (size_t i = 0; i < RC_SIG_WORDS; i++) {
		set->__val[i] = 0;
	}
	return 0;
}

RC_LIBC int
sigfillset(sigset_t *set)
{
	for (size_t i = 0; i < RC_SIG_WORDS; i++) {
		set->__val[i] = ~0UL;
	}
	set->__val[RC_SIG_WORD(32)] &= ~(RC_SIG_BIT(32) | RC_SIG_BIT(33));
	return 0;
}

RC_LIBC int
sigaddset(sigset_t *set, int sig)
{
	if (sig <= 0 || sig >= NSIG || RC_SIG_INTERNAL(sig)) {
		errno = EINVAL;
		return -1;
	}
	set->__val[RC_SIG_WORD(sig)] |= RC_SIG_BIT(sig);
	return 0;
}
