/* Heap accounting: the per-thread counters and their list, the sample
 * table, and the groups the report shows.  The hot path is inline in
 * heap.h; everything here runs once per thread or once per sample. */
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
#include "report/report.h"

bool rc_heap_counting = true;
/* Whether the fast paths may read the allocator's chunk headers. */
static bool direct;

/* Opens or closes the calling thread's fast paths after a change to its
 * state, its scope, the configuration or the allocator. */
static void
refresh_gate(void)
{
	bool open = rc_self.heap.state == RC_HEAP_T_ACTIVE && direct;
	rc_self.free_off = !open;
	rc_self.alloc_off = !(open && rc_heap_counting && rc_scope_cur == 0);
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

struct sample {
	struct sample *next;
	uintptr_t p;
	uint64_t n;
	uint32_t stack;
	uint32_t scope; /* the scope it was allocated in; 0: none */
	bool stat;      /* a statistical sample (else recorded for its scope only) */
};

static struct {
	/* Counts of threads that have exited, and of blocks freed by a
	 * thread after its own counters were folded. */
	_Atomic int64_t blocks, bytes;
	struct rc_spinlock tlock;
	struct rc_heap_thread *threads;
	pthread_key_t key;
	atomic_int key_state; /* 0 none, 1 creating, 2 ready */

	size_t interval;      /* RCSHIM_HEAP_SAMPLE */
	unsigned depth;       /* RCSHIM_STACK_DEPTH */
	bool sampling;        /* configured: samples are taken */
	char inactive[160];   /* why interposition is not active */

	struct rc_spinlock slock;
	struct sample **buckets;
	size_t nbuckets, nrecords; /* records: samples and scope records */
	size_t nsamples, sample_bytes; /* statistical samples only */
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
	t->countdown = G.sampling ? next_interval(t) : (int64_t)RC_DEFAULT_HEAP_SAMPLE;
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

void
rc_heap_thread_exit(void)
{
	struct rc_heap_thread *t = &rc_heap_self;
	if (t->state != RC_HEAP_T_ACTIVE) {
		return;
	}
	rc_spin_lock(&G.tlock);
	unlink_thread(t);
	atomic_fetch_add(&G.blocks, atomic_load_explicit(&t->blocks, memory_order_relaxed));
	atomic_fetch_add(&G.bytes, atomic_load_explicit(&t->bytes, memory_order_relaxed));
	atomic_store_explicit(&t->blocks, 0, memory_order_relaxed);
	atomic_store_explicit(&t->bytes, 0, memory_order_relaxed);
	/* What this thread frees from now on (later destructors, its TLS
	 * teardown) goes to the process totals. */
	t->state = RC_HEAP_T_EXITED;
	refresh_gate();
	rc_spin_unlock(&G.tlock);
}

static unsigned scope_record(void *p, size_t n, const void *site);

unsigned
rc_heap_alloc_slow(void *p, size_t n, const void *site)
{
	struct rc_heap_thread *t = &rc_heap_self;

	if (rc_guard || !rc_heap_counting) {
		return 0; /* the shim's own, or the heap is not tracked */
	}
	if (t->state == RC_HEAP_T_NEW) {
		rc_heap_thread_register();
	}
	if (t->state == RC_HEAP_T_ACTIVE) {
		rc_heap_add(t, 1, (int64_t)n);
		if (rc_heap_sample_due(t, n)) {
			unsigned sampled = rc_heap_sample(p, n, site);
			if (sampled || rc_scope_cur == 0) {
				return RC_HEAP_COUNTED | sampled;
			}
		}
		if (rc_scope_cur != 0) {
			return RC_HEAP_COUNTED | scope_record(p, n, site);
		}
		return RC_HEAP_COUNTED;
	}
	atomic_fetch_add(&G.blocks, 1);
	atomic_fetch_add(&G.bytes, (int64_t)n);
	return RC_HEAP_COUNTED;
}

void
rc_heap_uncount_slow(size_t n)
{
	atomic_fetch_sub(&G.blocks, 1);
	atomic_fetch_sub(&G.bytes, (int64_t)n);
}

void
rc_heap_totals(int64_t *blocks, int64_t *bytes)
{
	rc_spin_lock(&G.tlock);
	int64_t b = atomic_load(&G.blocks), y = atomic_load(&G.bytes);
	for (struct rc_heap_thread *t = G.threads; t; t = t->next) {
		b += atomic_load_explicit(&t->blocks, memory_order_relaxed);
		y += atomic_load_explicit(&t->bytes, memory_order_relaxed);
	}
	rc_spin_unlock(&G.tlock);
	*blocks = b;
	*bytes = y;
}

/* --- the sample table ---------------------------------------------------- */

static size_t
bucket_of(uintptr_t p, size_t nb)
{
	uint64_t h = (uint64_t)p * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 20) & (nb - 1);
}

static bool
grow(void)
{
	size_t nb = G.nbuckets ? G.nbuckets * 2 : 1024;
	struct sample **b = rc_alloc(nb * sizeof(*b));
	if (!b) {
		return false;
	}
	for (size_t i = 0; i < G.nbuckets; i++) {
		struct sample *s = G.buckets[i];
		while (s) {
			struct sample *next = s->next;
			size_t k = bucket_of(s->p, nb);
			s->next = b[k];
			b[k] = s;
			s = next;
		}
	}
	rc_free(G.buckets);
	G.buckets = b;
	G.nbuckets = nb;
	return true;
}

/* Puts a record of block @p (@n bytes, @stack) in the table: a
 * statistical sample when @stat, else a scope's record (rc_scope_cur).
 * RC_HEAP_SAMPLED when recorded, 0 when memory ran out.  The caller holds
 * rc_guard. */
static unsigned
record(void *p, size_t n, uint32_t stack, bool stat)
{
	struct sample *s = rc_alloc(sizeof(*s));
	if (!s) {
		return 0;
	}
	*s = (struct sample){ .p = (uintptr_t)p, .n = n, .stack = stack,
			      .scope = rc_scope_cur, .stat = stat };
	rc_spin_lock(&G.slock);
	if (G.nrecords >= 2 * G.nbuckets && !grow() && !G.nbuckets) {
		rc_spin_unlock(&G.slock);
		rc_free(s);
		return 0;
	}
	size_t k = bucket_of(s->p, G.nbuckets);
	s->next = G.buckets[k];
	G.buckets[k] = s;
	G.nrecords++;
	if (stat) {
		G.nsamples++;
		G.sample_bytes += n;
	}
	rc_spin_unlock(&G.slock);
	return RC_HEAP_SAMPLED;
}

/* Record @s was just taken out of its bucket: the counts follow.  Under
 * G.slock. */
static void
unrecorded(const struct sample *s)
{
	G.nrecords--;
	if (s->stat) {
		G.nsamples--;
		G.sample_bytes -= s->n;
	}
}

unsigned
rc_heap_sample(void *p, size_t n, const void *site)
{
	struct rc_heap_thread *t = &rc_heap_self;

	if (!G.sampling) {
		/* Before the configuration is known (allocations of the
		 * loader and of other constructors): nothing is sampled. */
		t->countdown = (int64_t)RC_DEFAULT_HEAP_SAMPLE;
		return 0;
	}
	t->countdown = next_interval(t);
	if (rc_guard) {
		return 0;
	}
	int saved_errno = errno;
	rc_guard++;
	unsigned flag = record(p, n, rc_stack_capture_alloc(G.depth, site), true);
	rc_guard--;
	errno = saved_errno;
	return flag;
}

void
rc_heap_unsample(void *p)
{
	struct sample *found = NULL;

	/* A fork child with the shim off: the table may be half-changed. */
	if (atomic_load_explicit(&rc_off, memory_order_relaxed)) {
		return;
	}
	rc_spin_lock(&G.slock);
	if (G.nbuckets) {
		for (struct sample **pp = &G.buckets[bucket_of((uintptr_t)p, G.nbuckets)]; *pp;
		     pp = &(*pp)->next) {
			if ((*pp)->p == (uintptr_t)p) {
				found = *pp;
				*pp = found->next;
				unrecorded(found);
				break;
			}
		}
	}
	rc_spin_unlock(&G.slock);
	rc_free(found);
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
	/* Each sample is a 64-byte arena block; plus the buckets. */
	size_t n = G.nrecords * 64 + G.nbuckets * sizeof(void *);
	rc_spin_unlock(&G.slock);
	return n;
}

size_t
rc_heap_sample_interval(void)
{
	return G.interval;
}

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

/* The weight of one sample of @n bytes: the inverse of the chance that
 * an allocation of that size is sampled. */
static double
inv_probability(uint64_t n)
{
	if (G.interval <= 1 || n == 0) {
		return 1.0;
	}
	double p = one_minus_exp_neg((double)n / (double)G.interval);
	return p > 0 ? 1.0 / p : 1.0;
}

size_t
rc_heap_groups(struct rc_heap_group **out, uint64_t *samples, uint64_t *sample_bytes)
{
	*out = NULL;
	rc_spin_lock(&G.slock);
	*samples = G.nsamples;
	*sample_bytes = G.sample_bytes;
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
	/* Open addressing by stack id; id 0 (no stack) is kept in slot
	 * "cap" by marking it with UINT32_MAX while aggregating. */
	for (size_t i = 0; i < G.nbuckets; i++) {
		for (struct sample *s = G.buckets[i]; s; s = s->next) {
			if (!s->stat) {
				continue; /* a scope's record, not a sample */
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
			double w = inv_probability(s->n);
			tab[k].samples++;
			tab[k].sampled_bytes += s->n;
			tab[k].est_blocks += w;
			tab[k].est_bytes += w * (double)s->n;
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

/* --- scopes ---------------------------------------------------------------- */

void (*rc_heap_block_free)(void *p);

void
rc_heap_scope_changed(void)
{
	refresh_gate();
}

/* Records block @p, allocated at @site inside the calling thread's scope,
 * that the sampler passed over.  RC_HEAP_SAMPLED when recorded. */
static unsigned
scope_record(void *p, size_t n, const void *site)
{
	if (rc_guard || !G.sampling) {
		return 0;
	}
	int saved_errno = errno;
	rc_guard++;
	unsigned flag = record(p, n, rc_stack_site((uintptr_t)site, G.depth), false);
	rc_guard--;
	errno = saved_errno;
	return flag;
}

void
rc_heap_scope_totals(uint32_t scope, uint64_t *blocks, uint64_t *bytes)
{
	*blocks = *bytes = 0;
	rc_spin_lock(&G.slock);
	for (size_t i = 0; i < G.nbuckets; i++) {
		for (struct sample *s = G.buckets[i]; s; s = s->next) {
			if (s->scope == scope && scope != 0) {
				(*blocks)++;
				*bytes += s->n;
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

/* The end of scope @scope (core/scope.h): its blocks still live are
 * counted, reported, then freed or handed to @parent. */
void
rc_heap_scope_end(uint32_t scope, uint32_t parent, rcshim_priority prio, bool free_blocks,
		  struct rcshim_result *res)
{
	if (scope == 0 || !G.nbuckets) {
		return;
	}
	if (free_blocks && !rc_heap_block_free) {
		free_blocks = false; /* the core alone: nothing to free with */
	}
	rc_guard++;
	uint64_t blocks, bytes;
	rc_heap_scope_totals(scope, &blocks, &bytes);
	if (blocks == 0) {
		rc_guard--;
		return;
	}
	/* Room for every block's stack (blocks freed meanwhile only leave
	 * slots unused; blocks added meanwhile cannot be: the scope has
	 * ended on its only thread). */
	size_t cap = 16;
	while (cap < 2 * blocks + 2 && cap < ((size_t)1 << 20)) {
		cap *= 2;
	}
	struct rc_heap_scope_group *tab = rc_alloc(cap * sizeof(*tab));
	size_t used = 0;
	struct sample *gone = NULL; /* records taken out of the table */

	blocks = bytes = 0;
	rc_spin_lock(&G.slock);
	for (size_t i = 0; i < G.nbuckets; i++) {
		for (struct sample **pp = &G.buckets[i]; *pp;) {
			struct sample *s = *pp;
			if (s->scope != scope) {
				pp = &s->next;
				continue;
			}
			blocks++;
			bytes += s->n;
			if (tab) {
				group_add(tab, cap, &used, s->stack, s->n);
			}
			if (free_blocks || (parent == 0 && !s->stat)) {
				/* Out of the table: the block is freed below,
				 * or (kept, no enclosing scope) is no longer
				 * any scope's; its tag still says sampled,
				 * and its free finds no record. */
				*pp = s->next;
				unrecorded(s);
				s->next = gone;
				gone = s;
				continue;
			}
			s->scope = parent;
			pp = &s->next;
		}
	}
	rc_spin_unlock(&G.slock);

	while (gone) {
		struct sample *next = gone->next;
		if (free_blocks) {
			rc_heap_block_free((void *)gone->p);
		}
		rc_free(gone);
		gone = next;
	}
	if (free_blocks) {
		rc_result_add(res, RCSHIM_KIND_HEAP, blocks, 0, 0, bytes);
	} else {
		rc_result_add(res, RCSHIM_KIND_HEAP, 0, 0, blocks, 0);
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
	if (res) {
		rc_report_scope_heap(scope, parent, prio, free_blocks, blocks, bytes, tab, ng);
	}
	rc_free(tab);
	rc_guard--;
}

/* --- configuration --------------------------------------------------------- */

void
rc_heap_configure(size_t sample_bytes, unsigned stack_depth, bool counting)
{
	G.interval = sample_bytes ? sample_bytes : 1;
	G.depth = stack_depth;
	rc_heap_counting = counting;
	G.sampling = counting;
	refresh_gate();
	/* The calling thread (usually the only one yet) starts at the
	 * configured interval at once. */
	if (rc_heap_self.state == RC_HEAP_T_ACTIVE) {
		rc_heap_self.countdown = next_interval(&rc_heap_self);
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
	rc_heap_counting = false;
	G.sampling = false;
	refresh_gate();
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

/* --- fork ------------------------------------------------------------------ */

void
rc_heap_fork_prepare(void)
{
	rc_spin_lock(&G.tlock);
	rc_spin_lock(&G.slock);
}

void
rc_heap_fork_parent(void)
{
	rc_spin_unlock(&G.slock);
	rc_spin_unlock(&G.tlock);
}

void
rc_heap_fork_child(void)
{
	/* Taken by this thread in rc_heap_fork_prepare. */
	rc_spin_unlock(&G.slock);
	rc_spin_unlock(&G.tlock);
	/* Only this thread exists here: the others' counters are folded,
	 * and their nodes dropped (their memory will be reused for the
	 * TLS of threads this child creates). */
	struct rc_heap_thread *self = &rc_heap_self;
	for (struct rc_heap_thread *t = G.threads; t; t = t->next) {
		if (t != self) {
			atomic_fetch_add(&G.blocks, atomic_load(&t->blocks));
			atomic_fetch_add(&G.bytes, atomic_load(&t->bytes));
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
		struct sample *s = G.buckets[i];
		while (s) {
			struct sample *next = s->next;
			rc_free(s);
			s = next;
		}
		G.buckets[i] = NULL;
	}
	G.nrecords = 0;
	G.nsamples = 0;
	G.sample_bytes = 0;
	rc_spin_unlock(&G.slock);
	rc_spin_lock(&G.tlock);
	atomic_store(&G.blocks, 0);
	atomic_store(&G.bytes, 0);
	for (struct rc_heap_thread *t = G.threads; t; t = t->next) {
		atomic_store(&t->blocks, 0);
		atomic_store(&t->bytes, 0);
	}
	rc_spin_unlock(&G.tlock);
}
