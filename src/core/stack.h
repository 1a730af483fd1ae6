/* Allocation stacks (DESIGN §1: every record keeps a stack id).
 *
 * Stacks on the main thread's stack are walked by the shim's own walker
 * (core/unwind.h: .eh_frame read in place, no library, no lock, no
 * allocation), and every stack is interned: each distinct stack is stored
 * once, in the shim's own arena, and named by a small integer id.
 * Lookups of a known stack take no lock (entries are immutable once
 * published); only a new stack takes the table lock.  Stacks are never
 * removed: their number is bounded by the program's distinct call paths,
 * not by how often it allocates.
 *
 * libunwind walks threads' stacks, takes over in a process that takes
 * many stacks (its cache of frame shapes makes each walk cheaper once
 * warm), and walks where the own walker stops early (a frame it cannot
 * read).  It is not linked (it and liblzma would cost every program's
 * start-up): rc_stack_load opens it with dlopen, from a context where
 * entering the dynamic loader is safe, never from inside malloc where it
 * is not (docs/design-notes.md).  A short-lived single-threaded process
 * never opens it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RC_STACK_MAX_DEPTH 128

/* How long a capture waits for a load another thread is making: bounded,
 * because the waiting thread may hold the loader lock that load needs (a
 * capture from a library constructor run by dlopen).  A thread that
 * waited out the bound falls back at once from then on. */
#define RC_STACK_LOAD_WAIT_MS 100

/* Opens libunwind, once; true when stacks can be unwound.  Idempotent and
 * thread-safe: a second caller waits for the first one's load (bounded).
 * It enters the dynamic loader, so never call it from inside malloc or
 * from anything the loader itself may call.  If libunwind cannot be
 * opened, says so once (debug) and captures keep their one-frame
 * fallback. */
bool rc_stack_load(void);

/* For the preload layer, whose malloc interposer runs the heap sampler:
 * from now on rc_stack_capture_alloc and rc_stack_site may run inside the
 * loader (which allocates) and load libunwind only where
 * rc_stack_capture_alloc says.  Without this call (the core linked
 * directly, as by the unit tests) they load it at their first capture. */
void rc_stack_malloc_hooked(void);

/* For the preload layer: the text of the dynamic loader and of the C
 * library, @n ranges [lo, hi).  A malloc called from there may be inside
 * the loader's own work, or hold a lock of the C library: the heap
 * sampler never loads libunwind for it. */
void rc_stack_set_system(const uintptr_t (*ranges)[2], unsigned n);

/* Captures the calling thread's stack, at most @depth frames, leading
 * frames of the shim itself skipped, and interns it.  Returns its id, or 0
 * when @depth is 0, unwinding failed, a fork is in progress, or memory ran
 * out.  Where neither walker can (the own walker stopped at once and
 * libunwind is absent) the stack is one frame: the return address into
 * the program, found along the shim's own frame pointers.  May load
 * libunwind itself (past a process's first captures, or where the own
 * walker stopped early): it is for the tracking calls of temp artifacts,
 * SQLite connections, GPU memory and registrations, which the program
 * makes outside malloc.  The caller holds rc_guard (libunwind may
 * allocate). */
uint32_t rc_stack_capture(unsigned depth);

/* The same for the heap sampler, which runs inside malloc, for a block
 * allocated at @site (the program's call site; NULL if unknown).  The own
 * walker runs here as anywhere.  For libunwind it waits for a load in
 * progress; once rc_stack_malloc_hooked was called it loads libunwind
 * itself only where that cannot meet the loader's locks (a
 * single-threaded process, @site outside the loader and the C library);
 * where no walker can, the stack is @site alone (0 when @site is NULL:
 * the malloc interposer keeps no frame pointers to find it by). */
uint32_t rc_stack_capture_alloc(unsigned depth, const void *site);

/* Whether the shim's own walker (core/unwind.h) takes stacks where it
 * can; on by default.  Tests turn it off to see libunwind's paths. */
void rc_stack_own_walker(bool on);

/* For the preload layer, where the process is about to get its second
 * thread (the program's first pthread_create, or the shim's worker) and
 * allocation stacks are wanted: loads libunwind now, while a load cannot
 * meet another thread's hold on the loader; afterwards the heap sampler
 * does not load it inside malloc (and the own walker does not walk a
 * thread's stack).  From the program's own context only. */
void rc_stack_before_threads(void);

/* A stack for an acquisition at call site @pc (the return address into
 * the program) without unwinding every time: the first acquisition at a
 * call site is unwound in full, and later ones at the same site reuse
 * that stack.  Frame 0 is therefore always exact; the outer frames are
 * those of the first acquisition there.  For the fd hot path, where a full
 * unwind (about 1 100 instructions) would cost a tenth of an open+close
 * pair.  Lock-free on a hit.  Where no walker can, the stack is @pc
 * alone, and the site is unwound again later.  A fork child's first few
 * sites are recorded alone, unwalked (core/stack.c: FORK_SHALLOW).
 * Called from inside malloc too (scopes' blocks): it never loads
 * libunwind itself once rc_stack_malloc_hooked was called (the fd path
 * is also the one a program's signal handler most often takes, where the
 * loader must not be entered). */
uint32_t rc_stack_site(uintptr_t pc, unsigned depth);
/* As rc_stack_site, except where that records a fork child's call site
 * alone (FORK_SHALLOW): then it interns nothing and returns 0, and the
 * caller keeps @pc, to be interned (rc_stack_intern(&pc, 1)) only if the
 * record is reported.  Interning writes the first stacks' page and an
 * arena page (it wrote three pages before the small table and the first
 * ids shared one), each a copy-on-write fault in a shell's child that
 * records its redirections and execs. */
uint32_t rc_stack_site_lazy(uintptr_t pc, unsigned depth);

/* Interns @n program counters; returns the id (0 when out of memory or
 * @n is 0). */
uint32_t rc_stack_intern(const uintptr_t *pc, unsigned n);

/* The frames of stack @id: their count, and *@pc pointed at them (valid
 * for the life of the process).  0 for an unknown id. */
unsigned rc_stack_frames(uint32_t id, const uintptr_t **pc);

/* Whether the calling thread is inside libunwind (loading it or
 * unwinding): a pipe it asks for there would be the shim's, kept open in
 * the program for good, and is answered without an fd (preload/fd.c). */
bool rc_stack_in_unwinder(void);

/* Number of distinct stacks, and the bytes they take. */
size_t rc_stack_count(void);
size_t rc_stack_memory(void);

/* Frames in [lo, hi) at the top of a stack are the shim's own: skipped.
 * Set once by the preload layer; unit tests leave it unset. */
void rc_stack_set_self(uintptr_t lo, uintptr_t hi);

/* First thing before fork, before the shim takes any lock: waits for a
 * load of libunwind in progress (bounded), so that the child inherits the
 * loader whole and libunwind loaded. */
void rc_stack_fork_wait_load(void);

/* Around fork: no thread may be inside the unwinder (which can hold the
 * loader's locks) when the child is made.  A load still promised or in
 * progress is made by a thread the child lacks: the child starts again
 * from "not loaded" (its captures fall back, or load where they may), and
 * never waits for it. */
void rc_stack_fork_prepare(void);
void rc_stack_fork_parent(void);
void rc_stack_fork_child(void);
/* The child's part of rc_stack_fork_child without the lock (a fork that
 * took none: the process had one thread). */
void rc_stack_fork_child_reset(void);
