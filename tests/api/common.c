#include "build-config.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

int
t_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	ck_assert_ptr_nonnull(d);
	while (readdir(d)) {
		n++;
	}
	closedir(d);
	return n;
}

bool
t_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

bool
t_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

const char *
t_base(void)
{
	static char base[64];
	static pid_t made_by;
	/* Per process: each test runs in a fork of its own. */
	if (made_by != getpid()) {
		snprintf(base, sizeof(base), "/tmp/rcshim-api-XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(base));
		made_by = getpid();
	}
	return base;
}

const char *
t_path(const char *name)
{
	static char buf[8][PATH_MAX];
	static int next;
	char *b = buf[next++ % 8];
	snprintf(b, PATH_MAX, "%s/%s", t_base(), name);
	return b;
}

const char *
t_first_line(const char *path)
{
	static char line[256];
	line[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f) {
		if (!fgets(line, sizeof(line), f)) {
			line[0] = '\0';
		}
		fclose(f);
	}
	return line;
}
