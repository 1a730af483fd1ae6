/* Capturing and interning stacks: the only file that knows libunwind,
 * which it opens with dlopen (see core/stack.h: not linked, for start-up's
 * sake).  The header only gives the types and the exported names. */
#include "build-config.h"

#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <errno.h>
#include <libunwind.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <time.h>

#include "core/arena.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/stack.h"
#include "core/state.h"
#include "core/unwind.h"

#define NBUCKETS (1u << 14)
#define ID_CHUNK_BITS 12
#define ID_CHUNK (1u << ID_CHUNK_BITS)
#define ID_CHUNKS 1024 /* 4 M distinct stacks at most */
/* Frames unw_backtrace may return above the program's: the shim's own
 * (interposer, tracking core, this file). */
#define SELF_SLACK 8

/* The library, as its ELF names: with UNW_LOCAL_ONLY the header maps the
 * unw_ names to the local-only entry points (_ULx86_64_... here). */
#define UNWIND_SONAME "libunwind.so.8"
#define NAME_(x) #x
#define NAME(x) NAME_(x)

/* Where libunwind stands (the futex word captures wait on). */
enum {
	UNW_IDLE,    /* not loaded, nobody loading */
	UNW_LOADING, /* a thread is inside dlopen */
	UNW_READY,
	UNW_FAILED,  /* absent or unusable: one-frame stacks for good */
};

/* Text ranges a malloc called from must not load libunwind from: the
 * dynamic loader's and the C library's (see may_load_in_malloc). */
#define MAX_SYSTEM_RANGES 4

struct entry {
	struct entry *_Atomic next;
	uint64_t hash;
	uint32_t id;
	uint32_t n;
	uintptr_t pc[];
};

/* Small and zero-initialised: the tables are mapped when first needed, so
 * that the shim's few variables start-up touches share their pages. */
static struct {
	struct rc_spinlock lock;
	atomic_uint unw;
	atomic_bool malloc_hooked;
	atomic_bool forking;
	atomic_int unwinders;
	int (*backtrace)(void **, int);
	/* The cursor interface, for a process's first captures (see
	 * step_trace); all set or none. */
	int (*getcontext)(unw_context_t *);
	int (*init_local)(unw_cursor_t *, unw_context_t *);
	int (*step)(unw_cursor_t *);
	int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
	atomic_uint captures, steps;
	bool no_own; /* rc_stack_own_walker(false): libunwind alone */
	atomic_uint fork_shallow; /* see FORK_SHALLOW */
	atomic_uint last_id;
	atomic_size_t count, bytes;
	uintptr_t self_lo, self_hi;
	uintptr_t system[MAX_SYSTEM_RANGES][2];
	unsigned nsystem;
} S RC_HOT;

/* The tables, in .lbss: their pages are the kernel's zero pages until a
 * stack is stored, and then only the pages written are a process's.  (In
 * the shim's arena each was a mapping of its own with a header written in
 * its first page: three more page faults and three mmap calls in every
 * process that took a stack.)  NBUCKETS hash chains; the ID_CHUNKS
 * chunks of ID_CHUNK entries each, by id, the first one here and the
 * others allocated; call site -> stack id for rc_stack_site. */
#define SITES 1024 /* one page */
static struct entry *_Atomic bucket_table[NBUCKETS] RC_COLD_BSS;
/* A process's first SMALL_MAX stacks are chained from SMALL_BUCKETS
 * buckets, and its first FIRST_IDS ids found, on one page: spread over
 * the large table, each new stack touched a page of its own there (a git
 * process took nine faults), and the small table and the first id chunk
 * were a page each, two faults in every process that took a stack.
 * Entries are never moved: a lookup searches the small table, then the
 * large one once there are more stacks. */
#define SMALL_BUCKETS 256u
#define SMALL_MAX 1024u
#define FIRST_IDS 256u
static struct {
	struct entry *_Atomic small[SMALL_BUCKETS];
	struct entry *_Atomic ids[FIRST_IDS];
} first RC_COLD_BSS __attribute__((aligned(4096)));
_Static_assert(sizeof(first) == 4096, "the first stacks' tables are one page");
static struct entry *_Atomic *_Atomic id_dir[ID_CHUNKS] RC_COLD_BSS;
/* Ids below ID_CHUNK, past FIRST_IDS (the first FIRST_IDS slots unused). */
static struct entry *_Atomic id_chunk0[ID_CHUNK] RC_COLD_BSS;
static _Atomic uint32_t site_table[SITES] RC_COLD_BSS __attribute__((aligned(4096)));
#define SITE_OF(pc) ((unsigned)(((pc) * 0x9e3779b97f4a7c15ull) >> 54))
_Static_assert(SITES == 1u << (64 - 54), "SITE_OF gives SITES slots");

/* Set on a thread whose wait for the load ran out (it may hold the loader
 * lock the load needs): it falls back at once from then on. */
static RC_TLS bool gave_up;
/* Non-zero while this thread is inside libunwind (loading it, or
 * unwinding): what it asks for is the shim's (rc_stack_in_unwinder). */
static RC_TLS unsigned in_unwinder;

bool
rc_stack_in_unwinder(void)
{
	return in_unwinder != 0;
}

static uint64_t
hash_pcs(const uintptr_t *pc, unsigned n)
{
	uint64_t h = 0x84222325cbf29ce4ull ^ n;
	for (unsigned i = 0; i < n; i++) {
		h = (h ^ (uint64_t)pc[i]) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return h;
}

/* Whether two stacks of @n frames are the same, word by word (the shim's
 * own memcmp goes a byte at a time: preload/libc.c). */
static bool
same_pcs(const uintptr_t *a, const uintptr_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (a[i] != b[i]) {
			return false;
		}
	}
	return true;
}

static struct entry *
find_in(struct entry *_Atomic *b, unsigned mask, uint64_t h, const uintptr_t *pc, unsigned n)
{
	for (struct entry *e = atomic_load_explicit(&b[h & mask], memory_order_acquire);
	     e; e = atomic_load_explicit(&e->next, memory_order_acquire)) {
		if (e->hash == h && e->n == n && same_pcs(e->pc, pc, n)) {
			return e;
		}
	}
	return NULL;
}

/* The entry for @pc[@n] (hash @h), in whichever table holds it. */
static struct entry *
find(uint64_t h, const uintptr_t *pc, unsigned n)
{
	struct entry *e = find_in(first.small, SMALL_BUCKETS - 1, h, pc, n);
	if (!e && atomic_load_explicit(&S.last_id, memory_order_acquire) > SMALL_MAX) {
		e = find_in(bucket_table, NBUCKETS - 1, h, pc, n);
	}
	return e;
}

static bool
publish_id(struct entry *e)
{
	if (e->id < FIRST_IDS) {
		atomic_store_explicit(&first.ids[e->id], e, memory_order_release);
		return true;
	}
	unsigned c = e->id >> ID_CHUNK_BITS;
	if (c >= ID_CHUNKS) {
		return false;
	}
	struct entry *_Atomic *chunk =
		c == 0 ? id_chunk0 : atomic_load_explicit(&id_dir[c], memory_order_acquire);
	if (!chunk) {
		chunk = rc_alloc(ID_CHUNK * sizeof(*chunk));
		if (!chunk) {
			return false;
		}
		atomic_store_explicit(&id_dir[c], chunk, memory_order_release);
	}
	atomic_store_explicit(&chunk[e->id & (ID_CHUNK - 1)], e, memory_order_release);
	return true;
}

uint32_t
rc_stack_intern(const uintptr_t *pc, unsigned n)
{
	if (n == 0) {
		return 0;
	}
	if (n > RC_STACK_MAX_DEPTH) {
		n = RC_STACK_MAX_DEPTH;
	}
	uint64_t h = hash_pcs(pc, n);
	struct entry *e = find(h, pc, n);
	if (e) {
		return e->id;
	}

	uint32_t id = 0;
	rc_spin_lock(&S.lock);
	e = find(h, pc, n);
	if (e) {
		id = e->id;
	} else {
		size_t size = sizeof(*e) + n * sizeof(*pc);
		e = rc_alloc(size);
		if (e) {
			e->hash = h;
			e->n = n;
			e->id = atomic_load_explicit(&S.last_id, memory_order_relaxed) + 1;
			memcpy(e->pc, pc, n * sizeof(*pc));
			if (publish_id(e)) {
				struct entry *_Atomic *slot = e->id <= SMALL_MAX
								      ? &first.small[h & (SMALL_BUCKETS - 1)]
								      : &bucket_table[h & (NBUCKETS - 1)];
				atomic_store_explicit(&e->next,
						      atomic_load_explicit(slot, memory_order_relaxed),
						      memory_order_relaxed);
				atomic_store_explicit(slot, e, memory_order_release);
				atomic_store_explicit(&S.last_id, e->id, memory_order_release);
				atomic_fetch_add_explicit(&S.count, 1, memory_order_relaxed);
				atomic_fetch_add_explicit(&S.bytes, size, memory_order_relaxed);
				id = e->id;
			} else {
				rc_free(e);
			}
		}
	}
	rc_spin_unlock(&S.lock);
	return id;
}

unsigned
rc_stack_frames(uint32_t id, const uintptr_t **pc)
{
	unsigned c = id >> ID_CHUNK_BITS;
	if (id == 0 || c >= ID_CHUNKS) {
		return 0;
	}
	struct entry *e;
	if (id < FIRST_IDS) {
		e = atomic_load_explicit(&first.ids[id], memory_order_acquire);
	} else {
		struct entry *_Atomic *chunk =
			c == 0 ? id_chunk0 : atomic_load_explicit(&id_dir[c], memory_order_acquire);
		e = chunk ? atomic_load_explicit(&chunk[id & (ID_CHUNK - 1)], memory_order_acquire)
			  : NULL;
	}
	if (!e) {
		return 0;
	}
	*pc = e->pc;
	return e->n;
}

/* --- loading libunwind ------------------------------------------------------ */

static void
load(void)
{
	typedef int (*policy_fn)(unw_addr_space_t, unw_caching_policy_t);
	int saved_errno = errno;

	rc_guard++; /* the loader's allocations are not the program's */
	in_unwinder++;
	void *h = dlopen(UNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
	int (*bt)(void **, int) = NULL;
	policy_fn policy = NULL;
	unw_addr_space_t *as = NULL;
	if (h) {
		bt = (int (*)(void **, int))dlsym(h, NAME(unw_backtrace));
		policy = (policy_fn)dlsym(h, NAME(unw_set_caching_policy));
		as = (unw_addr_space_t *)dlsym(h, NAME(unw_local_addr_space));
	}
	unsigned state = UNW_FAILED;
	if (bt && policy && as) {
		/* Per-thread caches: no lock shared between unwinding
		 * threads (heaptrack does the same). */
		policy(*as, UNW_CACHE_PER_THREAD);
		S.getcontext = (int (*)(unw_context_t *))dlsym(h, NAME(unw_tdep_getcontext));
		S.init_local = (int (*)(unw_cursor_t *, unw_context_t *))dlsym(h, NAME(unw_init_local));
		S.step = (int (*)(unw_cursor_t *))dlsym(h, NAME(unw_step));
		S.get_reg = (int (*)(unw_cursor_t *, unw_regnum_t, unw_word_t *))dlsym(
			h, NAME(unw_get_reg));
		if (!S.getcontext || !S.init_local || !S.step || !S.get_reg) {
			S.getcontext = NULL; /* unw_backtrace always */
		}
		S.backtrace = bt;
		state = UNW_READY;
	} else {
		const char *why = dlerror();
		rc_debug("no allocation stacks beyond the call site: %s",
			 why ? why : UNWIND_SONAME " lacks unw_backtrace");
		if (h) {
			dlclose(h);
		}
	}
	in_unwinder--;
	rc_guard--;
	atomic_store_explicit(&S.unw, state, memory_order_release);
	rc_sys_futex(&S.unw, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
	errno = saved_errno;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits while a load is in progress on another thread (bounded: this
 * thread may hold the loader lock that load needs); the state it ends
 * with. */
static unsigned
wait_loaded(void)
{
	unsigned st = atomic_load_explicit(&S.unw, memory_order_acquire);
	if (gave_up || st != UNW_LOADING) {
		return st;
	}
	int saved_errno = errno;
	uint64_t end = now_ns() + RC_STACK_LOAD_WAIT_MS * 1000000ull;
	while (st == UNW_LOADING) {
		uint64_t t = now_ns();
		if (t >= end) {
			gave_up = true;
			break;
		}
		struct timespec rel = { (time_t)((end - t) / 1000000000u),
					(long)((end - t) % 1000000000u) };
		rc_sys_futex(&S.unw, FUTEX_WAIT_PRIVATE, (int)st, &rel);
		st = atomic_load_explicit(&S.unw, memory_order_acquire);
	}
	errno = saved_errno;
	return st;
}

bool
rc_stack_load(void)
{
	unsigned st = atomic_load_explicit(&S.unw, memory_order_acquire);
	while (st == UNW_IDLE) {
		if (atomic_compare_exchange_weak(&S.unw, &st, UNW_LOADING)) {
			load();
			st = atomic_load_explicit(&S.unw, memory_order_acquire);
		}
	}
	if (st == UNW_LOADING) {
		st = wait_loaded();
	}
	return st == UNW_READY;
}

void
rc_stack_malloc_hooked(void)
{
	atomic_store(&S.malloc_hooked, true);
}

void
rc_stack_set_system(const uintptr_t (*ranges)[2], unsigned n)
{
	S.nsystem = 0;
	for (unsigned i = 0; i < n && i < MAX_SYSTEM_RANGES; i++) {
		S.system[i][0] = ranges[i][0];
		S.system[i][1] = ranges[i][1];
		S.nsystem++;
	}
}

/* Whether a capture inside malloc, for a block allocated at @site, may
 * open libunwind itself.  Only where nothing can hold the loader's locks
 * against it: a single-threaded process (no other thread can be inside
 * dlopen, or in a library constructor waiting for a lock the program
 * holds here), a call from the program rather than from the loader (which
 * allocates in the middle of its own updates) or the C library (which may
 * hold a lock of its own), not from the shim's own signal-handler work,
 * and not in a child that shares this memory (vfork). */
static bool
may_load_in_malloc(const void *site)
{
	if (!site || !__libc_single_threaded || rc_self.signal_safe || rc_self.locks) {
		return false;
	}
	for (unsigned i = 0; i < S.nsystem; i++) {
		if ((uintptr_t)site >= S.system[i][0] && (uintptr_t)site < S.system[i][1]) {
			return false;
		}
	}
	if (S.self_hi && (uintptr_t)site >= S.self_lo && (uintptr_t)site < S.self_hi) {
		return false;
	}
	return rc_own_process();
}

/* Whether stacks can be unwound now: waits for a load in progress, or
 * loads here if @may_load and nobody has tried. */
static inline bool
unwinder(bool may_load)
{
	unsigned st = atomic_load_explicit(&S.unw, memory_order_acquire);
	if (__builtin_expect(st == UNW_READY, 1)) {
		return true;
	}
	if (st == UNW_IDLE) {
		return may_load && rc_stack_load();
	}
	return wait_loaded() == UNW_READY;
}

/* --- capturing ---------------------------------------------------------------- */

enum capture { CAPTURED, NOTHING, NO_UNWINDER };

/* A process's first captures are walked by the shim's own walker
 * (core/unwind.h), which needs no library: a process that takes a stack
 * or two (a temp file's record in mktemp, a heap sample in sort) never
 * opens libunwind.  It walks the main thread's stack only; other stacks
 * are libunwind's, as before it.  Past OWN_FIRST captures, libunwind is
 * opened where that is safe, and unw_backtrace takes over: its
 * per-thread cache of frame shapes makes a walk far cheaper once warm.
 * Where libunwind is not there (not loaded yet, absent), the own walker
 * goes on. */
#define OWN_FIRST 32

/* When the own walker stops at something it does not handle, libunwind
 * walks with its cursor (unw_step) for a process's first STEP_FIRST
 * captures, then with unw_backtrace: that one sets up its cache at its
 * first call, 256 KB mapped and written entry by entry, 64 page faults
 * (on the development VMs about a millisecond). */
#define STEP_FIRST 32

/* The frames from the entry point up, as unw_backtrace gives them (inlined
 * into capture and so into the entry point: the context is the entry
 * point's, its frame 0). */
static inline __attribute__((always_inline)) int
step_trace(void **buf, int max)
{
	unw_context_t uc;
	unw_cursor_t c;
	int n = 0;
	if (S.getcontext(&uc) != 0 || S.init_local(&c, &uc) != 0) {
		return 0;
	}
	do {
		unw_word_t ip;
		if (S.get_reg(&c, UNW_REG_IP, &ip) < 0 || ip == 0) {
			break;
		}
		buf[n++] = (void *)(uintptr_t)ip;
	} while (n < max && S.step(&c) > 0);
	return n;
}

/* Inlined into each entry point: unw_backtrace's frame 0 is then the entry
 * point itself, always skipped. */
static inline __attribute__((always_inline)) enum capture
capture(unsigned depth, bool may_load, uint32_t *id)
{
	void *buf[RC_STACK_MAX_DEPTH + SELF_SLACK + 1];

	*id = 0;
	if (depth == 0) {
		return NOTHING;
	}
	if (depth > RC_STACK_MAX_DEPTH) {
		depth = RC_STACK_MAX_DEPTH;
	}
	if (atomic_load_explicit(&S.forking, memory_order_acquire)) {
		return NOTHING;
	}
	int n = 0;
	int max = (int)(depth + SELF_SLACK + 1);
	unsigned k = atomic_fetch_add_explicit(&S.captures, 1, memory_order_relaxed);
	unsigned st = atomic_load_explicit(&S.unw, memory_order_acquire);
	if (k >= OWN_FIRST && st == UNW_IDLE && may_load) {
		st = rc_stack_load() ? UNW_READY : UNW_FAILED;
	}
	if (RC_UNW_AVAILABLE && !S.no_own && (k < OWN_FIRST || st != UNW_READY)) {
		struct rc_unw_regs regs;
		bool complete;
		RC_UNW_HERE(&regs);
		n = rc_unwind(&regs, (uintptr_t *)buf, max, &complete);
		if (complete) {
			goto got;
		}
	}
	/* Before counting as an unwinder: a fork does not wait for this. */
	if (!unwinder(may_load)) {
		if (n > 1) {
			goto got; /* the own walker's frames, as far as it went */
		}
		return NO_UNWINDER;
	}
	/* Counted as an unwinder (maybe inside the loader's lock): a fork
	 * from a handler on this thread must not wait for it, so the count
	 * lies wholly inside the critical section (core/lock.h); a handler
	 * that came between the two once waited for its own thread. */
	rc_crit_enter();
	atomic_fetch_add(&S.unwinders, 1);
	if (atomic_load(&S.forking)) {
		atomic_fetch_sub(&S.unwinders, 1);
		rc_crit_leave();
		return NOTHING;
	}
	in_unwinder++;
	/* Over the own walker's frames: libunwind goes on where that one
	 * stopped (it checks each page it reads, and guesses along frame
	 * pointers where a frame has no unwind information). */
	n = S.getcontext && atomic_fetch_add_explicit(&S.steps, 1, memory_order_relaxed) < STEP_FIRST
		    ? step_trace(buf, max)
		    : S.backtrace(buf, max);
	in_unwinder--;
	atomic_fetch_sub(&S.unwinders, 1);
	rc_crit_leave();
got:

	/* buf[0] is the entry point; then the shim's own frames, if known. */
	int skip = 1;
	while (skip < n && S.self_hi && (uintptr_t)buf[skip] >= S.self_lo &&
	       (uintptr_t)buf[skip] < S.self_hi) {
		skip++;
	}
	n -= skip;
	if (n <= 0) {
		return NOTHING;
	}
	if ((unsigned)n > depth) {
		n = (int)depth;
	}
	*id = rc_stack_intern((const uintptr_t *)(buf + skip), (unsigned)n);
	return CAPTURED;
}

/* The first return address outside the shim, along the frame-pointer
 * chain from @fp (a frame of the shim's): the shim is built with frame
 * pointers, and between a tracking call and the program's call site there
 * are only the shim's frames.  Each step must go up the stack, a little:
 * a chain that does not is not followed.  Without the shim's bounds (the
 * core linked directly), the caller of @fp's function. */
__attribute__((no_sanitize("address"))) static uintptr_t
program_pc(const uintptr_t *fp)
{
	uintptr_t pc = fp[1];
	for (int i = 0; i < 64; i++) {
		if (!S.self_hi || pc < S.self_lo || pc >= S.self_hi) {
			return pc;
		}
		const uintptr_t *up = (const uintptr_t *)fp[0];
		if (up <= fp || (uintptr_t)up - (uintptr_t)fp > (1u << 20) ||
		    ((uintptr_t)up & (sizeof(void *) - 1))) {
			break;
		}
		fp = up;
		pc = fp[1];
	}
	return 0;
}

uint32_t
rc_stack_capture(unsigned depth)
{
	uint32_t id;
	if (capture(depth, true, &id) == NO_UNWINDER) {
		uintptr_t pc = program_pc(__builtin_frame_address(0));
		id = pc ? rc_stack_intern(&pc, 1) : 0;
	}
	return id;
}

uint32_t
rc_stack_capture_alloc(unsigned depth, const void *site)
{
	uint32_t id;
	bool may_load = !atomic_load_explicit(&S.malloc_hooked, memory_order_relaxed);
	if (!may_load && depth &&
	    atomic_load_explicit(&S.unw, memory_order_relaxed) == UNW_IDLE) {
		may_load = may_load_in_malloc(site);
	}
	if (capture(depth, may_load, &id) == NO_UNWINDER && site) {
		/* The call site alone: the function and line that allocated. */
		uintptr_t pc = (uintptr_t)site;
		id = rc_stack_intern(&pc, 1);
	}
	return id;
}

void
rc_stack_own_walker(bool on)
{
	S.no_own = !on;
}

void
rc_stack_before_threads(void)
{
	if (__libc_single_threaded && atomic_load(&S.malloc_hooked) &&
	    atomic_load_explicit(&S.unw, memory_order_relaxed) == UNW_IDLE && rc_own_process()) {
		rc_stack_load();
	}
}

/* Call site -> stack id (site_table), direct-mapped; an entry is only a
 * hint, checked against the stack's own first frame, so racing writers
 * need no lock. */

/* A fork child's first call sites are recorded alone, not walked: a shell
 * forks a child per command, which sets up its redirections and execs,
 * and the child's records end with its image.  Its parent's table of
 * sites, which it inherits, never learns those sites (only the children
 * open there), so each child would walk them again, reading the program's
 * and the C library's unwind tables anew: about eight page faults a
 * child.  A child that goes on opening past these is walked as usual. */
#define FORK_SHALLOW 8

/* The walk behind a site's first acquisition, apart from rc_stack_site
 * so that the lookup's frame is small: capture's buffers are 3 KiB of
 * stack, and a frame that size reaches a stack page the program may never
 * have touched (in a shell's fork child, a copy-on-write fault for a
 * lookup that walks nothing). */
static __attribute__((noinline)) uint32_t
site_walk(uintptr_t pc, unsigned depth, _Atomic uint32_t *slot)
{
	const uintptr_t *frames;
	uint32_t id;
	/* The heap sampler calls this too (blocks allocated in a scope). */
	enum capture got = capture(depth, !atomic_load_explicit(&S.malloc_hooked, memory_order_relaxed),
				   &id);
	if (!id || !rc_stack_frames(id, &frames) || frames[0] != pc) {
		/* Unwinding failed or disagrees: the call site alone. */
		id = rc_stack_intern(&pc, 1);
	}
	/* Without libunwind the site is not settled: unwound once it is. */
	if (got != NO_UNWINDER) {
		atomic_store_explicit(slot, id, memory_order_relaxed);
	}
	return id;
}

static inline __attribute__((always_inline)) uint32_t
site(uintptr_t pc, unsigned depth, bool lazy)
{
	if (depth == 0 || pc == 0) {
		return 0;
	}
	_Atomic uint32_t *slot = &site_table[SITE_OF(pc)];
	uint32_t id = atomic_load_explicit(slot, memory_order_relaxed);
	const uintptr_t *frames;
	if (id && rc_stack_frames(id, &frames) && frames[0] == pc) {
		return id;
	}
	unsigned shallow = atomic_load_explicit(&S.fork_shallow, memory_order_relaxed);
	if (shallow) {
		atomic_store_explicit(&S.fork_shallow, shallow - 1, memory_order_relaxed);
		return lazy ? 0 : rc_stack_intern(&pc, 1);
	}
	return site_walk(pc, depth, slot);
}

uint32_t
rc_stack_site(uintptr_t pc, unsigned depth)
{
	return site(pc, depth, false);
}

uint32_t
rc_stack_site_lazy(uintptr_t pc, unsigned depth)
{
	return site(pc, depth, true);
}

size_t
rc_stack_count(void)
{
	return atomic_load_explicit(&S.count, memory_order_relaxed);
}

size_t
rc_stack_memory(void)
{
	return atomic_load_explicit(&S.bytes, memory_order_relaxed) +
	       (atomic_load_explicit(&S.count, memory_order_relaxed) ? sizeof(first) : 0) +
	       (atomic_load_explicit(&S.count, memory_order_relaxed) > SMALL_MAX
			? sizeof(bucket_table)
			: 0);
}

void
rc_stack_set_self(uintptr_t lo, uintptr_t hi)
{
	S.self_lo = lo;
	S.self_hi = hi;
}

void
rc_stack_fork_wait_load(void)
{
	wait_loaded();
}

void
rc_stack_fork_prepare(void)
{
	atomic_store(&S.forking, true);
	while (atomic_load(&S.unwinders) > 0) {
		rc_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
	}
	rc_spin_lock(&S.lock);
}

void
rc_stack_fork_parent(void)
{
	rc_spin_unlock(&S.lock);
	atomic_store(&S.forking, false);
}

void
rc_stack_fork_child(void)
{
	rc_spin_unlock(&S.lock); /* taken in rc_stack_fork_prepare */
	rc_stack_fork_child_reset();
}

/* Written only where it differs (a fork child copies each page it
 * writes). */
void
rc_stack_fork_child_reset(void)
{
	if (atomic_load(&S.unwinders)) {
		atomic_store(&S.unwinders, 0);
	}
	/* A load in progress in the parent is made by a thread the child
	 * does not have: nobody would end it. */
	if (atomic_load(&S.unw) == UNW_LOADING) {
		atomic_store(&S.unw, UNW_IDLE);
	}
	if (gave_up) {
		gave_up = false;
	}
	atomic_store_explicit(&S.fork_shallow, FORK_SHALLOW, memory_order_relaxed);
	if (atomic_load(&S.forking)) {
		atomic_store(&S.forking, false);
	}
}
