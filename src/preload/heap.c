/* The malloc family (DESIGN §1 HEAP): wrappers only.  Each calls the next
 * allocator and hands the block to the tracking core (core/heap.h), which
 * counts it by the size the allocator holds for it.  Nothing is added to
 * a block and nothing is written into it (RCSHIM_HEAP=exact excepted:
 * there each block gets one byte more, a tag with its requested size).
 *
 * The fast paths read glibc's chunk header (the word before the block):
 * its size, less the header itself, is the block's usable size.  Blocks
 * the shim must find again at their free (samples, scopes' blocks, the
 * shim's own) are never small glibc chunks: they are side blocks, whose
 * header reads as a mapped chunk, or chunks of RC_HEAP_SIDE_LIMIT bytes or
 * more, which free's fast path sends to the table with the same test
 * (core/heap.h; docs/design-notes.md, "Heap tracking").
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
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/heap.h"
#include "core/objects.h"
#include "core/log.h"
#include "core/stack.h"
#include "core/state.h"
#include "preload/heap.h"
#include "preload/real.h"

void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t alignment, size_t size);

enum { M_UNRESOLVED = 0, M_RESOLVING, M_TRACK, M_FORWARD };

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
} R RC_HOT;
static atomic_int mode RC_HOT;
/* glibc's chunk headers may be read (the probe said so); the fast paths
 * know it from the thread gate, the general paths from here. */
static atomic_bool direct RC_HOT;
static atomic_int probe RC_HOT; /* enum below: the glibc header probe */
enum { PROBE_NONE, PROBE_DUE, PROBE_RUNNING, PROBE_DONE };

/* RCSHIM_HEAP=exact asks the next allocator for one byte more (the tag):
 * larger requests fail as the real allocator would, without wrapping. */
#define TOO_BIG(n) ((n) > (size_t)PTRDIFF_MAX - 4096)

#define FORWARDING() \
	__builtin_expect(atomic_load_explicit(&mode, memory_order_acquire) == M_FORWARD, 1)

/* glibc's chunk header: the size of the chunk with three flags.  Usable
 * = size - 8 for a chunk from an arena, size - 16 for a mapped one. */
#define HDR(p) (((const size_t *)(p))[-1])
#define CHUNK(h) ((h) & ~(size_t)7)
#define MAPPED ((size_t)2)
/* What free's fast path turns away, in one test: a mapped chunk (side
 * blocks and pool blocks read as mapped) or a chunk of RC_HEAP_SIDE_LIMIT
 * bytes or more: the blocks that may have a record. */
#define MAY_HAVE_RECORD(h) ((h) & (~(size_t)(RC_HEAP_SIDE_LIMIT - 1) | MAPPED))

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
 * header of a mapped glibc chunk: free's fast path, which reads the
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

/* glibc's usable size from the header.  A mapped chunk (at least 128 KiB
 * unless the program lowered the threshold, so rare) is asked about: the
 * probe below cannot check that case without side effects (freeing a
 * mapped chunk raises glibc's mmap threshold for the rest of the process). */
static inline size_t
glibc_usable(const void *p)
{
	size_t h = HDR(p);
	if (__builtin_expect(h & MAPPED, 0)) {
		return R.usable((void *)p);
	}
	return CHUNK(h) - 8;
}

/* The usable size of a block of the next allocator's (not a side block,
 * not from the pool). */
static inline size_t
usable_of(void *p)
{
	return atomic_load_explicit(&direct, memory_order_relaxed) ? glibc_usable(p)
								    : R.usable(p);
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
	/* RCSHIM_TRACK leaves the heap out: every call is passed on as is. */
	if (!(rc_config_track_of(environ) & (1u << RCSHIM_KIND_HEAP))) {
		rc_heap_set_inactive("RCSHIM_TRACK leaves it out");
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
	/* Which blocks carry a tag is decided here, once. */
	rc_heap_set_exact(rc_config_heap_exact_of(environ));
	return M_TRACK;
}

static int
resolve(void)
{
	int m = atomic_load_explicit(&mode, memory_order_acquire);
	if (m >= M_TRACK) {
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
	/* Whose malloc it is is asked here (the loader's list takes its
	 * lock), not in the probe, which may run anywhere the program
	 * allocates. */
	const char *owner = NULL;
	if (m == M_TRACK && rc_object_at((void *)R.malloc, &owner, NULL, NULL, NULL) &&
	    strstr(owner, "/libc.so")) {
		atomic_store(&probe, PROBE_DUE);
	}
	rc_guard--;
	errno = saved_errno;
	atomic_store_explicit(&mode, m, memory_order_release);
	return m;
}

/* Whether glibc's header may be read is decided at the first allocation
 * the general path sees, not at start-up: the probe sets up glibc's heap
 * (a brk and a few pages), which a program that never allocates does not
 * pay for.  Blocks counted meanwhile were counted from
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
	bool ok = probe_glibc();
	rc_guard--;
	errno = saved_errno;
	if (ok) {
		atomic_store(&direct, true);
		rc_heap_set_direct(true);
	}
	atomic_store(&probe, PROBE_DONE);
}

static int
resolved(void)
{
	int m = resolve();
	if (__builtin_expect(m == M_TRACK, 1)) {
		if (__builtin_expect(atomic_load_explicit(&probe, memory_order_relaxed) == PROBE_DUE,
				     0)) {
			probe_once();
		}
		/* A thread that started counting while the probe ran on
		 * another one opens its fast paths here. */
		if (__builtin_expect(rc_self.free_off == 1 && rc_heap_self.state == RC_HEAP_T_ACTIVE,
				     0) &&
		    atomic_load_explicit(&direct, memory_order_relaxed)) {
			rc_heap_refresh_gate();
		}
	}
	return m;
}

/* --- the tag (RCSHIM_HEAP=exact) ------------------------------------------------
 *
 * The last usable byte of a block holds usable - requested when that is
 * 1..255; 0 says the requested size is in the 8 bytes before it (the
 * slack is then at least 256). */

static inline void
tag_write(void *p, size_t n, size_t usable)
{
	unsigned char *tag = (unsigned char *)p + usable - 1;
	size_t slack = usable - n;
	if (__builtin_expect(slack < 256, 1)) {
		*tag = (unsigned char)slack;
	} else {
		uint64_t n64 = n;
		memcpy(tag - 8, &n64, 8);
		*tag = 0;
	}
}

/* The requested size of block @p with @usable usable bytes; SIZE_MAX when
 * the tag cannot be ours (a damaged block). */
static inline size_t
tag_size(const void *p, size_t usable)
{
	if (usable == 0) {
		return SIZE_MAX;
	}
	const unsigned char *tag = (const unsigned char *)p + usable - 1;
	if (*tag) {
		return *tag <= usable ? usable - *tag : SIZE_MAX;
	}
	uint64_t n64;
	if (usable < 265) {
		return SIZE_MAX;
	}
	memcpy(&n64, tag - 8, 8);
	return n64 <= usable - 256 ? (size_t)n64 : SIZE_MAX;
}

static void *make_record(void *p, size_t n, size_t usable, size_t align, size_t keep,
			 unsigned flags, uint32_t stack);

/* Tags block @p (@n requested, @usable usable bytes, counted), a block of
 * the next allocator's.  A small chunk whose slack does not fit in the
 * tag's byte (an aligned block, say) becomes a side block instead (the
 * first @keep bytes copied), so that free's exact path never meets the
 * tag's long form.  Returns the block for the program. */
static void *
exact_tag(void *p, size_t n, size_t usable, size_t keep)
{
	if (usable - n > 255 && usable + RC_HEAP_CHARGE_EXTRA < RC_HEAP_SIDE_LIMIT) {
		void *q = make_record(p, n, usable, 16, keep, 0, 0);
		if (q) {
			return q;
		}
	}
	tag_write(p, n, usable);
	return p;
}

/* --- new blocks on the general paths --------------------------------------------- */

/* Makes block @p (@n requested, @usable usable bytes, from the next
 * allocator) a record with @flags and @stack: moved to a side block when
 * small (the first @keep bytes copied, @p freed), else put in the table.
 * Returns the block for the program; NULL when memory for the record ran
 * out (@p is then untouched and unrecorded). */
static void *
make_record(void *p, size_t n, size_t usable, size_t align, size_t keep, unsigned flags,
	    uint32_t stack)
{
	if (usable + RC_HEAP_CHARGE_EXTRA < RC_HEAP_SIDE_LIMIT) {
		void *q = rc_heap_side_alloc(n, usable, align, flags, stack, false);
		if (q) {
			memcpy(q, p, keep < usable ? keep : usable);
			R.free(p);
		}
		return q;
	}
	if (!rc_heap_record(p, n, usable, flags, stack)) {
		return NULL;
	}
	if (rc_heap_exact) {
		tag_write(p, n, usable);
	}
	return p;
}

/* A side block of the shim's own for @n bytes, whatever their number:
 * made inside the unwinder and the loader, it must take no lock a fork
 * holds, and a side block of its own is found again by the words before
 * it alone (core/heap.h).  Only where those words are read (glibc's
 * headers); NULL elsewhere, or out of memory. */
static void *
own_block(size_t n, size_t align, bool zero)
{
	if (!atomic_load_explicit(&direct, memory_order_relaxed)) {
		return NULL;
	}
	size_t usable = n < 24 ? 24 : (n + 15) & ~(size_t)15;
	return rc_heap_side_alloc(n, usable, align, RC_HEAP_REC_OWN, 0, zero);
}

/* Block @p of @n requested bytes, from the next allocator in a vfork
 * child.  The child allocates in its parent's heap, and whatever it does
 * not free before its exec or _exit stays there, to be freed by the
 * parent (dash's environment for execve: one block per command): it is
 * counted as the program's, as a plain block of the vforking thread,
 * whose counters the child shares.  Nothing more: no sample, no record,
 * no lock, no registration (the child must take nothing the parent's
 * other threads may hold, and its guard is up: rc_heap_count_new does not
 * sample).  In exact mode a small chunk whose slack does not fit in the
 * tag's byte cannot become a side block here: its requested size is
 * overstated to fit (usable - 255), so that its free uncounts exactly
 * what was counted. */
static void *
shared_block(void *p, size_t n)
{
	size_t usable = usable_of(p);
	if (rc_heap_exact) {
		if (usable - n > 255 && usable + RC_HEAP_CHARGE_EXTRA < RC_HEAP_SIDE_LIMIT) {
			n = usable - 255;
		}
		tag_write(p, n, usable);
	}
	(void)rc_heap_count_new(n, usable);
	return p;
}

/* Block @p of @n requested bytes, just obtained from the next allocator
 * on a general path: the shim's own (a side block, not counted), or the
 * program's (counted; recorded when it becomes a sample or was allocated
 * inside a scope).  @site: the program's call site.  @keep: the bytes of
 * @p that hold data (realloc).  Returns the block for the program. */
static void *
adopt(void *p, size_t n, size_t align, size_t keep, const void *site, bool unwind)
{
	if (__builtin_expect(rc_self.vfork, 0)) {
		/* realloc in a vfork child (its guard is up: the plan would
		 * say the shim's own). */
		return shared_block(p, n);
	}
	size_t usable = usable_of(p);
	enum rc_heap_plan plan = rc_heap_plan();
	unsigned flags = 0;
	uint32_t stack = 0;

	if (plan == RC_HEAP_OWN) {
		void *q = own_block(n, align, false);
		if (q) {
			memcpy(q, p, keep < n ? keep : n);
			R.free(p);
			return q;
		}
		/* Where glibc's headers are not read (or out of memory):
		 * the program's, then (its free will uncount it). */
		plan = RC_HEAP_PLAIN;
	}
	if (rc_heap_count_new(n, usable)) {
		flags = RC_HEAP_REC_SAMPLE;
		/* From a fast path's mapped chunk (@unwind false): the call
		 * site's stack (rc_stack_site: walked once per site, by the
		 * own walker on the main thread, never loading libunwind).  A
		 * short-lived tool's one large buffer (sort's, for one) is
		 * nearly always sampled, and loading libunwind for it more
		 * than doubled such a process's instructions. */
		stack = unwind ? rc_heap_sample_stack(site) : rc_heap_site_stack(site);
	}
	if (plan == RC_HEAP_SCOPE) {
		flags |= RC_HEAP_REC_SCOPE;
		if (!stack) {
			stack = rc_heap_site_stack(site);
		}
	}
	void *q = flags ? make_record(p, n, usable, align, keep, flags, stack) : NULL;
	if (q) {
		return q;
	}
	return rc_heap_exact ? exact_tag(p, n, usable, keep) : p;
}

enum op { OP_MALLOC, OP_CALLOC, OP_MEMALIGN, OP_ALIGNED, OP_VALLOC };

static void *
call_real(enum op op, size_t n, size_t align)
{
	switch (op) {
	case OP_CALLOC:
		return R.calloc(1, n);
	case OP_MEMALIGN:
		return R.memalign(align, n);
	case OP_ALIGNED:
		return R.aligned_alloc(align, n);
	case OP_VALLOC:
		return R.valloc(n);
	default:
		return R.malloc(n);
	}
}

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

/* An allocation off the fast path: before the allocator is known, on a
 * thread not yet counting, inside a scope or the shim's own work, in
 * exact mode for the rarer calls.  @site: the program's call site. */
static __attribute__((noinline)) void *
alloc_general(size_t n, size_t align, enum op op, const void *site)
{
	if (__builtin_expect(rc_self.vfork || rc_self.alloc_off == 2 ||
				     (atomic_load_explicit(&rc_due, memory_order_relaxed) &
				      RC_DUE_TRIM),
			     0)) {
		at_alloc();
	}
	switch (resolved()) {
	case M_TRACK: {
		/* A fork child with the shim off: the allocator's own blocks,
		 * untouched (forget counts nothing there either). */
		if (__builtin_expect(atomic_load_explicit(&rc_off, memory_order_relaxed), 0)) {
			return call_real(op, n, align);
		}
		size_t extra = rc_heap_exact;
		if (TOO_BIG(n)) {
			errno = ENOMEM;
			return NULL;
		}
		/* A vfork child (at_alloc cleared a parent's stale mark): its
		 * blocks are its parent's, and counted. */
		if (__builtin_expect(rc_self.vfork, 0)) {
			void *p = call_real(op, n + extra, align);
			return p ? shared_block(p, n) : NULL;
		}
		if (rc_heap_plan() == RC_HEAP_OWN) {
			void *q = own_block(n, op == OP_VALLOC ? 4096 : align, op == OP_CALLOC);
			if (q) {
				return q;
			}
		}
		void *p = call_real(op, n + extra, align);
		/* A calloc'ed block that moves takes its zeros along. */
		return p ? adopt(p, n, align, op == OP_CALLOC ? SIZE_MAX : 0, site, true) : NULL;
	}
	case M_FORWARD:
		return call_real(op, n, align);
	default:
		return pool_alloc(n, op == OP_VALLOC ? 4096 : align);
	}
}

/* --- forgetting blocks -------------------------------------------------------------- */

/* What a record of a block was counted as, taken back. */
static void
uncount(const struct rc_heap_rec *r)
{
	if (!(r->flags & RC_HEAP_REC_OWN)) {
		rc_heap_count_gone(r->n, r->usable);
	}
}

/* Block @p (not from the pool) is about to go: uncounts it and drops its
 * record.  False when it was a side block, released already: then there
 * is nothing left for the next allocator to free. */
static bool
forget(void *p)
{
	struct rc_heap_rec rec;
	size_t usable;

	if (__builtin_expect(atomic_load_explicit(&rc_off, memory_order_relaxed), 0)) {
		/* A fork child with the shim off: its tables may be half-
		 * changed and their locks held for good.  A side block lives
		 * in the shim's memory and stays there; the rest go back to
		 * the allocator, uncounted. */
		return !(atomic_load_explicit(&direct, memory_order_relaxed) &&
			 (HDR(p) & MAPPED) && rc_heap_side_of(p));
	}
	if (atomic_load_explicit(&direct, memory_order_relaxed)) {
		size_t h = HDR(p);
		if (h & MAPPED) {
			struct rc_heap_rec *own = rc_heap_side_of(p);
			if (own && (own->flags & RC_HEAP_REC_OWN)) {
				rc_heap_side_release(own);
				return false;
			}
		}
		if (MAY_HAVE_RECORD(h) && rc_heap_take(p, &rec)) {
			uncount(&rec);
			return !(rec.flags & RC_HEAP_REC_SIDE);
		}
		usable = (h & MAPPED) ? R.usable(p) : CHUNK(h) - 8;
	} else {
		if (rc_heap_take(p, &rec)) {
			uncount(&rec);
			return !(rec.flags & RC_HEAP_REC_SIDE);
		}
		usable = R.usable(p);
	}
	size_t n = 0;
	if (rc_heap_exact) {
		n = tag_size(p, usable);
		if (n == SIZE_MAX) {
			return true; /* not a block the shim handed out */
		}
	}
	rc_heap_count_gone(n, usable);
	return true;
}

/* free off the fast path: a block that may have a record, a thread not
 * counting, before the allocator is known.  Accounting comes before the
 * real free: once it returns, another thread may get the same address. */
static __attribute__((noinline)) void
free_general(void *p)
{
	if (in_pool(p)) {
		return;
	}
	if (__builtin_expect(rc_self.vfork, 0)) {
		rc_vfork_over();
	}
	switch (resolved()) {
	case M_TRACK:
		if (forget(p)) {
			R.free(p);
		}
		break;
	case M_FORWARD:
		R.free(p);
		break;
	default:
		/* Not from the pool, and nothing else was handed out yet. */
		break;
	}
}

/* --- the calling thread's word, from the fast paths ---------------------------
 *
 * On x86-64 the fast paths reach rc_self through its TLS offset, loaded
 * anew where it is used: an asm the compiler cannot keep across the
 * allocator's call, so that after the call it costs one load, where
 * keeping it would take a callee-saved register (a push, a pop and the
 * stack's alignment).  Each update is one instruction on memory; the
 * request in flight is left in rc_self (heap.pending) for the rarer ends,
 * for the same reason.  Elsewhere, the same in C. */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
typedef uintptr_t self_t;
#define AT(field) "i"(offsetof(struct rc_thread, field))

static inline __attribute__((always_inline)) self_t
self(void)
{
	uintptr_t off;
	__asm__ volatile("movq rc_self@gottpoff(%%rip), %0" : "=r"(off));
	return off;
}

/* Keeps the allocator's answer where it came back (and goes back): the
 * register allocator otherwise moves it to the cold paths' first argument
 * and back on the common path. */
static inline __attribute__((always_inline)) void
pin_result(void **p)
{
	__asm__("" : "+a"(*p));
}

/* The whole gate (malloc, calloc, realloc) or its free byte. */
static inline __attribute__((always_inline)) bool
gate_open(self_t s)
{
	__asm__ goto("cmpl $0, %%fs:(%0)\n\t"
		     "jne %l[closed]"
		     :
		     : "r"(s)
		     : "cc"
		     : closed);
	return true;
closed:
	return false;
}

static inline __attribute__((always_inline)) bool
free_open(self_t s)
{
	__asm__ goto("cmpb $0, %%fs:(%0)\n\t"
		     "jne %l[closed]"
		     :
		     : "r"(s)
		     : "cc"
		     : closed);
	return true;
closed:
	return false;
}

/* The gate holds exactly RC_HEAP_GATE_EXACT, or free's byte
 * RC_HEAP_FREE_EXACT: RCSHIM_HEAP=exact's fast paths are open. */
static inline __attribute__((always_inline)) bool
gate_exact(self_t s)
{
	__asm__ goto("cmpl %1, %%fs:(%0)\n\t"
		     "je %l[exact]"
		     :
		     : "r"(s), "i"(RC_HEAP_GATE_EXACT)
		     : "cc"
		     : exact);
	return false;
exact:
	return true;
}

static inline __attribute__((always_inline)) bool
free_exact(self_t s)
{
	__asm__ goto("cmpb %1, %%fs:(%0)\n\t"
		     "je %l[exact]"
		     :
		     : "r"(s), "i"(RC_HEAP_FREE_EXACT)
		     : "cc"
		     : exact);
	return false;
exact:
	return true;
}

static inline __attribute__((always_inline)) void
set_pending(self_t s, size_t n)
{
	__asm__ volatile("movq %1, %%fs:%c2(%0)" : : "r"(s), "r"(n), AT(heap.pending) : "memory");
}

static inline __attribute__((always_inline)) size_t
get_pending(self_t s)
{
	size_t n;
	__asm__ volatile("movq %%fs:%c2(%1), %0" : "=r"(n) : "r"(s), AT(heap.pending) : "memory");
	return n;
}

/* RCSHIM_HEAP=exact: usable - requested of a block of chunk size @chunk
 * for the request in heap.pending. */
static inline __attribute__((always_inline)) size_t
slack_of(self_t s, size_t chunk)
{
	size_t v = chunk - 8;
	__asm__("subq %%fs:%c2(%1), %0" : "+r"(v) : "r"(s), AT(heap.pending) : "cc", "memory");
	return v;
}

/* RCSHIM_HEAP=exact: the live blocks' slack (the tags' sum). */
static inline __attribute__((always_inline)) void
slack_add(self_t s, size_t v)
{
	__asm__ volatile("addq %1, %%fs:%c2(%0)" : : "r"(s), "r"(v), AT(heap.slack) : "cc", "memory");
}

static inline __attribute__((always_inline)) void
slack_sub(self_t s, size_t v)
{
	__asm__ volatile("subq %1, %%fs:%c2(%0)" : : "r"(s), "r"(v), AT(heap.slack) : "cc", "memory");
}

/* rc_heap_charge_due on the thread's word. */
static inline __attribute__((always_inline)) bool
charge_due(self_t s, size_t charge)
{
	__asm__ goto("subq %1, %%fs:%c2(%0)\n\t"
		     "jle %l[due]"
		     :
		     : "r"(s), "r"(charge), AT(heap.countdown)
		     : "cc", "memory"
		     : due);
	return false;
due:
	return true;
}

static inline __attribute__((always_inline)) void
blocks_inc(self_t s)
{
	__asm__ volatile("incq %%fs:%c1(%0)" : : "r"(s), AT(heap.blocks) : "cc", "memory");
}

static inline __attribute__((always_inline)) void
blocks_dec(self_t s)
{
	__asm__ volatile("decq %%fs:%c1(%0)" : : "r"(s), AT(heap.blocks) : "cc", "memory");
}

/* base -= @charge: a block gone (or going). */
static inline __attribute__((always_inline)) void
uncharge(self_t s, size_t charge)
{
	__asm__ volatile("subq %1, %%fs:%c2(%0)"
			 :
			 : "r"(s), "r"(charge), AT(heap.base)
			 : "cc", "memory");
}
#else
typedef struct rc_thread *self_t;

static inline self_t
self(void)
{
	return &rc_self;
}

static inline void
pin_result(void **p)
{
	(void)p;
}

static inline bool
gate_open(self_t s)
{
	return s->gate == 0;
}

static inline bool
free_open(self_t s)
{
	return s->free_off == 0;
}

static inline bool
gate_exact(self_t s)
{
	return s->gate == RC_HEAP_GATE_EXACT;
}

static inline bool
free_exact(self_t s)
{
	return s->free_off == RC_HEAP_FREE_EXACT;
}

static inline void
set_pending(self_t s, size_t n)
{
	s->heap.pending = n;
}

static inline size_t
get_pending(self_t s)
{
	return s->heap.pending;
}

static inline size_t
slack_of(self_t s, size_t chunk)
{
	return chunk - 8 - s->heap.pending;
}

static inline void
slack_add(self_t s, size_t v)
{
	rc_heap_add(&s->heap.slack, (int64_t)v);
}

static inline void
slack_sub(self_t s, size_t v)
{
	rc_heap_add(&s->heap.slack, -(int64_t)v);
}

static inline bool
charge_due(self_t s, size_t charge)
{
	return rc_heap_charge_due(&s->heap, charge);
}

static inline void
blocks_inc(self_t s)
{
	rc_heap_add(&s->heap.blocks, 1);
}

static inline void
blocks_dec(self_t s)
{
	rc_heap_add(&s->heap.blocks, -1);
}

static inline void
uncharge(self_t s, size_t charge)
{
	rc_heap_add(&s->heap.base, -(int64_t)charge);
}
#endif

/* --- the fast paths' rarer ends ------------------------------------------------
 *
 * Tail calls, so that the fast paths keep nothing live across them. */

/* Block @p of @n bytes became a sample: its record. */
static void *
sampled(void *p, size_t n, size_t usable, size_t keep, const void *site)
{
	void *q = make_record(p, n, usable, 16, keep, RC_HEAP_REC_SAMPLE,
			      rc_heap_sample_stack(site));
	if (q) {
		return q;
	}
	return rc_heap_exact ? exact_tag(p, n, usable, keep) : p;
}

/* The countdown ran out at block @p (charged, not yet a live block) of
 * the request left in heap.pending. */
static __attribute__((noinline)) void *
alloc_due(void *p, const void *site)
{
	rc_heap_add(&rc_heap_self.blocks, 1);
	if (!rc_heap_due()) {
		return p;
	}
	return sampled(p, rc_heap_self.pending, CHUNK(HDR(p)) - 8, 0, site);
}

/* The same for calloc: a block that moves takes its zeros along. */
static __attribute__((noinline)) void *
calloc_due(void *p, const void *site)
{
	rc_heap_add(&rc_heap_self.blocks, 1);
	if (!rc_heap_due()) {
		return p;
	}
	return sampled(p, rc_heap_self.pending, CHUNK(HDR(p)) - 8, SIZE_MAX, site);
}

/* A mapped chunk from the fast path: its usable size is asked of glibc. */
static __attribute__((noinline)) void *
alloc_mapped(void *p, const void *site)
{
	return adopt(p, rc_heap_self.pending, 16, 0, site, false);
}

static __attribute__((noinline)) void *
calloc_mapped(void *p, const void *site)
{
	return adopt(p, rc_heap_self.pending, 16, SIZE_MAX, site, false);
}

/* malloc with its gate closed: the general path. */
static __attribute__((noinline)) void *
malloc_closed(size_t n, const void *site)
{
	if (FORWARDING()) {
		return R.malloc(n);
	}
	return alloc_general(n, 16, OP_MALLOC, site);
}

/* RCSHIM_HEAP=exact: the countdown ran out at block @p (charged, not yet a
 * live block, no tag yet), or its slack does not fit in a byte. */
static __attribute__((noinline)) void *
exact_slow(void *p, const void *site)
{
	size_t n = rc_heap_self.pending, usable = CHUNK(HDR(p)) - 8;
	bool due = rc_heap_self.countdown <= 0;
	rc_heap_add(&rc_heap_self.blocks, 1);
	rc_heap_add(&rc_heap_self.slack, (int64_t)(usable - n));
	if (due && rc_heap_due()) {
		return sampled(p, n, usable, 0, site);
	}
	return exact_tag(p, n, usable, 0);
}

/* malloc's fast path for RCSHIM_HEAP=exact: one byte more, whose last
 * usable byte (the tag) holds usable - requested; the thread counts the
 * tags' sum (its slack) beside the blocks and their charge.  The request
 * is in heap.pending already (malloc put it there). */
static __attribute__((noinline)) void *
exact_malloc(size_t n, const void *site)
{
	size_t n1;
	/* Requests that large fail anyway (glibc's limit is PTRDIFF_MAX):
	 * only the one byte more must not wrap around. */
	if (__builtin_expect(__builtin_add_overflow(n, 1, &n1), 0)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = R.malloc(n1);
	pin_result(&p);
	if (__builtin_expect(!p, 0)) {
		return p;
	}
	size_t h = HDR(p);
	if (__builtin_expect(h & MAPPED, 0)) {
		return alloc_mapped(p, site);
	}
	size_t chunk = CHUNK(h);
	self_t s = self();
	if (__builtin_expect(charge_due(s, chunk), 0)) {
		return exact_slow(p, site);
	}
	size_t slack = slack_of(s, chunk);
	if (__builtin_expect(slack > 255, 0)) {
		/* The countdown did not run out: exact_slow sees so. */
		return exact_slow(p, site);
	}
	blocks_inc(s);
	slack_add(s, slack);
	((unsigned char *)p)[chunk - 9] = (unsigned char)slack;
	pin_result(&p);
	return p;
}

RC_EXPORT void *
malloc(size_t n)
{
	/* The gate is open only when the allocator is glibc's, on a thread
	 * counting into its own counters, outside scopes and the shim's own
	 * work, in the default mode. */
	self_t s = self();
	set_pending(s, n);
	if (__builtin_expect(!gate_open(s), 0)) {
		if (gate_exact(s)) {
			return exact_malloc(n, __builtin_return_address(0));
		}
		return malloc_closed(n, __builtin_return_address(0));
	}
	void *p = R.malloc(n);
	pin_result(&p);
	if (__builtin_expect(!p, 0)) {
		return p;
	}
	size_t h = HDR(p);
	if (__builtin_expect(h & MAPPED, 0)) {
		return alloc_mapped(p, __builtin_return_address(0));
	}
	/* The chunk's size is what the block is charged: usable + 8. */
	s = self();
	if (__builtin_expect(charge_due(s, CHUNK(h)), 0)) {
		return alloc_due(p, __builtin_return_address(0));
	}
	blocks_inc(s);
	return p;
}

static __attribute__((noinline)) void
free_gated(void *p)
{
	if (FORWARDING() && !in_pool(p)) {
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
	self_t s = self();
	if (__builtin_expect(!free_open(s), 0)) {
		if (free_exact(s)) {
			/* RCSHIM_HEAP=exact: the tag is the slack (a small
			 * chunk's always fits its byte: exact_tag). */
			size_t h = HDR(p);
			if (__builtin_expect(MAY_HAVE_RECORD(h), 0)) {
				free_general(p);
				return;
			}
			size_t chunk = CHUNK(h);
			size_t tag = ((const unsigned char *)p)[chunk - 9];
			uncharge(s, chunk);
			slack_sub(s, tag);
			blocks_dec(s);
			R.free(p);
			return;
		}
		free_gated(p);
		return;
	}
	/* A small chunk from an arena has no record: counted by its size,
	 * before the real free (once it returns, another thread may get the
	 * same address). */
	size_t h = HDR(p);
	if (__builtin_expect(MAY_HAVE_RECORD(h), 0)) {
		free_general(p);
		return;
	}
	uncharge(s, CHUNK(h));
	blocks_dec(s);
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

static __attribute__((noinline)) void *
calloc_gated(size_t nmemb, size_t size, const void *site)
{
	size_t n;
	if (FORWARDING()) {
		return R.calloc(nmemb, size);
	}
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return alloc_general(n, 16, OP_CALLOC, site);
}

RC_EXPORT void *
calloc(size_t nmemb, size_t size)
{
	self_t s = self();
	if (__builtin_expect(!gate_open(s), 0)) {
		return calloc_gated(nmemb, size, __builtin_return_address(0));
	}
	/* If nmemb * size overflows, the allocator says so (NULL). */
	set_pending(s, nmemb * size);
	void *p = R.calloc(nmemb, size);
	pin_result(&p);
	if (__builtin_expect(!p, 0)) {
		return p;
	}
	size_t h = HDR(p);
	if (__builtin_expect(h & MAPPED, 0)) {
		return calloc_mapped(p, __builtin_return_address(0));
	}
	s = self();
	if (__builtin_expect(charge_due(s, CHUNK(h)), 0)) {
		return calloc_due(p, __builtin_return_address(0));
	}
	blocks_inc(s);
	return p;
}

/* --- realloc ---------------------------------------------------------------------- */

static void *
pool_realloc(void *p, size_t n)
{
	size_t old = pool_size(p);
	void *q = rc_self_malloc(n);
	if (q) {
		memcpy(q, p, old < n ? old : n);
	}
	return q; /* the pool block is never reused */
}

/* The record of @p if it is a side block (a copy in *@r). */
static bool
side_block(void *p, struct rc_heap_rec *r)
{
	if (atomic_load_explicit(&direct, memory_order_relaxed)) {
		if (!(HDR(p) & MAPPED)) {
			return false;
		}
		const struct rc_heap_rec *s = rc_heap_side_of(p);
		if (s) {
			*r = *s;
		}
		return s != NULL;
	}
	return rc_heap_find(p, r) && (r->flags & RC_HEAP_REC_SIDE);
}

/* realloc off the fast paths.  @site: the program's call site. */
static __attribute__((noinline)) void *
realloc_general(void *p, size_t n, const void *site)
{
	struct rc_heap_rec rec;

	if (in_pool(p)) {
		return pool_realloc(p, n);
	}
	if (__builtin_expect(rc_self.vfork, 0)) {
		rc_vfork_over();
	}
	switch (resolved()) {
	case M_TRACK:
		break;
	case M_FORWARD:
		return R.realloc(p, n);
	default:
		errno = ENOMEM;
		return NULL;
	}
	if (TOO_BIG(n)) {
		errno = ENOMEM;
		return NULL;
	}
	if (side_block(p, &rec)) {
		/* Moved out of the shim's arena (or into another side
		 * block): glibc frees the block and returns NULL for 0. */
		void *q = NULL;
		if (n) {
			q = alloc_general(n, 16, OP_MALLOC, site);
			if (!q) {
				return NULL;
			}
			size_t have = rc_heap_exact ? rec.n : rec.usable;
			memcpy(q, p, have < n ? have : n);
		}
		free_general(p);
		return q;
	}
	/* A block of the next allocator's: taken out of the counts and the
	 * records, reallocated, and adopted again. */
	size_t usable = usable_of(p);
	bool had = rc_heap_take(p, &rec);
	if (!had) {
		rec = (struct rc_heap_rec){ .p = (uintptr_t)p, .usable = usable };
		if (rc_heap_exact) {
			rec.n = tag_size(p, usable);
			if (rec.n == SIZE_MAX) {
				rec.flags = RC_HEAP_REC_OWN; /* not ours: not uncounted */
			}
		}
	}
	uncount(&rec);
	void *q = R.realloc(p, n + (n ? rc_heap_exact : 0));
	if (!q) {
		/* @p is as it was (or freed, for 0 where the allocator
		 * frees): counted and recorded again. */
		if (n == 0) {
			return NULL;
		}
		if (!(rec.flags & RC_HEAP_REC_OWN)) {
			rc_heap_count_new(rec.n, rec.usable);
		}
		if (had && !rc_heap_record(p, rec.n, rec.usable, rec.flags, rec.stack) &&
		    (rec.flags & RC_HEAP_REC_OWN)) {
			rc_heap_count_new(rec.n, rec.usable);
		}
		return NULL;
	}
	return adopt(q, n, 16, n, site, true);
}

/* realloc failed on exact mode's fast path: @p is as it was, tag
 * included, charged again. */
static __attribute__((noinline)) void *
exact_realloc_failed(void *p)
{
	size_t chunk = CHUNK(HDR(p));
	rc_heap_add(&rc_heap_self.base, (int64_t)chunk);
	rc_heap_add(&rc_heap_self.slack, ((const unsigned char *)p)[chunk - 9]);
	return NULL;
}

/* Exact mode's realloc returned block @q, charged, whose countdown ran
 * out or whose slack does not fit in a byte (not counted yet). */
static __attribute__((noinline)) void *
exact_realloc_slow(void *q)
{
	size_t n = rc_heap_self.pending, usable = CHUNK(HDR(q)) - 8;
	bool due = rc_heap_self.countdown <= 0;
	rc_heap_add(&rc_heap_self.slack, (int64_t)(usable - n));
	if (due && rc_heap_due()) {
		return sampled(q, n, usable, n, NULL);
	}
	return exact_tag(q, n, usable, n);
}

/* Exact mode's realloc returned a mapped chunk: a new block. */
static __attribute__((noinline)) void *
exact_realloc_mapped(void *q, const void *site)
{
	size_t n = rc_heap_self.pending;
	rc_heap_add(&rc_heap_self.blocks, -1);
	return adopt(q, n, 16, n, site, false);
}

/* realloc's fast path for RCSHIM_HEAP=exact (@n > 0): the old block's
 * charge and tag taken off before the call, the new one's counted and
 * written after it. */
static __attribute__((noinline)) void *
exact_realloc(void *p, size_t n, const void *site)
{
	size_t n1, h = HDR(p);
	if (__builtin_expect(MAY_HAVE_RECORD(h) || __builtin_add_overflow(n, 1, &n1), 0)) {
		/* (No scope is open: the site is not needed.) */
		return realloc_general(p, n, NULL);
	}
	size_t chunk = CHUNK(h);
	size_t tag = ((const unsigned char *)p)[chunk - 9];
	self_t s = self();
	set_pending(s, n);
	uncharge(s, chunk);
	slack_sub(s, tag);
	void *q = R.realloc(p, n1);
	pin_result(&q);
	if (__builtin_expect(!q, 0)) {
		return exact_realloc_failed(p);
	}
	size_t hq = HDR(q);
	if (__builtin_expect(hq & MAPPED, 0)) {
		return exact_realloc_mapped(q, site);
	}
	size_t cq = CHUNK(hq);
	s = self();
	if (__builtin_expect(charge_due(s, cq), 0)) {
		return exact_realloc_slow(q);
	}
	size_t slack = slack_of(s, cq);
	if (__builtin_expect(slack > 255, 0)) {
		return exact_realloc_slow(q);
	}
	slack_add(s, slack);
	((unsigned char *)q)[cq - 9] = (unsigned char)slack;
	pin_result(&q);
	return q;
}

/* The countdown ran out at block @q, reallocated on the fast path for
 * the request in heap.pending. */
static __attribute__((noinline)) void *
realloc_due(void *q, const void *site)
{
	if (!rc_heap_due()) {
		return q;
	}
	size_t n = rc_heap_self.pending;
	return sampled(q, n, CHUNK(HDR(q)) - 8, n, site);
}

/* A mapped chunk came back from realloc's fast path: the old block is
 * uncharged already; the new one is counted as a new block. */
static __attribute__((noinline)) void *
realloc_mapped(void *q, const void *site)
{
	size_t n = rc_heap_self.pending;
	rc_heap_add(&rc_heap_self.blocks, -1);
	return adopt(q, n, 16, n, site, false);
}

/* realloc failed on the fast path: @p is as it was, charged again. */
static __attribute__((noinline)) void *
realloc_failed(void *p)
{
	rc_heap_add(&rc_heap_self.base, (int64_t)CHUNK(HDR(p)));
	return NULL;
}

static __attribute__((noinline)) void *
realloc_gated(void *p, size_t n, const void *site)
{
	if (FORWARDING() && !in_pool(p)) {
		return R.realloc(p, n);
	}
	return realloc_general(p, n, site);
}

RC_EXPORT void *
realloc(void *p, size_t n)
{
	if (!p) {
		return rc_self_malloc(n);
	}
	/* The fast path: malloc's conditions, a small arena chunk (no
	 * record), and n > 0 (realloc(p, 0) frees p).  The old block is
	 * uncharged before the call (and charged again if it fails). */
	self_t s = self();
	if (__builtin_expect(!gate_open(s) || n == 0, 0)) {
		if (gate_exact(s) && n != 0) {
			return exact_realloc(p, n, __builtin_return_address(0));
		}
		return realloc_gated(p, n, __builtin_return_address(0));
	}
	size_t h = HDR(p);
	if (__builtin_expect(MAY_HAVE_RECORD(h), 0)) {
		return realloc_general(p, n, __builtin_return_address(0));
	}
	set_pending(s, n);
	uncharge(s, CHUNK(h));
	void *q = R.realloc(p, n);
	pin_result(&q);
	if (__builtin_expect(!q, 0)) {
		return realloc_failed(p);
	}
	size_t hq = HDR(q);
	if (__builtin_expect(hq & MAPPED, 0)) {
		return realloc_mapped(q, __builtin_return_address(0));
	}
	s = self();
	if (__builtin_expect(charge_due(s, CHUNK(hq)), 0)) {
		return realloc_due(q, __builtin_return_address(0));
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

/* --- the aligned family: the general path ---------------------------------------- */

RC_EXPORT void *
memalign(size_t align, size_t n)
{
	if (FORWARDING()) {
		return R.memalign(align, n);
	}
	return alloc_general(n, align, OP_MEMALIGN, __builtin_return_address(0));
}

RC_EXPORT void *
aligned_alloc(size_t align, size_t n)
{
	if (FORWARDING()) {
		return R.aligned_alloc(align, n);
	}
	return alloc_general(n, align, OP_ALIGNED, __builtin_return_address(0));
}

RC_EXPORT int
posix_memalign(void **out, size_t align, size_t n)
{
	if (FORWARDING()) {
		return R.posix_memalign(out, align, n);
	}
	if (align < sizeof(void *) || (align & (align - 1))) {
		return EINVAL;
	}
	int saved_errno = errno;
	void *q = alloc_general(n, align, OP_MEMALIGN, __builtin_return_address(0));
	if (!q) {
		int e = errno ? errno : ENOMEM;
		errno = saved_errno;
		return e;
	}
	errno = saved_errno;
	*out = q;
	return 0;
}

RC_EXPORT void *
valloc(size_t n)
{
	if (FORWARDING()) {
		return R.valloc(n);
	}
	return alloc_general(n, (size_t)getpagesize(), OP_VALLOC, __builtin_return_address(0));
}

RC_EXPORT void *
pvalloc(size_t n)
{
	if (FORWARDING()) {
		return R.pvalloc(n);
	}
	size_t page = (size_t)getpagesize();
	size_t rounded = n ? (n + page - 1) & ~(page - 1) : page;
	if (rounded < n) {
		errno = ENOMEM;
		return NULL;
	}
	/* The whole rounded size is the program's to use. */
	return alloc_general(rounded, page, OP_MEMALIGN, __builtin_return_address(0));
}

RC_EXPORT size_t
malloc_usable_size(void *p)
{
	struct rc_heap_rec rec;

	if (!p) {
		return 0;
	}
	if (in_pool(p)) {
		return pool_size(p);
	}
	switch (resolved()) {
	case M_TRACK:
		break;
	case M_FORWARD:
		return R.usable(p);
	default:
		return 0;
	}
	if (side_block(p, &rec)) {
		return rc_heap_exact ? rec.n : rec.usable;
	}
	size_t usable = usable_of(p);
	if (rc_heap_exact) {
		/* Exactly what was asked for: the bytes past it hold the
		 * tag (valgrind answers the same way). */
		size_t n = tag_size(p, usable);
		return n == SIZE_MAX ? usable : n;
	}
	return usable;
}

/* --- start-up -------------------------------------------------------------- */


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
	free_general(p);
}

void
rc_heap_preload_init(void)
{
	rc_heap_block_free = free_block;
	resolve();
	/* Stacks start at the program's frames: the shim's own are
	 * skipped. */
	uintptr_t lo, hi;
	if (rc_object_at((void *)rc_heap_preload_init, NULL, NULL, &lo, &hi) && hi) {
		rc_stack_set_self(lo, hi);
	}
	struct system_ranges sr = { .n = 0 };
	dl_iterate_phdr(find_system, &sr);
	rc_stack_set_system((const uintptr_t(*)[2])sr.r, sr.n);
	rc_heap_configure(rc_cfg.heap_sample, rc_cfg.stack_depth,
			  (rc_cfg.track & (1u << RCSHIM_KIND_HEAP)) != 0);
}
