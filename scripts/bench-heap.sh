#!/bin/bash
# Heap tracking cost (DESIGN §9: malloc/free-heavy loop <= 1.10x bare; no
# byte added to heap blocks; heap metadata grows with samples, not
# allocations), in one run:
#  - a malloc/free loop of random sizes 16..528 bytes over 1024 live slots,
#    1 and 2 threads: bare, under librcshim.so (default settings:
#    RCSHIM_HEAP=counts), with RCSHIM_HEAP=exact, and under heaptrack when
#    it is installed.  The loop times itself (each thread's CPU time), so
#    start-up and heaptrack's post-processing are not counted.  Rounds
#    alternate which run goes first; the figures are the best of each, and
#    the median of the paired ratios;
#  - resident size holding 10 million live small blocks (16..64 bytes),
#    bare, counts and exact: the bytes per block the shim adds.
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

# The loop's own figure: the last line that is a plain number.
ns_of() { grep -E '^[0-9]+(\.[0-9]+)?$' | tail -n 1; }
run() { # bare|counts|exact THREADS -> ns per free+malloc
	case $1 in
	bare) env -u LD_PRELOAD "$loop" "$2" "$iters" | ns_of ;;
	counts) env LD_PRELOAD="$lib" RCSHIM_SIGNAL=none "$loop" "$2" "$iters" | ns_of ;;
	exact) env LD_PRELOAD="$lib" RCSHIM_SIGNAL=none RCSHIM_HEAP=exact "$loop" "$2" "$iters" | ns_of ;;
	esac
}
# The median of a column of numbers (stdin).
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Best of each and the median of the paired ratios, from lines "bare counts exact".
summary() {
	local mc me
	mc=$(awk '{ print $2 / $1 }' "$1" | median)
	me=$(awk '{ print $3 / $1 }' "$1" | median)
	awk -v mc="$mc" -v me="$me" '
		NR == 1 || $1 < b { b = $1 }
		NR == 1 || $2 < c { c = $2 }
		NR == 1 || $3 < e { e = $3 }
		END { printf "bare %.2f ns, counts %.2f ns (best %.3fx, median of pairs %.3fx), exact %.2f ns (best %.3fx, median %.3fx)", \
			b, c, c / b, mc, e, e / b, me }' "$1"
}

for threads in 1 2; do
	: >"$tmp/pairs"
	best_ht=
	for ((r = 0; r < rounds; r++)); do
		# Rotate the order so drift in machine speed hits all alike.
		case $((r % 3)) in
		0) b=$(run bare "$threads"); c=$(run counts "$threads"); e=$(run exact "$threads") ;;
		1) c=$(run counts "$threads"); e=$(run exact "$threads"); b=$(run bare "$threads") ;;
		2) e=$(run exact "$threads"); b=$(run bare "$threads"); c=$(run counts "$threads") ;;
		esac
		echo "$b $c $e" >>"$tmp/pairs"
		# heaptrack is 10-50x slower: fewer rounds, same loop.
		if command -v heaptrack >/dev/null && ((r < 2)); then
			h=$(heaptrack -o "$tmp/ht" "$loop" "$threads" "$iters" 2>/dev/null | ns_of)
			rm -f "$tmp"/ht*
			if [ -n "$h" ] && { [ -z "$best_ht" ] || awk -v a="$h" -v b="$best_ht" 'BEGIN { exit !(a < b) }'; }; then
				best_ht=$h
			fi
		fi
	done
	printf 'heap loop, %d thread(s), %d iterations each, %d rounds: %s' \
		"$threads" "$iters" "$rounds" "$(summary "$tmp/pairs")"
	if [ -n "$best_ht" ]; then
		awk -v h="$best_ht" 'NR == 1 || $1 < b { b = $1 } END { printf "; heaptrack %.2f ns, %.2fx", h, h / b }' "$tmp/pairs"
	fi
	printf '\n'
done

# Resident size: VmRSS in KiB with n live blocks, at two sizes: the
# difference between them is what each further block costs (the shim's
# constant share, its own tables and libunwind's, cancels out).
rss_of() { # bare|counts|exact N
	case $1 in
	bare) env -u LD_PRELOAD "$rss" "$2" ;;
	counts) env LD_PRELOAD="$lib" RCSHIM_SIGNAL=none "$rss" "$2" ;;
	exact) env LD_PRELOAD="$lib" RCSHIM_SIGNAL=none RCSHIM_HEAP=exact "$rss" "$2" ;;
	esac
}
n=10000000 m=2000000
for v in bare counts exact; do
	echo "$v $(rss_of "$v" "$m") $(rss_of "$v" "$n")"
done >"$tmp/rss"
awk -v n="$n" -v m="$m" '
	{ small[$1] = $2; big[$1] = $3 }
	END {
		printf "resident size with %d live blocks of 16..64 bytes: bare %d MiB", n, big["bare"] / 1024
		split("counts exact", v, " ")
		for (i = 1; i <= 2; i++) {
			k = v[i]
			printf "; %s %d MiB (%+.2f bytes per block, %+.3f per further block)", k, big[k] / 1024,
				(big[k] - big["bare"]) * 1024 / n,
				((big[k] - big["bare"]) - (small[k] - small["bare"])) * 1024 / (n - m)
		}
		printf "\n"
	}' "$tmp/rss"
