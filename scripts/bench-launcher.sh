#!/bin/bash
# Process-heavy work under the launcher (DESIGN §9, issue 14): each workload
# bare, with an empty preloaded library (the floor of any preload), with
# librcshim.so preloaded, and under `rcshim run`, in one run.  Each round
# runs the four in a rotated order; the figure is the median of the paired
# ratios (variant / the bare run of the same round) with min-max, in CPU
# time (user + system of the whole process tree) and in wall time.
#   - a shell loop of 2 000 /bin/true
#   - a 500-line sh script of cat/sed/grep/sort/mktemp pipelines
#   - 200 git commits in a repository outside the temp roots
#   - ninja -j2 building this project from scratch (skipped with --quick;
#     alone with --ninja)
#   scripts/bench-launcher.sh [--quick | --ninja] [BUILDDIR] [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
quick= only_ninja=
case "${1:-}" in
--quick) quick=1; shift ;;
--ninja) only_ninja=1; shift ;;
esac
dir=${1:-build}
rounds=${2:-5}
# The git repository and the ninja build live outside the temp roots (the
# build tree), as a user's would.
. scripts/bench/tree.sh bench-launcher

# The pipeline script: 500 lines, every one a few short processes.
scripts/bench/pipeline.sh 100 >"$work/pipeline.sh"

cpu_wall() { # CMD... -> "cpu wall" seconds
	local TIMEFORMAT='%U %S %R' t
	t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
	echo "$t" | awk '{print $1 + $2, $3}'
}

run_variant() { # VARIANT CMD... -> "cpu wall"
	local v=$1
	shift
	case $v in
	bare) cpu_wall env -u LD_PRELOAD "$@" ;;
	empty) cpu_wall env LD_PRELOAD="$work/empty.so" "$@" ;;
	preload) cpu_wall env LD_PRELOAD="$lib" "$@" ;;
	launcher) cpu_wall "$rcshim" run -q -- "$@" ;;
	esac
}

median_range() { # VALUES... -> "median min max"
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f %.3f %.3f", m, v[1], v[NR] }'
}

variants=(bare empty preload launcher)

bench() { # NAME PREPARE-FN CMD...
	local name=$1 prep=$2
	shift 2
	declare -A cpu wall
	local r i v
	for ((r = 0; r < rounds; r++)); do
		for ((i = 0; i < ${#variants[@]}; i++)); do
			v=${variants[$(((i + r) % ${#variants[@]}))]}
			$prep
			read -r cpu[$v,$r] wall[$v,$r] < <(run_variant "$v" "$@")
		done
	done
	printf '%s (%d rounds; bare median %s s CPU)\n' "$name" "$rounds" \
		"$(median_range $(for ((r = 0; r < rounds; r++)); do echo "${cpu[bare,$r]}"; done) | cut -d' ' -f1)"
	for v in empty preload launcher; do
		local rc=() rw=()
		for ((r = 0; r < rounds; r++)); do
			rc+=("$(echo "${cpu[$v,$r]} / ${cpu[bare,$r]}" | bc -l)")
			rw+=("$(echo "${wall[$v,$r]} / ${wall[bare,$r]}" | bc -l)")
		done
		read -r cm cl ch <<<"$(median_range "${rc[@]}")"
		read -r wm wl wh <<<"$(median_range "${rw[@]}")"
		printf '  %-9s CPU %.3fx (%.3f-%.3f)  wall %.3fx (%.3f-%.3f)\n' "$v" "$cm" "$cl" "$ch" \
			"$wm" "$wl" "$wh"
	done
}

nothing() { :; }
if [ -z "$only_ninja" ]; then
	bench "2000 /bin/true from a shell loop" nothing \
		sh -c 'i=0; while [ $i -lt 2000 ]; do /bin/true; i=$((i + 1)); done'

	bench "500-line pipeline script" nothing sh "$work/pipeline.sh"

	git_repo() {
		bench_git_repo "$outside/repo"
	}
	bench "200 git commits" git_repo sh -c "cd '$outside/repo' && for i in \$(seq 200); do \
echo \$i >> f; git add f; git commit -qm \$i; done"
fi

if [ -z "$quick" ] && command -v ninja >/dev/null; then
	meson setup "$outside/build" >/dev/null
	ninja_clean() { ninja -C "$outside/build" -t clean >/dev/null; }
	bench "ninja -j2 of this project" ninja_clean ninja -C "$outside/build" -j2
fi
