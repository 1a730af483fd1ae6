#!/bin/bash
# Prints the function list of src/hot.ld: the shim's functions that short
# processes run, in the order they should be laid out, found with
# callgrind on real programs.
#   scripts/hot-functions.sh [BUILDDIR] > /tmp/list; then edit src/hot.ld
# Groups: (1) start-up and exit of a process that holds nothing (/bin/true
# preloaded and under the launcher); (2) what a shell pipeline adds (fork,
# vfork, exec, dup2, a temp file and its report); (3) what the usual small
# tools add.  A name already in an earlier group is not repeated.
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
lib=$(realpath "$dir/src/librcshim.so.0")
launcher=$(realpath "$dir/src/rcshim")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo hello >"$out/in.txt"
cg() { # GROUP CMD...
	local g=$1
	shift
	valgrind --tool=callgrind --trace-children=yes \
		--callgrind-out-file="$out/cg.$g.%p" "$@" <"$out/in.txt" >/dev/null 2>&1 || true
}
cg 1 env LD_PRELOAD="$lib" /bin/true
cg 1 "$launcher" run -- /bin/true
pipeline='x=$(mktemp); echo a | tr a-z A-Z >$x; cat $x | sed s/A/B/ | grep B; rm -f $x; /bin/true'
cg 2 env LD_PRELOAD="$lib" sh -c "$pipeline"
cg 2 "$launcher" run -- sh -c "$pipeline"
for c in "sed s/h/j/" cat "mktemp -d -p $out" sort "grep h" "tr a-z A-Z"; do
	# shellcheck disable=SC2086
	cg 3 env LD_PRELOAD="$lib" $c
done
for g in 1 2 3; do
	echo "    /* group $g */"
	for f in "$out"/cg."$g".*; do
		callgrind_annotate --threshold=100 --inclusive=no "$f" 2>/dev/null |
			grep -E '^ *[0-9,]+ +\( *[0-9.]+%\) +[^ ]*/src/(core|clean|report|trigger|preload)/[^ ]*:[A-Za-z_]|\[[^]]*librcshim[^]]*\]$' |
			sed -E 's/^ *[0-9,]+ +\([^)]*\) +//; s/ \[.*//; s/^.*:([^:]+)$/\1/'
	done | grep -E '^[A-Za-z_][A-Za-z0-9_.]*$' | sort -u
done | awk '/^ /{print; next} !seen[$0]++ {print "    *(.text." $0 " .text.startup." $0 ")"}'
