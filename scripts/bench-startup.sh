#!/bin/bash
# Start-up cost: `true` run N times under librcshim.so against bare, in one
# run; prints the time added per start (DESIGN §9 target: <= 1 ms).
#   scripts/bench-startup.sh [BUILDDIR] [COUNT] [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
n=${2:-500}
rounds=${3:-5}
lib=$(realpath "$dir/src/librcshim.so")
truebin=$(command -v true | grep / || echo /bin/true)
[ -x "$truebin" ] || truebin=/bin/true

loop() { # PRELOAD
	local i
	if [ -n "$1" ]; then
		for ((i = 0; i < n; i++)); do LD_PRELOAD=$1 /bin/true; done
	else
		for ((i = 0; i < n; i++)); do /bin/true; done
	fi
}

elapsed() {
	local t0=$EPOCHREALTIME
	loop "$1"
	local t1=$EPOCHREALTIME
	echo "$t1 - $t0" | bc -l
}

best_bare=999999
best_shim=999999
for ((r = 0; r < rounds; r++)); do
	b=$(elapsed "")
	s=$(elapsed "$lib")
	best_bare=$(echo "if ($b < $best_bare) $b else $best_bare" | bc -l)
	best_shim=$(echo "if ($s < $best_shim) $s else $best_shim" | bc -l)
done
added=$(echo "($best_shim - $best_bare) * 1000000 / $n" | bc -l)
printf 'startup: /bin/true x %d, best of %d: bare %.1f us, shim %.1f us per start, added %.1f us (ratio %.2f)\n' \
	"$n" "$rounds" "$(echo "$best_bare * 1000000 / $n" | bc -l)" \
	"$(echo "$best_shim * 1000000 / $n" | bc -l)" "$added" "$(echo "$best_shim / $best_bare" | bc -l)"
