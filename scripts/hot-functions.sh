#!/bin/bash
# Writes src/hot.ld, the order of the shim's code, from what short processes
# run, found with callgrind on real programs:
#   scripts/hot-functions.sh [BUILDDIR] > src/hot.ld
# then rebuild and check with scripts/bench-faults.sh.  Groups: (1) start-up
# and exit of a process that holds nothing (/bin/true preloaded and under
# the launcher); (2) what a shell pipeline adds (fork, vfork, exec, dup2, a
# temp file and its report); (3) what the usual small tools add.  A name
# already in an earlier group is not repeated.  Needs valgrind.
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
# A shell's fork children (subshells, and a command's child before its
# exec), counted from the fork on: the parent's profile is set aside
# below, and the execs are not followed (their pre-exec part is what a
# subshell runs too: dup2, close, the fork handlers).
cg 0 --zero-before=after_fork_child --trace-children-skip='*/cat' \
	env LD_PRELOAD="$lib" sh -c 'x=$(echo a); echo hi | cat >/dev/null; (exit 3); y=$(cat "$0")' \
	"$out/in.txt"

# The shim's functions in one group's profiles, by name.
names() {
	files "$1" | while read -r f; do
		callgrind_annotate --threshold=100 --inclusive=no "$f" 2>/dev/null |
			grep -E '^ *[0-9,]+ +\( *[0-9.]+%\) +[^ ]*:[A-Za-z_][^ ]* \[[^]]*librcshim[^]]*\]$' |
			sed -E 's/^ *[0-9,]+ +\([^)]*\) +//; s/ \[.*//; s/^.*:([^:]+)$/\1/'
	done | grep -E '^[A-Za-z_][A-Za-z0-9_.]*$' | sort -u
}

# One group's profiles; of group 0 only the children's (the parent never
# ran after_fork_child, so its counts were never zeroed).
files() {
	for f in "$out"/cg."$1".*; do
		if [ "$1" != 0 ] || grep -qE '^c?fn=\([0-9]+\) after_fork_child$' "$f"; then
			echo "$f"
		fi
	done
}

cat <<'EOF'
/* The code a short-lived process runs, in one place (DESIGN §9: start-up
 * cost).  Spread over the shim's 190 KiB of code, the functions every
 * process runs at start-up and exit touched four or five separate pages,
 * each a page fault (tens of microseconds on some virtual machines);
 * gathered at the start of .text, they share one or two.  Needs
 * -ffunction-sections (src/meson.build); a name missing from the list
 * only costs speed.  Written by scripts/hot-functions.sh (callgrind on
 * /bin/true and a shell pipeline of small tools);
 * scripts/bench-faults.sh measures the faults. */
SECTIONS
{
  .text :
  {
    /* 1: start-up and exit of a process that holds nothing: the C
     * runtime's and the assembler parts first, then what callgrind saw */
    *crtbeginS.o(.text .text.*)
    *libc_nonshared.a:*(.text .text.*)
    *(.text.rcshim_asm)
EOF
{
	# Absent from callgrind's profiles of these starts, though gdb and
	# perf's page faults (perf record -e page-faults -d) see them run: a
	# new session's start (every plain LD_PRELOAD process) and the quiet
	# line of a launcher's member.
	for f in rc_random_hex rc_session_usual_dir ensure_dir rc_proc_start_time \
		rc_report_is_rcshim; do
		echo "1 $f"
	done
	# Group 1 in two parts, then the rest of a fork child's code at
	# the head of group 2: the start-up that only a new program runs,
	# then the exit both run, then the fork handlers and redirections.
	# A fork child touches the last two, a new program the first two:
	# each a contiguous stretch (a file page fault maps the 64 KiB
	# around it, the copy a fork child makes of its parent has none of
	# the parent's page table entries for code).
	names 1 >"$out/g1"
	names 0 >"$out/g0"
	comm -23 "$out/g1" "$out/g0" | sed 's/^/1 /'
	comm -12 "$out/g1" "$out/g0" | sed 's/^/1 /'
	comm -13 "$out/g1" "$out/g0" | sed 's/^/2 /'
	names 2 | sed 's/^/2 /'
	names 3 | sed 's/^/3 /'
} | awk '
	!seen[$2]++ {
		if ($1 != group) {
			group = $1
			if (group == 2) print "    /* 2: what a shell pipeline adds: fork, vfork, exec, a temp file */"
			if (group == 3) {
				print "    /* 3: what the usual small tools add; the malloc family is in"
				print "     * the heap hooks (callgrind cannot name it) */"
				print "    *librc_heap_hooks.a:*(.text .text.*)"
			}
		}
		printf "    *(.text.%s .text.startup.%s .text.exit.%s)\n", $2, $2, $2
	}
	END {
		if (group != 3) print "    *librc_heap_hooks.a:*(.text .text.*)"
	}'
cat <<'EOF'
    /* Then the rest, as the default script orders it: the .text section
     * it would have made stays empty and is dropped.  (An output section
     * of another name, before .text, left valgrind unable to name these
     * functions: it reads one .text.) */
    *(.text.unlikely .text.*_unlikely .text.unlikely.*)
    *(.text.exit .text.exit.*)
    *(.text.startup .text.startup.*)
    *(.text.hot .text.hot.*)
    *(SORT(.text.sorted.*))
    *(.text .stub .text.* .gnu.linkonce.t.*)
  }
}
INSERT BEFORE .text;
EOF
