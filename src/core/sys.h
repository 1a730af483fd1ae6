/* Raw system calls for the shim's own use.
 *
 * The shim never calls the libc wrappers it interposes (that would recurse
 * into its own hooks) and must stay async-signal-safe on the crash path, so
 * its own I/O goes straight to the kernel.  Each helper returns the kernel's
 * result: a negative errno on failure, errno itself is left untouched.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <errno.h>

#if defined(__x86_64__)
static inline long
rc_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	unsigned long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return (long)ret;
}
#else
/* Portable fallback: libc's syscall() reports through errno, which the
 * caller's errno must not see. */
static inline long
rc_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	int saved = errno;
	long r = syscall(n, a, b, c, d, e, f);
	if (r == -1) {
		r = -errno;
	}
	errno = saved;
	return r;
}
#endif

#define rc_sys(n, a, b, c, d, e, f) \
	rc_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static inline int rc_sys_openat(int dirfd, const char *path, int flags, int mode)
{ return (int)rc_sys(SYS_openat, dirfd, path, flags, mode, 0, 0); }
static inline int rc_sys_close(int fd)
{ return (int)rc_sys(SYS_close, fd, 0, 0, 0, 0, 0); }
static inline ssize_t rc_sys_read(int fd, void *buf, size_t n)
{ return rc_sys(SYS_read, fd, buf, n, 0, 0, 0); }
static inline ssize_t rc_sys_write(int fd, const void *buf, size_t n)
{ return rc_sys(SYS_write, fd, buf, n, 0, 0, 0); }
static inline ssize_t rc_sys_pread(int fd, void *buf, size_t n, long off)
{ return rc_sys(SYS_pread64, fd, buf, n, off, 0, 0); }
static inline unsigned rc_sys_geteuid(void)
{ return (unsigned)rc_sys(SYS_geteuid, 0, 0, 0, 0, 0, 0); }
static inline int rc_sys_fstat(int fd, struct stat *st)
{ return (int)rc_sys(SYS_fstat, fd, st, 0, 0, 0, 0); }
static inline int rc_sys_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{ return (int)rc_sys(SYS_newfstatat, dirfd, path, st, flags, 0, 0); }
static inline int rc_sys_unlinkat(int dirfd, const char *path, int flags)
{ return (int)rc_sys(SYS_unlinkat, dirfd, path, flags, 0, 0, 0); }
static inline int rc_sys_mkdirat(int dirfd, const char *path, int mode)
{ return (int)rc_sys(SYS_mkdirat, dirfd, path, mode, 0, 0, 0); }
static inline long rc_sys_getdents64(int fd, void *buf, size_t n)
{ return rc_sys(SYS_getdents64, fd, buf, n, 0, 0, 0); }
static inline int rc_sys_getpid(void)
{ return (int)rc_sys(SYS_getpid, 0, 0, 0, 0, 0, 0); }
static inline int rc_sys_gettid(void)
{ return (int)rc_sys(SYS_gettid, 0, 0, 0, 0, 0, 0); }
static inline int rc_sys_tgkill(int tgid, int tid, int sig)
{ return (int)rc_sys(SYS_tgkill, tgid, tid, sig, 0, 0, 0); }
static inline void *rc_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = rc_sys(SYS_mmap, addr, len, prot, flags, fd, off);
	return (r < 0 && r > -4096) ? (void *)-1 : (void *)r;
}
static inline int rc_sys_munmap(void *addr, size_t len)
{ return (int)rc_sys(SYS_munmap, addr, len, 0, 0, 0, 0); }
static inline ssize_t rc_sys_readlinkat(int dirfd, const char *path, char *buf, size_t n)
{ return rc_sys(SYS_readlinkat, dirfd, path, buf, n, 0, 0); }
static inline int rc_sys_getcwd(char *buf, size_t n)
{ return (int)rc_sys(SYS_getcwd, buf, n, 0, 0, 0, 0); }
static inline int rc_sys_futex(void *uaddr, int op, int val, const void *timeout)
{ return (int)rc_sys(SYS_futex, uaddr, op, val, timeout, 0, 0); }
static inline int rc_sys_fchmod(int fd, int mode)
{ return (int)rc_sys(SYS_fchmod, fd, mode, 0, 0, 0, 0); }
static inline long rc_sys_lseek(int fd, long off, int whence)
{ return rc_sys(SYS_lseek, fd, off, whence, 0, 0, 0); }
