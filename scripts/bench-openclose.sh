#!/bin/bash
# open+close of a temp file in a loop: the program under librcshim.so
# against the same program bare, in one run (DESIGN §9 target: <= 1.10x).
#   scripts/bench-openclose.sh [BUILDDIR] [COUNT] [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
n=${2:-200000}
rounds=${3:-7}
lib=$(realpath "$dir/src/librcshim.so")
victim=$(realpath "$dir/tests/victim-openclose")
file=$(mktemp /tmp/rcshim-bench.XXXXXX)
trap 'rm -f "$file"' EXIT

elapsed() { # CMD... -> seconds
	local t0=$EPOCHREALTIME
	"$@"
	local t1=$EPOCHREALTIME
	echo "$t1 - $t0" | bc -l
}

best_bare=999999
best_shim=999999
for ((r = 0; r < rounds; r++)); do
	# Alternate so drift in machine speed hits both alike.
	b=$(elapsed env -u LD_PRELOAD "$victim" "$file" "$n")
	s=$(elapsed env LD_PRELOAD="$lib" RCSHIM_SIGNAL=none "$victim" "$file" "$n")
	best_bare=$(echo "if ($b < $best_bare) $b else $best_bare" | bc -l)
	best_shim=$(echo "if ($s < $best_shim) $s else $best_shim" | bc -l)
done
ratio=$(echo "$best_shim / $best_bare" | bc -l)
printf 'openclose: %d open+close pairs, best of %d: bare %.3f s, shim %.3f s (%.0f ns vs %.0f ns per pair), ratio %.3f\n' \
	"$n" "$rounds" "$best_bare" "$best_shim" \
	"$(echo "$best_bare * 1000000000 / $n" | bc -l)" "$(echo "$best_shim * 1000000000 / $n" | bc -l)" "$ratio"
