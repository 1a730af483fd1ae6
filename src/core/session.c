#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "core/log.h"
#include "core/session.h"
#include "core/state.h"
#include "core/sys.h"

struct rc_session rc_session;

uint64_t
rc_proc_start_time(void)
{
	char buf[1024];
	int fd = rc_sys_openat(AT_FDCWD, "/proc/self/stat", O_RDONLY | O_CLOEXEC, 0);
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

static bool
parse_id(const char *s, int32_t *pid, uint64_t *start)
{
	uint64_t a = 0, b = 0;
	const char *p = s;

	if (!s || !*s) {
		return false;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		a = a * 10 + (uint64_t)(*p - '0');
		if (a > 0x7fffffff) {
			return false;
		}
	}
	if (p == s || *p != '.') {
		return false;
	}
	const char *q = ++p;
	for (; *p >= '0' && *p <= '9'; p++) {
		b = b * 10 + (uint64_t)(*p - '0');
	}
	if (p == q || *p || a == 0) {
		return false;
	}
	*pid = (int32_t)a;
	*start = b;
	return true;
}

bool
rc_session_id_valid(const char *s)
{
	int32_t pid;
	uint64_t start;
	return parse_id(s, &pid, &start);
}

bool
rc_session_init(const char *env_value, bool process_mode)
{
	int32_t me = rc_sys_getpid();
	int32_t pid;
	uint64_t start;

	rc_session.process_mode = process_mode;
	if (parse_id(env_value, &pid, &start)) {
		rc_session.root_pid = pid;
		rc_session.root_start = start;
		rc_session.created = false;
		rc_fmt(rc_session.id, sizeof(rc_session.id), "%d.%lu", pid,
		       (unsigned long)start);
		/* Our own id: we are the root that exec'd itself (or the
		 * launcher's exec'd child, whose pid the launcher used).  A
		 * recycled pid in a descendant would have another start time. */
		if (pid == me && start != rc_proc_start_time()) {
			rc_session.root_pid = -1;
		}
		return false;
	}
	if (env_value && *env_value) {
		rc_warn("RCSHIM_SESSION=%.*s is not a session id; starting a new session",
			64, env_value);
	}
	rc_session.root_pid = me;
	rc_session.root_start = rc_proc_start_time();
	rc_session.created = true;
	rc_fmt(rc_session.id, sizeof(rc_session.id), "%d.%lu", me,
	       (unsigned long)rc_session.root_start);
	return true;
}

bool
rc_session_owner(void)
{
	return rc_session.process_mode || rc_session.root_pid == rc_sys_getpid();
}

static int
ensure_dir(const char *path)
{
	struct stat st;
	int r = rc_sys_mkdirat(AT_FDCWD, path, 0700);
	if (r < 0 && r != -EEXIST) {
		return r;
	}
	r = rc_sys_fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW);
	if (r < 0) {
		return r;
	}
	/* Someone else's directory, or one others can write into, could be
	 * used to make us remove or skip files: refuse it. */
	if (!S_ISDIR(st.st_mode) || st.st_uid != (uid_t)rc_sys(SYS_geteuid, 0, 0, 0, 0, 0, 0) ||
	    (st.st_mode & 077)) {
		return -EPERM;
	}
	return 0;
}

int
rc_session_dir_init(const char *xdg)
{
	char path[sizeof(rc_session.dir)];
	int r = -ENOENT;

	rc_session.dir[0] = '\0';
	if (xdg && xdg[0] == '/' && strlen(xdg) < sizeof(path) - 16) {
		rc_fmt(path, sizeof(path), "%s/rcshim", xdg);
		r = ensure_dir(path);
	}
	if (r < 0) {
		rc_fmt(path, sizeof(path), "/tmp/rcshim-%u",
		       (unsigned)rc_sys(SYS_geteuid, 0, 0, 0, 0, 0, 0));
		r = ensure_dir(path);
	}
	if (r == 0) {
		memcpy(rc_session.dir, path, sizeof(path));
	}
	return r;
}

/* The process's pid as the shim knows it (kept up to date across fork):
 * a journal line costs no getpid.  A program that never started the shim's
 * state (the command-line tool) asks the kernel. */
static int32_t
my_pid(void)
{
	return rc_pid_cached ? rc_pid_cached : rc_sys_getpid();
}

const char *
rc_journal_path(char *buf, size_t len)
{
	if (!rc_session.dir[0] || !rc_session.id[0]) {
		buf[0] = '\0';
		return buf;
	}
	if (rc_session.process_mode) {
		rc_fmt(buf, len, "%s/%s.p%d.journal", rc_session.dir, rc_session.id,
		       my_pid());
	} else {
		rc_fmt(buf, len, "%s/%s.journal", rc_session.dir, rc_session.id);
	}
	return buf;
}

int
rc_journal_append(char op, bool dir, uint64_t dev, uint64_t ino, const char *path)
{
	char jpath[512];
	char line[4096 * 2 + 128];
	size_t n;

	if (!rc_journal_path(jpath, sizeof(jpath))[0]) {
		return -ENOENT;
	}
	n = rc_fmt(line, sizeof(line), "%c %c %lu %lu %d ", op, dir ? 'd' : 'f',
		   (unsigned long)dev, (unsigned long)ino, my_pid());
	for (const char *p = path; *p && n + 3 < sizeof(line); p++) {
		if (*p == '\\' || *p == '\n') {
			line[n++] = '\\';
			line[n++] = *p == '\n' ? 'n' : '\\';
		} else {
			line[n++] = *p;
		}
	}
	line[n++] = '\n';

	int fd = rc_sys_openat(AT_FDCWD, jpath,
			       O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		return fd;
	}
	/* One write: O_APPEND makes it land whole at the end even with many
	 * writers. */
	ssize_t w = rc_sys_write(fd, line, n);
	rc_sys_close(fd);
	return w == (ssize_t)n ? 0 : (w < 0 ? (int)w : -EIO);
}
