/* The malloc family (DESIGN §1 HEAP): wrappers only.  Each asks the next
 * allocator for one byte more than the program did and hands the block to
 * the tracking core (core/heap.h), which counts it and writes its tag.
 *
 * Before the next allocator is known (the first call, from the loader or
 * a constructor), and while dlsym looks it up (dlsym allocates), blocks
 * come from a static bootstrap pool; freeing one is a no-op.
 *
 * When malloc is not ours to wrap (the program defines its own, or a
 * sanitizer runtime was preloaded first), every call is forwarded as is
 * and the report says heap tracking stepped aside.  The choice is made
 * once, before the first real allocation, so every block is handled the
 * same way for the life of the process.
 */
#include "build-config.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/heap.h"
#include "core/log.h"
#include "core/stack.h"
#include "preload/heap.h"
#include "preload/real.h"

void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t alignment, size_t size);

/* M_GLIBC is M_TRACK where glibc's chunk header gives the usable size
 * (the fast path checks one value for both facts). */
enum { M_UNRESOLVED = 0, M_RESOLVING, M_GLIBC, M_TRACK, M_FORWARD };

static struct {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*memalign)(size_t, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	size_t (*usable)(void *);
} R;
static atomic_int mode;
static atomic_int probe; /* enum below: the glibc header probe */
enum { PROBE_NONE, PROBE_DUE, PROBE_RUNNING, PROBE_DONE };

/* Larger requests fail as the real allocator would: the extra byte must
 * not wrap around. */
#define TOO_BIG(n) ((n) > (size_t)PTRDIFF_MAX - 4096)

#define FAST() \
	__builtin_expect(atomic_load_explicit(&mode, memory_order_acquire) == M_GLIBC, 1)
/* The mode once resolved, M_GLIBC folded into M_TRACK. */
#define MODE() (FAST() ? M_TRACK : resolved())

/* --- the bootstrap pool ------------------------------------------------------- */

#define POOL_SIZE (256 * 1024)
static _Alignas(4096) unsigned char pool[POOL_SIZE] RC_COLD_BSS;
static atomic_size_t pool_used;

static inline bool
in_pool(const void *p)
{
	return (uintptr_t)p - (uintptr_t)pool < POOL_SIZE;
}

/* Bump allocation, never reused, so the memory is still zero (calloc).
 * The 16 bytes before a block hold its size and a word that reads as the
 * header of an mmapped glibc chunk: free's fast path, which reads the
 * header before anything else, turns away from it to the general path. */
static void *
pool_alloc(size_t n, size_t align)
{
	if (align < 16) {
		align = 16;
	}
	if (n > POOL_SIZE || align > 4096 || (align & (align - 1))) {
		errno = ENOMEM;
		return NULL;
	}
	size_t off = atomic_load(&pool_used);
	for (;;) {
		size_t start = (off + 16 + align - 1) & ~(align - 1);
		size_t end = start + ((n + 15) & ~(size_t)15);
		if (end > POOL_SIZE) {
			errno = ENOMEM;
			return NULL;
		}
		if (atomic_compare_exchange_weak(&pool_used, &off, end)) {
			size_t mmapped = 2;
			memcpy(pool + start - 16, &n, sizeof(n));
			memcpy(pool + start - 8, &mmapped, sizeof(mmapped));
			return pool + start;
		}
	}
}

static size_t
pool_size(const void *p)
{
	size_t n;
	memcpy(&n, (const unsigned char *)p - 16, sizeof(n));
	return n;
}

/* --- finding the next allocator -------------------------------------------- */

/* glibc keeps the chunk size, with three flag bits, in the word before
 * the block; usable = size - 8 for a chunk from an arena.  An mmapped
 * chunk (flag 2; at least 128 KiB, so rare) is asked about: the probe
 * below cannot check that case without side effects (freeing an mmapped
 * chunk raises glibc's mmap threshold for the rest of the process). */
static inline size_t
glibc_usable(const void *p)
{
	size_t h = ((const size_t *)p)[-1];
	if (__builtin_expect(h & 2, 0)) {
		return R.usable((void *)p);
	}
	return (h & ~(size_t)7) - 8;
}

static inline size_t
usable_of(void *p)
{
	return FAST() ? glibc_usable(p) : R.usable(p);
}

/* Reading glibc's header saves a call on every malloc and free.  Only
 * when the next allocator is glibc's own (libc.so's, checked by resolve,
 * and not another allocator in its place, which answers
 * malloc_usable_size(malloc(25)) with something else than glibc's 40),
 * and only if the header agrees with malloc_usable_size on a range of
 * blocks. */
static bool
probe_glibc(void)
{
	/* Below glibc's smallest mmap threshold (128 KiB): a probe must not
	 * change how the program's own blocks are placed. */
	static const size_t sizes[] = { 0, 1, 24, 25, 40, 100, 1000, 5000, 60000 };
	void *p = R.malloc(25);
	bool ok = p && R.usable(p) == 40;
	R.free(p);
	for (size_t i = 0; ok && i < sizeof(sizes) / sizeof(*sizes); i++) {
		p = R.malloc(sizes[i]);
		ok = p && glibc_usable(p) == R.usable(p);
		R.free(p);
		p = R.memalign(64, sizes[i]);
		ok = ok && p && glibc_usable(p) == R.usable(p);
		R.free(p);
	}
	return ok;
}

extern __typeof__(malloc) rc_self_malloc
	__attribute__((alias("malloc"), visibility("hidden"), copy(malloc)));

/* A valgrind tool that replaces malloc (memcheck, helgrind, drd, massif,
 * dhat: each preloads vgpreload_<tool>.so) redirects every malloc in the
 * process to its own, the shim's included; callgrind and cachegrind
 * (vgpreload_core only) do not. */
static int
find_valgrind(struct dl_phdr_info *info, size_t size, void *ctx)
{
	(void)size;
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (strncmp(base, "vgpreload_", 10) == 0 && strncmp(base, "vgpreload_core", 14) != 0) {
		*(const char **)ctx = name;
		return 1;
	}
	return 0;
}

static int
decide(void)
{
	const char *vg = NULL;
	if (!R.malloc || !R.free || !R.calloc || !R.realloc || !R.usable) {
		rc_heap_set_inactive("the C library's allocator was not found");
		return M_FORWARD;
	}
	/* RCSHIM_TRACK leaves the heap out: every call is passed on as is,
	 * with no extra byte and no tag to keep. */
	if (!(rc_config_track_of(environ) & (1u << RCSHIM_KIND_HEAP))) {
		return M_FORWARD;
	}
	/* Whoever comes first in the global scope gets the program's calls:
	 * when that is not this library, the program (or a sanitizer
	 * runtime preloaded first) replaces malloc, and tracking steps
	 * aside. */
	if (dl_iterate_phdr(find_valgrind, &vg) && vg) {
		char why[160];
		rc_fmt(why, sizeof(why), "malloc is replaced by valgrind (%s)", vg);
		rc_heap_set_inactive(why);
		return M_FORWARD;
	}
	void *global = dlsym(RTLD_DEFAULT, "malloc");
	if (global && global != (void *)rc_self_malloc) {
		Dl_info info;
		const char *who = dladdr(global, &info) && info.dli_fname && *info.dli_fname
					  ? info.dli_fname : "the program";
		char why[160];
		rc_fmt(why, sizeof(why), "malloc is replaced by %s", who);
		rc_heap_set_inactive(why);
		return M_FORWARD;
	}
	return M_TRACK;
}

static int
resolve(void)
{
	int m = atomic_load_explicit(&mode, memory_order_acquire);
	if (m >= M_GLIBC) {
		return m;
	}
	int expected = M_UNRESOLVED;
	if (!atomic_compare_exchange_strong(&mode, &expected, M_RESOLVING)) {
		/* Another thread, or dlsym below on this one: the pool. */
		return expected;
	}
	int saved_errno = errno;
	rc_guard++;
	R.malloc = (__typeof__(R.malloc))dlsym(RTLD_NEXT, "malloc");
	R.free = (__typeof__(R.free))dlsym(RTLD_NEXT, "free");
	R.calloc = (__typeof__(R.calloc))dlsym(RTLD_NEXT, "calloc");
	R.realloc = (__typeof__(R.realloc))dlsym(RTLD_NEXT, "realloc");
	R.memalign = (__typeof__(R.memalign))dlsym(RTLD_NEXT, "memalign");
	R.posix_memalign = (__typeof__(R.posix_memalign))dlsym(RTLD_NEXT, "posix_memalign");
	R.aligned_alloc = (__typeof__(R.aligned_alloc))dlsym(RTLD_NEXT, "aligned_alloc");
	R.valloc = (__typeof__(R.valloc))dlsym(RTLD_NEXT, "valloc");
	R.pvalloc = (__typeof__(R.pvalloc))dlsym(RTLD_NEXT, "pvalloc");
	R.usable = (__typeof__(R.usable))dlsym(RTLD_NEXT, "malloc_usable_size");
	m = decide();
	/* Whose malloc it is is asked here (dladdr takes the loader's lock),
	 * not in the probe, which may run anywhere the program allocates. */
	Dl_info info;
	if (m == M_TRACK && dladdr((void *)R.malloc, &info) && info.dli_fname &&
	    strstr(info.dli_fname, "/libc.so")) {
		atomic_store(&probe, PROBE_DUE);
	}
	rc_guard--;
	errno = saved_errno;
	atomic_store_explicit(&mode, m, memory_order_release);
	return m;
}

/* Whether glibc's header may be read (M_TRACK -> M_GLIBC) is decided at
 * the first allocation the general path sees, not at start-up: the probe
 * sets up glibc's heap (a brk and a few pages), which a program that never
 * allocates does not pay for.  Blocks tagged meanwhile were tagged from
 * malloc_usable_size, which the probe checks the header agrees with. */
static void
probe_once(void)
{
	int due = PROBE_DUE;
	if (!atomic_compare_exchange_strong(&probe, &due, PROBE_RUNNING)) {
		return;
	}
	int saved_errno = errno;
	rc_guard++;
	bool direct = probe_glibc();
	rc_guard--;
	errno = saved_errno;
	if (direct) {
		int track = M_TRACK;
		atomic_compare_exchange_strong(&mode, &track, M_GLIBC);
		rc_heap_set_direct(true);
	}
	atomic_store(&probe, PROBE_DONE);
}

static int
resolved(void)
{
	int m = resolve();
	if (__builtin_expect(m == M_TRACK, 0) &&
	    atomic_load_explicit(&probe, memory_order_relaxed) == PROBE_DUE) {
		probe_once();
		m = atomic_load_explicit(&mode, memory_order_acquire);
	}
	if (m == M_GLIBC) {
		/* A thread that started counting while the probe ran on
		 * another one opens its fast paths here. */
		if (__builtin_expect(rc_self.free_off, 0)) {
			rc_heap_refresh_gate();
		}
		return M_TRACK;
	}
	return m;
}

/* --- the wrappers ----------------------------------------------------------- */

/* Always inlined: rc_heap_on_alloc takes the call site from the return
 * address of the interposer it is expanded in. */
static inline __attribute__((always_inline)) void *
counted(void *p, size_t n)
{
	if (__builtin_expect(p != NULL, 1)) {
		rc_heap_on_alloc(p, n, usable_of(p));
	}
	return p;
}

/* malloc when its fast path is closed and calls are not simply passed on:
 * before the allocator is known, on a thread not yet counting, inside a
 * scope or the shim's own work.  @site: the program's call site. */
static __attribute__((noinline)) void *
malloc_general(size_t n, const void *site)
{
	void *p;

	switch (resolved()) {
	case M_TRACK:
		if (TOO_BIG(n)) {
			errno = ENOMEM;
			return NULL;
		}
		p = R.malloc(n + 1);
		if (p) {
			rc_heap_on_alloc_at(p, n, usable_of(p), site);
		}
		return p;
	case M_FORWARD:
		return R.malloc(n);
	default:
		return pool_alloc(n, 16);
	}
}

/* Passing calls on (M_FORWARD: the heap is not tracked, or not ours to
 * track) costs a test here and a tail call. */
#define FORWARDING() \
	__builtin_expect(atomic_load_explicit(&mode, memory_order_acquire) == M_FORWARD, 1)

/* Before an allocation on the general path: a vfork over, a heap trim a
 * signal handler asked for (RC_AT_ALLOC: here this thread holds none of
 * the allocator's locks, wherever the program called malloc from). */
static __attribute__((noinline)) void
at_alloc(void)
{
	if (rc_self.vfork) {
		rc_vfork_over();
	}
	if (atomic_load_explicit(&rc_due, memory_order_relaxed) & RC_DUE_TRIM) {
		rc_safe_point(RC_AT_ALLOC);
	}
	if (rc_self.alloc_off == 2) {
		rc_heap_refresh_gate();
	}
}

static __attribute__((noinline)) void *
malloc_slow(size_t n, const void *site)
{
	if (__builtin_expect(rc_self.vfork || rc_self.alloc_off == 2 ||
				     (atomic_load_explicit(&rc_due, memory_order_relaxed) &
				      RC_DUE_TRIM),
			     0)) {
		at_alloc();
	}
	if (FORWARDING()) {
		return R.malloc(n);
	}
	return malloc_general(n, site);
}

/* The rarer ends of malloc's fast path, as tail calls: the fast path
 * keeps nothing live across them.  Each finds the block counted. */
static __attribute__((noinline)) void *
malloc_failed(size_t n)
{
	rc_heap_add(&rc_heap_self, -1, -(int64_t)n);
	return NULL;
}

/* Block @p, counted already, needs a tag of the general form (an mmapped
 * chunk, a long slack), and a sample when @due (allocated at @site). */
static __attribute__((noinline)) void *
tag_counted(void *p, size_t n, bool due, const void *site)
{
	unsigned flags = RC_HEAP_COUNTED | (due ? rc_heap_sample(p, n, site) : 0);
	rc_heap_tag(p, n, glibc_usable(p), flags);
	return p;
}

/* The countdown to the next sample ran out. */
static __attribute__((noinline)) void *
malloc_sampled(size_t n, const void *site)
{
	void *p = R.malloc(n + 1);
	if (__builtin_expect(!p, 0)) {
		return malloc_failed(n);
	}
	return tag_counted(p, n, true, site);
}

/* The fast paths' tag, read and written straight from glibc's chunk
 * header: h & ~7 is the chunk size, usable = size - 8, and the tag is the
 * last usable byte.  Only for a chunk from an arena (a mapped one, flag 2,
 * and a pool block, whose header reads as mapped, take the general
 * path). */

/* Writes the tag of block @p (@n requested, counted, not sampled): false
 * when it needs the general form. */
static inline __attribute__((always_inline)) bool
fast_tag(void *p, size_t n)
{
	size_t h = ((const size_t *)p)[-1];
	size_t size = h & ~(size_t)7;
	size_t d = size - n; /* slack + 8 */
	if (__builtin_expect((h & 2) || d > RC_HEAP_WIDE + 7, 0)) {
		return false;
	}
	((unsigned char *)p)[size - 9] = (unsigned char)(d - 8 + RC_HEAP_COUNTED);
	return true;
}

/* Reads into *@n the requested size of block @p when its tag says
 * counted, not sampled, slack 1..62 (a tag in 0x41..0x7e): false
 * otherwise. */
static inline __attribute__((always_inline)) bool
fast_size(const void *p, size_t *n)
{
	size_t h = ((const size_t *)p)[-1];
	if (__builtin_expect(h & 2, 0)) {
		return false;
	}
	size_t size = h & ~(size_t)7;
	unsigned tag = ((const unsigned char *)p)[size - 9];
	if (__builtin_expect(tag - (RC_HEAP_COUNTED + 1) > RC_HEAP_WIDE - 2, 0)) {
		return false;
	}
	*n = size - 8 + RC_HEAP_COUNTED - tag; /* usable - slack */
	return true;
}

RC_EXPORT void *
malloc(size_t n)
{
	/* The gate is open only when the allocator is glibc's (M_GLIBC),
	 * on a thread counting into its own counters, outside scopes and
	 * the shim's own work.  n + 1 must not wrap (larger requests fail
	 * in glibc as they would without the shim). */
	if (__builtin_expect(rc_self.gate != 0 || n + 1 == 0, 0)) {
		return malloc_slow(n, __builtin_return_address(0));
	}
	/* rc_heap_on_alloc, spelled out for the common case.  Counted
	 * before the allocation (and uncounted if it fails), so that
	 * nothing thread-local is needed after the call. */
	struct rc_heap_thread *t = &rc_heap_self;
	rc_heap_add(t, 1, (int64_t)n);
	if (__builtin_expect(rc_heap_sample_due(t, n), 0)) {
		return malloc_sampled(n, __builtin_return_address(0));
	}
	void *p = R.malloc(n + 1);
	if (__builtin_expect(!p, 0)) {
		return malloc_failed(n);
	}
	if (__builtin_expect(!fast_tag(p, n), 0)) {
		return tag_counted(p, n, false, NULL);
	}
	return p;
}

/* free of a block the fast path turned away (an mmapped chunk, a tag
 * other than counted-and-not-sampled), or before the allocator is known. */
static __attribute__((noinline)) void
free_general(void *p)
{
	switch (resolved()) {
	case M_TRACK:
		rc_heap_on_free(p, usable_of(p));
		R.free(p);
		break;
	case M_FORWARD:
		R.free(p);
		break;
	default:
		/* Not from the pool, and nothing else was handed out yet. */
		break;
	}
}

/* free when its fast path is closed or turned the block away. */
static __attribute__((noinline)) void
free_slow(void *p)
{
	if (in_pool(p)) {
		return;
	}
	if (__builtin_expect(rc_self.vfork, 0)) {
		rc_vfork_over();
	}
	if (FORWARDING()) {
		R.free(p);
		return;
	}
	free_general(p);
}

RC_EXPORT void
free(void *p)
{
	if (__builtin_expect(!p, 0)) {
		return;
	}
	/* Accounting before the real free: once it returns, another thread
	 * may get the same address. */
	size_t n;
	if (__builtin_expect(rc_self.free_off || !fast_size(p, &n), 0)) {
		free_slow(p);
		return;
	}
	rc_heap_add(&rc_heap_self, -1, -(int64_t)n);
	R.free(p);
}

RC_EXPORT void
free_sized(void *p, size_t size)
{
	(void)size;
	free(p);
}

RC_EXPORT void
free_aligned_sized(void *p, size_t alignment, size_t size)
{
	(void)alignment;
	(void)size;
	free(p);
}

RC_EXPORT void *
calloc(size_t nmemb, size_t size)
{
	size_t n;
	int m = MODE();

	if (m == M_FORWARD) {
		return R.calloc(nmemb, size);
	}
	if (__builtin_mul_overflow(nmemb, size, &n) || TOO_BIG(n)) {
		errno = ENOMEM;
		return NULL;
	}
	if (m == M_TRACK) {
		return counted(R.calloc(1, n + 1), n);
	}
	return pool_alloc(n, 16);
}

static inline __attribute__((always_inline)) void *
tracked_realloc(void *p, size_t n, const void *site)
{
	size_t usable = usable_of(p);

	if (TOO_BIG(n)) {
		errno = ENOMEM;
		return NULL;
	}
	if (n == 0) {
		/* glibc frees the block and returns NULL; an allocator that
		 * returns a small block instead gets it tagged. */
		rc_heap_on_free(p, usable);
		void *q = R.realloc(p, 0);
		if (q) {
			size_t u = usable_of(q);
			if (u > 0) {
				rc_heap_on_alloc_at(q, 0, u, site);
			}
		}
		return q;
	}
	size_t old = rc_heap_on_free(p, usable);
	void *q = R.realloc(p, n + 1);
	if (!q) {
		/* The old block is still there: count it again. */
		if (old != SIZE_MAX) {
			rc_heap_on_alloc_at(p, old, usable, site);
		}
		return NULL;
	}
	rc_heap_on_alloc_at(q, n, usable_of(q), site);
	return q;
}

static void *
pool_realloc(void *p, size_t n)
{
	size_t old = pool_size(p);
	void *q = malloc(n);
	if (q) {
		memcpy(q, p, old < n ? old : n);
	}
	return q; /* the pool block is never reused */
}

/* realloc when its fast path does not apply.  @site: the program's call
 * site. */
static __attribute__((noinline)) void *
realloc_slow(void *p, size_t n, const void *site)
{
	if (in_pool(p)) {
		return pool_realloc(p, n);
	}
	switch (MODE()) {
	case M_TRACK:
		return tracked_realloc(p, n, site);
	case M_FORWARD:
		return R.realloc(p, n);
	default:
		errno = ENOMEM;
		return NULL;
	}
}

RC_EXPORT void *
realloc(void *p, size_t n)
{
	if (!p) {
		return malloc(n);
	}
	/* The fast path: malloc's conditions, an arena chunk (not mmapped,
	 * not the pool) counted and not sampled, and 0 < n < SIZE_MAX
	 * (realloc(p, 0) frees p). */
	size_t old;
	if (__builtin_expect(rc_self.gate != 0 || n + 1 < 2 || !fast_size(p, &old),
			     0)) {
		return realloc_slow(p, n, __builtin_return_address(0));
	}
	void *q = R.realloc(p, n + 1);
	if (__builtin_expect(!q, 0)) {
		return q; /* p is as it was, tag included */
	}
	struct rc_heap_thread *t = &rc_heap_self;
	rc_heap_add(t, 0, (int64_t)n - (int64_t)old);
	bool due = rc_heap_sample_due(t, n);
	if (__builtin_expect(due || !fast_tag(q, n), 0)) {
		return tag_counted(q, n, due, __builtin_return_address(0));
	}
	return q;
}

RC_EXPORT void *
reallocarray(void *p, size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n);
}

RC_EXPORT void *
memalign(size_t align, size_t n)
{
	switch (MODE()) {
	case M_TRACK:
		if (TOO_BIG(n)) {
			errno = ENOMEM;
			return NULL;
		}
		return counted(R.memalign(align, n + 1), n);
	case M_FORWARD:
		return R.memalign(align, n);
	default:
		return pool_alloc(n, align);
	}
}

RC_EXPORT void *
aligned_alloc(size_t align, size_t n)
{
	switch (MODE()) {
	case M_TRACK:
		if (TOO_BIG(n)) {
			errno = ENOMEM;
			return NULL;
		}
		return counted(R.aligned_alloc(align, n + 1), n);
	case M_FORWARD:
		return R.aligned_alloc(align, n);
	default:
		return pool_alloc(n, align);
	}
}

RC_EXPORT int
posix_memalign(void **out, size_t align, size_t n)
{
	void *q = NULL;
	int r;

	switch (MODE()) {
	case M_TRACK:
		if (TOO_BIG(n)) {
			return ENOMEM;
		}
		r = R.posix_memalign(&q, align, n + 1);
		if (r == 0) {
			*out = counted(q, n);
		}
		return r;
	case M_FORWARD:
		return R.posix_memalign(out, align, n);
	default:
		if (align < sizeof(void *) || (align & (align - 1))) {
			return EINVAL;
		}
		q = pool_alloc(n, align);
		if (!q) {
			return ENOMEM;
		}
		*out = q;
		return 0;
	}
}

RC_EXPORT void *
valloc(size_t n)
{
	switch (MODE()) {
	case M_TRACK:
		if (TOO_BIG(n)) {
			errno = ENOMEM;
			return NULL;
		}
		return counted(R.valloc(n + 1), n);
	case M_FORWARD:
		return R.valloc(n);
	default:
		return pool_alloc(n, 4096);
	}
}

RC_EXPORT void *
pvalloc(size_t n)
{
	size_t page = (size_t)getpagesize();
	size_t rounded = n ? (n + page - 1) & ~(page - 1) : page;

	switch (MODE()) {
	case M_TRACK:
		if (TOO_BIG(n) || rounded < n) {
			errno = ENOMEM;
			return NULL;
		}
		/* The whole rounded size is the program's to use. */
		return counted(R.memalign(page, rounded + 1), rounded);
	case M_FORWARD:
		return R.pvalloc(n);
	default:
		return pool_alloc(rounded, 4096);
	}
}

RC_EXPORT size_t
malloc_usable_size(void *p)
{
	if (!p) {
		return 0;
	}
	if (in_pool(p)) {
		return pool_size(p);
	}
	switch (MODE()) {
	case M_TRACK: {
		/* Exactly what was asked for: the bytes past it hold the
		 * tag (valgrind answers the same way). */
		size_t usable = usable_of(p);
		unsigned flags;
		size_t n = rc_heap_size(p, usable, &flags);
		return n == SIZE_MAX ? usable : n;
	}
	case M_FORWARD:
		return R.usable(p);
	default:
		return 0;
	}
}

/* --- start-up -------------------------------------------------------------- */

static int
find_text(struct dl_phdr_info *info, size_t size, void *ctx)
{
	uintptr_t *range = ctx; /* in: our load base; out: [lo, hi) */
	(void)size;
	if (info->dlpi_addr != range[0]) {
		return 0;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			range[1] = info->dlpi_addr + ph->p_vaddr;
			range[2] = range[1] + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

/* The executable segments of the dynamic loader and of the C library (and
 * its former parts): a malloc called from there may come from inside the
 * loader's own work or hold one of libc's locks (core/stack.h). */
struct system_ranges {
	uintptr_t r[4][2];
	unsigned n;
};

static int
find_system(struct dl_phdr_info *info, size_t size, void *ctx)
{
	static const char *const names[] = { "ld-linux", "ld64.so", "libc.so", "libpthread.so",
					     "libdl.so" };
	struct system_ranges *sr = ctx;
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	const char *base = strrchr(name, '/');
	bool system = false;
	(void)size;
	base = base ? base + 1 : name;
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		system |= strncmp(base, names[i], strlen(names[i])) == 0;
	}
	for (int i = 0; system && i < info->dlpi_phnum && sr->n < 4; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			sr->r[sr->n][0] = info->dlpi_addr + ph->p_vaddr;
			sr->r[sr->n][1] = sr->r[sr->n][0] + ph->p_memsz;
			sr->n++;
		}
	}
	return 0;
}

/* Frees a block of the program's for a scope that ends with
 * RCSHIM_SCOPE_FREE_HEAP. */
static void
free_block(void *p)
{
	if (in_pool(p) || resolved() != M_TRACK) {
		return;
	}
	rc_heap_on_free(p, usable_of(p));
	R.free(p);
}

void
rc_heap_preload_init(void)
{
	rc_heap_block_free = free_block;
	Dl_info info;
	uintptr_t range[3] = { 0, 0, 0 };

	resolve();
	/* Stacks start at the program's frames: the shim's own are
	 * skipped. */
	if (dladdr((void *)rc_heap_preload_init, &info) && info.dli_fbase) {
		range[0] = (uintptr_t)info.dli_fbase;
		if (dl_iterate_phdr(find_text, range) && range[2]) {
			rc_stack_set_self(range[1], range[2]);
		}
	}
	struct system_ranges sr = { .n = 0 };
	dl_iterate_phdr(find_system, &sr);
	rc_stack_set_system((const uintptr_t(*)[2])sr.r, sr.n);
	rc_heap_configure(rc_cfg.heap_sample, rc_cfg.stack_depth,
			  (rc_cfg.track & (1u << RCSHIM_KIND_HEAP)) != 0);
}
