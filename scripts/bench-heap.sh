#!/bin/bash
# Heap tracking cost (DESIGN §9: malloc/free-heavy loop <= 1.3x bare; heap
# metadata grows with samples, not allocations), in one run:
#  - a malloc/free loop of random sizes 16..528 bytes over 1024 live slots,
#    1 and 2 threads: bare, under librcshim.so (default sampling), and
#    under heaptrack when it is installed; the loop times itself, so
#    start-up and heaptrack's post-processing are not counted;
#  - resident size holding 10 million live small allocations, bare and
#    under the shim.
#   scripts/bench-heap.sh [BUILDDIR] [ITERATIONS] [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
iters=${2:-20000000}
rounds=${3:-7}
lib=$(realpath "$dir/src/librcshim.so")
loop=$(realpath "$dir/tests/report/bench-malloc-loop")
rss=$(realpath "$dir/tests/report/victim-rss")
tmp=$(mktemp -d /tmp/rcshim-bench-heap.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

min() { echo "if ($1 < $2) $1 else $2" | bc -l; }
# The loop's own figure: the last line that is a plain number.
ns_of() { grep -E '^[0-9]+(\.[0-9]+)?$' | tail -n 1; }

for threads in 1 2; do
	best_bare=1000000000 best_shim=1000000000 best_ht=1000000000
	for ((r = 0; r < rounds; r++)); do
		# Alternate so drift in machine speed hits all alike.
		b=$(env -u LD_PRELOAD "$loop" "$threads" "$iters" | ns_of)
		s=$(env LD_PRELOAD="$lib" RCSHIM_SIGNAL=none "$loop" "$threads" "$iters" | ns_of)
		best_bare=$(min "$b" "$best_bare")
		best_shim=$(min "$s" "$best_shim")
		# heaptrack is 10-50x slower: fewer rounds, same loop.
		if command -v heaptrack >/dev/null && ((r < 2)); then
			h=$(heaptrack -o "$tmp/ht" "$loop" "$threads" "$iters" 2>/dev/null | ns_of)
			rm -f "$tmp"/ht*
			[ -n "$h" ] && best_ht=$(min "$h" "$best_ht")
		fi
	done
	printf 'heap loop, %d thread(s), %d iterations each, best of %d: bare %.2f ns, shim %.2f ns per free+malloc, ratio %.3f' \
		"$threads" "$iters" "$rounds" "$best_bare" "$best_shim" "$(echo "$best_shim / $best_bare" | bc -l)"
	if [ "$best_ht" != "1000000000" ]; then
		printf '; heaptrack %.2f ns, ratio %.2f' "$best_ht" "$(echo "$best_ht / $best_bare" | bc -l)"
	fi
	printf '\n'
done

n=10000000
b=$(env -u LD_PRELOAD "$rss" "$n")
s=$(env LD_PRELOAD="$lib" RCSHIM_SIGNAL=none "$rss" "$n")
printf 'resident size with %d live allocations of 16..64 bytes: bare %d MiB, shim %d MiB (+%d KiB, %.2f bytes per allocation)\n' \
	"$n" $((b / 1024)) $((s / 1024)) $((s - b)) "$(echo "($s - $b) * 1024 / $n" | bc -l)"
