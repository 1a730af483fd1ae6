#!/bin/bash
# cuMemAlloc_v2 + cuMemFree_v2 pairs through the fake driver: the program
# under librcshim.so against the same program bare, in one run (issue 5
# target: the shim adds < 200 ns per pair).  Each run times its own loop,
# so start-up is not counted.
#   tests/gpu/bench-gpu.sh [BUILDDIR] [PAIRS] [ROUNDS]
set -eu
cd "$(dirname "$0")/../.."
dir=${1:-build}
n=${2:-1000000}
rounds=${3:-7}
lib=${RCSHIM_TEST_PRELOAD:-$(realpath "$dir/src/librcshim.so")}
gpu=$(realpath "$dir/tests/gpu")

best() { # PROGRAM -> best ns per pair, bare and shim, alternating
	local b=999999 s=999999 x
	for ((r = 0; r < rounds; r++)); do
		x=$(env -u LD_PRELOAD -u RCSHIM_TEST_PRELOAD LD_LIBRARY_PATH="$gpu" "$gpu/$1" bench "$n")
		b=$(echo "if ($x < $b) $x else $b" | bc -l)
		x=$(env -u RCSHIM_TEST_PRELOAD LD_PRELOAD="$lib" RCSHIM_SIGNAL=none LD_LIBRARY_PATH="$gpu" "$gpu/$1" bench "$n")
		s=$(echo "if ($x < $s) $x else $s" | bc -l)
	done
	echo "$b $s"
}

status=0
for prog in gpu-direct gpu-runtime; do
	read -r b s <<<"$(best "$prog")"
	added=$(echo "$s - $b" | bc -l)
	printf 'gpu %s: %d cuMemAlloc+cuMemFree pairs, best of %d: bare %.0f ns, shim %.0f ns per pair, %.0f ns added (target < 200), ratio %.2f\n' \
		"${prog#gpu-}" "$n" "$rounds" "$b" "$s" "$added" "$(echo "$s / $b" | bc -l)"
	if [ "$(echo "$added >= 200" | bc -l)" = 1 ]; then
		status=1
	fi
done
exit $status
