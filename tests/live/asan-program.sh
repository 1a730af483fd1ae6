#!/bin/sh
# An AddressSanitizer-instrumented program under the shim: the sanitizer
# runtime starts after the preloaded constructors and must find no thread
# of the shim's yet (the worker is deferred to the first tracked call).
# Usage: asan-program.sh INSTRUMENTED-VICTIM LIB ASAN-RUNTIME
set -u
victim=$1 lib=$2 asan=$3
[ -f "$asan" ] || { echo "no ASan runtime"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/tmp"
TMPDIR=$dir/tmp ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD=$asan:$lib "$victim" >"$dir/out" 2>"$dir/err"
status=$?
cat "$dir/out" "$dir/err"
[ $status -eq 0 ] || { echo "exit status $status"; exit 1; }
[ "$(sed -n 3p "$dir/out")" = intact ] || { echo "the fork child touched the parent's temps"; exit 1; }
for p in $(head -n 2 "$dir/out"); do
	[ ! -e "$p" ] || { echo "$p survived"; exit 1; }
done
echo "instrumented program: exit 0, temps reclaimed at exit"
