/* Makes temp files and a temp dir, opens fds and a stream, and prints how
 * many threads the process has ("threads 1": nothing it holds needs the
 * shim's thread).  With "wait FILE", then writes "<pid> <dir>" to FILE.tmp,
 * renames it to FILE, and waits until FILE.go exists (for `rcshim report
 * PID`), and prints the thread count again. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int
threads(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		n += e->d_name[0] != '.';
	}
	if (d) {
		closedir(d);
	}
	return n;
}

/* Its frame stays (no tail call): the report names it. */
__attribute__((noinline)) static int
make_the_scratch_dir(char *dir)
{
	char *made = mkdtemp(dir);
	__asm__ volatile("" ::: "memory");
	return made != NULL;
}

int
main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], file[4096];
	snprintf(dir, sizeof(dir), "%s/temp-only-XXXXXX", tmp ? tmp : "/tmp");
	snprintf(file, sizeof(file), "%s/temp-only-file-XXXXXX", tmp ? tmp : "/tmp");
	if (!make_the_scratch_dir(dir)) {
		return 2;
	}
	int fd = mkstemp(file);
	int null = open("/dev/null", O_RDONLY);
	FILE *f = fopen("/proc/self/status", "r");
	if (fd < 0 || null < 0 || !f) {
		return 2;
	}
	printf("threads %d\n", threads());
	fflush(stdout);
	if (argc > 2 && strcmp(argv[1], "wait") == 0) {
		char tmpname[4200], go[4200];
		snprintf(tmpname, sizeof(tmpname), "%s.tmp", argv[2]);
		snprintf(go, sizeof(go), "%s.go", argv[2]);
		FILE *r = fopen(tmpname, "w");
		if (!r) {
			return 2;
		}
		fprintf(r, "%d %s\n", (int)getpid(), dir);
		fclose(r);
		rename(tmpname, argv[2]);
		for (int i = 0; i < 60 * 50 && access(go, F_OK) != 0; i++) {
			struct timespec ts = { 0, 20 * 1000000 };
			nanosleep(&ts, NULL);
		}
		printf("threads %d\n", threads());
	}
	fclose(f);
	close(null);
	close(fd);
	unlink(file);
	rmdir(dir);
	return 0;
}
