#!/bin/bash
# Instructions executed by the real programs of bench-real.sh, bare and
# under librcshim.so, counted by valgrind's callgrind (which does not
# replace malloc, so the shim's heap tracking runs as it does outside
# valgrind).  Unlike CPU time, the count does not move with the load of a
# shared machine; it does not see what costs cycles without costing
# instructions (cache misses, atomic operations, page faults, system
# calls), which bench-real.sh measures.  Each program is counted bare and
# under the shim with the default settings (everything tracked); with
# "all", also with RCSHIM_HEAP=exact and with the heap alone tracked and
# no live signal (RCSHIM_TRACK=heap RCSHIM_SIGNAL=none: no worker thread,
# the heap's own cost).
#   scripts/bench-insns.sh [BUILDDIR] [ROWS] [all]
# ROWS: rows the sqlite3 shell inserts (default 50 000; 200 000 takes
# about two minutes per run under callgrind).
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
rows=${2:-50000}
variants=${3:-default}
lib=$(realpath "$dir/src/librcshim.so")
command -v valgrind >/dev/null || { echo "bench-insns: valgrind is not installed" >&2; exit 1; }
tmp=$(mktemp -d /tmp/rcshim-bench-insns.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

insns() { # PRELOAD CMD... -> instructions (stdin passed through)
	local pre=$1 out
	shift
	out=$(env -u LD_PRELOAD ${pre:+LD_PRELOAD="$pre"} valgrind --tool=callgrind \
		--callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null) || true
	echo "$out" | awk '/Collected :/ { print $NF; exit }'
}

compare() { # NAME STDIN CMD...
	local name=$1 in=$2 b s label
	shift 2
	rm -f "$tmp/bench.db"
	b=$(insns "" "$@" <"$in")
	if [ -z "$b" ]; then
		echo "$name: callgrind gave no count" >&2
		return 1
	fi
	for label in default exact heap-only; do
		[ "$label" = default ] || [ "$variants" = all ] || continue
		rm -f "$tmp/bench.db"
		case $label in
		default) s=$(insns "$lib" "$@" <"$in") ;;
		exact) s=$(RCSHIM_HEAP=exact insns "$lib" "$@" <"$in") ;;
		heap-only) s=$(RCSHIM_TRACK=heap RCSHIM_SIGNAL=none insns "$lib" "$@" <"$in") ;;
		esac
		if [ -z "$s" ]; then
			echo "$name ($label): callgrind gave no count" >&2
			return 1
		fi
		awk -v n="$name" -v l="$label" -v b="$b" -v s="$s" 'BEGIN {
			printf "%s: bare %.1f M, shim (%s) %.1f M instructions, ratio %.4f\n", n, b / 1e6, l, s / 1e6, s / b }'
	done
}

if command -v sqlite3 >/dev/null; then
	scripts/bench/insert-sql.sh "$rows" >"$tmp/insert.sql"
	compare "sqlite3 shell, $rows-row insert in one transaction" "$tmp/insert.sql" \
		sqlite3 "$tmp/bench.db"
fi

if command -v python3 >/dev/null; then
	py=$(python3 -c 'import sys; print(sys.executable)')
	compare "python tempfile+sqlite script" /dev/null "$py" scripts/bench/work.py
fi
