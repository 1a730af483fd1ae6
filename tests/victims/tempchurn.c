/* Makes COUNT temp files in $TMPDIR with mkstemp and removes all but the
 * first ten, watching the size of its session's journal (named by
 * RCSHIM_SESSION=<id>.<pid>.<start>:<dir>).
 * Usage: victim-tempchurn COUNT
 * Prints "made COUNT, largest journal BYTES". */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s COUNT\n", argv[0]);
		return 2;
	}
	long n = atol(argv[1]);
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	const char *sess = getenv("RCSHIM_SESSION");
	const char *colon = sess ? strchr(sess, ':') : NULL;
	if (!sess || !colon || colon - sess < 32) {
		fprintf(stderr, "no session\n");
		return 2;
	}
	char journal[PATH_MAX];
	snprintf(journal, sizeof(journal), "%s/%.32s.journal", colon + 1, sess);
	long biggest = -1;
	for (long i = 0; i < n; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/churn-XXXXXX", tmp);
		int fd = mkstemp(p);
		if (fd < 0) {
			perror("mkstemp");
			return 1;
		}
		close(fd);
		if (i >= 10 && unlink(p) < 0) {
			perror("unlink");
			return 1;
		}
		if (i % 1000 == 0 || i == n - 1) {
			struct stat st;
			if (stat(journal, &st) == 0 && st.st_size > biggest) {
				biggest = (long)st.st_size;
			}
		}
	}
	printf("made %ld, largest journal %ld\n", n, biggest);
	return 0;
}
