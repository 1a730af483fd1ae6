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
#   scripts/bench-fault-cost.sh
set -eu
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/fault.c" <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
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

int
main(int argc, char **argv)
{
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
	return 0;
}
C
"$cc" -O2 -o "$tmp/fault" "$tmp/fault.c"
libc=$(ldd /bin/true | awk '/libc.so/ { print $3 }')
"$tmp/fault" "${libc:-/usr/lib/x86_64-linux-gnu/libc.so.6}"
