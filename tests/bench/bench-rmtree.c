/* Removing a 100k-file temp tree: rc_rmtree against `rm -rf` (DESIGN §9,
 * target ratio <= 1.0).
 *
 * Usage: bench-rmtree [-r ROUNDS] [-n FILES] [BASEDIR]  (default $TMPDIR, /tmp)
 *
 * Each round removes a fresh tree with each contender (same shape, same
 * file system, written back to disk before any clock starts, so neither
 * pays for the other's dirty inodes) and the best round counts.  `rm -rf`
 * is timed as a user would pay for it: fork, exec, wait.  Prints one line
 * per shape and a summary line; exits non-zero only when something breaks.
 * Needs about 2 * ROUNDS * 2 * FILES free inodes under BASEDIR.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clean/rmtree.h"

struct shape {
	const char *name;
	unsigned dirs;     /* subdirectories of the root; 0: files in the root */
};

static const struct shape shapes[] = {
	{ "flat-100k", 0 },
	{ "nested-100x1k", 100 },
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
make_files(const char *dir, unsigned from, unsigned count)
{
	char path[4400];

	for (unsigned i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/tmp-%08u.dat", dir, from + i);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			fprintf(stderr, "bench-rmtree: create %s: %s\n", path,
				strerror(errno));
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Builds the tree at @root; returns the number of entries (root included)
 * or -1. */
static long
build(const char *root, const struct shape *sh, unsigned files)
{
	char dir[4300];
	long entries = 1;

	if (mkdir(root, 0700) < 0) {
		fprintf(stderr, "bench-rmtree: mkdir %s: %s\n", root, strerror(errno));
		return -1;
	}
	if (sh->dirs == 0) {
		if (make_files(root, 0, files) < 0) {
			return -1;
		}
		entries += files;
	} else {
		unsigned per = files / sh->dirs;

		for (unsigned d = 0; d < sh->dirs; d++) {
			snprintf(dir, sizeof(dir), "%s/d%04u", root, d);
			if (mkdir(dir, 0700) < 0) {
				fprintf(stderr, "bench-rmtree: mkdir %s: %s\n", dir,
					strerror(errno));
				return -1;
			}
			if (make_files(dir, d * per, per) < 0) {
				return -1;
			}
			entries += 1 + per;
		}
	}
	return entries;
}

static double
time_rm(const char *root)
{
	double t0 = now();
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		perror("bench-rmtree: fork");
		return -1;
	}
	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", "--", root, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench-rmtree: rm -rf %s failed\n", root);
		return -1;
	}
	double t = now() - t0;
	if (access(root, F_OK) == 0) {
		fprintf(stderr, "bench-rmtree: rm -rf left %s\n", root);
		return -1;
	}
	return t;
}

static double
time_rc(const char *root, long entries)
{
	struct rc_rm_stats st = { 0 };
	struct stat sb;
	double t0, t;
	int r;

	if (stat(root, &sb) < 0) {
		perror("bench-rmtree: stat");
		return -1;
	}
	t0 = now();
	r = rc_rmtree(root, sb.st_dev, sb.st_ino, &st);
	t = now() - t0;
	if (r != 0 || st.failed != 0 || st.removed != (uint64_t)entries) {
		fprintf(stderr,
			"bench-rmtree: rc_rmtree %s: %d (%s), removed %llu of %ld, "
			"failed %llu, first error %s\n",
			root, r, strerror(-r), (unsigned long long)st.removed,
			entries, (unsigned long long)st.failed,
			strerror(st.first_error));
		return -1;
	}
	return t;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench-rmtree [-r ROUNDS] [-n FILES] [BASEDIR]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	unsigned rounds = 3, files = 100000;
	const char *basedir = getenv("TMPDIR");
	char base[4096], root[4200];
	double worst = 0, sum = 0;
	int opt, rc = 0;
	size_t nshapes = sizeof(shapes) / sizeof(shapes[0]);
	long entries[sizeof(shapes) / sizeof(shapes[0])];

	while ((opt = getopt(argc, argv, "r:n:")) != -1) {
		switch (opt) {
		case 'r':
			rounds = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			files = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (optind < argc) {
		basedir = argv[optind];
	}
	if (!basedir || !*basedir) {
		basedir = "/tmp";
	}
	if (rounds == 0 || files < 100) {
		usage();
	}
	snprintf(base, sizeof(base), "%s/rcshim-bench-rmtree-XXXXXX", basedir);
	if (!mkdtemp(base)) {
		fprintf(stderr, "bench-rmtree: mkdtemp %s: %s\n", base, strerror(errno));
		return 1;
	}
	/* Every tree is built before any is removed: ext4 makes inode
	 * allocation crawl while it remembers many recent deletions, which
	 * would make rebuilding between rounds take minutes.  The trees of
	 * a shape are built alternately for the two contenders, so both get
	 * the same layout on disk. */
	for (size_t s = 0; s < nshapes && rc == 0; s++) {
		for (unsigned i = 0; i < 2 * rounds && rc == 0; i++) {
			snprintf(root, sizeof(root), "%s/tree%zu-%u", base, s, i);
			entries[s] = build(root, &shapes[s], files);
			rc = entries[s] < 0;
		}
	}
	int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		syncfs(fd);  /* write back now, not while a contender runs */
		close(fd);
	}

	for (size_t s = 0; s < nshapes && rc == 0; s++) {
		const struct shape *sh = &shapes[s];
		double best_rm = 1e30, best_rc = 1e30;

		/* alternate who goes first, so drift and whatever the
		 * previous removal left to the journal hit both alike */
		for (unsigned i = 0; i < rounds && rc == 0; i++) {
			double t = 0, u = 0;

			for (unsigned k = 0; k < 2 && rc == 0; k++) {
				bool rm_now = (k == 0) == (i % 2 == 0);

				snprintf(root, sizeof(root), "%s/tree%zu-%u", base,
					 s, 2 * i + k);
				if (rm_now) {
					t = time_rm(root);
					rc = t < 0;
				} else {
					u = time_rc(root, entries[s]);
					rc = u < 0;
				}
			}
			best_rm = t < best_rm ? t : best_rm;
			best_rc = u < best_rc ? u : best_rc;
		}
		if (rc != 0) {
			break;
		}
		double ratio = best_rc / best_rm;
		printf("rmtree %s: rm -rf %.3f s, rc_rmtree %.3f s, ratio %.2f\n",
		       sh->name, best_rm, best_rc, ratio);
		fflush(stdout);
		worst = ratio > worst ? ratio : worst;
		sum += ratio;
	}
	if (rc == 0) {
		printf("rmtree ratio: worst %.2f, mean %.2f (target <= 1.00, "
		       "best of %u rounds, %u files)\n",
		       worst, sum / (double)nshapes, rounds, files);
	}

	/* whatever a failed round left behind */
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", "--", base, (char *)NULL);
		_exit(127);
	}
	if (pid > 0) {
		waitpid(pid, NULL, 0);
	}
	return rc;
}
