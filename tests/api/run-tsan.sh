#!/bin/sh
# Usage: run-tsan.sh PROBE TEST
# Skips (exit 77) when ThreadSanitizer cannot run on this machine, which
# PROBE (a trivial TSan program) shows by failing; else runs TEST, which
# exits 0 only if it passed and TSan reported nothing (TSAN_OPTIONS sets
# halt_on_error, and exit code 66 for a report).
set -u
probe=$1 test=$2
if ! out=$("$probe" 2>&1); then
	echo "ThreadSanitizer cannot run here; skipped:"
	echo "$out" | head -5
	exit 77
fi
"$test"
status=$?
[ $status -eq 66 ] && echo "ThreadSanitizer reported a race"
exit $status
