#!/bin/bash
# Instructions executed by a whole process tree (every process, the
# launcher included), counted by callgrind: bare, with an empty preloaded
# library (the floor of any preload), with librcshim.so preloaded, and
# under `rcshim run`.  Unlike CPU time on a shared 2-core VM the count does
# not move with the load; it does not see system calls or page faults
# (scripts/bench-launcher.sh times those).
#   scripts/bench-launcher-insns.sh [BUILDDIR] [N]
# N: iterations of the /bin/true loop (default 100) and lines/5 of the
# pipeline script (default 100 -> 20 blocks of 5 lines).
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
n=${2:-100}
lib=$(realpath "$dir/src/librcshim.so")
rcshim=$(realpath "$dir/src/rcshim")
command -v valgrind >/dev/null || { echo "bench-launcher-insns: valgrind is not installed" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/rcshim-bench-linsns.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo 'void rcshim_bench_empty(void) {}' >"$work/empty.c"
cc -shared -fPIC -O2 -o "$work/empty.so" "$work/empty.c"

scripts/bench/pipeline.sh $((n / 5)) >"$work/pipeline.sh"

tree_insns() { # CMD... -> "instructions processes"
	local out="$work/cg" f total=0 procs=0 v
	rm -rf "$out"
	mkdir "$out"
	valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$out/cg.%p" \
		"$@" >/dev/null 2>&1 || true
	for f in "$out"/cg.*; do
		v=$(awk '/^totals:/ { print $2; exit }' "$f")
		[ -n "$v" ] || continue
		total=$((total + v))
		procs=$((procs + 1))
	done
	echo "$total $procs"
}

bench() { # NAME CMD...
	local name=$1 b bp v i p
	shift
	read -r b bp <<<"$(tree_insns env -u LD_PRELOAD "$@")"
	printf '%s: bare %d instructions in %d processes\n' "$name" "$b" "$bp"
	read -r i p <<<"$(tree_insns env LD_PRELOAD="$work/empty.so" "$@")"
	printf '  empty    %.3fx (%+d per process)\n' "$(echo "$i / $b" | bc -l)" $(((i - b) / bp))
	read -r i p <<<"$(tree_insns env LD_PRELOAD="$lib" "$@")"
	printf '  preload  %.3fx (%+d per process)\n' "$(echo "$i / $b" | bc -l)" $(((i - b) / bp))
	read -r i p <<<"$(tree_insns "$rcshim" run -q -- "$@")"
	printf '  launcher %.3fx (%+d per process; %d processes with the launcher)\n' \
		"$(echo "$i / $b" | bc -l)" $(((i - b) / bp)) "$p"
}

bench "$n /bin/true from a shell loop" \
	sh -c "i=0; while [ \$i -lt $n ]; do /bin/true; i=\$((i + 1)); done"
bench "$n-line pipeline script" sh "$work/pipeline.sh"
