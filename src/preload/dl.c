/* dlsym, for the CUDA driver (DESIGN §1, facts about real programs): the
 * CUDA runtime loads libcuda.so.1 RTLD_LOCAL with dlopen and fetches
 * cuGetProcAddress_v2 with dlsym(handle, ...), which symbol interposition
 * never sees.  For the driver functions the shim wraps, looked up in the
 * driver, this dlsym hands out the shim's wrapper; every other lookup is
 * glibc's, unchanged.
 *
 * The catch is that dlsym depends on who calls it: RTLD_NEXT means "after
 * the caller's object", and RTLD_DEFAULT searches the caller's scope
 * (which, for an object loaded RTLD_LOCAL, includes its own dependencies).
 * glibc reads the caller from the return address of dlsym itself.  A
 * wrapper written in C that calls the real dlsym becomes the caller: every
 * dlsym(RTLD_NEXT, ...) in the program would resolve relative to the shim.
 *
 * So dlsym is a few instructions of assembly: it asks rc_dl_hook what to
 * do, and either returns the hook's answer or jumps (not calls) to the real
 * dlsym with the program's arguments and the program's return address
 * still on the stack.  The real dlsym then sees the original caller, and
 * its answer, including dlerror(), is exactly what it would have been
 * without the shim.  The shim's own dlsym(RTLD_NEXT, ...) calls pass
 * through the same way, with the shim as their caller, as they must.
 *
 * glibc's internal _dl_sym(handle, name, caller) used to be reachable for
 * this (GLIBC_PRIVATE); since glibc 2.34 it is not exported, which is why
 * interposers that relied on it (GOTCHA among them)
 * re-implemented symbol lookup over the link maps instead.  The jump keeps
 * glibc's own lookup.
 */
#include "build-config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "core/gpu.h"
#include "core/state.h"
#include "preload/cuda.h"
#include "preload/real.h"

typedef void *(*dlsym_fn)(void *, const char *);

/* The sanitizer runtimes find their own real functions with dlsym(RTLD_NEXT)
 * while they initialise, before an instrumented load or store could work:
 * the path every lookup takes is not instrumented. */
#define NO_SANITIZE __attribute__((no_sanitize("address", "undefined")))

/* What the assembly does next: return @value, or, when @next is set, jump
 * to @next with the original arguments (returned in rax:rdx / x0:x1). */
struct rc_dl_answer {
	void *value;
	void *next;
};

struct rc_dl_answer rc_dl_hook(void *handle, const char *name, void *caller)
	__attribute__((visibility("hidden"), used));

static _Atomic(dlsym_fn) real_dlsym RC_HOT;
static _Atomic(uintptr_t) self_base RC_HOT;
static _Atomic(uintptr_t) driver_base RC_HOT;

#if defined(__x86_64__)
#define BASE_VERSION "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define BASE_VERSION "GLIBC_2.17"
#else
#define BASE_VERSION NULL
#endif

/* glibc 2.34 moved dlsym into libc with a new version; older ones have
 * only the base version.  RTLD_NEXT from the shim: the next definition,
 * libc's, or another interposer's preloaded after this one. */
static NO_SANITIZE dlsym_fn
resolve(void)
{
	static RC_TLS int busy;
	dlsym_fn p = atomic_load_explicit(&real_dlsym, memory_order_acquire);
	if (p || busy) {
		return p; /* NULL only if dlvsym itself comes back here */
	}
	busy = 1;
	int saved_errno = errno;
	p = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
	if (!p && BASE_VERSION) {
		p = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", BASE_VERSION);
	}
	errno = saved_errno;
	busy = 0;
	if (p) {
		atomic_store_explicit(&real_dlsym, p, memory_order_release);
	}
	return p;
}

void *
rc_dl_real(void *handle, const char *name)
{
	dlsym_fn real = resolve();
	return real ? real(handle, name) : NULL;
}

static uintptr_t
base_of(const void *addr, const char **file)
{
	Dl_info info;
	if (!addr || !dladdr(addr, &info) || !info.dli_fbase) {
		return 0;
	}
	if (file) {
		const char *f = info.dli_fname ? info.dli_fname : "";
		const char *slash = strrchr(f, '/');
		*file = slash ? slash + 1 : f;
	}
	return (uintptr_t)info.dli_fbase;
}

bool
rc_dl_in_self(const void *addr)
{
	uintptr_t self = atomic_load_explicit(&self_base, memory_order_relaxed);
	if (!self) {
		self = base_of((const void *)&rc_dl_in_self, NULL);
		atomic_store_explicit(&self_base, self, memory_order_relaxed);
	}
	return self && base_of(addr, NULL) == self;
}

bool
rc_dl_in_driver(const void *addr)
{
	const char *file = NULL;
	uintptr_t base = base_of(addr, &file);
	if (!base) {
		return false;
	}
	uintptr_t known = atomic_load_explicit(&driver_base, memory_order_acquire);
	if (known) {
		return base == known;
	}
	/* The driver is the object named libcuda.so (.1, or with the full
	 * driver version), however it was loaded. */
	if (strncmp(file, "libcuda.so", 10) != 0) {
		return false;
	}
	uintptr_t zero = 0;
	atomic_compare_exchange_strong(&driver_base, &zero, base);
	return atomic_load(&driver_base) == base;
}

static __attribute__((noinline)) struct rc_dl_answer
hook_slow(void *handle, const char *name, void *caller, dlsym_fn real)
{
	struct rc_dl_answer pass = { NULL, (void *)real };
	int i = rc_cuda_index(name);
	if (i < 0) {
		return pass;
	}
	int saved_errno = errno;
	rc_guard++;
	/* The driver resolving its own functions, and the shim resolving
	 * the driver's, get the driver's. */
	bool own = rc_dl_in_self(caller) || rc_dl_in_driver(caller);
	rc_guard--;
	errno = saved_errno;
	if (own) {
		return pass;
	}
	/* A handle is not relative to the caller: the lookup from here finds
	 * what the program's would (and leaves dlerror() as it would). */
	void *p = real(handle, name);
	if (!p) {
		return (struct rc_dl_answer){ NULL, NULL };
	}
	saved_errno = errno;
	rc_guard++;
	if (rc_dl_in_driver(p)) {
		if (!rc_gpu_bound() && rc_gpu_bind(p)) {
			rc_cuda_learn_exports(rc_gpu_driver_handle());
			/* Binding made dl* calls of its own, and dlerror()
			 * reports the last one: the program's call again
			 * leaves it as the program's. */
			real(handle, name);
		}
		p = rc_cuda_wrap(i, p);
	}
	rc_guard--;
	errno = saved_errno;
	return (struct rc_dl_answer){ p, NULL };
}

NO_SANITIZE struct rc_dl_answer
rc_dl_hook(void *handle, const char *name, void *caller)
{
	dlsym_fn real = atomic_load_explicit(&real_dlsym, memory_order_acquire);
	if (__builtin_expect(!real, 0) && !(real = resolve())) {
		return (struct rc_dl_answer){ NULL, NULL };
	}
	/* The pseudo-handles are the caller-relative lookups: always the
	 * real dlsym's, whatever the name (the shim's own exported wrappers
	 * are found there like any interposed symbol). */
	if (__builtin_expect(!name || name[0] != 'c' || name[1] != 'u' || handle == RTLD_DEFAULT ||
				     handle == RTLD_NEXT,
			     1)) {
		return (struct rc_dl_answer){ NULL, (void *)real };
	}
	return hook_slow(handle, name, caller, real);
}

/* Resolved at load, before the program can ask. */
__attribute__((constructor)) static void
dl_init(void)
{
	resolve();
}

#if defined(__x86_64__)
/* Entry: rsp is 8 mod 16.  Two pushes and 8 bytes keep the call aligned;
 * the return address stays at 24(%rsp) for the hook to see. */
__asm__(".pushsection .text.rcshim_asm,\"ax\",@progbits\n"
	".globl dlsym\n"
	".type dlsym, @function\n"
	".p2align 4\n"
	"dlsym:\n"
	".cfi_startproc\n"
#if defined(__CET__) && (__CET__ & 1)
	"endbr64\n"
#endif
	"pushq %rdi\n"
	".cfi_adjust_cfa_offset 8\n"
	"pushq %rsi\n"
	".cfi_adjust_cfa_offset 8\n"
	"subq $8, %rsp\n"
	".cfi_adjust_cfa_offset 8\n"
	"movq 24(%rsp), %rdx\n"
	"call rc_dl_hook\n"
	"addq $8, %rsp\n"
	".cfi_adjust_cfa_offset -8\n"
	"popq %rsi\n"
	".cfi_adjust_cfa_offset -8\n"
	"popq %rdi\n"
	".cfi_adjust_cfa_offset -8\n"
	"testq %rdx, %rdx\n"
	"jz 1f\n"
	"jmp *%rdx\n"
	"1:\n"
	"ret\n"
	".cfi_endproc\n"
	".size dlsym, .-dlsym\n"
	".popsection\n");
#elif defined(__aarch64__)
__asm__(".text\n"
	".globl dlsym\n"
	".type dlsym, %function\n"
	".p2align 4\n"
	"dlsym:\n"
	".cfi_startproc\n"
#if defined(__ARM_FEATURE_BTI_DEFAULT)
	"bti c\n"
#endif
	"stp x29, x30, [sp, #-32]!\n"
	".cfi_def_cfa_offset 32\n"
	".cfi_offset 29, -32\n"
	".cfi_offset 30, -24\n"
	"mov x29, sp\n"
	"stp x0, x1, [sp, #16]\n"
	"mov x2, x30\n"
	"bl rc_dl_hook\n"
	"cbz x1, 1f\n"
	"mov x16, x1\n"
	"ldp x0, x1, [sp, #16]\n"
	".cfi_remember_state\n"
	"ldp x29, x30, [sp], #32\n"
	".cfi_restore 29\n"
	".cfi_restore 30\n"
	".cfi_def_cfa_offset 0\n"
	"br x16\n"
	"1:\n"
	".cfi_restore_state\n"
	"ldp x29, x30, [sp], #32\n"
	".cfi_restore 29\n"
	".cfi_restore 30\n"
	".cfi_def_cfa_offset 0\n"
	"ret\n"
	".cfi_endproc\n"
	".size dlsym, .-dlsym\n");
#else
/* Elsewhere the hook's answer is followed from C: lookups relative to the
 * caller (RTLD_NEXT, RTLD_DEFAULT) are then relative to the shim. */
RC_EXPORT void *
dlsym(void *handle, const char *name)
{
	struct rc_dl_answer a = rc_dl_hook(handle, name, __builtin_return_address(0));
	return a.next ? ((dlsym_fn)a.next)(handle, name) : a.value;
}
#endif
