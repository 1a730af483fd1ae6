/* vfork and pthread_create: the two moments where what the shim may do
 * changes (DESIGN §4).
 *
 * A vfork child shares its parent's memory until it calls exec or _exit:
 * nothing the shim does in it may change the parent's state.  vfork marks
 * the calling thread (rc_self.vfork, shared with the child) and raises its
 * guard, so the child's calls into the shim track nothing; the parent,
 * back, lowers both.  The heap is the exception: the child's blocks are
 * the parent's, which frees them, so they are counted, plainly
 * (preload/heap.c, shared_block).  The child's pid differs from rc_pid_cached (no fork
 * handler runs for vfork), which is how its signal handlers, sigaction and
 * exit know it too.
 *
 * The first pthread_create ends the time where the heap sampler may open
 * libunwind inside malloc (core/stack.h: no other thread can then hold the
 * loader's locks against it): where heap stacks are wanted, it is opened
 * here, before the second thread exists. */
#include "build-config.h"

#include <errno.h>
#include <pthread.h>
#include <sys/single_threaded.h>
#include <unistd.h>

#include "core/heap.h"
#include "core/stack.h"
#include "preload/real.h"

/* --- vfork ---------------------------------------------------------------------- */

void rc_vfork_enter(void);
long rc_vfork_leave(long r);

__attribute__((visibility("hidden"))) void
rc_vfork_enter(void)
{
	rc_self.vfork++;
	rc_guard++;
}

/* The parent, back (or the call failed): @r is the system call's result. */
__attribute__((visibility("hidden"))) long
rc_vfork_leave(long r)
{
	rc_guard--;
	rc_self.vfork--;
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

#if defined(__x86_64__)
/* The system call itself, as glibc's vfork makes it: the return address is
 * popped into a register that survives the call (the child runs on this
 * stack and overwrites it) and pushed back after it.  Entry: rsp is 8 mod
 * 16; so it is again after the push, and 8 bytes more align the call. */
__asm__(".pushsection .text.rcshim_asm,\"ax\",@progbits\n"
	".globl vfork\n"
	".type vfork, @function\n"
	".p2align 4\n"
	"vfork:\n"
	".cfi_startproc\n"
#if defined(__CET__) && (__CET__ & 1)
	"endbr64\n"
#endif
	"subq $8, %rsp\n"
	".cfi_adjust_cfa_offset 8\n"
	"call rc_vfork_enter\n"
	"addq $8, %rsp\n"
	".cfi_adjust_cfa_offset -8\n"
	"popq %rdi\n"
	".cfi_adjust_cfa_offset -8\n"
	".cfi_register %rip, %rdi\n"
	"movl $58, %eax\n" /* SYS_vfork */
	"syscall\n"
	"pushq %rdi\n"
	".cfi_adjust_cfa_offset 8\n"
	".cfi_rel_offset %rip, 0\n"
	"testl %eax, %eax\n"
	"jz 1f\n"
	"movq %rax, %rdi\n"
	"subq $8, %rsp\n"
	".cfi_adjust_cfa_offset 8\n"
	"call rc_vfork_leave\n"
	"addq $8, %rsp\n"
	".cfi_adjust_cfa_offset -8\n"
	"1:\n"
	"ret\n"
	".cfi_endproc\n"
	".size vfork, .-vfork\n"
	".popsection\n");
#endif

/* --- pthread_create ----------------------------------------------------------- */

REAL(int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *), pthread_create);

RC_EXPORT int
pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg)
{
	if (__builtin_expect(!real_pthread_create, 0)) {
		real_pthread_create = (__typeof__(real_pthread_create))rc_real_next("pthread_create");
		if (!real_pthread_create) {
			return EAGAIN;
		}
	}
	/* The program's first thread: after it, a heap sample inside malloc
	 * no longer opens libunwind itself. */
	if (__builtin_expect(__libc_single_threaded, 0) && rc_guard == 0 &&
	    atomic_load_explicit(&rc_ready, memory_order_acquire) == 2 && rc_heap_wants_stacks()) {
		int saved_errno = errno;
		rc_guard++;
		rc_stack_before_threads();
		rc_guard--;
		errno = saved_errno;
	}
	return real_pthread_create(thread, attr, start, arg);
}
