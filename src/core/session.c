#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/session.h"
#include "core/state.h"
#include "core/sys.h"

struct rc_session rc_session RC_HOT;

uint64_t
rc_proc_start_time(void)
{
	return rc_proc_start_time_of(0);
}

uint64_t
rc_proc_start_time_of(int32_t pid)
{
	char buf[1024], path[48];
	if (pid > 0) {
		rc_fmt(path, sizeof(path), "/proc/%d/stat", pid);
	} else {
		rc_fmt(path, sizeof(path), "/proc/self/stat");
	}
	int fd = rc_sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		return 0;
	}
	ssize_t n = rc_sys_read(fd, buf, sizeof(buf) - 1);
	rc_sys_close(fd);
	if (n <= 0) {
		return 0;
	}
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: count
	 * fields from the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p) {
		return 0;
	}
	int field = 2;
	for (; *p && field < 22; p++) {
		if (*p == ' ') {
			field++;
		}
	}
	uint64_t v = 0;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	return v;
}

static uint32_t
my_euid(void)
{
	return rc_sys_geteuid();
}

/* ---- ids ----------------------------------------------------------------------- */

static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void
rc_random_hex(char out[RC_SESSION_ID_LEN + 1])
{
	unsigned char b[RC_SESSION_ID_LEN / 2];
	size_t got = 0;

#ifdef SYS_getrandom
	while (got < sizeof(b)) {
		long n = rc_sys(SYS_getrandom, b + got, sizeof(b) - got, 1 /* GRND_NONBLOCK */,
				0, 0, 0);
		if (n == -EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		got += (size_t)n;
	}
#endif
	if (got < sizeof(b)) {
		int fd = rc_sys_openat(AT_FDCWD, "/dev/urandom", O_RDONLY | O_CLOEXEC, 0);
		while (fd >= 0 && got < sizeof(b)) {
			ssize_t n = rc_sys_read(fd, b + got, sizeof(b) - got);
			if (n == -EINTR) {
				continue;
			}
			if (n <= 0) {
				break;
			}
			got += (size_t)n;
		}
		if (fd >= 0) {
			rc_sys_close(fd);
		}
	}
	if (got < sizeof(b)) {
		/* No entropy source at all (a seccomp sandbox without /dev):
		 * unique, if not unguessable. */
		struct timespec ts = { 0, 0 };
		rc_sys(SYS_clock_gettime, CLOCK_MONOTONIC, &ts, 0, 0, 0, 0);
		uint64_t s = mix((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
		s = mix(s ^ (uint64_t)rc_sys_getpid() ^ ((uint64_t)(uintptr_t)&ts << 16));
		for (size_t i = got; i < sizeof(b); i++) {
			s = mix(s + i);
			b[i] ^= (unsigned char)s;
		}
	}
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = "0123456789abcdef"[b[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[b[i] & 15];
	}
	out[RC_SESSION_ID_LEN] = '\0';
}

static const char *
parse_dec(const char *p, uint64_t max, uint64_t *v)
{
	const char *s = p;
	*v = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		*v = *v * 10 + (uint64_t)(*p - '0');
		if (*v > max) {
			return NULL;
		}
	}
	return p == s ? NULL : p;
}

bool
rc_session_parse(const char *s, struct rc_session *out)
{
	uint64_t pid, start;
	const char *p = s;

	if (!s) {
		return false;
	}
	for (int i = 0; i < RC_SESSION_ID_LEN; i++, p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
			return false;
		}
	}
	if (*p++ != '.' || !(p = parse_dec(p, 0x7fffffff, &pid)) || pid == 0 || *p++ != '.' ||
	    !(p = parse_dec(p, UINT64_MAX / 10 - 1, &start)) || *p++ != ':') {
		return false;
	}
	size_t dl = strlen(p);
	if (dl >= RC_SESSION_DIR_MAX || (dl && p[0] != '/')) {
		return false;
	}
	memcpy(out->id, s, RC_SESSION_ID_LEN);
	out->id[RC_SESSION_ID_LEN] = '\0';
	out->root_pid = (int32_t)pid;
	out->root_start = start;
	memcpy(out->dir, p, dl + 1);
	return true;
}

bool
rc_session_id_valid(const char *s)
{
	struct rc_session tmp;
	return rc_session_parse(s, &tmp);
}

/* ---- the private directory ---------------------------------------------------- */

static int
private_dir_ok(const struct stat *st)
{
	/* Someone else's directory, or one others can read or write, could
	 * be used to read the session's paths or to make it remove or keep
	 * files: refuse it (a symlink too: it is not a directory). */
	if (!S_ISDIR(st->st_mode) || st->st_uid != my_euid() || (st->st_mode & 077)) {
		return -EPERM;
	}
	return 0;
}

int
rc_private_dir_check(int dirfd)
{
	struct stat st;
	int r = rc_sys_fstat(dirfd, &st);
	return r < 0 ? r : private_dir_ok(&st);
}

static int
open_private(const char *path)
{
	int fd = rc_sys_openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0) {
		return fd == -ELOOP || fd == -ENOTDIR ? -EPERM : fd;
	}
	int r = rc_private_dir_check(fd);
	if (r < 0) {
		rc_sys_close(fd);
		return r;
	}
	return fd;
}

int
rc_session_dir_open(void)
{
	if (!rc_session.dir[0]) {
		return -ENOENT;
	}
	return open_private(rc_session.dir);
}

/* Makes @path (mode 0700) unless it exists, and checks it.  0, -EPERM when
 * it is there but not safe, or another -errno. */
static int
ensure_dir(const char *path)
{
	/* Looked at first, made only if missing: one system call in every
	 * process that starts a session, where mkdir-then-open took four.
	 * The name's last component is not followed, and nothing is kept
	 * open: every later use opens the path again and checks it again
	 * (rc_session_dir_open). */
	struct stat st;
	int r = rc_sys_fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW);
	if (r == -ENOENT) {
		r = rc_sys_mkdirat(AT_FDCWD, path, 0700);
		if (r < 0 && r != -EEXIST) {
			return r;
		}
		r = rc_sys_fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW);
	}
	if (r < 0) {
		return r;
	}
	return private_dir_ok(&st);
}

/* A parent such as $XDG_RUNTIME_DIR: ours or root's, and sticky if others
 * can write to it (else they could swap our directory inside it). */
static bool
parent_safe(const char *path)
{
	struct stat st;
	if (rc_sys_fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
		return false;
	}
	if (st.st_uid != 0 && st.st_uid != my_euid()) {
		return false;
	}
	return !(st.st_mode & (S_IWGRP | S_IWOTH)) || (st.st_mode & S_ISVTX);
}

int
rc_session_usual_dir(const char *xdg, char out[RC_SESSION_DIR_MAX])
{
	char path[RC_SESSION_DIR_MAX];

	out[0] = '\0';
	if (xdg && xdg[0] == '/' && strlen(xdg) + 8 < sizeof(path) && parent_safe(xdg)) {
		rc_fmt(path, sizeof(path), "%s/rcshim", xdg);
		if (ensure_dir(path) == 0) {
			memcpy(out, path, sizeof(path));
			return 0;
		}
	}
	rc_fmt(path, sizeof(path), "/tmp/rcshim-%u", my_euid());
	int r = ensure_dir(path);
	if (r == 0) {
		memcpy(out, path, sizeof(path));
	}
	return r;
}

static void
choose_dir(const char *xdg)
{
	char path[RC_SESSION_DIR_MAX];
	unsigned uid = my_euid();

	rc_session.squatted = false;
	int r = rc_session_usual_dir(xdg, rc_session.dir);
	if (r == 0 || r != -EPERM) {
		return; /* found; or no /tmp to speak of: no journal */
	}
	/* Taken (another user's, a symlink, open to others): a fresh one,
	 * named after the session, which no one can have guessed. */
	rc_session.squatted = true;
	rc_fmt(path, sizeof(path), "/tmp/rcshim-%u.%s", uid, rc_session.id);
	r = rc_sys_mkdirat(AT_FDCWD, path, 0700);
	if (r == 0 && ensure_dir(path) == 0) {
		memcpy(rc_session.dir, path, sizeof(path));
	}
}

static void
make_var(void)
{
	rc_fmt(rc_session.var, sizeof(rc_session.var), "%s=%s.%d.%lu:%s", RC_SESSION_ENV,
	       rc_session.id, rc_session.root_pid, (unsigned long)rc_session.root_start,
	       rc_session.dir);
}

bool
rc_session_init(const char *env_value, bool process_mode, const char *xdg)
{
	int32_t me = rc_sys_getpid();

	rc_session.process_mode = process_mode;
	rc_session.squatted = false;
	if (rc_session_parse(env_value, &rc_session)) {
		/* Our own pid: the root that exec'd itself (a recycled pid
		 * in a member would have another start time). */
		rc_session.created = false;
		make_var();
		return false;
	}
	if (env_value && *env_value) {
		rc_warn("RCSHIM_SESSION=%.*s is not a session id; starting a new session", 80,
			env_value);
	}
	rc_random_hex(rc_session.id);
	rc_session.root_pid = me;
	rc_session.root_start = rc_proc_start_time();
	rc_session.created = true;
	choose_dir(xdg);
	if (rc_session.squatted) {
		rc_warn("/tmp/rcshim-%u is not a private directory of this user (another user "
			"may have made it); the session journal is in %s instead",
			my_euid(), rc_session.dir[0] ? rc_session.dir : "no directory");
	}
	make_var();
	return true;
}

bool
rc_session_root_is_self(void)
{
	if (rc_session.root_pid <= 0 || rc_session.root_pid != rc_sys_getpid()) {
		return false;
	}
	/* This process image made the session (no exec since): the pid it
	 * took then is its own until it ends, and a fork child's differs.
	 * Only a root that exec'd itself compares start times. */
	return rc_session.created || rc_session.root_start == rc_proc_start_time();
}

bool
rc_session_owner(void)
{
	return rc_session.process_mode || rc_session_root_is_self();
}
