#include "build-config.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "core/arena.h"
#include "core/lock.h"
#include "core/state.h"
#include "core/sys.h"

#define HDR 16
#define MIN_SHIFT 4   /* 16 bytes */
#define MAX_SHIFT 12  /* 4096 bytes: larger blocks are mapped on their own */
#define NCLASSES (MAX_SHIFT - MIN_SHIFT + 1)
#define CHUNK (256 * 1024)
#define BIG_CLASS 0xff

struct block {
	struct block *next;
};

static struct {
	struct rc_spinlock lock;
	struct block *free[NCLASSES];
	char *cur, *end;
	size_t mapped, in_use;
} A RC_HOT;

static unsigned
class_of(size_t total)
{
	unsigned c = 0;
	while (((size_t)1 << (c + MIN_SHIFT)) < total) {
		c++;
	}
	return c;
}

static void *
map(size_t len)
{
	void *p = rc_sys_mmap(NULL, len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == (void *)-1 ? NULL : p;
}

static void *alloc(size_t size, bool zero);

void *
rc_alloc(size_t size)
{
	return alloc(size, true);
}

void *
rc_alloc_raw(size_t size)
{
	return alloc(size, false);
}

static void *
alloc(size_t size, bool zero)
{
	size_t total = size + HDR;
	unsigned char *p;

	if (size > ((size_t)1 << 40)) {
		return NULL;
	}
	if (total > ((size_t)1 << MAX_SHIFT)) {
		size_t len = (total + 4095) & ~(size_t)4095;
		p = map(len);
		if (!p) {
			return NULL;
		}
		*(size_t *)p = len;
		p[8] = BIG_CLASS;
		rc_spin_lock(&A.lock);
		A.mapped += len;
		A.in_use += len;
		rc_spin_unlock(&A.lock);
		return p + HDR;
	}

	unsigned c = class_of(total);
	size_t csize = (size_t)1 << (c + MIN_SHIFT);

	rc_spin_lock(&A.lock);
	struct block *b = A.free[c];
	/* Memory never handed out is the kernel's zero pages: not written
	 * here, so that a table's untouched pages stay unmapped (a memset
	 * of a fresh 32 KiB block faulted eight pages in, in every process
	 * that records a stack). */
	bool fresh = !b;
	if (b) {
		A.free[c] = b->next;
		p = (unsigned char *)b;
	} else {
		if ((size_t)(A.end - A.cur) < csize) {
			char *chunk = map(CHUNK);
			if (!chunk) {
				rc_spin_unlock(&A.lock);
				return NULL;
			}
			/* The tail of the old chunk is abandoned: simpler than
			 * splitting it, and at most 4 KiB per 256 KiB. */
			A.cur = chunk;
			A.end = chunk + CHUNK;
			A.mapped += CHUNK;
		}
		p = (unsigned char *)A.cur;
		A.cur += csize;
	}
	A.in_use += csize;
	rc_spin_unlock(&A.lock);

	if (fresh) {
		/* already zero */
	} else if (zero) {
		memset(p, 0, csize);
	} else {
		memset(p, 0, HDR);
	}
	p[8] = (unsigned char)c;
	return p + HDR;
}

void
rc_free(void *ptr)
{
	if (!ptr) {
		return;
	}
	unsigned char *p = (unsigned char *)ptr - HDR;
	if (p[8] == BIG_CLASS) {
		size_t len = *(size_t *)p;
		rc_spin_lock(&A.lock);
		A.mapped -= len;
		A.in_use -= len;
		rc_spin_unlock(&A.lock);
		rc_sys_munmap(p, len);
		return;
	}
	unsigned c = p[8];
	struct block *b = (struct block *)p;
	rc_spin_lock(&A.lock);
	b->next = A.free[c];
	A.free[c] = b;
	A.in_use -= (size_t)1 << (c + MIN_SHIFT);
	rc_spin_unlock(&A.lock);
}

char *
rc_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = rc_alloc(len + 1);
	if (d) {
		memcpy(d, s, len);
	}
	return d;
}

char *
rc_strdup(const char *s)
{
	return rc_strndup(s, strlen(s));
}

size_t
rc_arena_mapped(void)
{
	rc_spin_lock(&A.lock);
	size_t v = A.mapped;
	rc_spin_unlock(&A.lock);
	return v;
}

size_t
rc_arena_in_use(void)
{
	rc_spin_lock(&A.lock);
	size_t v = A.in_use;
	rc_spin_unlock(&A.lock);
	return v;
}

void
rc_arena_lock(void)
{
	rc_spin_lock(&A.lock);
}

void
rc_arena_unlock(void)
{
	rc_spin_unlock(&A.lock);
}
