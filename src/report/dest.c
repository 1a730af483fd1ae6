/* Where a report may be written: the checks of dest.h. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "core/log.h"
#include "core/sys.h"
#include "report/dest.h"

/* Each is the start of something the shim or the launcher writes first in
 * a report file (report/emit.c, cli/gather.c). */
static const char *const heads[] = {
	"== rcshim report: pid ",    /* text report */
	RC_REPORT_RECORD_HEAD,       /* a report appended under the launcher */
	"{\"format\":\"rcshim-",      /* JSON report or event line */
	"rcshim report of: ",        /* the launcher's gathered text report */
	"{\"rcshim\": ",             /* the launcher's gathered JSON report */
};

bool
rc_report_is_rcshim(const char *head, size_t n)
{
	for (size_t i = 0; i < sizeof(heads) / sizeof(*heads); i++) {
		size_t l = strlen(heads[i]);
		if (n >= l && memcmp(head, heads[i], l) == 0) {
			return true;
		}
	}
	/* "rcshim[PID]: " starts a text cleanup line or scope entry. */
	if (n < 7 || memcmp(head, "rcshim[", 7) != 0) {
		return false;
	}
	size_t i = 7;
	while (i < n && head[i] >= '0' && head[i] <= '9') {
		i++;
	}
	return i > 7 && i + 1 < n && head[i] == ']' && head[i + 1] == ':';
}

static void
why_errno(int err, char *why, size_t n)
{
	switch (err) {
	case ELOOP:
		rc_fmt(why, n, "it is a symbolic link (a report never follows one)");
		break;
	case EEXIST:
		rc_fmt(why, n, "it exists already (a path with %%p is always a new file, "
		       "never appended to)");
		break;
	case ENOENT:
		rc_fmt(why, n, "its directory does not exist");
		break;
	case ENOTDIR:
		rc_fmt(why, n, "a part of the path is not a directory");
		break;
	case EACCES:
	case EPERM:
		rc_fmt(why, n, "permission denied");
		break;
	case EISDIR:
		rc_fmt(why, n, "it is a directory");
		break;
	case ENXIO:
	case ENODEV:
	case ETXTBSY:
		rc_fmt(why, n, "it is not a regular file");
		break;
	case EROFS:
		rc_fmt(why, n, "the file system is read-only");
		break;
	default:
		rc_fmt(why, n, "cannot open it (error %d)", err);
		break;
	}
}

/* The checks on what @fd (opened with O_NOFOLLOW) turned out to be. */
static int
check_open_file(int fd, enum rc_dest_mode mode, struct rc_dest_id *id, char *why, size_t n)
{
	struct stat st;
	int r = rc_sys_fstat(fd, &st);
	if (r < 0) {
		why_errno(-r, why, n);
		return r;
	}
	if (mode == RC_DEST_SAME && (st.st_dev != id->dev || st.st_ino != id->ino)) {
		rc_fmt(why, n, "it is no longer the file this process created");
		return -ESTALE;
	}
	if (!S_ISREG(st.st_mode)) {
		rc_fmt(why, n, "it is not a regular file");
		return -EINVAL;
	}
	if (st.st_uid != rc_sys_geteuid()) {
		rc_fmt(why, n, "it belongs to another user (uid %u)", (unsigned)st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		unsigned m = (unsigned)st.st_mode & 07777;
		rc_fmt(why, n, "its group or others can write to it (mode %c%c%c%c)", '0' + (m >> 9),
		       '0' + (m >> 6 & 7), '0' + (m >> 3 & 7), '0' + (m & 7));
		return -EPERM;
	}
	if (st.st_nlink != 1) {
		rc_fmt(why, n, "it has %lu hard links", (unsigned long)st.st_nlink);
		return -EMLINK;
	}
	if (st.st_size > 0 && mode != RC_DEST_SAME) {
		char head[RC_REPORT_HEAD];
		ssize_t got = rc_sys_pread(fd, head, sizeof(head), 0);
		if (got < 0) {
			why_errno((int)-got, why, n);
			return (int)got;
		}
		if (!rc_report_is_rcshim(head, (size_t)got)) {
			rc_fmt(why, n, "it is not an rcshim report (a file of another kind is "
			       "never appended to)");
			return -EINVAL;
		}
	}
	if (id && mode != RC_DEST_SAME) {
		id->dev = st.st_dev;
		id->ino = st.st_ino;
	}
	return 0;
}

/* For an absent file: whether its directory exists. */
int
rc_report_dest_check_dir(const char *path, char *why, size_t n)
{
	char dir[1100];
	const char *slash = strrchr(path, '/');
	size_t len = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
	if (len >= sizeof(dir)) {
		rc_fmt(why, n, "the path is too long");
		return -ENAMETOOLONG;
	}
	memcpy(dir, slash ? path : ".", len);
	dir[len] = '\0';
	struct stat st;
	int r = rc_sys_fstatat(AT_FDCWD, dir, &st, 0);
	if (r < 0) {
		why_errno(-r, why, n);
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		why_errno(ENOTDIR, why, n);
		return -ENOTDIR;
	}
	return 0;
}

int
rc_report_dest_open(const char *path, enum rc_dest_mode mode, struct rc_dest_id *id,
		    char *why, size_t why_len)
{
	/* O_NONBLOCK: a FIFO without a reader must not hang the program at
	 * exit (it fails with ENXIO instead, and is refused); O_NOCTTY: a
	 * terminal never becomes the process's controlling one. */
	int flags = O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	switch (mode) {
	case RC_DEST_APPEND:
		flags |= O_RDWR | O_APPEND | O_CREAT;
		break;
	case RC_DEST_NEW:
		flags |= O_RDWR | O_APPEND | O_CREAT | O_EXCL;
		break;
	case RC_DEST_SAME:
		flags |= O_WRONLY | O_APPEND;
		break;
	case RC_DEST_CHECK:
		flags |= O_RDONLY;
		break;
	}
	why[0] = '\0';
	int fd = rc_sys_openat(AT_FDCWD, path, flags, 0600);
	if (fd < 0) {
		if (fd == -ENOENT && mode == RC_DEST_CHECK) {
			return rc_report_dest_check_dir(path, why, why_len);
		}
		if (fd == -ENOENT && mode == RC_DEST_SAME) {
			rc_fmt(why, why_len, "it is no longer the file this process created");
			return fd;
		}
		why_errno(-fd, why, why_len);
		return fd;
	}
	int r = check_open_file(fd, mode, id, why, why_len);
	if (r < 0 || mode == RC_DEST_CHECK) {
		rc_sys_close(fd);
		return r;
	}
	return fd; /* a regular file: O_NONBLOCK changes nothing */
}
