#include "build-config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/lock.h"
#include "core/registry.h"

static struct {
	struct rc_spinlock lock;
	struct rc_record **buckets;
	size_t nbuckets;
	size_t count;
	uint32_t seq;
	atomic_size_t per_kind[RCSHIM_KIND_COUNT];
} R;

uint64_t
rc_path_hash(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static size_t
bucket_of(int kind, uint64_t handle, size_t n)
{
	uint64_t h = handle * 0x9e3779b97f4a7c15ULL + (uint64_t)kind;
	return (size_t)(h ^ (h >> 29)) & (n - 1);
}

/* Caller holds the lock. */
static bool
grow(void)
{
	size_t n = R.nbuckets ? R.nbuckets * 2 : 64;
	struct rc_record **nb = rc_alloc(n * sizeof(*nb));
	if (!nb) {
		return false;
	}
	for (size_t i = 0; i < R.nbuckets; i++) {
		struct rc_record *r = R.buckets[i];
		while (r) {
			struct rc_record *next = r->hnext;
			size_t b = bucket_of(r->kind, r->handle, n);
			r->hnext = nb[b];
			nb[b] = r;
			r = next;
		}
	}
	/* The old array stays mapped (arena memory is never unmapped), so a
	 * crash-path reader holding it reads stale but valid memory. */
	rc_free(R.buckets);
	R.buckets = nb;
	R.nbuckets = n;
	return true;
}

struct rc_record *
rc_reg_add(const struct rc_record *tmpl)
{
	struct rc_record *r = rc_alloc(sizeof(*r));
	if (!r) {
		return NULL;
	}
	*r = *tmpl;
	r->path = NULL;
	if (tmpl->path && !(r->path = rc_strdup(tmpl->path))) {
		rc_free(r);
		return NULL;
	}
	if (r->kind == RCSHIM_KIND_TEMP && r->path) {
		r->handle = rc_path_hash(r->path);
	}

	rc_spin_lock(&R.lock);
	if (R.count + 1 > R.nbuckets * 2 && !grow() && !R.nbuckets) {
		rc_spin_unlock(&R.lock);
		rc_free(r->path);
		rc_free(r);
		return NULL;
	}
	r->seq = ++R.seq;
	size_t b = bucket_of(r->kind, r->handle, R.nbuckets);
	r->hnext = R.buckets[b];
	R.buckets[b] = r;
	R.count++;
	atomic_fetch_add_explicit(&R.per_kind[r->kind % RCSHIM_KIND_COUNT], 1,
				  memory_order_relaxed);
	rc_spin_unlock(&R.lock);
	return r;
}

void
rc_reg_put_back(const struct rc_record *rec)
{
	uint32_t seq = rec->seq;
	struct rc_record *r = rc_reg_add(rec);
	if (r) {
		r->seq = seq;
	}
}

/* Caller holds the lock.  Unlinks and returns the matching record. */
static struct rc_record *
unlink_match(int kind, uint64_t handle, const char *path)
{
	if (!R.nbuckets) {
		return NULL;
	}
	struct rc_record **pp = &R.buckets[bucket_of(kind, handle, R.nbuckets)];
	for (struct rc_record *r = *pp; r; pp = &r->hnext, r = r->hnext) {
		if (r->kind != kind || r->handle != handle) {
			continue;
		}
		if (path && (!r->path || strcmp(r->path, path) != 0)) {
			continue;
		}
		*pp = r->hnext;
		R.count--;
		atomic_fetch_sub_explicit(&R.per_kind[kind % RCSHIM_KIND_COUNT], 1,
					  memory_order_relaxed);
		return r;
	}
	return NULL;
}

static bool
take(int kind, uint64_t handle, const char *path, struct rc_record *out)
{
	if (atomic_load_explicit(&R.per_kind[kind % RCSHIM_KIND_COUNT],
				 memory_order_relaxed) == 0) {
		return false;
	}
	rc_spin_lock(&R.lock);
	struct rc_record *r = unlink_match(kind, handle, path);
	rc_spin_unlock(&R.lock);
	if (!r) {
		return false;
	}
	if (out) {
		*out = *r;
		out->hnext = NULL;
	} else {
		rc_free(r->path);
	}
	rc_free(r);
	return true;
}

bool
rc_reg_take(int kind, uint64_t handle, struct rc_record *out)
{
	return take(kind, handle, NULL, out);
}

bool
rc_reg_take_path(const char *path, struct rc_record *out)
{
	return take(RCSHIM_KIND_TEMP, rc_path_hash(path), path, out);
}

bool
rc_reg_has(int kind, uint64_t handle)
{
	bool found = false;

	if (atomic_load_explicit(&R.per_kind[kind % RCSHIM_KIND_COUNT],
				 memory_order_relaxed) == 0) {
		return false;
	}
	rc_spin_lock(&R.lock);
	if (R.nbuckets) {
		for (struct rc_record *r = R.buckets[bucket_of(kind, handle, R.nbuckets)];
		     r; r = r->hnext) {
			if (r->kind == kind && r->handle == handle) {
				found = true;
				break;
			}
		}
	}
	rc_spin_unlock(&R.lock);
	return found;
}

bool
rc_reg_rename(const char *from, const char *to)
{
	struct rc_record rec;
	if (!rc_reg_take_path(from, &rec)) {
		return false;
	}
	char *old = rec.path;
	rec.path = (char *)to;
	uint32_t seq = rec.seq;
	struct rc_record *r = rc_reg_add(&rec);
	rc_free(old);
	if (r) {
		r->seq = seq;
	}
	return r != NULL;
}

size_t
rc_reg_tally(int32_t pid, uint64_t count[RCSHIM_KIND_COUNT], uint64_t bytes[RCSHIM_KIND_COUNT],
	     char *paths, size_t paths_len, size_t max_paths)
{
	size_t np = 0, used = 0;

	memset(count, 0, RCSHIM_KIND_COUNT * sizeof(*count));
	memset(bytes, 0, RCSHIM_KIND_COUNT * sizeof(*bytes));
	rc_spin_lock(&R.lock);
	for (size_t b = 0; b < R.nbuckets; b++) {
		for (const struct rc_record *r = R.buckets[b]; r; r = r->hnext) {
			if (r->pid != pid || r->kind >= RCSHIM_KIND_COUNT) {
				continue;
			}
			count[r->kind]++;
			bytes[r->kind] += r->size;
			if (r->kind == RCSHIM_KIND_TEMP && !(r->flags & RC_REC_DIR) && r->path &&
			    np < max_paths) {
				size_t l = strlen(r->path) + 1;
				if (used + l <= paths_len) {
					memcpy(paths + used, r->path, l);
					used += l;
					np++;
				}
			}
		}
	}
	rc_spin_unlock(&R.lock);
	return np;
}

size_t
rc_reg_count(int kind)
{
	return atomic_load_explicit(&R.per_kind[kind % RCSHIM_KIND_COUNT],
				    memory_order_relaxed);
}

/* Min-heap on seq, so popping the minimum to the end leaves the array in
 * decreasing seq order: newest first. */
/* Heapsort: no allocation, no recursion (it runs in cleanups and in
 * signal handlers' callers). */
static void
sift_down(struct rc_record *a, size_t i, size_t n,
	  bool (*less)(const struct rc_record *, const struct rc_record *))
{
	for (;;) {
		size_t m = i, l = 2 * i + 1, r = l + 1;
		if (l < n && less(&a[m], &a[l])) {
			m = l;
		}
		if (r < n && less(&a[m], &a[r])) {
			m = r;
		}
		if (m == i) {
			return;
		}
		struct rc_record t = a[i];
		a[i] = a[m];
		a[m] = t;
		i = m;
	}
}

void
rc_reg_sort(struct rc_record *a, size_t n,
	    bool (*less)(const struct rc_record *, const struct rc_record *))
{
	for (size_t i = n / 2; i-- > 0;) {
		sift_down(a, i, n, less);
	}
	for (size_t end = n; end-- > 1;) {
		struct rc_record t = a[0];
		a[0] = a[end];
		a[end] = t;
		sift_down(a, 0, end, less);
	}
}

static bool
newer(const struct rc_record *a, const struct rc_record *b)
{
	return a->seq > b->seq;
}

size_t
rc_reg_collect(bool (*match)(const struct rc_record *r, void *ctx), void *ctx,
	       bool take_them, struct rc_record **out)
{
	size_t n = 0, cap;
	struct rc_record *list;

	*out = NULL;
	rc_spin_lock(&R.lock);
	cap = R.count;
	if (!cap) {
		rc_spin_unlock(&R.lock);
		return 0;
	}
	list = rc_alloc(cap * sizeof(*list));
	if (!list) {
		rc_spin_unlock(&R.lock);
		return 0;
	}
	for (size_t b = 0; b < R.nbuckets; b++) {
		struct rc_record **pp = &R.buckets[b];
		while (*pp) {
			struct rc_record *r = *pp;
			if (!match(r, ctx)) {
				pp = &r->hnext;
				continue;
			}
			list[n] = *r;
			list[n].hnext = NULL;
			if (take_them) {
				*pp = r->hnext;
				R.count--;
				atomic_fetch_sub_explicit(&R.per_kind[r->kind % RCSHIM_KIND_COUNT],
							  1, memory_order_relaxed);
				rc_free(r); /* the path now belongs to the list */
			} else {
				list[n].path = r->path ? rc_strdup(r->path) : NULL;
				pp = &r->hnext;
			}
			n++;
		}
	}
	rc_spin_unlock(&R.lock);
	if (!n) {
		rc_free(list);
		return 0;
	}
	/* Heapsort: in place and allocation-free (libc's qsort may malloc). */
	rc_reg_sort(list, n, newer); /* newest first */
	*out = list;
	return n;
}

void
rc_reg_free_list(struct rc_record *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rc_free(list[i].path);
	}
	rc_free(list);
}

void
rc_reg_reset(void)
{
	rc_spin_lock(&R.lock);
	for (size_t b = 0; b < R.nbuckets; b++) {
		struct rc_record *r = R.buckets[b];
		while (r) {
			struct rc_record *next = r->hnext;
			rc_free(r->path);
			rc_free(r);
			r = next;
		}
		R.buckets[b] = NULL;
	}
	R.count = 0;
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		atomic_store(&R.per_kind[k], 0);
	}
	rc_spin_unlock(&R.lock);
}

void
rc_reg_lock(void)
{
	rc_spin_lock(&R.lock);
}

void
rc_reg_unlock(void)
{
	rc_spin_unlock(&R.lock);
}
