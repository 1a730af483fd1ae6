/* Heap accounting: the per-thread counters and their list, the records
 * (samples, scopes' blocks, the shim's own), side blocks, and the summary
 * the report shows.  The hot path is inline in heap.h and in the
 * interposer; everything here runs once per thread, once per sample, or
 * on the general path. */
#include "build-config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/arena.h"
#include "core/heap.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/scope.h"
#include "core/stack.h"
#include "core/state.h"
#include "core/sys.h"

bool rc_heap_exact RC_HOT;
/* Whether the fast paths may read the allocator's chunk headers. */
static bool direct;

/* Opens or closes the calling thread's fast paths after a change to its
 * state, its scope, the configuration or the allocator. */
static void
refresh_gate(void)
{
	if (rc_self.heap.state != RC_HEAP_T_ACTIVE || !direct) {
		rc_self.free_off = 1;
		rc_self.alloc_off = 1;
	} else if (rc_heap_exact) {
		rc_self.free_off = RC_HEAP_FREE_EXACT;
		rc_self.alloc_off = rc_scope_cur ? 1 : RC_HEAP_ALLOC_EXACT;
	} else {
		rc_self.free_off = 0;
		rc_self.alloc_off = rc_scope_cur ? 1 : 0;
	}
}

void
rc_heap_refresh_gate(void)
{
	refresh_gate();
}

void
rc_heap_set_direct(bool on)
{
	direct = on;
	refresh_gate();
}

void
rc_heap_set_exact(bool on)
{
	rc_heap_exact = on;
	refresh_gate();
}

/* The filter in front of the table: one counter per hash of an address,
 * the number of records whose address hashes there.  Read without the
 * lock by frees of large blocks; a record is counted before its block is
 * handed out, so a thread that got the block from the program sees it. */
#define FILTER_BITS 12
static _Atomic uint32_t filter[1u << FILTER_BITS] RC_COLD_BSS;

static inline size_t
filter_of(uintptr_t p)
{
	return (size_t)(((uint64_t)(p >> 4) * 0x9e3779b97f4a7c15ull) >> (64 - FILTER_BITS));
}

static struct {
	/* Counts of threads that have exited, and of blocks freed by a
	 * thread after its own counters were folded. */
	_Atomic int64_t blocks, charged, slack;
	struct rc_spinlock tlock;
	struct rc_heap_thread *threads;
	pthread_key_t key;
	atomic_int key_state; /* 0 none, 1 creating, 2 ready */

	size_t interval;      /* RCSHIM_HEAP_SAMPLE */
	unsigned depth;       /* RCSHIM_STACK_DEPTH */
	bool sampling;        /* configured: samples are taken */
	char inactive[160];   /* why interposition is not active */

	struct rc_spinlock slock;
	struct rc_heap_rec **buckets;
	size_t nbuckets, nrecords;
	/* The records the filter counts, read without the lock: while it is
	 * 0, a free looks no further.  Most processes never hold a record,
	 * and the filter's 16 KiB, read at the hashes of the large blocks
	 * they free, cost them a page fault per page. */
	_Atomic size_t filtered;
	/* Statistical samples: their number, usable and requested bytes. */
	size_t nsamples;
	uint64_t sample_bytes, sample_requested;
} G = { .interval = RC_DEFAULT_HEAP_SAMPLE, .depth = RC_DEFAULT_STACK_DEPTH };

/* --- sampling intervals ---------------------------------------------------- */

static uint64_t
next_random(struct rc_heap_thread *t)
{
	uint64_t x = t->rng;
	if (x == 0) {
		/* Seeded from the thread's address and the clock counter:
		 * threads differ, runs differ. */
		x = (uint64_t)(uintptr_t)t * 0x9e3779b97f4a7c15ull ^ __builtin_ia32_rdtsc();
		x |= 1;
	}
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	t->rng = x;
	return x;
}

/* ln(u) for u in (0, 1], without libm (whose loading is start-up time):
 * u = m * 2^e with m in [1, 2); ln m = 2 atanh(s), s = (m-1)/(m+1) <= 1/3,
 * by its series to s^11 (absolute error below 2e-7, far finer than a
 * sampling interval needs). */
static double
ln_unit(double u)
{
	uint64_t bits;
	memcpy(&bits, &u, sizeof(bits));
	int e = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & ((1ull << 52) - 1)) | (1023ull << 52);
	double m;
	memcpy(&m, &bits, sizeof(m));
	double s = (m - 1) / (m + 1), s2 = s * s;
	double ln_m = 2 * s * (1 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 / 11)))));
	return e * 0.69314718055994530942 + ln_m;
}

/* Bytes until the next sample: exponentially distributed with mean
 * interval, so each byte allocated is equally likely to be sampled (a
 * Poisson process over bytes, as tcmalloc and Go's profiler do).  An
 * interval of 1 samples every allocation. */
static int64_t
next_interval(struct rc_heap_thread *t)
{
	size_t s = G.interval;
	if (s <= 1) {
		return 0;
	}
	double u = (double)((next_random(t) >> 11) + 1) * 0x1.0p-53; /* (0, 1] */
	double x = -ln_unit(u) * (double)s;
	if (x < 1) {
		x = 1;
	} else if (x > 64.0 * (double)s) {
		x = 64.0 * (double)s;
	}
	return (int64_t)x;
}

/* Sets the countdown of the calling thread to @next without changing its
 * live bytes (base - countdown): both move, inside the sequence count. */
static void
set_countdown(struct rc_heap_thread *t, int64_t next)
{
	unsigned s = atomic_load_explicit(&t->seq, memory_order_relaxed);
	atomic_store_explicit(&t->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	int64_t cd = atomic_load_explicit(&t->countdown, memory_order_relaxed);
	atomic_store_explicit(&t->base,
			      atomic_load_explicit(&t->base, memory_order_relaxed) + (next - cd),
			      memory_order_relaxed);
	atomic_store_explicit(&t->countdown, next, memory_order_relaxed);
	atomic_store_explicit(&t->seq, s + 2, memory_order_release);
}

/* A thread's live blocks, charged bytes and slack, read consistently
 * with the owner's set_countdown. */
static void
read_thread(struct rc_heap_thread *t, int64_t *blocks, int64_t *charged, int64_t *slack)
{
	/* The owner's update is a few stores; a reader that interrupted it
	 * (a report asked for from a signal handler on that thread) would
	 * wait for good: after a while it takes what it sees. */
	for (unsigned tries = 0;; tries++) {
		unsigned s = atomic_load_explicit(&t->seq, memory_order_acquire);
		int64_t base = atomic_load_explicit(&t->base, memory_order_relaxed);
		int64_t cd = atomic_load_explicit(&t->countdown, memory_order_relaxed);
		*blocks = atomic_load_explicit(&t->blocks, memory_order_relaxed);
		*slack = atomic_load_explicit(&t->slack, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		*charged = base - cd;
		if ((!(s & 1) && atomic_load_explicit(&t->seq, memory_order_relaxed) == s) ||
		    tries >= 100000) {
			return;
		}
		if (tries > 64) {
			rc_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
		} else {
			__builtin_ia32_pause();
		}
	}
}

/* --- threads --------------------------------------------------------------- */

static void
key_destructor(void *arg)
{
	(void)arg;
	rc_heap_thread_exit();
}

void
rc_heap_thread_register(void)
{
	struct rc_heap_thread *t = &rc_heap_self;
	int saved_errno = errno;

	if (t->state != RC_HEAP_T_NEW) {
		return;
	}
	rc_guard++;
	int expected = 0;
	if (atomic_compare_exchange_strong(&G.key_state, &expected, 1)) {
		atomic_store(&G.key_state,
			     pthread_key_create(&G.key, key_destructor) == 0 ? 2 : 0);
	}
	rc_spin_lock(&G.tlock);
	/* A thread whose exit was not seen (it ended before the key
	 * existed) may have left its node here, at this very address, now
	 * reused: keep the node once. */
	bool listed = false;
	for (struct rc_heap_thread *n = G.threads; n; n = n->next) {
		if (n == t) {
			listed = true;
			break;
		}
	}
	if (!listed) {
		t->next = G.threads;
		G.threads = t;
	}
	/* The TLS image zeroes the counters; a thread that counted into
	 * them before (the main thread, on the general path) keeps its
	 * counts. */
	set_countdown(t, G.sampling ? next_interval(t) : (int64_t)RC_DEFAULT_HEAP_SAMPLE);
	t->state = RC_HEAP_T_ACTIVE;
	refresh_gate();
	rc_spin_unlock(&G.tlock);
	if (atomic_load(&G.key_state) == 2) {
		pthread_setspecific(G.key, t);
	}
	rc_guard--;
	errno = saved_errno;
}

static void
unlink_thread(struct rc_heap_thread *t)
{
	for (struct rc_heap_thread **pp = &G.threads; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->next = NULL;
}

/* Adds thread @t's counts to the process totals and zeroes them.  Under
 * G.tlock, @t quiet (the calling thread, or one that no longer exists). */
static void
fold(struct rc_heap_thread *t)
{
	int64_t b, c, r;
	read_thread(t, &b, &c, &r);
	atomic_fetch_add(&G.blocks, b);
	atomic_fetch_add(&G.charged, c);
	atomic_fetch_add(&G.slack, r);
	atomic_store_explicit(&t->blocks, 0, memory_order_relaxed);
	atomic_store_explicit(&t->base, atomic_load(&t->countdown), memory_order_relaxed);
	atomic_store_explicit(&t->slack, 0, memory_order_relaxed);
}

void
rc_heap_thread_exit(void)
{
	struct rc_heap_thread *t = &rc_heap_self;
	if (t->state != RC_HEAP_T_ACTIVE) {
		return;
	}
	rc_spin_lock(&G.tlock);
	unlink_thread(t);
	fold(t);
	/* What this thread frees from now on (later destructors, its TLS
	 * teardown) goes to the process totals. */
	t->state = RC_HEAP_T_EXITED;
	refresh_gate();
	rc_spin_unlock(&G.tlock);
}

/* --- counting on the general paths ------------------------------------------ */

static bool
count(int64_t blocks, int64_t alloc, int64_t gone, int64_t slack)
{
	struct rc_heap_thread *t = &rc_heap_self;

	/* Not in a vfork child (preload/heap.c, shared_block): registering
	 * takes the thread list's lock, which a thread of the parent's may
	 * hold; the process totals take its counts instead. */
	if (t->state == RC_HEAP_T_NEW && !rc_self.vfork) {
		rc_heap_thread_register();
	}
	if (t->state != RC_HEAP_T_ACTIVE) {
		atomic_fetch_add(&G.blocks, blocks);
		atomic_fetch_add(&G.charged, alloc - gone);
		atomic_fetch_add(&G.slack, slack);
		return false;
	}
	rc_heap_add(&t->blocks, blocks);
	rc_heap_add(&t->base, -gone);
	rc_heap_add(&t->slack, slack);
	return alloc > 0 && rc_heap_charge_due(t, (size_t)alloc) && rc_heap_due();
}

bool
rc_heap_count_new(size_t n, size_t usable)
{
	return count(1, (int64_t)(usable + RC_HEAP_CHARGE_EXTRA), 0,
		     rc_heap_exact ? (int64_t)(usable - n) : 0);
}

void
rc_heap_count_gone(size_t n, size_t usable)
{
	count(-1, 0, (int64_t)(usable + RC_HEAP_CHARGE_EXTRA),
	      rc_heap_exact ? -(int64_t)(usable - n) : 0);
}

bool
rc_heap_due(void)
{
	struct rc_heap_thread *t = &rc_heap_self;
	if (!G.sampling) {
		/* Before the configuration is known (allocations of the
		 * loader and of other constructors): nothing is sampled. */
		set_countdown(t, (int64_t)RC_DEFAULT_HEAP_SAMPLE);
		return false;
	}
	set_countdown(t, next_interval(t));
	return rc_guard == 0;
}

void
rc_heap_totals(int64_t *blocks, int64_t *bytes, int64_t *requested)
{
	rc_spin_lock(&G.tlock);
	int64_t b = atomic_load(&G.blocks), c = atomic_load(&G.charged),
		sl = atomic_load(&G.slack);
	for (struct rc_heap_thread *t = G.threads; t; t = t->next) {
		int64_t tb, tc, ts;
		read_thread(t, &tb, &tc, &ts);
		b += tb;
		c += tc;
		sl += ts;
	}
	rc_spin_unlock(&G.tlock);
	*blocks = b;
	*bytes = c - b * RC_HEAP_CHARGE_EXTRA;
	*requested = rc_heap_exact ? *bytes - sl : 0;
}

/* --- records ---------------------------------------------------------------- */

enum rc_heap_plan
rc_heap_plan(void)
{
	if (rc_guard) {
		return RC_HEAP_OWN;
	}
	return rc_scope_cur && G.sampling ? RC_HEAP_SCOPE : RC_HEAP_PLAIN;
}

uint32_t
rc_heap_sample_stack(const void *site)
{
	int saved_errno = errno;
	rc_guard++;
	uint32_t id = rc_stack_capture_alloc(G.depth, site);
	rc_guard--;
	errno = saved_errno;
	return id;
}

uint32_t
rc_heap_site_stack(const void *site)
{
	int saved_errno = errno;
	rc_guard++;
	uint32_t id = rc_stack_site((uintptr_t)site, G.depth);
	rc_guard--;
	errno = saved_errno;
	return id;
}

static size_t
bucket_of(uintptr_t p, size_t nb)
{
	uint64_t h = (uint64_t)p * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 20) & (nb - 1);
}

/* The buckets, doubled: allocated outside G.slock (whose holders take no
 * other lock: the fork handlers take it last), then swapped in. */
static void
grow(void)
{
	rc_spin_lock(&G.slock);
	size_t nb = G.nbuckets ? G.nbuckets * 2 : 1024;
	bool due = G.nrecords >= 2 * G.nbuckets;
	rc_spin_unlock(&G.slock);
	if (!due) {
		return;
	}
	struct rc_heap_rec **b = rc_alloc(nb * sizeof(*b)), **old = NULL;
	if (!b) {
		return;
	}
	rc_spin_lock(&G.slock);
	if (G.nbuckets * 2 == nb || (G.nbuckets == 0 && nb == 1024)) {
		for (size_t i = 0; i < G.nbuckets; i++) {
			struct rc_heap_rec *s = G.buckets[i];
			while (s) {
				struct rc_heap_rec *next = s->next;
				size_t k = bucket_of(s->p, nb);
				s->next = b[k];
				b[k] = s;
				s = next;
			}
		}
		old = G.buckets;
		G.buckets = b;
		G.nbuckets = nb;
		b = NULL;
	}
	rc_spin_unlock(&G.slock);
	rc_free(old);
	rc_free(b); /* another thread grew it meanwhile */
}

static void
recorded(const struct rc_heap_rec *r, int d)
{
	G.nrecords += (size_t)d;
	if (r->flags & RC_HEAP_REC_SAMPLE) {
		G.nsamples += (size_t)d;
		G.sample_bytes += (uint64_t)d * r->usable;
		G.sample_requested += (uint64_t)d * r->n;
	}
	atomic_fetch_add_explicit(&G.filtered, (size_t)d, memory_order_relaxed);
	atomic_fetch_add_explicit(&filter[filter_of(r->p)], (uint32_t)d, memory_order_relaxed);
}

/* Puts @r in the table: false when memory for the buckets ran out. */
static bool
insert(struct rc_heap_rec *r)
{
	int saved_errno = errno;
	grow();
	rc_spin_lock(&G.slock);
	if (!G.nbuckets) {
		rc_spin_unlock(&G.slock);
		errno = saved_errno;
		return false;
	}
	size_t k = bucket_of(r->p, G.nbuckets);
	r->next = G.buckets[k];
	G.buckets[k] = r;
	recorded(r, 1);
	rc_spin_unlock(&G.slock);
	errno = saved_errno;
	return true;
}

bool
rc_heap_record(void *p, size_t n, size_t usable, unsigned flags, uint32_t stack)
{
	struct rc_heap_rec *r = rc_alloc(sizeof(*r));
	if (!r) {
		return false;
	}
	*r = (struct rc_heap_rec){ .p = (uintptr_t)p, .n = n, .usable = usable, .stack = stack,
				   .scope = (flags & RC_HEAP_REC_SCOPE) ? rc_scope_cur : 0,
				   .flags = flags & ~RC_HEAP_REC_SIDE };
	if (!insert(r)) {
		rc_free(r);
		return false;
	}
	return true;
}

/* The three words before a side block: its record, a check word, and a
 * word that reads as the header of a mapped glibc chunk (flag 2). */
#define SIDE_MAGIC 0xa5c3f00d5eedb10cull
#define SIDE_HEAD (3 * sizeof(uintptr_t))

void *
rc_heap_side_alloc(size_t n, size_t usable, size_t align, unsigned flags, uint32_t stack,
		   bool zero)
{
	if (usable > ((size_t)1 << 40) || align > ((size_t)1 << 30)) {
		return NULL;
	}
	/* At least 16, and a power of two (memalign rounds the same way). */
	size_t a = 16;
	while (a < align) {
		a <<= 1;
	}
	align = a;
	size_t lead = (sizeof(struct rc_heap_rec) + SIDE_HEAD + 15) & ~(size_t)15;
	unsigned char *base = rc_alloc_raw(lead + (align - 16) + usable);
	if (!base) {
		return NULL;
	}
	uintptr_t p = ((uintptr_t)base + lead + align - 1) & ~(uintptr_t)(align - 1);
	if (zero) {
		memset((void *)p, 0, usable);
	}
	struct rc_heap_rec *r = (struct rc_heap_rec *)base;
	*r = (struct rc_heap_rec){ .p = p, .n = n, .usable = usable, .stack = stack,
				   .scope = (flags & RC_HEAP_REC_SCOPE) ? rc_scope_cur : 0,
				   .flags = flags | RC_HEAP_REC_SIDE, .storage = base };
	uintptr_t *w = (uintptr_t *)p;
	w[-3] = (uintptr_t)r;
	w[-2] = p ^ SIDE_MAGIC;
	w[-1] = ((usable + RC_HEAP_CHARGE_EXTRA) & ~(uintptr_t)7) | 2;
	/* The shim's own blocks are found by the words before them alone:
	 * they are made inside the unwinder and the loader, which must not
	 * wait for the table's lock (a fork holds it). */
	if (!(flags & RC_HEAP_REC_OWN) && !insert(r)) {
		rc_free(base);
		return NULL;
	}
	return (void *)p;
}

void
rc_heap_side_release(struct rc_heap_rec *r)
{
	rc_free(r->storage);
}

struct rc_heap_rec *
rc_heap_side_of(const void *p)
{
	const uintptr_t *w = p;
	if (w[-2] != ((uintptr_t)p ^ SIDE_MAGIC)) {
		return NULL;
	}
	struct rc_heap_rec *r = (struct rc_heap_rec *)w[-3];
	return r && r->p == (uintptr_t)p ? r : NULL;
}

bool
rc_heap_may_have(const void *p)
{
	/* Both counts are raised before a recorded block is handed out; the
	 * thread that frees it got it after, and sees them. */
	return atomic_load_explicit(&G.filtered, memory_order_relaxed) != 0 &&
	       atomic_load_explicit(&filter[filter_of((uintptr_t)p)], memory_order_relaxed) != 0;
}

/* The slot that points at the record of @p, or NULL.  Under G.slock. */
static struct rc_heap_rec **
slot_of(uintptr_t p)
{
	if (!G.nbuckets) {
		return NULL;
	}
	for (struct rc_heap_rec **pp = &G.buckets[bucket_of(p, G.nbuckets)]; *pp;
	     pp = &(*pp)->next) {
		if ((*pp)->p == p) {
			return pp;
		}
	}
	return NULL;
}

/* Frees the memory of record @r, taken out of the table. */
static void
release(struct rc_heap_rec *r)
{
	rc_free(r->flags & RC_HEAP_REC_SIDE ? r->storage : r);
}

bool
rc_heap_take(const void *p, struct rc_heap_rec *out)
{
	if (!rc_heap_may_have(p)) {
		return false;
	}
	int saved_errno = errno;
	rc_spin_lock(&G.slock);
	struct rc_heap_rec **pp = slot_of((uintptr_t)p), *r = NULL;
	if (pp) {
		r = *pp;
		*pp = r->next;
		recorded(r, -1);
	}
	rc_spin_unlock(&G.slock);
	if (r) {
		*out = *r;
		release(r);
	}
	errno = saved_errno;
	return r != NULL;
}

bool
rc_heap_find(const void *p, struct rc_heap_rec *out)
{
	if (!rc_heap_may_have(p)) {
		return false;
	}
	rc_spin_lock(&G.slock);
	struct rc_heap_rec **pp = slot_of((uintptr_t)p);
	if (pp) {
		*out = **pp;
	}
	rc_spin_unlock(&G.slock);
	return pp != NULL;
}

size_t
rc_heap_sample_count(void)
{
	rc_spin_lock(&G.slock);
	size_t n = G.nsamples;
	rc_spin_unlock(&G.slock);
	return n;
}

size_t
rc_heap_sample_memory(void)
{
	rc_spin_lock(&G.slock);
	/* Each record is a 64-byte arena block (in front of a side block,
	 * the block's own arena block holds it); plus the buckets. */
	size_t n = G.nrecords * 64 + G.nbuckets * sizeof(void *);
	rc_spin_unlock(&G.slock);
	return n;
}

size_t
rc_heap_sample_interval(void)
{
	return G.interval;
}

/* --- the summary --------------------------------------------------------- */

/* 1 - e^-x for x >= 0, without libm: the series where x is small
 * (where e^-x would cancel), else e^-x = 2^-k e^-r with r in [0, ln 2). */
static double
one_minus_exp_neg(double x)
{
	if (x < 0.5) {
		double term = x, sum = 0;
		for (int i = 1; i <= 14; i++) {
			sum += term;
			term *= -x / (i + 1);
		}
		return sum;
	}
	if (x > 700) {
		return 1.0;
	}
	int k = (int)(x / 0.69314718055994530942);
	double r = x - k * 0.69314718055994530942, term = 1, e = 0;
	for (int i = 1; i <= 16; i++) {
		e += term;
		term *= -r / i;
	}
	uint64_t bits = (uint64_t)(1023 - k) << 52;
	double scale;
	memcpy(&scale, &bits, sizeof(scale));
	return 1.0 - e * scale;
}

/* The weight of a sample charged @c bytes: the inverse of the chance that
 * an allocation charged that much is sampled. */
static double
inv_probability(uint64_t c)
{
	if (G.interval <= 1 || c == 0) {
		return 1.0;
	}
	double p = one_minus_exp_neg((double)c / (double)G.interval);
	return p > 0 ? 1.0 / p : 1.0;
}

static uint64_t
round_u64(double x)
{
	return x <= 0 ? 0 : (uint64_t)(x + 0.5);
}

/* The live samples by stack, largest estimated bytes first. */
static size_t
groups(struct rc_heap_group **out)
{
	*out = NULL;
	rc_spin_lock(&G.slock);
	if (!G.nsamples) {
		/* No table for none (the arena's first mapping, at the exit
		 * of every process that sampled nothing). */
		rc_spin_unlock(&G.slock);
		return 0;
	}
	size_t cap = 16;
	while (cap < 2 * (G.nsamples < 2 * rc_stack_count() + 2 ? G.nsamples
							    : 2 * rc_stack_count() + 2)) {
		cap *= 2;
	}
	struct rc_heap_group *tab = rc_alloc(cap * sizeof(*tab));
	size_t used = 0;
	if (!tab) {
		rc_spin_unlock(&G.slock);
		return 0;
	}
	/* Open addressing by stack id; id 0 (no stack) is kept as
	 * UINT32_MAX while aggregating. */
	for (size_t i = 0; i < G.nbuckets; i++) {
		for (struct rc_heap_rec *s = G.buckets[i]; s; s = s->next) {
			if (!(s->flags & RC_HEAP_REC_SAMPLE)) {
				continue; /* a scope's record, or the shim's own */
			}
			uint32_t key = s->stack ? s->stack : UINT32_MAX;
			size_t k = (size_t)(key * 2654435761u) & (cap - 1);
			while (tab[k].stack && tab[k].stack != key) {
				k = (k + 1) & (cap - 1);
			}
			if (!tab[k].stack) {
				tab[k].stack = key;
				used++;
			}
			double w = inv_probability(s->usable + RC_HEAP_CHARGE_EXTRA);
			tab[k].samples++;
			tab[k].sampled_bytes += s->usable;
			tab[k].sampled_requested += s->n;
			tab[k].est_blocks += w;
			tab[k].est_bytes += w * (double)s->usable;
			tab[k].est_requested += w * (double)s->n;
			if (used + 1 >= cap) {
				/* Cannot happen with the sizing above; stop
				 * rather than loop. */
				goto done;
			}
		}
	}
done:
	rc_spin_unlock(&G.slock);
	size_t n = 0;
	for (size_t i = 0; i < cap; i++) {
		if (tab[i].stack) {
			tab[n] = tab[i];
			if (tab[n].stack == UINT32_MAX) {
				tab[n].stack = 0;
			}
			n++;
		}
	}
	/* Insertion sort by estimated bytes, largest first: groups are
	 * few (distinct stacks), and qsort may allocate. */
	for (size_t i = 1; i < n; i++) {
		struct rc_heap_group g = tab[i];
		size_t j = i;
		while (j > 0 && tab[j - 1].est_bytes < g.est_bytes) {
			tab[j] = tab[j - 1];
			j--;
		}
		tab[j] = g;
	}
	*out = tab;
	return n;
}

void
rc_heap_summarize(struct rc_heap_summary *s)
{
	memset(s, 0, sizeof(*s));
	rc_heap_totals(&s->blocks, &s->bytes, &s->requested);
	s->exact_mode = rc_heap_exact;
	s->requested_exact = rc_heap_exact;
	s->interval = G.interval;
	s->ngroups = groups(&s->groups);

	double blocks = 0, bytes = 0, requested = 0;
	for (size_t i = 0; i < s->ngroups; i++) {
		const struct rc_heap_group *g = &s->groups[i];
		s->samples += g->samples;
		s->sampled_bytes += g->sampled_bytes;
		s->sampled_requested += g->sampled_requested;
		blocks += g->est_blocks;
		bytes += g->est_bytes;
		requested += g->est_requested;
	}
	/* Never above the exact totals: a run of luck (or the totals of a
	 * moment, threads still allocating) scales every group down alike.
	 * Requested bytes follow the bytes (a block's requested size never
	 * exceeds its usable one, in the groups as in the totals). */
	double fb = blocks > (double)s->blocks ? (s->blocks > 0 ? (double)s->blocks / blocks : 0) : 1;
	double fy = bytes > (double)s->bytes ? (s->bytes > 0 ? (double)s->bytes / bytes : 0) : 1;
	for (size_t i = 0; i < s->ngroups; i++) {
		struct rc_heap_group *g = &s->groups[i];
		g->est_blocks *= fb;
		g->est_bytes *= fy;
		g->est_requested *= fy;
		s->groups_bytes += g->est_bytes;
	}
	if (!rc_heap_exact) {
		/* Requested bytes, estimated: the exact usable bytes times
		 * the ratio the samples show (each weighted as above); with
		 * no sample, the usable bytes (an upper bound). */
		uint64_t est = (uint64_t)(s->bytes > 0 ? s->bytes : 0);
		if (bytes > 0) {
			est = round_u64((double)est * (requested / bytes));
		}
		s->requested = (int64_t)est;
	}
}

/* --- scopes ---------------------------------------------------------------- */

void (*rc_heap_block_free)(void *p) RC_HOT;

void
rc_heap_scope_changed(void)
{
	refresh_gate();
}

void
rc_heap_scope_totals(uint32_t scope, uint64_t *blocks, uint64_t *bytes)
{
	*blocks = *bytes = 0;
	rc_spin_lock(&G.slock);
	for (size_t i = 0; i < G.nbuckets; i++) {
		for (struct rc_heap_rec *s = G.buckets[i]; s; s = s->next) {
			if (s->scope == scope && scope != 0) {
				(*blocks)++;
				*bytes += s->usable;
			}
		}
	}
	rc_spin_unlock(&G.slock);
}

/* Adds a block of @n bytes with @stack to the groups in @tab (@cap slots,
 * a power of two, open addressing; stack 0 stored as UINT32_MAX). */
static void
group_add(struct rc_heap_scope_group *tab, size_t cap, size_t *used, uint32_t stack, uint64_t n)
{
	uint32_t key = stack ? stack : UINT32_MAX;
	size_t k = (size_t)(key * 2654435761u) & (cap - 1);
	while (tab[k].stack && tab[k].stack != key) {
		k = (k + 1) & (cap - 1);
	}
	if (!tab[k].stack) {
		if (*used + 1 >= cap) {
			return; /* full: counted in the totals all the same */
		}
		tab[k].stack = key;
		(*used)++;
	}
	tab[k].blocks++;
	tab[k].bytes += n;
}

/* A scope's end (clean/heap.c, rc_heap_scope_reclaim, does the rest). */
bool
rc_heap_scope_take(uint32_t scope, uint32_t parent, bool take, struct rc_heap_scope_taken *t)
{
	struct rc_heap_scope_taken none;
	bool keep = t != NULL;

	if (!t) {
		t = &none;
		take = false;
	}
	memset(t, 0, sizeof(*t));
	if (scope == 0 || !G.nbuckets) {
		return false;
	}
	rc_guard++;
	uint64_t blocks, bytes;
	rc_heap_scope_totals(scope, &blocks, &bytes);
	if (blocks == 0) {
		rc_guard--;
		return false;
	}
	/* Room for every block's stack and address (blocks freed meanwhile
	 * only leave slots unused; blocks added meanwhile cannot be: the
	 * scope has ended on its only thread). */
	size_t cap = 16;
	while (cap < 2 * blocks + 2 && cap < ((size_t)1 << 20)) {
		cap *= 2;
	}
	struct rc_heap_scope_group *tab = keep ? rc_alloc(cap * sizeof(*tab)) : NULL;
	size_t ndoomed = 0, room = take ? (size_t)blocks : 0, used = 0;
	uintptr_t *doomed = room ? rc_alloc(room * sizeof(*doomed)) : NULL;
	if (!doomed) {
		take = false; /* out of memory: handed over instead */
	}
	struct rc_heap_rec *gone = NULL; /* plain records taken out */

	blocks = bytes = 0;
	rc_spin_lock(&G.slock);
	for (size_t i = 0; i < G.nbuckets; i++) {
		for (struct rc_heap_rec **pp = &G.buckets[i]; *pp;) {
			struct rc_heap_rec *s = *pp;
			if (s->scope != scope) {
				pp = &s->next;
				continue;
			}
			blocks++;
			bytes += s->usable;
			if (tab) {
				group_add(tab, cap, &used, s->stack, s->usable);
			}
			if (take && ndoomed < room) {
				/* Freed by the caller, which takes the record
				 * out. */
				doomed[ndoomed++] = s->p;
				pp = &s->next;
				continue;
			}
			s->scope = parent;
			if (parent == 0) {
				s->flags &= ~RC_HEAP_REC_SCOPE;
				if (!(s->flags & (RC_HEAP_REC_SAMPLE | RC_HEAP_REC_SIDE |
						  RC_HEAP_REC_OWN))) {
					/* No longer any scope's, and a large
					 * chunk: an ordinary block, which its
					 * free counts by its size. */
					*pp = s->next;
					recorded(s, -1);
					s->next = gone;
					gone = s;
					continue;
				}
			}
			pp = &s->next;
		}
	}
	rc_spin_unlock(&G.slock);

	while (gone) {
		struct rc_heap_rec *next = gone->next;
		rc_free(gone);
		gone = next;
	}

	size_t ng = 0;
	for (size_t i = 0; tab && i < cap; i++) {
		if (tab[i].stack) {
			tab[ng] = tab[i];
			if (tab[ng].stack == UINT32_MAX) {
				tab[ng].stack = 0;
			}
			ng++;
		}
	}
	/* Largest first (insertion sort: groups are few, distinct stacks). */
	for (size_t i = 1; i < ng; i++) {
		struct rc_heap_scope_group g = tab[i];
		size_t j = i;
		while (j > 0 && tab[j - 1].bytes < g.bytes) {
			tab[j] = tab[j - 1];
			j--;
		}
		tab[j] = g;
	}
	t->blocks = blocks;
	t->bytes = bytes;
	t->groups = tab;
	t->ngroups = ng;
	t->doomed = doomed;
	t->ndoomed = ndoomed;
	t->taken = take;
	rc_guard--;
	return true;
}

void
rc_heap_scope_taken_free(struct rc_heap_scope_taken *t)
{
	rc_guard++;
	rc_free(t->groups);
	rc_free(t->doomed);
	rc_guard--;
	t->groups = NULL;
	t->doomed = NULL;
	t->ngroups = t->ndoomed = 0;
}

/* --- configuration --------------------------------------------------------- */

void
rc_heap_configure(size_t sample_bytes, unsigned stack_depth, bool counting)
{
	G.interval = sample_bytes ? sample_bytes : 1;
	G.depth = stack_depth;
	G.sampling = counting;
	refresh_gate();
	/* The calling thread (usually the only one yet) starts at the
	 * configured interval at once. */
	if (rc_heap_self.state == RC_HEAP_T_ACTIVE) {
		set_countdown(&rc_heap_self, counting ? next_interval(&rc_heap_self)
						      : (int64_t)RC_DEFAULT_HEAP_SAMPLE);
	}
}

bool
rc_heap_wants_stacks(void)
{
	return G.sampling && G.depth && !G.inactive[0];
}

void
rc_heap_off(void)
{
	G.sampling = false;
	rc_self.free_off = 1;
	rc_self.alloc_off = 1;
}

void
rc_heap_trim_later(void)
{
	atomic_fetch_or(&rc_due, RC_DUE_TRIM);
	/* This thread's next allocation takes the general path, where the
	 * trim runs (RC_AT_ALLOC); its gate is brought up to date there. */
	rc_self.alloc_off = 2;
}

void
rc_heap_set_inactive(const char *why)
{
	rc_fmt(G.inactive, sizeof(G.inactive), "%s", why);
}

const char *
rc_heap_inactive_reason(void)
{
	return G.inactive[0] ? G.inactive : NULL;
}

/* --- fork ------------------------------------------------------------------
 *
 * The heap's locks are taken after every other lock of the shim's and
 * after the unwinders have drained (an unwinder's allocation may count or
 * record): last in the preload layer's fork handlers (preload/init.c),
 * which take none in a fork made from inside the shim's own work.  Their
 * holders take no other lock. */

void
rc_heap_fork_prepare(void)
{
}

void
rc_heap_fork_parent(void)
{
}

void
rc_heap_fork_child(void)
{
}

void
rc_heap_fork_lock(void)
{
	rc_spin_lock(&G.tlock);
	rc_spin_lock(&G.slock);
}

void
rc_heap_fork_unlock(void)
{
	rc_spin_unlock(&G.slock);
	rc_spin_unlock(&G.tlock);
}

void
rc_heap_fork_unlock_child(void)
{
	/* Taken by this very thread before the fork: released, so that its
	 * count of the shim's locks stays right (core/lock.h). */
	rc_spin_unlock(&G.slock);
	rc_spin_unlock(&G.tlock);
	/* Only this thread exists here: the others' counters are folded,
	 * and their nodes dropped (their memory will be reused for the
	 * TLS of threads this child creates).  A thread stopped inside
	 * set_countdown left its sequence count odd for good: read once,
	 * as it is. */
	struct rc_heap_thread *self = &rc_heap_self;
	for (struct rc_heap_thread *t = G.threads; t; t = t->next) {
		if (t != self) {
			atomic_store_explicit(&t->seq, 0, memory_order_relaxed);
			fold(t);
		}
	}
	G.threads = NULL;
	if (self->state == RC_HEAP_T_ACTIVE) {
		self->next = NULL;
		G.threads = self;
	}
}

void
rc_heap_reset(void)
{
	rc_spin_lock(&G.slock);
	for (size_t i = 0; i < G.nbuckets; i++) {
		struct rc_heap_rec *s = G.buckets[i];
		while (s) {
			struct rc_heap_rec *next = s->next;
			recorded(s, -1);
			release(s);
			s = next;
		}
		G.buckets[i] = NULL;
	}
	G.nrecords = 0;
	G.nsamples = 0;
	G.sample_bytes = 0;
	G.sample_requested = 0;
	rc_spin_unlock(&G.slock);
	rc_spin_lock(&G.tlock);
	atomic_store(&G.blocks, 0);
	atomic_store(&G.charged, 0);
	atomic_store(&G.slack, 0);
	for (struct rc_heap_thread *t = G.threads; t; t = t->next) {
		atomic_store(&t->blocks, 0);
		atomic_store(&t->base, atomic_load(&t->countdown));
		atomic_store(&t->slack, 0);
	}
	rc_spin_unlock(&G.tlock);
}
