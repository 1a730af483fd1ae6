/* Temp dirs and files: creation under a temp root, removal, rename away
 * (DESIGN §1 TEMP).  Python and mktemp(1) create directories with plain
 * mkdir, so temp roots matter more than mkdtemp. */
#include "build-config.h"

/* Both the plain and the 64 names are defined here: the headers must not
 * redirect one to the other (Meson builds with _FILE_OFFSET_BITS=64). */
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preload/real.h"

REAL(int (*)(const char *, mode_t), mkdir);
REAL(int (*)(int, const char *, mode_t), mkdirat);
REAL(char *(*)(char *), mkdtemp);
REAL(int (*)(char *), mkstemp);
REAL(int (*)(char *), mkstemp64);
REAL(int (*)(char *, int), mkostemp);
REAL(int (*)(char *, int), mkostemp64);
REAL(int (*)(char *, int), mkstemps);
REAL(int (*)(char *, int), mkstemps64);
REAL(int (*)(char *, int, int), mkostemps);
REAL(int (*)(char *, int, int), mkostemps64);
REAL(int (*)(const char *), rmdir);
REAL(int (*)(const char *), unlink);
REAL(int (*)(int, const char *, int), unlinkat);
REAL(int (*)(const char *), remove);
REAL(int (*)(const char *, const char *), rename);
REAL(int (*)(int, const char *, int, const char *), renameat);
REAL(int (*)(int, const char *, int, const char *, unsigned), renameat2);

RC_EXPORT int
mkdir(const char *path, mode_t mode)
{
	RESOLVE(mkdir, -1);
	int r = real_mkdir(path, mode);
	if (r == 0) {
		rc_ensure_init();
		rc_track_mkdir(AT_FDCWD, path);
	}
	return r;
}

RC_EXPORT int
mkdirat(int dirfd, const char *path, mode_t mode)
{
	RESOLVE(mkdirat, -1);
	int r = real_mkdirat(dirfd, path, mode);
	if (r == 0) {
		rc_ensure_init();
		rc_track_mkdir(dirfd, path);
	}
	return r;
}

RC_EXPORT char *
mkdtemp(char *tmpl)
{
	RESOLVE(mkdtemp, NULL);
	char *r = real_mkdtemp(tmpl);
	if (r) {
		rc_ensure_init();
		rc_track_mkdir(AT_FDCWD, r);
	}
	return r;
}

#define MKSTEMP(name, call)                      \
	RESOLVE(name, -1);                       \
	int fd = call;                           \
	if (fd >= 0) {                           \
		rc_ensure_init();                \
		CALLER();                        \
		rc_track_mkstemp(tmpl, fd);      \
	}                                        \
	return fd

RC_EXPORT int mkstemp(char *tmpl) { MKSTEMP(mkstemp, real_mkstemp(tmpl)); }
RC_EXPORT int mkstemp64(char *tmpl) { MKSTEMP(mkstemp64, real_mkstemp64(tmpl)); }
RC_EXPORT int mkostemp(char *tmpl, int flags) { MKSTEMP(mkostemp, real_mkostemp(tmpl, flags)); }
RC_EXPORT int mkostemp64(char *tmpl, int flags) { MKSTEMP(mkostemp64, real_mkostemp64(tmpl, flags)); }
RC_EXPORT int mkstemps(char *tmpl, int sfx) { MKSTEMP(mkstemps, real_mkstemps(tmpl, sfx)); }
RC_EXPORT int mkstemps64(char *tmpl, int sfx) { MKSTEMP(mkstemps64, real_mkstemps64(tmpl, sfx)); }
RC_EXPORT int mkostemps(char *tmpl, int sfx, int flags) { MKSTEMP(mkostemps, real_mkostemps(tmpl, sfx, flags)); }
RC_EXPORT int mkostemps64(char *tmpl, int sfx, int flags) { MKSTEMP(mkostemps64, real_mkostemps64(tmpl, sfx, flags)); }

RC_EXPORT int
rmdir(const char *path)
{
	RESOLVE(rmdir, -1);
	int r = real_rmdir(path);
	if (r == 0) {
		rc_track_unlink(AT_FDCWD, path);
	}
	return r;
}

RC_EXPORT int
unlink(const char *path)
{
	RESOLVE(unlink, -1);
	int r = real_unlink(path);
	if (r == 0) {
		rc_track_unlink(AT_FDCWD, path);
	}
	return r;
}

RC_EXPORT int
unlinkat(int dirfd, const char *path, int flags)
{
	RESOLVE(unlinkat, -1);
	int r = real_unlinkat(dirfd, path, flags);
	if (r == 0) {
		rc_track_unlink(dirfd, path);
	}
	return r;
}

RC_EXPORT int
remove(const char *path)
{
	RESOLVE(remove, -1);
	int r = real_remove(path);
	if (r == 0) {
		rc_track_unlink(AT_FDCWD, path);
	}
	return r;
}

RC_EXPORT int
rename(const char *from, const char *to)
{
	RESOLVE(rename, -1);
	int r = real_rename(from, to);
	if (r == 0) {
		rc_track_rename(AT_FDCWD, from, AT_FDCWD, to);
	}
	return r;
}

RC_EXPORT int
renameat(int fromfd, const char *from, int tofd, const char *to)
{
	RESOLVE(renameat, -1);
	int r = real_renameat(fromfd, from, tofd, to);
	if (r == 0) {
		rc_track_rename(fromfd, from, tofd, to);
	}
	return r;
}

RC_EXPORT int
renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned flags)
{
	RESOLVE(renameat2, -1);
	int r = real_renameat2(fromfd, from, tofd, to, flags);
	/* RENAME_EXCHANGE swaps two names and both stay: each record now
	 * names the other's inode, and the identity check at removal leaves
	 * both alone, which is the safe way to be wrong. */
	if (r == 0 && !(flags & RENAME_EXCHANGE)) {
		rc_track_rename(fromfd, from, tofd, to);
	}
	return r;
}
