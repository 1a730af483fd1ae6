#!/bin/sh
# The hook symbol called from gdb on a running process (DESIGN §4):
# `call rcshim_clean(...)` / `call rcshim_emergency_cleanup(0)`.
# Usage: gdb-hook.sh VICTIM LD_PRELOAD-VALUE.  Exit 77 when gdb cannot attach
# here.
set -u
victim=$1 lib=$2
command -v gdb >/dev/null 2>&1 || { echo "gdb not installed"; exit 77; }
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
mkdir "$dir/tmp"
TMPDIR=$dir/tmp LD_PRELOAD=$lib "$victim" >"$dir/out" 2>"$dir/err" &
pid=$!
for i in $(seq 50); do [ -s "$dir/out" ] && break; sleep 0.1; done
path=$(head -n1 "$dir/out")
[ -d "$path" ] || { echo "victim did not start: $(cat "$dir/err")"; exit 1; }
gdb -q -batch -p "$pid" -ex 'call (int)rcshim_emergency_cleanup(0)' >"$dir/gdb" 2>&1
if grep -q -i -e 'ptrace: Operation not permitted' -e 'Could not attach' "$dir/gdb"; then
	echo "gdb cannot attach here:"; cat "$dir/gdb"; exit 77
fi
wait $pid
status=$?
cat "$dir/out"
grep -q '^\$1 = 0$' "$dir/gdb" || { echo "unexpected gdb output:"; cat "$dir/gdb"; exit 1; }
[ $status -eq 0 ] && grep -q '^gone$' "$dir/out" && [ ! -e "$path" ] || {
	echo "temp dir not reclaimed (status $status)"; cat "$dir/err"; exit 1; }
echo "rcshim_emergency_cleanup called from gdb: returned 0, $path reclaimed, victim exited 0"
