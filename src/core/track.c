#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>

#include "core/arena.h"
#include "core/fdtable.h"
#include "core/gpu.h"
#include "core/log.h"
#include "core/journal.h"
#include "core/path.h"
#include "core/roots.h"
#include "core/registry.h"
#include "core/session.h"
#include "core/sqlite.h"
#include "core/stack.h"
#include "core/state.h"
#include "core/sys.h"
#include "core/track.h"

RC_TLS void *rc_track_caller;

/* Entering the core: nothing the shim does from here on is the
 * program's, and the program's errno survives.  The guard is also up in a
 * vfork child (preload/proc.c), which must change nothing here, and in a
 * fork child the shim is off in (rc_off).  Work waiting for a tracked
 * call runs first (core/state.h: rc_safe_point). */
#define ENTER_DUE (RC_DUE_START | RC_DUE_DRAIN)
#define ENTER(kind_ok)                                                   \
	if ((rc_guard && !rc_vfork_over()) || !(kind_ok) ||              \
	    atomic_load_explicit(&rc_off, memory_order_relaxed)) {       \
		return;                                                  \
	}                                                                \
	int *errno_at_ = rc_errno();                                     \
	int saved_errno_ = *errno_at_;                                   \
	if (__builtin_expect(atomic_load_explicit(&rc_due,               \
						  memory_order_relaxed) & \
				     ENTER_DUE, 0)) {                    \
		rc_safe_point(RC_AT_CALL);                               \
	}                                                                \
	rc_guard++
#define LEAVE()                                                          \
	do {                                                             \
		rc_guard--;                                              \
		*errno_at_ = saved_errno_;                               \
	} while (0)

/* Records a temp artifact if @path names an object directly inside an
 * accepted temp root (DESIGN §2): its parent, as the kernel sees it, must
 * be the root itself, so the identity is read again through the root's
 * canonical name.  @fd >= 0: the object is open there, and the two must
 * agree (left in *@st_out for the fd's own record). */
static bool
temp_add(int dirfd, const char *path, bool dir, int fd, struct stat *st_out)
{
	char abs[PATH_MAX], key[PATH_MAX];
	struct stat st, at;
	int root;

	if (!path || rc_path_abs(dirfd, path, abs, sizeof(abs)) < 0 ||
	    (root = rc_tmp_key(abs, key, sizeof(key))) < 0) {
		return false;
	}
	if (rc_sys_fstatat(AT_FDCWD, key, &at, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (dir && !S_ISDIR(at.st_mode))) {
		return false;
	}
	if (fd >= 0) {
		if (rc_sys_fstat(fd, &st) < 0 || st.st_dev != at.st_dev || st.st_ino != at.st_ino) {
			return false; /* reached through a link: not in the root */
		}
	} else {
		st = at;
	}
	if (st_out) {
		*st_out = st;
	}
	struct rc_record rec = {
		.kind = RCSHIM_KIND_TEMP,
		.flags = dir ? RC_REC_DIR : 0,
		.sub = (uint16_t)root,
		.dev = (uint32_t)st.st_dev,
		.ino = (uint64_t)st.st_ino,
		.size = dir ? 0 : (uint64_t)st.st_size,
		.pid = rc_pid_cached,
		.scope = rc_scope_cur,
		.stack = rc_stack_capture(rc_cfg.stack_depth),
		.path = key,
	};
	/* Journal first: if the process dies between the two steps, the
	 * session still knows about it. */
	if (rc_journal_append('+', dir, rec.dev, rec.ino, (unsigned)root, key) == 0) {
		rec.flags |= RC_REC_JOURNALED;
	}
	if (!rc_reg_add(&rec)) {
		rc_debug("out of memory tracking a temp artifact");
	}
	return true;
}

/* Forgets the record of the temp artifact whose key is @key, if any: it
 * was removed, renamed away, or replaced. */
static void
temp_release(const char *key)
{
	struct rc_record rec;
	if (rc_reg_take_path(key, &rec)) {
		if (rec.flags & RC_REC_JOURNALED) {
			rc_journal_append('-', rec.flags & RC_REC_DIR, rec.dev, rec.ino, rec.sub,
					  rec.path);
		}
		rc_free(rec.path);
	}
}

/* @known: the fd's identity when the caller has it already. */
static void
fd_add(int fd, uint32_t flags, bool need_ident, uint64_t aux, const struct stat *known)
{
	struct stat st;
	const struct stat *pst = known;

	/* The identity costs a system call: only where the shim may close
	 * the fd itself later (see core/fdtable.h). */
	if (!pst && (need_ident || rc_scope_cur) && rc_sys_fstat(fd, &st) == 0) {
		pst = &st;
	}
	/* The call site's stack (see rc_stack_site): a full unwind per open
	 * would cost a tenth of an open+close pair. */
	uintptr_t pc = (uintptr_t)rc_track_caller;
	/* Where aux is free for the caller's address, a fork child's first
	 * sites are kept there, uninterned, for the report to name. */
	uint32_t stack = aux ? rc_stack_site(pc, rc_cfg.stack_depth)
			     : rc_stack_site_lazy(pc, rc_cfg.stack_depth);
	rc_fd_track(fd, flags, rc_scope_cur, stack, rc_pid_cached, aux ? aux : (uint64_t)pc, pst);
}

void
rc_track_open(int dirfd, const char *path, int flags, int fd)
{
	if (fd < 0) {
		return;
	}
	ENTER(rc_tracking(RCSHIM_KIND_FD) || rc_tracking(RCSHIM_KIND_TEMP));
	bool temp = false;
	struct stat st;
	if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL) &&
	    (flags & O_TMPFILE) != O_TMPFILE && rc_tracking(RCSHIM_KIND_TEMP)) {
		temp = temp_add(dirfd, path, false, fd, &st);
	}
	if (rc_tracking(RCSHIM_KIND_FD)) {
		uint32_t f = (temp ? RC_FD_TEMP : 0) |
			     ((flags & O_ACCMODE) == O_RDONLY ? RC_FD_RDONLY : 0);
		fd_add(fd, f, temp, 0, temp ? &st : NULL);
	}
	LEAVE();
}

void
rc_track_mkstemp(const char *path, int fd)
{
	rc_track_open(AT_FDCWD, path, O_CREAT | O_EXCL | O_RDWR, fd);
}

void
rc_track_fopen(FILE *fp, const char *path, const char *mode)
{
	if (!fp) {
		return;
	}
	ENTER(rc_tracking(RCSHIM_KIND_FD) || rc_tracking(RCSHIM_KIND_TEMP));
	int fd = fileno(fp);
	if (fd >= 0) {
		struct stat st;
		bool excl = mode && strchr(mode, 'x') && (strchr(mode, 'w') || strchr(mode, 'a'));
		bool temp = excl && path && rc_tracking(RCSHIM_KIND_TEMP) &&
			    temp_add(AT_FDCWD, path, false, fd, &st);
		if (rc_tracking(RCSHIM_KIND_FD)) {
			uint32_t f = RC_FD_STDIO | (temp ? RC_FD_TEMP : 0) |
				     (mode && mode[0] == 'r' && !strchr(mode, '+') ? RC_FD_RDONLY : 0);
			fd_add(fd, f, temp, (uint64_t)(uintptr_t)fp, temp ? &st : NULL);
		}
	}
	LEAVE();
}

void
rc_track_dup(int oldfd, int newfd)
{
	if (newfd < 0) {
		return;
	}
	ENTER(rc_tracking(RCSHIM_KIND_FD));
	struct rc_fd_entry e;
	rc_fd_untrack(newfd); /* dup2 closed whatever was there */
	if (rc_fd_get(oldfd, &e)) {
		/* The copy's stack is the original's: where the file or pipe
		 * was opened is what a report of the copy needs, and a shell
		 * makes its copies in a fork child about to exec, where the
		 * dup2 call site was never unwound (a fresh unwind there
		 * cost more than the rest of the fork).  The dup's own call
		 * site is kept (aux), unless the original keeps its site
		 * there unwalked (rc_fd_lazy_site): then that one, which is
		 * the original's stack. */
		struct stat st;
		const struct stat *pst = &st;
		memset(&st, 0, sizeof(st));
		st.st_dev = (dev_t)e.dev;
		st.st_ino = (ino_t)e.ino;
		/* Without the original's identity, taken as fd_add would. */
		if (!(atomic_load(&e.flags) & RC_FD_IDENT) &&
		    (!rc_scope_cur || rc_sys_fstat(newfd, &st) != 0)) {
			pst = NULL;
		}
		uint64_t site = rc_fd_lazy_site(&e);
		rc_fd_track(newfd, RC_FD_DUP | (atomic_load(&e.flags) & RC_FD_RDONLY),
			    rc_scope_cur, e.stack, rc_pid_cached,
			    site ? site : (uint64_t)(uintptr_t)rc_track_caller, pst);
	} else {
		fd_add(newfd, RC_FD_DUP, false, 0, NULL);
	}
	LEAVE();
}

void
rc_track_close(int fd)
{
	/* Not gated on rc_tracking, nor on rc_guard: an fd that closes must
	 * be forgotten whoever closes it.  SQLite closes its database file
	 * while the engine (holding the guard) closes a connection; a stale
	 * entry left then would be taken, once another thread reuses the
	 * number, for that thread's fd.  The shim's own fds are closed with
	 * raw system calls and never come here.  Not in a vfork child: the
	 * table is its parent's. */
	if (__builtin_expect(rc_self.vfork, 0) && !rc_vfork_over()) {
		return;
	}
	rc_fd_untrack(fd);
}

void
rc_track_close_range(unsigned lo, unsigned hi)
{
	if (__builtin_expect(rc_self.vfork, 0) && !rc_vfork_over()) {
		return;
	}
	rc_fd_untrack_range(lo > INT_MAX ? INT_MAX : (int)lo, hi > INT_MAX ? INT_MAX : (int)hi);
}

void
rc_track_mkdir(int dirfd, const char *path)
{
	ENTER(rc_tracking(RCSHIM_KIND_TEMP));
	temp_add(dirfd, path, true, -1, NULL);
	LEAVE();
}

/* The slow halves of unlink and rename, apart from their checks: their
 * path buffers are 8 and 12 KiB of stack, and a program that unlinks or
 * renames with no temp artifact held (every git command) should not reach
 * stack pages it may never have touched (a page fault each). */
static __attribute__((noinline)) void
unlink_held(int dirfd, const char *path)
{
	ENTER(true);
	char abs[PATH_MAX], key[PATH_MAX];
	if (rc_path_abs(dirfd, path, abs, sizeof(abs)) >= 0 &&
	    rc_tmp_key(abs, key, sizeof(key)) >= 0) {
		temp_release(key);
	}
	LEAVE();
}

void
rc_track_unlink(int dirfd, const char *path)
{
	if (rc_reg_count(RCSHIM_KIND_TEMP) != 0 && path) {
		unlink_held(dirfd, path);
	}
}

/* A rename releases (DESIGN §2): an owned artifact renamed or moved to any
 * name is the program's output from then on (a move into an owned temp
 * directory is covered by that directory's tree), and whatever was owned
 * at the destination has been replaced.  The atomic-write idiom (mkstemp +
 * rename over an existing file: sed -i, git's refs, editors) therefore
 * never loses the file it wrote. */
static __attribute__((noinline)) void
rename_held(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	ENTER(true);
	char from[PATH_MAX], to[PATH_MAX], key[PATH_MAX];
	struct stat st;
	if (rc_path_abs(olddirfd, oldpath, from, sizeof(from)) < 0 ||
	    rc_path_abs(newdirfd, newpath, to, sizeof(to)) < 0 ||
	    /* A rename between two names of one inode (or a name and
	     * itself) succeeds and changes nothing: the source stays. */
	    strcmp(from, to) == 0 ||
	    rc_sys_fstatat(AT_FDCWD, from, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		LEAVE();
		return;
	}
	if (rc_tmp_key(to, key, sizeof(key)) >= 0) {
		temp_release(key);
	}
	if (rc_tmp_key(from, key, sizeof(key)) >= 0) {
		temp_release(key);
	}
	LEAVE();
}

void
rc_track_rename(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	if (rc_reg_count(RCSHIM_KIND_TEMP) != 0 && oldpath && newpath) {
		rename_held(olddirfd, oldpath, newdirfd, newpath);
	}
}

void
rc_track_sqlite_open(void *db, void *api_fn)
{
	if (!db) {
		return;
	}
	ENTER(rc_tracking(RCSHIM_KIND_SQLITE));
	/* A new connection at the address of one the shim closed. */
	rc_sqlite_take_closed(db);
	if (rc_sqlite_bind(api_fn)) {
		const char *file = rc_sqlite.db_filename
					   ? rc_sqlite.db_filename(db, "main") : NULL;
		struct rc_record rec = {
			.kind = RCSHIM_KIND_SQLITE,
			.handle = (uint64_t)(uintptr_t)db,
			.pid = rc_pid_cached,
			.scope = rc_scope_cur,
			.stack = rc_stack_capture(rc_cfg.stack_depth),
			.path = (char *)(file && *file ? file : NULL),
		};
		rc_reg_add(&rec);
	}
	LEAVE();
}

bool
rc_track_sqlite_closed_by_shim(void *db)
{
	return db && rc_sqlite_take_closed(db);
}

bool
rc_track_sqlite_close_begin(void *db, void *saved)
{
	struct rc_record *rec = saved;
	if (!db || rc_guard) {
		return false;
	}
	return rc_reg_take(RCSHIM_KIND_SQLITE, (uint64_t)(uintptr_t)db, rec);
}

void
rc_track_sqlite_close_failed(void *saved)
{
	struct rc_record *rec = saved;
	rc_reg_put_back(rec);
	rc_free(rec->path);
}

void
rc_track_sqlite_close_done(void *saved)
{
	struct rc_record *rec = saved;
	rc_free(rec->path);
}

struct rescope {
	uint32_t from, to;
	int32_t pid;
};

/* A "match" that never matches: it runs under the registry lock for every
 * record, so changing the scope here is atomic with respect to every other
 * user of the registry, and nothing is copied out. */
static bool
rescope_record(const struct rc_record *r, void *p)
{
	const struct rescope *m = p;
	if (r->scope == m->from && r->pid == m->pid) {
		((struct rc_record *)r)->scope = m->to;
	}
	return false;
}

static bool
rescope_fd(int fd, const struct rc_fd_entry *e, void *p)
{
	const struct rescope *m = p;
	if (e->scope != m->from || e->pid != m->pid) {
		return true;
	}
	uint32_t flags = atomic_load_explicit(&((struct rc_fd_entry *)e)->flags,
					      memory_order_relaxed);
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_dev = (dev_t)e->dev;
	st.st_ino = (ino_t)e->ino;
	/* Re-published whole.  Should another thread close the fd right
	 * now, the entry may outlive it; its identity then no longer
	 * matches, and the fd step forgets it without touching the number. */
	rc_fd_track(fd, flags & ~(uint32_t)(RC_FD_LIVE | RC_FD_IDENT), m->to, e->stack, e->pid,
		    e->aux, (flags & RC_FD_IDENT) ? &st : NULL);
	return true;
}

void
rc_track_rescope(uint32_t from, uint32_t to)
{
	struct rescope m = { from, to, rc_pid_cached };
	struct rc_record *none;

	if (!from || from == to) {
		return;
	}
	rc_guard++;
	rc_reg_collect(rescope_record, &m, false, &none);
	rc_fd_foreach(rescope_fd, &m);
	rc_guard--;
}

/* --- GPU memory --------------------------------------------------------------- */

void
rc_track_gpu_alloc(uint64_t handle, uint64_t size, unsigned sub, uint64_t pool, void *drv_fn)
{
	if (!handle) {
		return;
	}
	ENTER(rc_tracking(RCSHIM_KIND_GPU));
	/* Unbound (a stub library, say), the record is still kept and
	 * reported; freeing it is counted as failed. */
	if (!rc_gpu_bound()) {
		rc_gpu_bind(drv_fn);
	}
	struct rc_record rec = {
		.kind = RCSHIM_KIND_GPU,
		.sub = (uint16_t)sub,
		.handle = handle,
		.size = size,
		.ino = sub == RC_GPU_PHYSICAL ? 0 : (uint64_t)(uintptr_t)rc_gpu_ctx_current(),
		.pid = rc_pid_cached,
		.scope = rc_scope_cur,
		.stack = size >= RC_GPU_FULL_STACK_MIN
				 ? rc_stack_capture(rc_cfg.stack_depth)
				 : rc_stack_site((uintptr_t)rc_track_caller, rc_cfg.stack_depth),
	};
	if (pool) {
		rc_gpu_note_pool(pool);
	}
	/* The driver hands out no address that is still allocated: a record
	 * there went stale behind the shim's back, and must never be freed. */
	rc_reg_take(RCSHIM_KIND_GPU, handle, NULL);
	if (!rc_reg_add(&rec)) {
		rc_debug("out of memory tracking GPU allocation 0x%llx", (unsigned long long)handle);
	}
	LEAVE();
}

bool
rc_track_gpu_free_begin(uint64_t handle, void *saved)
{
	/* Not gated on rc_tracking: what was tracked is forgotten when it is
	 * freed, whenever that is. */
	if (!handle || rc_guard || rc_reg_count(RCSHIM_KIND_GPU) == 0) {
		return false;
	}
	int saved_errno = errno;
	bool had = rc_reg_take(RCSHIM_KIND_GPU, handle, saved);
	errno = saved_errno;
	return had;
}

void
rc_track_gpu_free_failed(void *saved)
{
	int saved_errno = errno;
	rc_reg_put_back(saved);
	errno = saved_errno;
}

static bool
gpu_of_ctx(const struct rc_record *r, void *p)
{
	return r->kind == RCSHIM_KIND_GPU && r->ino == *(const uint64_t *)p &&
	       r->sub != RC_GPU_PHYSICAL;
}

void
rc_track_gpu_ctx_gone(uint64_t ctx)
{
	if (!ctx || rc_guard || rc_reg_count(RCSHIM_KIND_GPU) == 0) {
		return;
	}
	int saved_errno = errno;
	rc_guard++;
	struct rc_record *list;
	size_t n = rc_reg_collect(gpu_of_ctx, &ctx, true, &list);
	if (n) {
		rc_debug("gpu: context 0x%llx destroyed with %zu tracked allocations",
			 (unsigned long long)ctx, n);
	}
	rc_reg_free_list(list, n);
	rc_guard--;
	errno = saved_errno;
}

uint64_t
rc_track_gpu_primary_before(int dev)
{
	if (rc_guard || rc_reg_count(RCSHIM_KIND_GPU) == 0) {
		return 0;
	}
	int saved_errno = errno;
	rc_guard++;
	uint64_t ctx = (uint64_t)(uintptr_t)rc_gpu_primary_ctx(dev);
	rc_guard--;
	errno = saved_errno;
	return ctx;
}

void
rc_track_gpu_primary_after(int dev, uint64_t ctx, bool reset)
{
	if (!ctx || rc_guard) {
		return;
	}
	int saved_errno = errno;
	rc_guard++;
	bool gone = reset || !rc_gpu_primary_active(dev);
	rc_guard--;
	errno = saved_errno;
	if (gone) {
		rc_track_gpu_ctx_gone(ctx);
	}
}

void
rc_track_gpu_pool_gone(uint64_t pool)
{
	if (pool && !rc_guard) {
		rc_gpu_forget_pool(pool);
	}
}
