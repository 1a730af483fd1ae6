/* Appending without raising SIGXFSZ: core/append.h. */
#include "build-config.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#include "core/append.h"
#include "core/sys.h"

/* The kernel's sigset: one bit per signal, 8 bytes on Linux. */
#define XFSZ_BIT (1ull << (SIGXFSZ - 1))

ssize_t
rc_appendv(int fd, const struct iovec *iov, int n)
{
	struct rlimit rl;
	if (rc_sys(SYS_prlimit64, 0, RLIMIT_FSIZE, NULL, &rl, 0, 0) != 0 ||
	    rl.rlim_cur == RLIM_INFINITY) {
		return rc_sys(SYS_writev, fd, iov, n, 0, 0, 0);
	}
	uint64_t block = XFSZ_BIT, old = 0, pending = 0;
	if (rc_sys(SYS_rt_sigprocmask, SIG_BLOCK, &block, &old, 8, 0, 0) != 0) {
		return -EFBIG; /* not written rather than risked */
	}
	rc_sys(SYS_rt_sigpending, &pending, 8, 0, 0, 0, 0);
	bool was_pending = pending & XFSZ_BIT;
	ssize_t w = rc_sys(SYS_writev, fd, iov, n, 0, 0, 0);
	if (w == -EFBIG && !was_pending) {
		/* The signal this write raised, sent to this thread. */
		struct timespec now = { 0, 0 };
		rc_sys(SYS_rt_sigtimedwait, &block, NULL, &now, 8, 0, 0);
	}
	rc_sys(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, 8, 0, 0);
	return w;
}

ssize_t
rc_append(int fd, const void *p, size_t len)
{
	struct iovec iov = { (void *)p, len };
	return rc_appendv(fd, &iov, 1);
}
