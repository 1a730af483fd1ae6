#!/bin/bash
# What the shim adds to one start of a tool (issue 14): CMD started with
# posix_spawn, bare and with librcshim.so preloaded, alternating (which
# goes first alternates too), COUNT pairs; prints the bare median and the
# median of the paired differences with the quartiles.  Temp files a tool
# leaves (mktemp) are removed after each pair.
#   scripts/bench-tool.sh [BUILDDIR] [COUNT] CMD [ARGS...]
#   e.g. scripts/bench-tool.sh build 300 mktemp
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
n=${2:-300}
shift 2 || true
if [ $# -eq 0 ]; then
	set -- /bin/true
fi
lib=$(realpath "$dir/src/librcshim.so")
exec python3 - "$n" "$lib" "$@" <<'PY'
import os, statistics, sys, time
n, lib, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
base = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
envs = (base, dict(base, LD_PRELOAD=lib))
devnull = os.open(os.devnull, os.O_WRONLY)
made = []

def start(env):
    out = os.dup(1)
    os.dup2(devnull, 1)
    try:
        t = time.perf_counter()
        pid = os.posix_spawnp(cmd[0], cmd, env)
        os.waitpid(pid, 0)
        return time.perf_counter() - t
    finally:
        os.dup2(out, 1)
        os.close(out)

bare, added = [], []
tmp_before = set(os.listdir("/tmp"))
for i in range(n):
    t = [0.0, 0.0]
    for k in ((0, 1) if i % 2 == 0 else (1, 0)):
        t[k] = start(envs[k])
    bare.append(t[0])
    added.append(t[1] - t[0])
    for name in set(os.listdir("/tmp")) - tmp_before:
        if name.startswith("tmp."):
            path = os.path.join("/tmp", name)
            try:
                os.rmdir(path) if os.path.isdir(path) else os.unlink(path)
            except OSError:
                pass
q = statistics.quantiles(added, n=4)
print("%s: bare %.0f us; added median %.0f us (quartiles %.0f-%.0f), %d pairs"
      % (" ".join(cmd), statistics.median(bare) * 1e6, statistics.median(added) * 1e6,
         q[0] * 1e6, q[2] * 1e6, n))
PY
