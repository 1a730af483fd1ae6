/* Capturing and interning stacks: the only file that knows libunwind. */
#include "build-config.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <stdatomic.h>
#include <string.h>

#include "core/arena.h"
#include "core/lock.h"
#include "core/stack.h"

#define NBUCKETS (1u << 14)
#define ID_CHUNK_BITS 12
#define ID_CHUNK (1u << ID_CHUNK_BITS)
#define ID_CHUNKS 1024 /* 4 M distinct stacks at most */
/* Frames unw_backtrace may return above the program's: the shim's own
 * (interposer, tracking core, this file). */
#define SELF_SLACK 8

struct entry {
	struct entry *_Atomic next;
	uint64_t hash;
	uint32_t id;
	uint32_t n;
	uintptr_t pc[];
};

static struct {
	struct rc_spinlock lock;
	struct entry *_Atomic *_Atomic buckets;
	struct entry *_Atomic *_Atomic ids[ID_CHUNKS];
	atomic_uint next_id;
	atomic_size_t count, bytes;
	uintptr_t self_lo, self_hi;
	atomic_int unwinders;
	atomic_bool forking;
	atomic_bool policy_set;
} S = { .next_id = 1 };

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

static struct entry *_Atomic *
buckets(bool create)
{
	struct entry *_Atomic *b = atomic_load_explicit(&S.buckets, memory_order_acquire);
	if (!b && create) {
		/* Large enough to be mapped on its own: untouched buckets cost
		 * no resident memory. */
		struct entry *_Atomic *fresh = rc_alloc(NBUCKETS * sizeof(*fresh));
		if (!fresh) {
			return NULL;
		}
		struct entry *_Atomic *expected = NULL;
		if (atomic_compare_exchange_strong(&S.buckets, &expected, fresh)) {
			b = fresh;
		} else {
			rc_free(fresh);
			b = expected;
		}
	}
	return b;
}

static struct entry *
find(struct entry *_Atomic *b, uint64_t h, const uintptr_t *pc, unsigned n)
{
	for (struct entry *e = atomic_load_explicit(&b[h & (NBUCKETS - 1)], memory_order_acquire);
	     e; e = atomic_load_explicit(&e->next, memory_order_acquire)) {
		if (e->hash == h && e->n == n && memcmp(e->pc, pc, n * sizeof(*pc)) == 0) {
			return e;
		}
	}
	return NULL;
}

static bool
publish_id(struct entry *e)
{
	unsigned c = e->id >> ID_CHUNK_BITS;
	if (c >= ID_CHUNKS) {
		return false;
	}
	struct entry *_Atomic *chunk = atomic_load_explicit(&S.ids[c], memory_order_acquire);
	if (!chunk) {
		chunk = rc_alloc(ID_CHUNK * sizeof(*chunk));
		if (!chunk) {
			return false;
		}
		atomic_store_explicit(&S.ids[c], chunk, memory_order_release);
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
	struct entry *_Atomic *b = buckets(true);
	if (!b) {
		return 0;
	}
	struct entry *e = find(b, h, pc, n);
	if (e) {
		return e->id;
	}

	uint32_t id = 0;
	rc_spin_lock(&S.lock);
	e = find(b, h, pc, n);
	if (e) {
		id = e->id;
	} else {
		size_t size = sizeof(*e) + n * sizeof(*pc);
		e = rc_alloc(size);
		if (e) {
			e->hash = h;
			e->n = n;
			e->id = atomic_load_explicit(&S.next_id, memory_order_relaxed);
			memcpy(e->pc, pc, n * sizeof(*pc));
			if (publish_id(e)) {
				struct entry *_Atomic *slot = &b[h & (NBUCKETS - 1)];
				atomic_store_explicit(&e->next,
						      atomic_load_explicit(slot, memory_order_relaxed),
						      memory_order_relaxed);
				atomic_store_explicit(slot, e, memory_order_release);
				atomic_store_explicit(&S.next_id, e->id + 1, memory_order_relaxed);
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
	struct entry *_Atomic *chunk = atomic_load_explicit(&S.ids[c], memory_order_acquire);
	struct entry *e = chunk ? atomic_load_explicit(&chunk[id & (ID_CHUNK - 1)],
						       memory_order_acquire) : NULL;
	if (!e) {
		return 0;
	}
	*pc = e->pc;
	return e->n;
}

uint32_t
rc_stack_capture(unsigned depth)
{
	void *buf[RC_STACK_MAX_DEPTH + SELF_SLACK + 1];

	if (depth == 0) {
		return 0;
	}
	if (depth > RC_STACK_MAX_DEPTH) {
		depth = RC_STACK_MAX_DEPTH;
	}
	if (atomic_load_explicit(&S.forking, memory_order_acquire)) {
		return 0;
	}
	atomic_fetch_add(&S.unwinders, 1);
	if (atomic_load(&S.forking)) {
		atomic_fetch_sub(&S.unwinders, 1);
		return 0;
	}
	if (!atomic_load_explicit(&S.policy_set, memory_order_relaxed)) {
		/* Per-thread caches: no lock shared between unwinding
		 * threads (heaptrack does the same). */
		unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
		atomic_store_explicit(&S.policy_set, true, memory_order_relaxed);
	}
	int n = unw_backtrace(buf, (int)(depth + SELF_SLACK + 1));
	atomic_fetch_sub(&S.unwinders, 1);

	/* buf[0] is this function; then the shim's own frames, if known. */
	int skip = 1;
	while (skip < n && S.self_hi && (uintptr_t)buf[skip] >= S.self_lo &&
	       (uintptr_t)buf[skip] < S.self_hi) {
		skip++;
	}
	n -= skip;
	if (n <= 0) {
		return 0;
	}
	if ((unsigned)n > depth) {
		n = (int)depth;
	}
	return rc_stack_intern((const uintptr_t *)(buf + skip), (unsigned)n);
}

/* Call site -> stack id, direct-mapped; an entry is only a hint, checked
 * against the stack's own first frame, so racing writers need no lock. */
#define SITES 4096
static _Atomic uint32_t sites[SITES];

uint32_t
rc_stack_site(uintptr_t pc, unsigned depth)
{
	if (depth == 0 || pc == 0) {
		return 0;
	}
	_Atomic uint32_t *slot = &sites[(pc * 0x9e3779b97f4a7c15ull) >> 52];
	uint32_t id = atomic_load_explicit(slot, memory_order_relaxed);
	const uintptr_t *frames;
	if (id && rc_stack_frames(id, &frames) && frames[0] == pc) {
		return id;
	}
	id = rc_stack_capture(depth);
	if (!id || !rc_stack_frames(id, &frames) || frames[0] != pc) {
		/* Unwinding failed or disagrees: the call site alone. */
		id = rc_stack_intern(&pc, 1);
	}
	atomic_store_explicit(slot, id, memory_order_relaxed);
	return id;
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
	       (atomic_load(&S.buckets) ? NBUCKETS * sizeof(void *) : 0);
}

void
rc_stack_set_self(uintptr_t lo, uintptr_t hi)
{
	S.self_lo = lo;
	S.self_hi = hi;
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
	rc_spin_reset(&S.lock);
	atomic_store(&S.unwinders, 0);
	atomic_store(&S.forking, false);
}
