#!/bin/bash
# Page faults per run of the launcher benchmarks' workloads (issue 14): on
# virtual machines a page fault costs about 15 µs, more than most system
# calls, and after the start-up work was cut it was most of what the shim
# added to a short process.  For each workload, bare / empty preloaded
# library / librcshim.so preloaded / `rcshim run`: the page faults of the
# whole process tree as `perf stat -e page-faults` counts them (the
# exceptions taken; getrusage's minor faults would also count the pages
# the shim maps in advance with madvise(MADV_POPULATE_*), which take no
# exception), the median of ROUNDS runs, and the difference to bare per
# process started.  Each round pads the environment by a random length and
# the library is preloaded from a path of fixed length: the faults move by
# one a process with where the initial stack ends (docs/performance.md).
# Needs perf (Debian: linux-perf); exits 77 without it.
#   scripts/bench-faults.sh [BUILDDIR] [ROUNDS]
set -eu
if ! perf stat -e page-faults true >/dev/null 2>&1; then
	echo "bench-faults: perf stat cannot count page faults here (linux-perf missing," \
		"or perf_event_paranoid)" >&2
	exit 77
fi
cd "$(dirname "$0")/.."
dir=${1:-build}
rounds=${2:-3}
. scripts/bench/tree.sh bench-faults
# Preloaded from a path whose length is the same for every build (the
# environment's size moves the stack; see above), so that two builds'
# figures compare.  The launcher loads the library next to itself.
mkdir -p "$work/lib"
cp "$lib" "$work/lib/librcshim.so"
plib=$work/lib/librcshim.so
scripts/bench/pipeline.sh 20 >"$work/pipeline.sh"
bench_git_repo "$outside/repo"

# NAME PROCESSES CMD...: PROCESSES is the number of processes the workload
# starts (for the per-process figure).
measure() {
	python3 - "$plib" "$work/empty.so" "$rcshim" "$rounds" "$@" <<'PY'
import os, random, statistics, subprocess, sys, tempfile
lib, empty, rcshim, rounds, name, procs = sys.argv[1:7]
cmd = sys.argv[7:]
rounds, procs = int(rounds), int(procs)
variants = {
    "bare": (cmd, {}),
    "empty": (cmd, {"LD_PRELOAD": empty}),
    "preload": (cmd, {"LD_PRELOAD": lib}),
    "launcher": ([rcshim, "run", "-q", "--"] + cmd, {}),
}
faults = {v: [] for v in variants}
for r in range(rounds):
    # The environment's size moves the initial stack, and with it which
    # frames straddle a page boundary: a fault a process, more or less.
    # Each round pads it by another length, the same for every variant.
    pad = "x" * random.randrange(4096)
    for v, (argv, extra) in variants.items():
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        env.update(extra)
        env["RCSHIM_BENCH_PAD"] = pad
        with tempfile.NamedTemporaryFile("r") as out:
            subprocess.run(["perf", "stat", "-x", ",", "-e", "page-faults", "-o", out.name,
                            "--"] + argv, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            n = [l.split(",")[0] for l in out if "page-faults" in l]
        faults[v].append(int(n[0]) if n and n[0].isdigit() else 0)
bare = statistics.median(faults["bare"])
print(f"{name} ({rounds} rounds, about {procs} processes)")
for v in variants:
    m = statistics.median(faults[v])
    print(f"  {v:9s} {m:9.0f} faults  {(m - bare) / procs:+7.1f} per process")
PY
}

measure "2000 /bin/true from a shell loop" 2000 \
	sh -c 'i=0; while [ $i -lt 2000 ]; do /bin/true; i=$((i + 1)); done'
measure "100-line pipeline script" 420 sh "$work/pipeline.sh"
measure "40 git commits" 200 sh -c "cd '$outside/repo' && for i in \$(seq 40); do \
echo \$i >> f; git add f; git commit -qm \$i; done"
