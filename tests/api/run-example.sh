#!/bin/sh
# Usage: run-example.sh [--preload] EXE EXPECTED
# Runs the example EXE (with the shim preloaded, given --preload) and
# compares its standard output with the file EXPECTED; standard error is
# shown, not compared.  Under `meson test --setup=valgrind` the example
# itself runs under memcheck too.
set -eu
preload=""
if [ "$1" = "--preload" ]; then
	preload=${RCSHIM_TEST_PRELOAD:?RCSHIM_TEST_PRELOAD is not set}
	shift
fi
exe=$1 expected=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT

set --
if [ -n "${RCSHIM_TEST_VALGRIND:-}" ]; then
	set -- valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--trace-children=no --fair-sched=yes "--suppressions=${RCSHIM_TEST_VALGRIND_SUPP:-/dev/null}"
fi
# A clean environment for the shim: no settings from the caller (nor the
# test harness's own variables, which it would warn about).
for v in $(env | sed -n 's/^\(RCSHIM_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done
status=0
if [ -n "$preload" ]; then
	LD_PRELOAD=$preload "$@" "$exe" >"$out" || status=$?
else
	"$@" "$exe" >"$out" || status=$?
fi
if [ $status -ne 0 ]; then
	echo "$exe exited with status $status; its output:"
	cat "$out"
	exit 1
fi
if ! diff -u "$expected" "$out"; then
	echo "$exe: output differs from $expected"
	exit 1
fi
echo "$(basename "$exe"): output as in $(basename "$expected")"
