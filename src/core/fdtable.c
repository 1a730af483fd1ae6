#include "build-config.h"

#include <string.h>

#include "core/arena.h"
#include "core/fdtable.h"
#include "core/stack.h"
#include "core/state.h"

/* An entry is a seqlock: its flags word is zeroed, then the other fields
 * written, then the flags published with release; a reader validates its
 * copy against the flags.  The fields are accessed atomically (relaxed:
 * plain moves on x86) because a reader and a writer do meet on one entry —
 * fd numbers are reused across threads — and a racy plain access is
 * undefined behaviour (ThreadSanitizer says so). */
#define LOAD(f) __atomic_load_n(&(f), __ATOMIC_RELAXED)
#define STORE(f, v) __atomic_store_n(&(f), (v), __ATOMIC_RELAXED)

#define CHUNK_BITS 10
#define CHUNK_SIZE (1 << CHUNK_BITS)
#define NCHUNKS (RC_FD_MAX / CHUNK_SIZE)

static struct rc_fd_entry *_Atomic chunks[NCHUNKS] RC_COLD_BSS;
/* Chunk 0 (fds 0-1023) is static: a process's fds are low, and the first
 * one it records then writes one page, this chunk's first.  Mapped on
 * first use like the others, it cost the pointer table's page, the
 * chunk's and an mmap in every process that opened a file. */
static struct rc_fd_entry chunk0[CHUNK_SIZE] RC_COLD_BSS __attribute__((aligned(4096)));
static atomic_int high_water = -1;

static struct rc_fd_entry *
slot(int fd, bool create)
{
	if (fd < 0 || fd >= RC_FD_MAX) {
		return NULL;
	}
	/* Above the highest fd ever tracked there is nothing to find: most
	 * processes close fds they never tracked (their standard streams at
	 * exit), and the look into chunks[] would cost them a page fault. */
	if (!create && fd > atomic_load_explicit(&high_water, memory_order_acquire)) {
		return NULL;
	}
	unsigned c = (unsigned)fd >> CHUNK_BITS;
	if (c == 0) {
		return &chunk0[fd];
	}
	struct rc_fd_entry *chunk = atomic_load_explicit(&chunks[c], memory_order_acquire);
	if (!chunk && create) {
		struct rc_fd_entry *fresh = rc_alloc(sizeof(*fresh) * CHUNK_SIZE);
		if (!fresh) {
			return NULL;
		}
		struct rc_fd_entry *expected = NULL;
		if (atomic_compare_exchange_strong(&chunks[c], &expected, fresh)) {
			chunk = fresh;
		} else {
			rc_free(fresh);
			chunk = expected;
		}
	}
	return chunk ? &chunk[fd & (CHUNK_SIZE - 1)] : NULL;
}

void
rc_fd_track(int fd, uint32_t flags, uint32_t scope, uint32_t stack,
	    int32_t pid, uint64_t aux, const struct stat *st)
{
	struct rc_fd_entry *e = slot(fd, true);
	if (!e) {
		return;
	}
	/* Withdraw first so a concurrent reader never pairs old flags with
	 * new fields. */
	atomic_store_explicit(&e->flags, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	STORE(e->scope, scope);
	STORE(e->stack, stack);
	STORE(e->pid, pid);
	STORE(e->aux, aux);
	if (st) {
		STORE(e->dev, (uint64_t)st->st_dev);
		STORE(e->ino, (uint64_t)st->st_ino);
		flags |= RC_FD_IDENT;
	} else {
		STORE(e->dev, (uint64_t)0);
		STORE(e->ino, (uint64_t)0);
		flags &= ~(uint32_t)RC_FD_IDENT;
	}
	atomic_store_explicit(&e->flags, flags | RC_FD_LIVE, memory_order_release);

	int hw = atomic_load_explicit(&high_water, memory_order_relaxed);
	while (fd > hw &&
	       !atomic_compare_exchange_weak(&high_water, &hw, fd)) {
	}
}

uint32_t
rc_fd_untrack(int fd)
{
	struct rc_fd_entry *e = slot(fd, false);
	/* Read before written: an entry already clear is left unwritten,
	 * so that a fork child closing its parent's untracked fds before
	 * it execs (a shell's child closes several) does not copy the
	 * table's page. */
	if (!e || !atomic_load_explicit(&e->flags, memory_order_acquire)) {
		return 0;
	}
	return atomic_exchange_explicit(&e->flags, 0, memory_order_acq_rel);
}

void
rc_fd_untrack_range(int lo, int hi)
{
	int hw = atomic_load_explicit(&high_water, memory_order_relaxed);
	if (lo < 0) {
		lo = 0;
	}
	if (hi > hw) {
		hi = hw;
	}
	for (int fd = lo; fd <= hi; fd++) {
		struct rc_fd_entry *e = slot(fd, false);
		if (e) {
			atomic_store_explicit(&e->flags, 0, memory_order_release);
		} else {
			/* Skip the rest of an unmapped chunk. */
			fd |= CHUNK_SIZE - 1;
		}
	}
}

bool
rc_fd_get(int fd, struct rc_fd_entry *out)
{
	struct rc_fd_entry *e = slot(fd, false);
	if (!e) {
		return false;
	}
	uint32_t f = atomic_load_explicit(&e->flags, memory_order_acquire);
	if (!(f & RC_FD_LIVE)) {
		return false;
	}
	out->scope = LOAD(e->scope);
	out->stack = LOAD(e->stack);
	out->pid = LOAD(e->pid);
	out->dev = LOAD(e->dev);
	out->ino = LOAD(e->ino);
	out->aux = LOAD(e->aux);
	atomic_store_explicit(&out->flags, f, memory_order_relaxed);
	/* A writer that replaced the entry meanwhile changed the flags word
	 * (to 0 first): then the copy may be torn, and the fd is in flux. */
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&e->flags, memory_order_relaxed) == f;
}

uint32_t
rc_fd_stack_of(const struct rc_fd_entry *e)
{
	uintptr_t pc = (uintptr_t)rc_fd_lazy_site(e);
	return pc ? rc_stack_intern(&pc, 1) : e->stack;
}

void
rc_fd_set_flags(int fd, uint32_t add, uint64_t aux)
{
	struct rc_fd_entry *e = slot(fd, false);
	if (!e) {
		return;
	}
	uint32_t f = atomic_load_explicit(&e->flags, memory_order_acquire);
	if (f & RC_FD_LIVE) {
		if (aux) {
			STORE(e->aux, aux);
		}
		atomic_fetch_or_explicit(&e->flags, add, memory_order_release);
	}
}

void
rc_fd_foreach(bool (*fn)(int fd, const struct rc_fd_entry *e, void *ctx), void *ctx)
{
	int hw = atomic_load_explicit(&high_water, memory_order_acquire);
	for (int fd = 0; fd <= hw; fd++) {
		struct rc_fd_entry copy;
		if (!slot(fd, false)) {
			fd |= CHUNK_SIZE - 1;
			continue;
		}
		if (rc_fd_get(fd, &copy) && !fn(fd, &copy, ctx)) {
			return;
		}
	}
}

int
rc_fd_high_water(void)
{
	return atomic_load_explicit(&high_water, memory_order_relaxed);
}

void
rc_fd_reset(void)
{
	int hw = atomic_load_explicit(&high_water, memory_order_relaxed);
	rc_fd_untrack_range(0, hw);
}
