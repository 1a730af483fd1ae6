/* The stdio family: glibc's fopen, fclose and tmpfile open and close their
 * fds internally, past the PLT, so they are wrapped themselves. */
#include "build-config.h"

/* Both the plain and the 64 names are defined here: the headers must not
 * redirect one to the other (Meson builds with _FILE_OFFSET_BITS=64). */
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <stdio.h>

#include "preload/real.h"

REAL(FILE *(*)(const char *, const char *), fopen);
REAL(FILE *(*)(const char *, const char *), fopen64);
REAL(FILE *(*)(const char *, const char *, FILE *), freopen);
REAL(FILE *(*)(const char *, const char *, FILE *), freopen64);
REAL(FILE *(*)(int, const char *), fdopen);
REAL(FILE *(*)(void), tmpfile);
REAL(FILE *(*)(void), tmpfile64);
REAL(int (*)(FILE *), fclose);

RC_EXPORT FILE *
fopen(const char *path, const char *mode)
{
	RESOLVE(fopen, NULL);
	FILE *fp = real_fopen(path, mode);
	CALLER();
	rc_track_fopen(fp, path, mode);
	return fp;
}

RC_EXPORT FILE *
fopen64(const char *path, const char *mode)
{
	RESOLVE(fopen64, NULL);
	FILE *fp = real_fopen64(path, mode);
	CALLER();
	rc_track_fopen(fp, path, mode);
	return fp;
}

static int
fileno_or_neg(FILE *fp)
{
	/* fileno on a closed stream is the program's bug, not ours to
	 * trigger: only ask for a stream that is still there. */
	return fp ? fileno(fp) : -1;
}

RC_EXPORT FILE *
freopen(const char *path, const char *mode, FILE *stream)
{
	RESOLVE(freopen, NULL);
	int old = fileno_or_neg(stream);
	if (old >= 0) {
		rc_track_close(old);
	}
	FILE *fp = real_freopen(path, mode, stream);
	CALLER();
	rc_track_fopen(fp, path, mode);
	return fp;
}

RC_EXPORT FILE *
freopen64(const char *path, const char *mode, FILE *stream)
{
	RESOLVE(freopen64, NULL);
	int old = fileno_or_neg(stream);
	if (old >= 0) {
		rc_track_close(old);
	}
	FILE *fp = real_freopen64(path, mode, stream);
	CALLER();
	rc_track_fopen(fp, path, mode);
	return fp;
}

RC_EXPORT FILE *
fdopen(int fd, const char *mode)
{
	RESOLVE(fdopen, NULL);
	FILE *fp = real_fdopen(fd, mode);
	CALLER();
	/* The fd is already tracked (or inherited, and then not ours). */
	rc_track_fopen(fp, NULL, mode);
	return fp;
}

RC_EXPORT FILE *
tmpfile(void)
{
	RESOLVE(tmpfile, NULL);
	FILE *fp = real_tmpfile();
	CALLER();
	rc_track_fopen(fp, NULL, "w+");
	return fp;
}

RC_EXPORT FILE *
tmpfile64(void)
{
	RESOLVE(tmpfile64, NULL);
	FILE *fp = real_tmpfile64();
	CALLER();
	rc_track_fopen(fp, NULL, "w+");
	return fp;
}

RC_EXPORT int
fclose(FILE *fp)
{
	RESOLVE(fclose, EOF);
	int fd = fileno_or_neg(fp);
	if (fd >= 0) {
		rc_track_close(fd);
	}
	return real_fclose(fp);
}
