#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/log.h"
#include "core/path.h"
#include "core/roots.h"
#include "core/state.h"
#include "core/sys.h"

#define MAX_LINKS 40
/* How long rc_tmp_root waits for another thread's check: about 10 s. */
#define ROOTS_WAIT_ROUNDS (64 + 100000)
#define SCRATCH (3 * PATH_MAX)

/* Candidates and, once checked, the accepted roots.  Index i of the table
 * is candidate i: a record made while another thread was still checking
 * (see root_slow) names the same root as the table will. */
struct slot {
	const char *canon; /* in R.canon; "" until checked, or if refused */
	uint64_t dev, ino;
	bool ok;
};

/* What every start sets (rc_tmp_roots_set): small, among the few
 * variables every process writes anyway (core/state.h, RC_HOT).  The
 * candidates and the home directory are packed into its pool when they
 * fit, as they do for the usual four roots and a home; else into R's. */
static struct {
	/* 0: not checked, 1: a thread is checking, 2: checked. */
	atomic_int state;
	size_t n;
	bool warn;
	const char *home;
	const char *alias[RC_ROOTS_MAX];
	char pool[256];
} H RC_HOT;

/* Never touched by a process that makes no temp artifact: after .bss,
 * where untouched pages cost nothing.  What a check writes comes first
 * and packed: one page for the usual roots (a PATH_MAX array per slot
 * was a page, and a page fault, per candidate in every process that
 * checked). */
static struct {
	struct rc_root pub[RC_ROOTS_MAX];
	struct slot slot[RC_ROOTS_MAX];
	/* The accepted roots' canonical paths, one after another. */
	char canon[RC_ROOTS_MAX * PATH_MAX];
	/* Candidates longer than H's pool has room for, one PATH_MAX each. */
	char pool[(RC_ROOTS_MAX + 1) * PATH_MAX];
} R RC_COLD_BSS;

static uint32_t
my_euid(void)
{
	return rc_sys_geteuid();
}

/* Scratch for the path work below: not on the stack (this also runs on
 * the crash path, maybe on a small signal stack), and not mapped per call
 * (a check of four roots mapped and unmapped ten buffers, each a system
 * call pair and page faults anew).  Two buffers, enough for a check and
 * the chase it makes, kept in .lbss: their pages are faulted once, by a
 * process that checks; a buffer in use elsewhere (another thread, a
 * handler) sends the caller to mmap as before. */
#define NSCRATCH 2
static char scratch_pool[NSCRATCH][SCRATCH] RC_COLD_BSS;
static atomic_bool scratch_busy[NSCRATCH];

static void *
scratch_map(void)
{
	for (unsigned i = 0; i < NSCRATCH; i++) {
		if (!atomic_load_explicit(&scratch_busy[i], memory_order_relaxed) &&
		    !atomic_exchange_explicit(&scratch_busy[i], true, memory_order_acquire)) {
			return scratch_pool[i];
		}
	}
	void *p = rc_sys_mmap(NULL, SCRATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			      -1, 0);
	return p == (void *)-1 ? NULL : p;
}

static void
scratch_unmap(void *p)
{
	for (unsigned i = 0; i < NSCRATCH; i++) {
		if (p == scratch_pool[i]) {
			atomic_store_explicit(&scratch_busy[i], false, memory_order_release);
			return;
		}
	}
	rc_sys_munmap(p, SCRATCH);
}

/* ---- resolving without trusting links ------------------------------------- */

int
rc_chase_dir(const char *path, long uid, char *canon, size_t canonlen)
{
	/* todo: what is left to resolve; link: a symlink's target. */
	char *todo = scratch_map();
	if (!todo) {
		return -ENOMEM;
	}
	char *link = todo + PATH_MAX * 2;
	size_t clen = 1;
	int links = 0, r = 0;
	int fd = rc_sys_openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);

	if (fd < 0) {
		r = fd;
		goto out;
	}
	if (!path || path[0] != '/' || strlen(path) >= PATH_MAX || canonlen < 2) {
		r = -EINVAL;
		goto out;
	}
	strcpy(todo, path);
	canon[0] = '/';
	canon[1] = '\0';

	char *p = todo;
	for (;;) {
		while (*p == '/') {
			p++;
		}
		if (!*p) {
			break;
		}
		char *seg = p;
		while (*p && *p != '/') {
			p++;
		}
		char save = *p;
		*p = '\0';
		if (!strcmp(seg, ".")) {
			*p = save;
			continue;
		}
		if (!strcmp(seg, "..")) {
			int up = rc_sys_openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
			if (up < 0) {
				r = up;
				goto out;
			}
			rc_sys_close(fd);
			fd = up;
			while (clen > 1 && canon[clen - 1] != '/') {
				clen--;
			}
			if (clen > 1) {
				clen--;
			}
			canon[clen] = '\0';
			*p = save;
			continue;
		}
		struct stat st;
		r = rc_sys_fstatat(fd, seg, &st, AT_SYMLINK_NOFOLLOW);
		if (r < 0) {
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			if (uid >= 0 && st.st_uid != 0 && st.st_uid != (uid_t)uid) {
				r = -EPERM;
				goto out;
			}
			if (++links > MAX_LINKS) {
				r = -ELOOP;
				goto out;
			}
			long n = rc_sys_readlinkat(fd, seg, link, PATH_MAX - 1);
			if (n <= 0) {
				r = n < 0 ? (int)n : -ENOENT;
				goto out;
			}
			link[n] = '\0';
			*p = save;
			size_t rest = strlen(p);
			if ((size_t)n + 1 + rest >= PATH_MAX * 2) {
				r = -ENAMETOOLONG;
				goto out;
			}
			/* todo = target + rest (rest starts with '/' or is "") */
			memmove(todo + n, p, rest + 1);
			memcpy(todo, link, (size_t)n);
			p = todo;
			if (link[0] == '/') {
				int top = rc_sys_openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
				if (top < 0) {
					r = top;
					goto out;
				}
				rc_sys_close(fd);
				fd = top;
				clen = 1;
				canon[1] = '\0';
			}
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			r = -ENOTDIR;
			goto out;
		}
		int next = rc_sys_openat(fd, seg, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (next < 0) {
			/* Replaced by a link since the fstatat: refuse. */
			r = next == -ENOTDIR ? -ELOOP : next;
			goto out;
		}
		rc_sys_close(fd);
		fd = next;
		size_t sl = strlen(seg);
		if (clen + (clen > 1) + sl + 1 > canonlen) {
			r = -ENAMETOOLONG;
			goto out;
		}
		if (clen > 1) {
			canon[clen++] = '/';
		}
		memcpy(canon + clen, seg, sl + 1);
		clen += sl;
		*p = save;
	}
	r = fd;
	fd = -1;
out:
	if (fd >= 0) {
		rc_sys_close(fd);
	}
	scratch_unmap(todo);
	return r;
}

/* ---- the user's home -------------------------------------------------------- */

/* Whether the password file line @line is @uid's, with an absolute home:
 * then copied to @out.  name:pw:uid:gid:gecos:home:shell */
static bool
passwd_line(char *line, uint32_t uid, char *out, size_t len)
{
	char *f[7] = { line };
	int nf = 1;
	for (char *c = line; *c && nf < 7; c++) {
		if (*c == ':') {
			*c = '\0';
			f[nf++] = c + 1;
		}
	}
	if (nf < 6) {
		return false;
	}
	/* The home field ends at the next ':' (already cut) or the line. */
	uint64_t u = 0;
	const char *d = f[2];
	for (; *d >= '0' && *d <= '9' && u <= UINT32_MAX; d++) {
		u = u * 10 + (uint64_t)(*d - '0');
	}
	if (*d || d == f[2] || u != uid || f[5][0] != '/' || strlen(f[5]) >= len) {
		return false;
	}
	strcpy(out, f[5]);
	return true;
}

/* The home directory of @uid from the password file, into @out. */
static bool
passwd_home(uint32_t uid, char *out, size_t len)
{
	char *buf = scratch_map();
	bool found = false, eof = false;
	size_t have = 0;

	if (!buf) {
		return false;
	}
	int fd = rc_sys_openat(AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		scratch_unmap(buf);
		return false;
	}
	while (!found) {
		char *nl = memchr(buf, '\n', have);
		if (!nl && !eof && have < SCRATCH - 1) {
			ssize_t n = rc_sys_read(fd, buf + have, SCRATCH - 1 - have);
			if (n == -EINTR) {
				continue;
			}
			if (n <= 0) {
				eof = true;
			} else {
				have += (size_t)n;
			}
			continue;
		}
		if (have == 0) {
			break;
		}
		/* A line, or (no newline at the end, or longer than the
		 * buffer) what there is of it. */
		size_t line = nl ? (size_t)(nl - buf) : have;
		buf[line] = '\0';
		found = passwd_line(buf, uid, out, len);
		size_t used = nl ? line + 1 : have;
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	rc_sys_close(fd);
	scratch_unmap(buf);
	return found;
}

/* ---- checking a root ---------------------------------------------------------- */

/* The home directory's two forms, for the checks of one or more roots:
 * *@hlex as given (normalized; from the password file when @home is not
 * an absolute path), *@hcanon as it resolves (links followed whoever owns
 * them: the question is only where it is); NULL where there is none.  In
 * @buf, 3 PATH_MAX of scratch. */
static void
home_forms(const char *home, char *buf, const char **hlex, const char **hcanon)
{
	/* The two forms share the buffer's first page when they are short,
	 * as homes are. */
	char *homebuf = buf + 2 * PATH_MAX, *lex = buf;
	*hlex = *hcanon = NULL;
	if (!home || home[0] != '/' || strlen(home) >= PATH_MAX) {
		home = passwd_home(my_euid(), homebuf, PATH_MAX) ? homebuf : NULL;
	}
	if (!home) {
		return;
	}
	strcpy(lex, home);
	rc_path_normalize(lex);
	*hlex = lex;
	char *canon = lex + ((strlen(lex) + 1 + 15) & ~(size_t)15);
	int fd = rc_chase_dir(home, -1, canon, PATH_MAX);
	if (fd >= 0) {
		rc_sys_close(fd);
		*hcanon = canon;
	}
}

/* rc_root_check with the home's forms made already. */
static int
check_root(const char *path, const char *hlex, const char *hcanon, char *canon,
	   size_t canonlen, struct stat *st, const char **why)
{
	static const char *const unsure = "it could not be checked";
	static const char *const in_home = "it is the home directory or one of its ancestors";
	uint32_t euid = my_euid();

	*why = unsure;
	if (!path || path[0] != '/' || strlen(path) >= PATH_MAX) {
		*why = "it is not an absolute path";
		return -EINVAL;
	}
	int fd = rc_chase_dir(path, (long)euid, canon, canonlen);
	if (fd < 0) {
		*why = fd == -EPERM	  ? "it is reached through a symbolic link another user owns"
		       : fd == -ENOENT	  ? "it does not exist"
		       : fd == -ENOTDIR	  ? "it is not a directory"
		       : fd == -ELOOP	  ? "it is reached through too many symbolic links"
					  : unsure;
		return fd;
	}
	int r = rc_sys_fstat(fd, st);
	rc_sys_close(fd);
	if (r < 0) {
		return r;
	}
	if (!strcmp(canon, "/")) {
		*why = "it is the root directory";
		return -EPERM;
	}
	if (st->st_uid != 0 && st->st_uid != euid) {
		*why = "it is owned by another user";
		return -EPERM;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX)) {
		*why = "others can write to it and it is not sticky";
		return -EPERM;
	}
	if ((hlex && rc_path_within(hlex, canon)) || (hcanon && rc_path_within(hcanon, canon))) {
		*why = in_home;
		return -EPERM;
	}
	return 0;
}

int
rc_root_check(const char *path, const char *home, char *canon, size_t canonlen,
	      struct stat *st, const char **why)
{
	/* Scratch from the pool or mmap: this also runs on the crash path,
	 * maybe on a small signal stack. */
	char *buf = scratch_map();
	if (!buf) {
		*why = "it could not be checked";
		return -ENOMEM;
	}
	const char *hlex, *hcanon;
	home_forms(home, buf, &hlex, &hcanon);
	int r = check_root(path, hlex, hcanon, canon, canonlen, st, why);
	scratch_unmap(buf);
	return r;
}

const char *
rc_tmp_home(void)
{
	return H.home;
}

int
rc_root_open(const char *canon, uint64_t dev, uint64_t ino)
{
	struct stat st;
	int fd = rc_sys_openat(AT_FDCWD, canon, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0) {
		return fd == -ENOTDIR || fd == -ELOOP ? -ESTALE : fd;
	}
	int r = rc_sys_fstat(fd, &st);
	if (r < 0 || (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino) {
		rc_sys_close(fd);
		return r < 0 ? r : -ESTALE;
	}
	return fd;
}

/* ---- the process's roots ------------------------------------------------------- */

void
rc_tmp_roots_set(const char *const *list, size_t n, const char *home, bool warn)
{
	size_t k = 0, used = 0, need = 0;

	/* Set at start-up and by tests; not while another thread asks. */
	for (size_t i = 0; i < n; i++) {
		need += list[i] ? strnlen(list[i], PATH_MAX) + 1 : 0;
	}
	need += home ? strnlen(home, PATH_MAX) + 1 : 0;
	/* Normalising only shortens a path: what fits before fits after. */
	char *pool = need <= sizeof(H.pool) ? H.pool : R.pool;
	for (size_t i = 0; i < n && k < RC_ROOTS_MAX; i++) {
		if (!list[i] || list[i][0] != '/' || strlen(list[i]) >= PATH_MAX) {
			continue;
		}
		char *a = pool + used; /* room: one PATH_MAX per entry in R's */
		strcpy(a, list[i]);
		rc_path_normalize(a);
		bool dup = false;
		for (size_t j = 0; j < k; j++) {
			dup |= !strcmp(H.alias[j], a);
		}
		if (!dup) {
			H.alias[k++] = a;
			used += strlen(a) + 1;
		}
	}
	H.n = k;
	H.warn = warn;
	H.home = NULL;
	if (home && home[0] == '/' && strlen(home) < PATH_MAX) {
		strcpy(pool + used, home);
		H.home = pool + used;
	}
	atomic_store(&H.state, 0);
}

/* Checks slot @s's candidate, its canonical path written to @out (room
 * for PATH_MAX). */
static bool
check_slot(struct slot *s, const char *hlex, const char *hcanon, bool warn, char *out)
{
	struct stat st;
	const char *why;
	s->canon = "";
	int r = check_root(H.alias[s - R.slot], hlex, hcanon, out, PATH_MAX, &st, &why);
	if (r < 0) {
		/* A root that does not exist is no one's business. */
		if (warn && r != -ENOENT) {
			rc_warn("temp root %s is not used: %s", H.alias[s - R.slot], why);
		}
		return false;
	}
	s->canon = out;
	s->dev = (uint64_t)st.st_dev;
	s->ino = (uint64_t)st.st_ino;
	return true;
}

/* The calling thread's part in the check: 1 about to claim it, 2 making
 * it.  A handler that interrupted it (or a child it forked from one) must
 * not wait for it. */
static RC_TLS int checking;

/* Checks every candidate, once per process.  False while another thread
 * is at it. */
static bool
roots_checked(void)
{
	int st = atomic_load_explicit(&H.state, memory_order_acquire);
	if (st == 2) {
		return true;
	}
	int expected = 0;
	checking = 1;
	atomic_signal_fence(memory_order_seq_cst);
	if (st != 0 || !atomic_compare_exchange_strong(&H.state, &expected, 1)) {
		atomic_signal_fence(memory_order_seq_cst);
		checking = 0;
		return false; /* another thread is at it */
	}
	checking = 2;
	/* The home's forms once for every candidate (each made them anew:
	 * ten system calls more per process that recorded a temp file). */
	char *buf = scratch_map();
	const char *hlex = NULL, *hcanon = NULL;
	if (buf) {
		home_forms(H.home, buf, &hlex, &hcanon);
	}
	size_t used = 0; /* in R.canon: room for PATH_MAX per slot left */
	for (size_t i = 0; i < H.n; i++) {
		struct slot *s = &R.slot[i];
		/* Unchecked without scratch: not a root this time. */
		s->canon = "";
		s->ok = buf && check_slot(s, hlex, hcanon, H.warn, R.canon + used);
		if (s->ok) {
			used += strlen(s->canon) + 1;
		}
		R.pub[i] = (struct rc_root){ s->canon, H.alias[i], s->dev, s->ino };
	}
	if (buf) {
		scratch_unmap(buf);
	}
	atomic_store_explicit(&H.state, 2, memory_order_release);
	atomic_signal_fence(memory_order_seq_cst);
	checking = 0;
	return true;
}

/* The same, waiting for the thread that is checking: a root asked for by
 * its index names one a record was made with, and "no such root" would
 * leave the artifact alone for good.  The check is a few system calls per
 * candidate (the wait is bounded all the same); only a check this thread
 * itself is in the middle of is not waited for. */
static bool
roots_checked_wait(void)
{
	for (unsigned i = 0; !roots_checked(); i++) {
		if (checking || i > ROOTS_WAIT_ROUNDS) {
			return false;
		}
		if (i < 64) {
			rc_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
		} else {
			struct timespec ts = { 0, 100000 };
			rc_sys(SYS_nanosleep, &ts, NULL, 0, 0, 0, 0);
		}
	}
	return true;
}

void
rc_tmp_roots_after_fork_child(void)
{
	/* A check another thread was making is never finished here. */
	int expected = 1;
	/* Read first: a compare-exchange writes the page even when it fails,
	 * and a fork child pays a page copy for each page it writes. */
	if (checking != 2 && atomic_load_explicit(&H.state, memory_order_relaxed) == 1) {
		atomic_compare_exchange_strong(&H.state, &expected, 0);
	}
}

const struct rc_root *
rc_tmp_root(unsigned idx)
{
	if (idx >= H.n || !roots_checked_wait() || !R.slot[idx].ok) {
		return NULL;
	}
	return &R.pub[idx];
}

/* Splits a normalised absolute path at its last '/': the parent's length
 * and the name, or false when the name is not a plain single component. */
static bool
split(const char *abs, size_t *plen, const char **name)
{
	const char *slash = strrchr(abs, '/');
	if (!slash || slash == abs || !slash[1] || !strcmp(slash + 1, ".") ||
	    !strcmp(slash + 1, "..")) {
		return false;
	}
	*plen = (size_t)(slash - abs);
	*name = slash + 1;
	return true;
}

static int
make_key(const char *canon, const char *name, char *key, size_t keylen)
{
	size_t cl = strlen(canon), nl = strlen(name);
	if (cl + 1 + nl + 1 > keylen) {
		return -1;
	}
	memcpy(key, canon, cl);
	key[cl] = '/';
	memcpy(key + cl + 1, name, nl + 1);
	return 0;
}

/* While another thread checks the table: this candidate alone, on the
 * stack (rare: two threads making their first temp artifact at once). */
static int
root_slow(const char *abs, size_t plen, const char *name, char *key, size_t keylen)
{
	for (size_t i = 0; i < H.n; i++) {
		char canon[PATH_MAX];
		struct stat st;
		const char *why;
		if (rc_root_check(H.alias[i], H.home, canon, sizeof(canon), &st, &why) < 0) {
			continue;
		}
		bool by_alias = strlen(H.alias[i]) == plen && !memcmp(H.alias[i], abs, plen);
		bool by_canon = strlen(canon) == plen && !memcmp(canon, abs, plen);
		if ((by_alias || by_canon) && make_key(canon, name, key, keylen) == 0) {
			return (int)i;
		}
	}
	return -1;
}

int
rc_tmp_key(const char *abs, char *key, size_t keylen)
{
	size_t plen;
	const char *name;

	if (!abs || !split(abs, &plen, &name) || H.n == 0) {
		return -1;
	}
	if (!roots_checked()) {
		return root_slow(abs, plen, name, key, keylen);
	}
	for (size_t i = 0; i < H.n; i++) {
		const struct slot *s = &R.slot[i];
		if (!s->ok) {
			continue;
		}
		if ((strlen(s->canon) == plen && !memcmp(s->canon, abs, plen)) ||
		    (strlen(H.alias[i]) == plen && !memcmp(H.alias[i], abs, plen))) {
			return make_key(s->canon, name, key, keylen) == 0 ? (int)i : -1;
		}
	}
	return -1;
}
