/* File descriptors the process acquired, indexed by number (after fdsan).
 *
 * Constant time on every open and close, no lock: an entry is published
 * with one release store of its flags and withdrawn with one exchange.
 * Entries live in 1024-entry chunks, the first static (.lbss), the others
 * mapped on first use.
 *
 * An fd's identity (st_dev, st_ino) costs a system call, which on the
 * machines we measured is as much as a third of an open+close pair; it is
 * captured only where the shim may later close the fd itself (inside a
 * scope, for registered fds, for temp files).  Only fds with an identity
 * are ever closed by the shim outside the crash path.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

enum rc_fd_flags {
	RC_FD_LIVE = 1u << 0,       /* entry in use */
	RC_FD_IDENT = 1u << 1,      /* dev/ino are valid */
	RC_FD_STDIO = 1u << 2,      /* opened through a FILE */
	RC_FD_REGISTERED = 1u << 3, /* named by rcshim_register_fd/_file */
	RC_FD_TEMP = 1u << 4,       /* the fd of a tracked temp file */
	RC_FD_RDONLY = 1u << 5,     /* opened read-only */
	RC_FD_DUP = 1u << 6,        /* made by dup/fcntl */
};

#define RC_FD_MAX (1024 * 1024)

struct rc_fd_entry {
	_Atomic uint32_t flags;
	uint32_t scope;
	uint32_t stack;
	int32_t pid;
	uint64_t dev;
	uint64_t ino;
	uint64_t aux; /* FILE * for stdio fds, else the caller's address */
};

/* Records @fd.  @st, when not NULL, gives its identity. */
void rc_fd_track(int fd, uint32_t flags, uint32_t scope, uint32_t stack,
		 int32_t pid, uint64_t aux, const struct stat *st);
/* Forgets @fd; returns the flags it had (0 if untracked). */
uint32_t rc_fd_untrack(int fd);
/* Forgets every fd in [lo, hi]. */
void rc_fd_untrack_range(int lo, int hi);
/* Copies the entry for @fd into @out; false if untracked. */
bool rc_fd_get(int fd, struct rc_fd_entry *out);
/* The call site an entry keeps unwalked: stack 0 and, for an fd not
 * opened through a FILE, the caller's address in aux (a fork child's
 * first sites, rc_stack_site_lazy; or no stack could be taken).  0 when
 * the entry has a stack or no site. */
static inline uint64_t
rc_fd_lazy_site(const struct rc_fd_entry *e)
{
	uint32_t f = atomic_load_explicit(&((struct rc_fd_entry *)e)->flags, memory_order_relaxed);
	return e->stack == 0 && !(f & RC_FD_STDIO) ? e->aux : 0;
}
/* The stack of entry @e (a copy, as rc_fd_get gives): its own, or the
 * call site it keeps unwalked, interned now (only a report or a FILE
 * that takes aux over asks). */
uint32_t rc_fd_stack_of(const struct rc_fd_entry *e);
/* Adds flags to a tracked entry (e.g. RC_FD_STDIO after fdopen). */
void rc_fd_set_flags(int fd, uint32_t add, uint64_t aux);
/* Calls @fn for each tracked fd, in increasing order; stops when it
 * returns false.  Async-signal-safe. */
void rc_fd_foreach(bool (*fn)(int fd, const struct rc_fd_entry *e, void *ctx),
		   void *ctx);
/* Highest fd number that may be tracked, -1 if none ever was. */
int rc_fd_high_water(void);
/* Forgets everything (tests, and the fork child's fresh start). */
void rc_fd_reset(void);
