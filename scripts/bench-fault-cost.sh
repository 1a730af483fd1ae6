#!/bin/bash
# What one page fault costs on this machine (issue 14): on the development
# VM a fault took 10-15 us, against well under 1 us on bare metal, so the
# pages a short process touches are most of what the shim adds to it
# (docs/performance.md).  Three kinds, each the mean over many faults:
#   - a first write to an anonymous page (.bss, the arena),
#   - a first read of a file page in the page cache (code, .rodata; the
#     kernel maps the pages around it too, "fault-around"),
#   - a first write to a private file page (.data, RELRO: copy-on-write).
# And, for scale, the system calls the shim makes in every process: getpid,
# sigprocmask, sigaction (a loop of each), readlink of /proc/self/exe.
# Then what a process under the launcher does at its exit: making a new
# file (a report file of its own, as before 6ec690a) against appending to
# one (the session's shared file), in a directory under TMPDIR (the
# journal directory is there for root); and readlink of /proc/self/exe in
# a fresh process (the /proc lookup of a new pid), as the median of 400
# posix_spawns of this program, alternating with and without it.
#   scripts/bench-fault-cost.sh
set -eu
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/fault.c" <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double
now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Files in @dir: @n made new, then @n appends to one. */
static void
files(const char *dir, int n)
{
	char path[4096], line[100];
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	double t = now_us();
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/new.%d", dir, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, line, sizeof(line)) < 0) {
			perror(path);
			exit(1);
		}
		close(fd);
	}
	double made = (now_us() - t) / n;
	snprintf(path, sizeof(path), "%s/shared", dir);
	t = now_us();
	for (int i = 0; i < n; i++) {
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, line, sizeof(line)) < 0) {
			perror(path);
			exit(1);
		}
		close(fd);
	}
	printf("file, made new and written:       %6.2f us\n", made);
	printf("file, opened, appended to:        %6.2f us\n", (now_us() - t) / n);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/new.%d", dir, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/shared", dir);
	unlink(path);
}

/* The median time of a posix_spawn of this program with each of two
 * arguments, alternating. */
static void
spawned(const char *self)
{
	enum { N = 400 };
	static double d[2][N];
	extern char **environ;
	for (int i = 0; i < N; i++) {
		for (int k = 0; k < 2; k++) {
			char *args[] = { (char *)self, k ? "child-readlink" : "child", NULL };
			pid_t pid;
			double t = now_us();
			if (posix_spawn(&pid, self, NULL, NULL, args, environ) != 0) {
				exit(1);
			}
			waitpid(pid, NULL, 0);
			d[k][i] = now_us() - t;
		}
	}
	qsort(d[0], N, sizeof(double), by_value);
	qsort(d[1], N, sizeof(double), by_value);
	printf("fresh process, readlink of /proc/self/exe: %6.2f us (median of %d spawns)\n",
	       d[1][N / 2] - d[0][N / 2], N);
}

int
main(int argc, char **argv)
{
	if (argc > 1 && !strncmp(argv[1], "child", 5)) {
		char buf[512];
		return argv[1][5] && readlink("/proc/self/exe", buf, sizeof(buf)) < 0;
	}
	const long pg = sysconf(_SC_PAGESIZE);
	const int n = 20000, m = 400, rounds = 20;
	char *p = mmap(NULL, (size_t)n * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		return 1;
	}
	double t = now_us();
	for (int i = 0; i < n; i++) {
		p[(long)i * pg] = 1;
	}
	printf("anonymous page, first write:      %6.2f us\n", (now_us() - t) / n);
	int fd = open(argc > 1 ? argv[1] : "/usr/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY);
	if (fd < 0) {
		return 1;
	}
	for (int write = 0; write < 2; write++) {
		double sum = 0;
		int count = 0;
		for (int r = 0; r < rounds; r++) {
			char *q = mmap(NULL, (size_t)m * pg, PROT_READ | (write ? PROT_WRITE : 0),
				       MAP_PRIVATE, fd, 0);
			if (q == MAP_FAILED) {
				return 1;
			}
			volatile char s = 0;
			t = now_us();
			/* 16 pages apart: one fault each, past fault-around. */
			for (int i = 0; i < m; i += 16, count++) {
				if (write) {
					q[(long)i * pg] = 1;
				} else {
					s += q[(long)i * pg];
				}
			}
			sum += now_us() - t;
			munmap(q, (size_t)m * pg);
		}
		printf("%s %6.2f us\n", write ? "file page, first write (COW):    "
					      : "file page in cache, first read:  ", sum / count);
	}
	const int calls = 200000;
	sigset_t all, old, orig;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, NULL, &orig);
	struct sigaction sa = { .sa_handler = SIG_DFL }, prev;
	char buf[512];
	for (int k = 0; k < 4; k++) {
		int reps = k == 3 ? calls / 10 : calls;
		t = now_us();
		for (int i = 0; i < reps; i++) {
			if (k == 0) {
				syscall(SYS_getpid);
			} else if (k == 1) {
				sigprocmask(SIG_SETMASK, &all, &old);
			} else if (k == 2) {
				sigaction(SIGUSR2, &sa, &prev);
			} else if (readlink("/proc/self/exe", buf, sizeof(buf)) < 0) {
				return 1;
			}
		}
		if (k == 1) {
			sigprocmask(SIG_SETMASK, &orig, NULL);
		}
		static const char *const what[] = { "getpid", "sigprocmask", "sigaction",
						    "readlink /proc/self/exe" };
		printf("system call, %-23s %6.2f us\n", what[k], (now_us() - t) / reps);
	}
	if (argc > 2) {
		files(argv[2], 300);
	}
	spawned("/proc/self/exe");
	return 0;
}
C
"$cc" -O2 -o "$tmp/fault" "$tmp/fault.c"
libc=$(ldd /bin/true | awk '/libc.so/ { print $3 }')
files=$(mktemp -d "${TMPDIR:-/tmp}/rcshim-files.XXXXXX")
trap 'rm -rf "$tmp" "$files"' EXIT
"$tmp/fault" "${libc:-/usr/lib/x86_64-linux-gnu/libc.so.6}" "$files"
