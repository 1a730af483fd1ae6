/* Appending to a file of the shim's own (a journal, a report) without ever
 * raising SIGXFSZ.
 *
 * A process with a file size limit (RLIMIT_FSIZE: `ulimit -f`, a build or
 * test sandbox's) gets SIGXFSZ from a write that starts at or past it, and
 * that signal kills the program by default.  Files every process of a
 * session appends to (the journal, the launcher's shared report file) pass
 * any limit in time.  So, where a limit is set, the write runs with
 * SIGXFSZ blocked; one it raised is taken back (it failed with EFBIG, and
 * the signal was not pending before it), and the mask is restored.  The
 * write past the limit fails; one that crosses it is cut short there (the
 * readers drop what is cut).  Raw system calls only, as on the signal
 * path; without a limit, one prlimit64 more than the write.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* writev(2) of @iov's @n pieces to @fd, as above: what it returns (a
 * negative errno on failure). */
ssize_t rc_appendv(int fd, const struct iovec *iov, int n);

/* write(2) of [p, p + len) to @fd, as above. */
ssize_t rc_append(int fd, const void *p, size_t len);
