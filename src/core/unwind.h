/* The shim's own stack walker: DWARF call frame information (.eh_frame,
 * found through .eh_frame_hdr with _dl_find_object), for x86-64, on the
 * main thread's stack.
 *
 * libunwind costs a short-lived process more than the rest of the shim:
 * its dlopen (libunwind and liblzma mapped and relocated, about 25 page
 * faults) and, walking with its cursor, two sigprocmask calls per frame
 * and a pipe-and-mincore probe per page past the outermost frame.  This
 * walker needs no library: _dl_find_object (glibc 2.35) is lock-free and
 * async-signal-safe, and the walk makes no system call (past one
 * getrlimit per process) and allocates nothing, so it may run inside
 * malloc, in a signal handler and around fork without the precautions
 * libunwind needs (core/stack.c).
 *
 * It handles what compilers and glibc emit: the CFA as a register plus
 * offset or as an expression, registers saved at an offset, in another
 * register or at an expression's address, remember/restore state, and
 * glibc's signal frame (augmentation "S").  It reads only the main
 * thread's stack, between the starting stack pointer and its top, where
 * every page is mapped; it does not walk another stack (a thread's, an
 * alternate signal stack), where knowing what is mapped would take a
 * system call per page.  What it does not handle (such a stack, a read
 * outside those bounds, an unknown instruction, a pc in no object) ends
 * the walk, and it says so, so that the caller can ask libunwind
 * instead.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* DWARF register numbers of x86-64 (System V psABI). */
enum {
	RC_UNW_RBX = 3,
	RC_UNW_RBP = 6,
	RC_UNW_RSP = 7,
	RC_UNW_R12 = 12,
	RC_UNW_R13 = 13,
	RC_UNW_R14 = 14,
	RC_UNW_R15 = 15,
	RC_UNW_RIP = 16,
	RC_UNW_NREGS = 17,
};

/* A live frame's registers: the values, and which are known. */
struct rc_unw_regs {
	uintptr_t r[RC_UNW_NREGS];
	uint32_t known;
};

/* The registers of the frame it is written in (inline asm: the pc is the
 * next instruction's, the stack and frame pointers and the callee-saved
 * registers the function's own at that point). */
#if defined(__x86_64__)
#define RC_UNW_HERE(regs)                                                            \
	do {                                                                         \
		__asm__ volatile("lea 0(%%rip), %%rax\n\t"                           \
				 "mov %%rax, 128(%0)\n\t"                            \
				 "mov %%rbx, 24(%0)\n\t"                             \
				 "mov %%rbp, 48(%0)\n\t"                             \
				 "mov %%rsp, 56(%0)\n\t"                             \
				 "mov %%r12, 96(%0)\n\t"                             \
				 "mov %%r13, 104(%0)\n\t"                            \
				 "mov %%r14, 112(%0)\n\t"                            \
				 "mov %%r15, 120(%0)\n\t"                            \
				 :                                                   \
				 : "r"((regs)->r)                                    \
				 : "rax", "memory");                                 \
		(regs)->known = 1u << RC_UNW_RBX | 1u << RC_UNW_RBP |               \
				1u << RC_UNW_RSP | 1u << RC_UNW_R12 |               \
				1u << RC_UNW_R13 | 1u << RC_UNW_R14 |               \
				1u << RC_UNW_R15 | 1u << RC_UNW_RIP;                \
	} while (0)
#define RC_UNW_AVAILABLE 1
#else
#define RC_UNW_AVAILABLE 0
#endif

/* Walks the calling thread's stack from @regs (a live frame of this
 * thread, from RC_UNW_HERE: the walk reads its callers' frames, which must
 * still be there), writing at most @max program counters to @pc: @regs'
 * own first, then the return address of each caller.  Returns how many;
 * *@complete is true when the walk ended at the outermost frame (a return
 * address the call frame information says is undefined) or at @max, and
 * false when it stopped at something it does not handle. */
int rc_unwind(struct rc_unw_regs *regs, uintptr_t *pc, int max, bool *complete);
