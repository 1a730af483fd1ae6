/* Allocation stacks (DESIGN §1: every record keeps a stack id).
 *
 * Stacks are captured with libunwind (UNW_LOCAL_ONLY, unw_backtrace) and
 * interned: each distinct stack is stored once, in the shim's own arena,
 * and named by a small integer id.  Lookups of a known stack take no lock
 * (entries are immutable once published); only a new stack takes the table
 * lock.  Stacks are never removed: their number is bounded by the
 * program's distinct call paths, not by how often it allocates.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RC_STACK_MAX_DEPTH 128

/* Captures the calling thread's stack, at most @depth frames, leading
 * frames of the shim itself skipped, and interns it.  Returns its id, or 0
 * when @depth is 0, unwinding failed, a fork is in progress, or memory ran
 * out.  The caller holds rc_guard (libunwind may allocate). */
uint32_t rc_stack_capture(unsigned depth);

/* A stack for an acquisition at call site @pc (the return address into
 * the program) without unwinding every time: the first acquisition at a
 * call site is unwound in full, and later ones at the same site reuse
 * that stack.  Frame 0 is therefore always exact; the outer frames are
 * those of the first acquisition there.  For the fd hot path, where a full
 * unwind (about 1 100 instructions) would cost a tenth of an open+close
 * pair.  Lock-free on a hit. */
uint32_t rc_stack_site(uintptr_t pc, unsigned depth);

/* Interns @n program counters; returns the id (0 when out of memory or
 * @n is 0). */
uint32_t rc_stack_intern(const uintptr_t *pc, unsigned n);

/* The frames of stack @id: their count, and *@pc pointed at them (valid
 * for the life of the process).  0 for an unknown id. */
unsigned rc_stack_frames(uint32_t id, const uintptr_t **pc);

/* Number of distinct stacks, and the bytes they take. */
size_t rc_stack_count(void);
size_t rc_stack_memory(void);

/* Frames in [lo, hi) at the top of a stack are the shim's own: skipped.
 * Set once by the preload layer; unit tests leave it unset. */
void rc_stack_set_self(uintptr_t lo, uintptr_t hi);

/* Around fork: no thread may be inside the unwinder (which can hold the
 * loader's locks) when the child is made. */
void rc_stack_fork_prepare(void);
void rc_stack_fork_parent(void);
void rc_stack_fork_child(void);
