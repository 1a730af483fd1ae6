/* File descriptors: open and its forms, dup, fcntl, close (DESIGN §1 FD). */
#include "build-config.h"

/* Both the plain and the 64 names are defined here: the headers must not
 * redirect one to the other (Meson builds with _FILE_OFFSET_BITS=64). */
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/stack.h"
#include "preload/real.h"

#define NEEDS_MODE(flags) (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE)

#define MODE_ARG(flags, mode)                        \
	mode_t mode = 0;                             \
	if (NEEDS_MODE(flags)) {                     \
		va_list ap;                          \
		va_start(ap, flags);                 \
		mode = (mode_t)va_arg(ap, int);      \
		va_end(ap);                          \
	}

/* glibc declares these only under _FORTIFY_SOURCE. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
int fcntl64(int fd, int cmd, ...);

REAL(int (*)(const char *, int, ...), open);
REAL(int (*)(const char *, int, ...), open64);
REAL(int (*)(int, const char *, int, ...), openat);
REAL(int (*)(int, const char *, int, ...), openat64);
REAL(int (*)(const char *, mode_t), creat);
REAL(int (*)(const char *, mode_t), creat64);
REAL(int (*)(const char *, int), __open_2);
REAL(int (*)(const char *, int), __open64_2);
REAL(int (*)(int, const char *, int), __openat_2);
REAL(int (*)(int, const char *, int), __openat64_2);
REAL(int (*)(int), dup);
REAL(int (*)(int, int), dup2);
REAL(int (*)(int, int, int), dup3);
REAL(int (*)(int, int, ...), fcntl);
REAL(int (*)(int, int, ...), fcntl64);
REAL(int (*)(int), close);
REAL(int (*)(unsigned, unsigned, int), close_range);
REAL(void (*)(int), closefrom);
REAL(int (*)(int[2]), pipe);
REAL(int (*)(int[2], int), pipe2);

/* Resolves, in a process about to fork, what a fork child calls before it
 * execs (a shell's redirections: open, dup2, close, fcntl).  Each pointer
 * is resolved on first use, and a child's resolutions die with it: a
 * shell that never opens a file itself resolved open anew in every child,
 * a dozen page faults each.  Once per process. */
void
rc_preload_fd_resolve(void)
{
#define PRE(name)                                                                    \
	do {                                                                         \
		if (!real_##name) {                                                  \
			real_##name = (__typeof__(real_##name))rc_real_next(#name);  \
		}                                                                    \
	} while (0)
	PRE(open);
	PRE(open64);
	PRE(openat);
	PRE(dup);
	PRE(dup2);
	PRE(fcntl);
	PRE(close);
	PRE(pipe);
	PRE(pipe2);
#undef PRE
}

RC_EXPORT int
open(const char *path, int flags, ...)
{
	MODE_ARG(flags, mode);
	RESOLVE(open, -1);
	int fd = real_open(path, flags, mode);
	CALLER();
	rc_track_open(AT_FDCWD, path, flags, fd);
	return fd;
}

RC_EXPORT int
open64(const char *path, int flags, ...)
{
	MODE_ARG(flags, mode);
	RESOLVE(open64, -1);
	int fd = real_open64(path, flags, mode);
	CALLER();
	rc_track_open(AT_FDCWD, path, flags, fd);
	return fd;
}

RC_EXPORT int
openat(int dirfd, const char *path, int flags, ...)
{
	MODE_ARG(flags, mode);
	RESOLVE(openat, -1);
	int fd = real_openat(dirfd, path, flags, mode);
	CALLER();
	rc_track_open(dirfd, path, flags, fd);
	return fd;
}

RC_EXPORT int
openat64(int dirfd, const char *path, int flags, ...)
{
	MODE_ARG(flags, mode);
	RESOLVE(openat64, -1);
	int fd = real_openat64(dirfd, path, flags, mode);
	CALLER();
	rc_track_open(dirfd, path, flags, fd);
	return fd;
}

RC_EXPORT int
creat(const char *path, mode_t mode)
{
	RESOLVE(creat, -1);
	int fd = real_creat(path, mode);
	CALLER();
	rc_track_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, fd);
	return fd;
}

RC_EXPORT int
creat64(const char *path, mode_t mode)
{
	RESOLVE(creat64, -1);
	int fd = real_creat64(path, mode);
	CALLER();
	rc_track_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, fd);
	return fd;
}

/* The fortify forms (-D_FORTIFY_SOURCE) take no mode: glibc routes calls
 * that need one to the plain functions. */
RC_EXPORT int
__open_2(const char *path, int flags)
{
	RESOLVE(__open_2, -1);
	int fd = real___open_2(path, flags);
	CALLER();
	rc_track_open(AT_FDCWD, path, flags, fd);
	return fd;
}

RC_EXPORT int
__open64_2(const char *path, int flags)
{
	RESOLVE(__open64_2, -1);
	int fd = real___open64_2(path, flags);
	CALLER();
	rc_track_open(AT_FDCWD, path, flags, fd);
	return fd;
}

RC_EXPORT int
__openat_2(int dirfd, const char *path, int flags)
{
	RESOLVE(__openat_2, -1);
	int fd = real___openat_2(dirfd, path, flags);
	CALLER();
	rc_track_open(dirfd, path, flags, fd);
	return fd;
}

RC_EXPORT int
__openat64_2(int dirfd, const char *path, int flags)
{
	RESOLVE(__openat64_2, -1);
	int fd = real___openat64_2(dirfd, path, flags);
	CALLER();
	rc_track_open(dirfd, path, flags, fd);
	return fd;
}

RC_EXPORT int
dup(int oldfd)
{
	RESOLVE(dup, -1);
	int fd = real_dup(oldfd);
	CALLER();
	rc_track_dup(oldfd, fd);
	return fd;
}

RC_EXPORT int
dup2(int oldfd, int newfd)
{
	RESOLVE(dup2, -1);
	int fd = real_dup2(oldfd, newfd);
	if (fd >= 0 && oldfd != newfd) {
		CALLER();
		rc_track_dup(oldfd, fd);
	}
	return fd;
}

RC_EXPORT int
dup3(int oldfd, int newfd, int flags)
{
	RESOLVE(dup3, -1);
	int fd = real_dup3(oldfd, newfd, flags);
	CALLER();
	rc_track_dup(oldfd, fd);
	return fd;
}

/* The third argument is an int or a pointer depending on cmd; both travel
 * in the same register, so it is forwarded as a pointer-sized value. */
#define FCNTL_BODY(real)                                                 \
	va_list ap;                                                      \
	va_start(ap, cmd);                                               \
	void *arg = va_arg(ap, void *);                                  \
	va_end(ap);                                                      \
	int r = real(fd, cmd, arg);                                      \
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) {      \
		CALLER();                                                \
		rc_track_dup(fd, r);                                     \
	}                                                                \
	return r

RC_EXPORT int
fcntl(int fd, int cmd, ...)
{
	RESOLVE(fcntl, -1);
	FCNTL_BODY(real_fcntl);
}

RC_EXPORT int
fcntl64(int fd, int cmd, ...)
{
	RESOLVE(fcntl64, -1);
	FCNTL_BODY(real_fcntl64);
}

RC_EXPORT int
close(int fd)
{
	RESOLVE(close, -1);
	/* Forget first: once closed, the number can be handed to another
	 * thread's open before we get to it. */
	rc_track_close(fd);
	return real_close(fd);
}

RC_EXPORT int
close_range(unsigned lo, unsigned hi, int flags)
{
	RESOLVE(close_range, -1);
	if (!(flags & CLOSE_RANGE_CLOEXEC)) {
		rc_track_close_range(lo, hi);
	}
	return real_close_range(lo, hi, flags);
}

RC_EXPORT void
closefrom(int lo)
{
	if (!real_closefrom) {
		real_closefrom = (__typeof__(real_closefrom))rc_real_next("closefrom");
		if (!real_closefrom) {
			return;
		}
	}
	rc_track_close_range(lo < 0 ? 0 : (unsigned)lo, INT_MAX);
	real_closefrom(lo);
}

/* --- libunwind's pipe ------------------------------------------------------------
 *
 * libunwind checks that an address is readable, where a frame has no
 * unwind information or its fast path has not seen it yet, by writing one
 * byte of it into a pipe it opens at its first unwind and keeps for good
 * (through pipe2, read and syscall(SYS_write)).  That pipe took the lowest
 * free numbers (with stdin closed, fd 0: the program's next open no longer
 * returned 0), and wherever it was it showed in the program's list of its
 * own fds (CPython's test_pass_fds_redirected).  Asked for inside the
 * unwinder, the pipe is two negative numbers instead, which the kernel
 * refuses as fds and libunwind does not take for "none" (-1): its read
 * fails, and the write it then makes with syscall() is answered here with
 * the same check the pipe made, with no fd: process_vm_readv of that byte
 * from this process (which the kernel allows a process on itself).  The
 * shim thus holds no fd at all. */

#define UNW_FAKE_READ -2
#define UNW_FAKE_WRITE -3

static int
fake_pipe(int fds[2])
{
	fds[0] = UNW_FAKE_READ;
	fds[1] = UNW_FAKE_WRITE;
	return 0;
}

RC_EXPORT int
pipe2(int fds[2], int flags)
{
	if (__builtin_expect(rc_stack_in_unwinder(), 0)) {
		return fake_pipe(fds);
	}
	RESOLVE(pipe2, -1);
	return real_pipe2(fds, flags);
}

RC_EXPORT int
pipe(int fds[2])
{
	if (__builtin_expect(rc_stack_in_unwinder(), 0)) {
		return fake_pipe(fds);
	}
	RESOLVE(pipe, -1);
	return real_pipe(fds);
}

/* Whether the byte at @addr is readable: 1, else -1 with errno EFAULT (a
 * process_vm_readv the system refuses, under a seccomp policy say, counts
 * as unreadable: libunwind then ends the stack there rather than read
 * memory it could not check). */
static long
check_readable(const void *addr)
{
	char byte;
	struct iovec local = { &byte, 1 }, remote = { (void *)(uintptr_t)addr, 1 };
	long r = rc_sys(SYS_process_vm_readv, rc_sys_getpid(), &local, 1, &remote, 1, 0);
	if (r == 1) {
		return 1;
	}
	errno = EFAULT;
	return -1;
}

REAL(long (*)(long, ...), syscall) RC_HOT;

/* Resolved at load: syscall() is the one of these a program may first call
 * from a signal handler (a futex wake, say), where dlsym must not run. */
__attribute__((constructor)) static void
resolve_syscall(void)
{
	if (!real_syscall) {
		real_syscall = (__typeof__(real_syscall))rc_real_next("syscall");
	}
}

RC_EXPORT long
syscall(long n, ...)
{
	va_list ap;
	long a[6];

	va_start(ap, n);
	for (int i = 0; i < 6; i++) {
		a[i] = va_arg(ap, long);
	}
	va_end(ap);
	/* The fd was passed as an int: only its low half is meaningful. */
	if (__builtin_expect(n == SYS_write && (int)a[0] == UNW_FAKE_WRITE, 0) &&
	    rc_stack_in_unwinder()) {
		return check_readable((const void *)a[1]);
	}
	RESOLVE(syscall, -1);
	return real_syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
