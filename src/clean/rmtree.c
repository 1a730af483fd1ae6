#include "build-config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "clean/rmtree.h"
#include "core/sys.h"

/* The walk keeps one state block per depth level instead of recursing, so
 * a deep tree costs mapped memory, not native stack (this runs in signal
 * handlers, possibly on a small alternate stack).  Each block holds the
 * level's directory fd and a getdents64 buffer; a subdirectory is entered
 * from the middle of its parent's buffer and the parent's listing resumes
 * where it stopped once the child is gone, so every listing is read once
 * and no directory is re-read while it is being emptied.
 */
#define RM_LEVEL_SIZE (32 * 1024)
#define RM_MAX_DEPTH 1024
/* A listing that ends with the directory still non-empty although nothing
 * in it failed is read again (entries created meanwhile, or a file system
 * whose directory positions moved under deletion); bounded so that a
 * concurrent writer cannot keep us here. */
#define RM_RESCANS 2
/* Parent paths up to this length are copied on the stack; longer ones go to
 * a mapped page, keeping the stack footprint small for sigaltstack users. */
#define RM_SHORT_PATH 256

#define RM_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

struct rm_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* The kernel's struct statx, declared here because the libc headers carry
 * stx_mnt_id only in recent versions. */
struct rm_statx {
	uint32_t mask;
	uint32_t blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, pad0;
	uint64_t ino, size, blocks, attributes_mask;
	struct {
		int64_t sec;
		uint32_t nsec;
		int32_t pad;
	} atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t mnt_id;
	uint64_t spare[13];
};
_Static_assert(sizeof(struct rm_statx) == 256, "struct statx is 256 bytes");

#define RM_STATX_TYPE 0x0001u
#define RM_STATX_INO 0x0100u
#define RM_STATX_MNT_ID 0x1000u

struct rm_id {
	uint64_t dev;
	uint64_t ino;
	uint64_t mnt;   /* mount id, valid when has_mnt */
	bool has_mnt;
};

struct rm_level {
	struct rm_level *up;    /* parent level, NULL at the root */
	struct rm_level *down;  /* mapping of the next level, kept for reuse */
	int fd;                 /* -1 while closed to spare descriptors */
	long pos;               /* listing position saved when fd was closed */
	struct rm_id id;
	const char *name;       /* in the parent's buffer, or the caller's path */
	unsigned depth;
	unsigned bpos, blen;
	uint64_t failed;        /* failures below this level in this pass */
	unsigned rescans;
	char buf[] __attribute__((aligned(8)));
};

#define RM_BUF_SIZE (RM_LEVEL_SIZE - offsetof(struct rm_level, buf))

struct rm_walk {
	struct rc_rm_stats *st;
	struct rm_id root;
	int root_pfd;
	struct rm_level *first;
	struct rm_level *top;
};

/* 0: untried, 1: statx works, -1: fall back to fstat (old kernel, seccomp) */
static volatile int rm_statx_state;

static uint64_t
rm_makedev(uint32_t major, uint32_t minor)
{
	/* glibc's encoding, which is what stat() callers recorded */
	return ((uint64_t)(major & 0xfffff000u) << 32) |
	       ((uint64_t)(major & 0x00000fffu) << 8) |
	       ((uint64_t)(minor & 0xffffff00u) << 12) |
	       (uint64_t)(minor & 0x000000ffu);
}

/* The mount id, where the kernel tells it, also catches bind mounts of the
 * same file system inside the tree, which st_dev alone cannot. */
static int
rm_ident(int fd, struct rm_id *id)
{
	struct stat sb;
	int r;

#ifdef SYS_statx
	if (rm_statx_state >= 0) {
		struct rm_statx sx;

		r = (int)rc_sys(SYS_statx, fd, "", AT_EMPTY_PATH,
				RM_STATX_TYPE | RM_STATX_INO | RM_STATX_MNT_ID,
				&sx, 0);
		if (r == 0) {
			rm_statx_state = 1;
			id->dev = rm_makedev(sx.dev_major, sx.dev_minor);
			id->ino = sx.ino;
			id->has_mnt = (sx.mask & RM_STATX_MNT_ID) != 0;
			id->mnt = id->has_mnt ? sx.mnt_id : 0;
			return 0;
		}
		if (r != -ENOSYS && r != -EPERM && r != -EINVAL) {
			return r;
		}
		rm_statx_state = -1;
	}
#endif
	r = rc_sys_fstat(fd, &sb);
	if (r < 0) {
		return r;
	}
	id->dev = (uint64_t)sb.st_dev;
	id->ino = (uint64_t)sb.st_ino;
	id->mnt = 0;
	id->has_mnt = false;
	return 0;
}

static void
rm_removed(struct rm_walk *w)
{
	if (w->st) {
		w->st->removed++;
	}
}

static void
rm_fail(struct rm_walk *w, int err)
{
	if (w->st) {
		w->st->failed++;
		if (w->st->first_error == 0) {
			w->st->first_error = -err;
		}
	}
	if (w->top) {
		w->top->failed++;
	}
}

static bool
rm_is_dot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* Out of descriptors: the shallowest open level that is not being listed
 * gives its fd back; it is reopened through ".." when the walk returns. */
static bool
rm_spare_fd(struct rm_walk *w)
{
	for (struct rm_level *l = w->first; l && l != w->top; l = l->down) {
		if (l->fd < 0) {
			continue;
		}
		long pos = rc_sys_lseek(l->fd, 0, SEEK_CUR);
		if (pos < 0) {
			return false;
		}
		rc_sys_close(l->fd);
		l->fd = -1;
		l->pos = pos;
		return true;
	}
	return false;
}

static int
rm_openat(struct rm_walk *w, int dirfd, const char *name, int flags)
{
	for (;;) {
		int fd = rc_sys_openat(dirfd, name, flags, 0);

		if ((fd != -EMFILE && fd != -ENFILE) || !rm_spare_fd(w)) {
			return fd;
		}
	}
}

/* The fd of the directory that holds level @l.  A parent that gave its fd
 * away is reopened as "..", which is only trusted when it is the very inode
 * we left: a tree moved during the walk is not followed anywhere else. */
static int
rm_parent_fd(struct rm_walk *w, struct rm_level *l)
{
	struct rm_level *p = l->up;
	struct rm_id id;
	int fd;

	if (!p) {
		return w->root_pfd;
	}
	if (p->fd >= 0) {
		return p->fd;
	}
	fd = rm_openat(w, l->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rm_fail(w, fd);
		return fd;
	}
	int r = rm_ident(fd, &id);
	if (r == 0 && (id.dev != p->id.dev || id.ino != p->id.ino)) {
		r = -ESTALE;
	}
	if (r == 0) {
		long off = rc_sys_lseek(fd, p->pos, SEEK_SET);
		r = off < 0 ? (int)off : 0;
	}
	if (r < 0) {
		rc_sys_close(fd);
		rm_fail(w, r);
		return r;
	}
	p->fd = fd;
	return fd;
}

static struct rm_level *
rm_level_below(struct rm_level *l)
{
	struct rm_level *c = l->down;

	if (c) {
		return c;
	}
	c = rc_sys_mmap(NULL, RM_LEVEL_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c == (void *)-1) {
		return NULL;
	}
	c->up = l;
	c->down = NULL;
	c->depth = l->depth + 1;
	l->down = c;
	return c;
}

static void
rm_level_start(struct rm_level *l, int fd, const struct rm_id *id,
	       const char *name)
{
	l->fd = fd;
	l->pos = 0;
	l->id = *id;
	l->name = name;
	l->bpos = 0;
	l->blen = 0;
	l->failed = 0;
	l->rescans = 0;
}

/* A name that could not be entered as a directory after all: it was
 * replaced by something else since it was listed, which is unlinked like
 * any other entry (unlinkat never follows a symlink). */
static void
rm_unlink_instead(struct rm_walk *w, int dirfd, const char *name)
{
	int r = rc_sys_unlinkat(dirfd, name, 0);

	if (r == 0) {
		rm_removed(w);
	} else if (r != -ENOENT) {
		rm_fail(w, r);
	}
}

static void
rm_descend(struct rm_walk *w, struct rm_level *l, const char *name)
{
	struct rm_level *c;
	struct rm_id id;
	int fd, r;

	if (l->depth + 1 >= RM_MAX_DEPTH) {
		rm_fail(w, -ELOOP);
		return;
	}
	fd = rm_openat(w, l->fd, name, RM_DIR_FLAGS);
	if (fd == -ENOENT) {
		return;
	}
	if (fd == -ENOTDIR || fd == -ELOOP) {
		rm_unlink_instead(w, l->fd, name);
		return;
	}
	if (fd == -EACCES || fd == -EPERM) {
		/* unreadable, but removable if already empty, as rm does */
		r = rc_sys_unlinkat(l->fd, name, AT_REMOVEDIR);
		if (r == 0) {
			rm_removed(w);
			return;
		}
	}
	if (fd < 0) {
		rm_fail(w, fd);
		return;
	}
	r = rm_ident(fd, &id);
	if (r == 0 && (id.dev != w->root.dev ||
		       (id.has_mnt && w->root.has_mnt && id.mnt != w->root.mnt))) {
		r = -EXDEV;  /* a mount point: its contents are not ours */
	}
	if (r < 0) {
		goto fail_fd;
	}
	c = rm_level_below(l);
	if (!c) {
		r = -ENOMEM;
		goto fail_fd;
	}
	rm_level_start(c, fd, &id, name);
	w->top = c;
	return;

fail_fd:
	rc_sys_close(fd);
	rm_fail(w, r);
}

static const struct rm_dirent64 *
rm_next(struct rm_walk *w, struct rm_level *l)
{
	const struct rm_dirent64 *de;

	if (l->bpos >= l->blen) {
		long n = rc_sys_getdents64(l->fd, l->buf, RM_BUF_SIZE);

		if (n <= 0) {
			if (n < 0) {
				rm_fail(w, (int)n);
			}
			return NULL;
		}
		l->bpos = 0;
		l->blen = (unsigned)n;
	}
	de = (const struct rm_dirent64 *)(l->buf + l->bpos);
	l->bpos += de->d_reclen;
	return de;
}

static void
rm_entry(struct rm_walk *w, struct rm_level *l, const struct rm_dirent64 *de)
{
	if (rm_is_dot(de->d_name)) {
		return;
	}
	/* One unlinkat per non-directory and no stat: the common case is a
	 * file, and a directory reports itself with EISDIR when the file
	 * system leaves d_type unknown. */
	if (de->d_type != DT_DIR) {
		int r = rc_sys_unlinkat(l->fd, de->d_name, 0);

		if (r == 0) {
			rm_removed(w);
			return;
		}
		if (r == -ENOENT) {
			return;
		}
		if (r != -EISDIR) {
			rm_fail(w, r);
			return;
		}
	}
	rm_descend(w, l, de->d_name);
}

/* Empties the root level and removes it; returns what the root's removal
 * returned. */
static int
rm_walk(struct rm_walk *w)
{
	for (;;) {
		struct rm_level *l = w->top;
		const struct rm_dirent64 *de = rm_next(w, l);
		int pfd, r;

		if (de) {
			rm_entry(w, l, de);
			continue;
		}
		pfd = rm_parent_fd(w, l);
		if (pfd < 0 && l->up) {
			/* the tree moved under us: stop rather than follow it;
			 * the root stays, holding what is left */
			return -ENOTEMPTY;
		}
		r = rc_sys_unlinkat(pfd, l->name, AT_REMOVEDIR);
		if (r == -ENOTEMPTY && l->failed == 0 && l->rescans < RM_RESCANS &&
		    rc_sys_lseek(l->fd, 0, SEEK_SET) == 0) {
			l->rescans++;
			l->bpos = 0;
			l->blen = 0;
			continue;
		}
		rc_sys_close(l->fd);
		l->fd = -1;
		w->top = l->up;
		if (w->top) {
			w->top->failed += l->failed;
		}
		if (r == 0) {
			rm_removed(w);
		} else if (r != -ENOENT) {
			rm_fail(w, r);
		}
		if (!w->top) {
			return r == -ENOENT ? 0 : r;
		}
	}
}

/* Opens the directory @path (relative to @dirfd) one component at a time,
 * never following a symbolic link (DESIGN §5: no path is resolved through
 * a symlink at any depth).  A link on the way means the recorded object is
 * not where it was: -ESTALE.  @path is modified and restored. */
static int
rm_open_parent(int dirfd, char *path)
{
	char *p = path;
	int fd;

	if (*p == '/') {
		fd = rc_sys_openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	} else {
		fd = rc_sys_openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	}
	while (fd >= 0) {
		while (*p == '/') {
			p++;
		}
		if (!*p) {
			return fd;
		}
		char *seg = p;
		while (*p && *p != '/') {
			p++;
		}
		char save = *p;
		*p = '\0';
		int next = rc_sys_openat(fd, seg, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (next == -ENOTDIR) {
			/* A symlink (O_PATH|O_NOFOLLOW|O_DIRECTORY fails on one)
			 * or a file. */
			struct stat sb;
			if (rc_sys_fstatat(fd, seg, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(sb.st_mode)) {
				next = -ESTALE;
			}
		}
		*p = save;
		rc_sys_close(fd);
		fd = next;
	}
	return fd;
}

/* Splits @path into the directory that holds its last component (@pfd,
 * @dirfd itself for a bare name; @own says whether it must be closed) and
 * that component (@base, a suffix of @path).  A last component that is not
 * a plain name is refused: "x/." or "x/" names a directory by another name,
 * and removing it through that name is not what was recorded. */
static int
rm_split(int dirfd, const char *path, int *pfd, const char **base, bool *own)
{
	size_t len, plen;
	const char *b;
	char small[RM_SHORT_PATH];
	char *copy = small;
	size_t map_len = 0;
	int fd;

	*own = false;
	if (!path || path[0] == '\0') {
		return -EINVAL;
	}
	len = strlen(path);
	if (path[len - 1] == '/') {
		return -EINVAL;
	}
	b = path + len;
	while (b > path && b[-1] != '/') {
		b--;
	}
	if (rm_is_dot(b)) {
		return -EINVAL;
	}
	*base = b;
	if (b == path) {
		*pfd = dirfd;
		return 0;
	}

	plen = (size_t)(b - path);
	while (plen > 1 && path[plen - 1] == '/') {
		plen--;
	}
	if (plen >= 4096) {
		return -ENAMETOOLONG;
	}
	if (plen >= sizeof(small)) {
		map_len = 4096;
		copy = rc_sys_mmap(NULL, map_len, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (copy == (void *)-1) {
			return -ENOMEM;
		}
	}
	memcpy(copy, path, plen);
	copy[plen] = '\0';
	fd = rm_open_parent(dirfd, copy);
	if (map_len) {
		rc_sys_munmap(copy, map_len);
	}
	if (fd == -ENOTDIR) {
		return -ENOENT;  /* a file on the way: nothing can be there */
	}
	if (fd < 0) {
		return fd;
	}
	*pfd = fd;
	*own = true;
	return 0;
}

int
rc_rmtree_at(int dirfd, const char *name, uint64_t dev, uint64_t ino,
	     struct rc_rm_stats *st)
{
	struct rm_walk w = { .st = st, .root_pfd = -1 };
	struct rm_level *l;
	const char *base = NULL;
	bool own;
	int fd, r;

	r = rm_split(dirfd, name, &w.root_pfd, &base, &own);
	if (r < 0) {
		return r;
	}
	fd = rc_sys_openat(w.root_pfd, base, RM_DIR_FLAGS, 0);
	if (fd == -ENOTDIR || fd == -ELOOP) {
		r = -ESTALE;  /* a symlink or a non-directory now */
		goto out_pfd;
	}
	if (fd < 0) {
		r = fd;
		goto out_pfd;
	}
	r = rm_ident(fd, &w.root);
	if (r < 0) {
		goto out_fd;
	}
	if (w.root.dev != dev || w.root.ino != ino) {
		r = -ESTALE;
		goto out_fd;
	}

	l = rc_sys_mmap(NULL, RM_LEVEL_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l == (void *)-1) {
		r = -ENOMEM;
		goto out_fd;
	}
	l->up = NULL;
	l->down = NULL;
	l->depth = 0;
	rm_level_start(l, fd, &w.root, base);
	w.first = l;
	w.top = l;

	r = rm_walk(&w);

	/* An aborted walk leaves levels open; close what is and unmap all. */
	while (l) {
		struct rm_level *next = l->down;

		if (l->fd >= 0) {
			rc_sys_close(l->fd);
		}
		rc_sys_munmap(l, RM_LEVEL_SIZE);
		l = next;
	}
	goto out_pfd;

out_fd:
	rc_sys_close(fd);
out_pfd:
	if (own) {
		rc_sys_close(w.root_pfd);
	}
	return r;
}

int
rc_rmtree(const char *path, uint64_t dev, uint64_t ino, struct rc_rm_stats *st)
{
	return rc_rmtree_at(AT_FDCWD, path, dev, ino, st);
}

int
rc_unlink_checked(const char *path, uint64_t dev, uint64_t ino)
{
	const char *base = NULL;
	struct stat sb;
	bool own;
	int pfd, r;

	r = rm_split(AT_FDCWD, path, &pfd, &base, &own);
	if (r < 0) {
		return r;
	}
	/* A symlink is its own inode: it matches only its own record. */
	r = rc_sys_fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW);
	if (r == 0 && ((uint64_t)sb.st_dev != dev || (uint64_t)sb.st_ino != ino)) {
		r = -ESTALE;
	}
	if (r == 0 && S_ISDIR(sb.st_mode)) {
		r = -EISDIR;
	}
	if (r == 0) {
		r = rc_sys_unlinkat(pfd, base, 0);
	}
	if (own) {
		rc_sys_close(pfd);
	}
	return r;
}

int
rc_unlink_at(int dirfd, const char *name, uint64_t dev, uint64_t ino)
{
	struct stat sb;
	int r;

	if (!name || !*name || strchr(name, '/') || rm_is_dot(name)) {
		return -EINVAL;
	}
	/* A symlink is its own inode: it matches only its own record. */
	r = rc_sys_fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW);
	if (r == 0 && ((uint64_t)sb.st_dev != dev || (uint64_t)sb.st_ino != ino)) {
		r = -ESTALE;
	}
	if (r == 0 && S_ISDIR(sb.st_mode)) {
		r = -EISDIR;
	}
	if (r == 0) {
		r = rc_sys_unlinkat(dirfd, name, 0);
	}
	return r;
}
