#!/bin/bash
# Start-up cost: `true` run N times under librcshim.so against bare, in one
# run; prints the time added per start (DESIGN §9 target: <= 1 ms).
#   scripts/bench-startup.sh [BUILDDIR] [COUNT] [ROUNDS]
# Bare and shim runs alternate one by one, so both see the same load.  Two
# figures: the best round's means (the figure of record), and the median
# of every run's time minus the bare run's before it, which a busy moment
# moves less.  The bare run also gets a variable assignment in front of
# it: bash builds a new environment for a command with one (about 0.15 ms
# here), which is bash's cost, not the shim's.  Then the same with
# posix_spawn (below).
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
n=${2:-500}
rounds=${3:-5}
lib=$(realpath "$dir/src/librcshim.so")
truebin=/bin/true
diffs=$(mktemp)
trap 'rm -f "$diffs"' EXIT

best_bare=999999999
best_shim=999999999
for ((r = 0; r < rounds; r++)); do
	bare=0
	shim=0
	for ((i = 0; i < n; i++)); do
		# Microseconds: EPOCHREALTIME has six decimals.
		t0=${EPOCHREALTIME/./}
		RCSHIM_BENCH_BARE=1 "$truebin"
		t1=${EPOCHREALTIME/./}
		LD_PRELOAD=$lib "$truebin"
		t2=${EPOCHREALTIME/./}
		bare=$((bare + t1 - t0))
		shim=$((shim + t2 - t1))
		echo $((t2 - t1 - (t1 - t0))) >>"$diffs"
	done
	if ((bare < best_bare)); then best_bare=$bare; fi
	if ((shim < best_shim)); then best_shim=$shim; fi
done
median=$(sort -n "$diffs" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
awk -v n="$n" -v r="$rounds" -v b="$best_bare" -v s="$best_shim" -v m="$median" 'BEGIN {
	printf "startup: /bin/true x %d, best of %d: bare %.1f us, shim %.1f us per start, added %.1f us (ratio %.2f); median added per run %d us\n",
		n, r, b / n, s / n, (s - b) / n, s / b, m
}'

# The same, started with posix_spawn from python3 (no fork of a shell for
# each start): bare, an empty preloaded library (what any LD_PRELOAD
# costs), and the shim, alternating; medians and 10th percentiles.
py=$(command -v python3 || true)
if [ -n "$py" ] && command -v cc >/dev/null; then
	empty_dir=$(mktemp -d)
	trap 'rm -f "$diffs"; rm -rf "$empty_dir"' EXIT
	echo 'int rcshim_bench_empty;' >"$empty_dir/empty.c"
	cc -shared -fPIC -o "$empty_dir/empty.so" "$empty_dir/empty.c"
	"$py" - "$((n * rounds))" "$truebin" "$empty_dir/empty.so" "$lib" <<'PY'
import os, sys, time
n, exe, libs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
base = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
envs = [base] + [dict(base, LD_PRELOAD=l) for l in libs]
times = [[] for _ in envs]
for _ in range(n):
    for k, env in enumerate(envs):
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(exe, [exe], env)
        os.waitpid(pid, 0)
        times[k].append(time.perf_counter_ns() - t0)
def q(t, f):
    return sorted(t)[int(len(t) * f)] / 1000.0
print("startup (posix_spawn): /bin/true x %d: bare median %.1f us, p10 %.1f us" %
      (n, q(times[0], 0.5), q(times[0], 0.1)))
for k, name in ((1, "empty preload"), (2, "shim")):
    print("  %s: median %.1f us (added %.1f us), p10 %.1f us (added %.1f us)" %
          (name, q(times[k], 0.5), q(times[k], 0.5) - q(times[0], 0.5),
           q(times[k], 0.1), q(times[k], 0.1) - q(times[0], 0.1)))
PY
fi
