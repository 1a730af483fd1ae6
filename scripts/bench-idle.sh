#!/bin/sh
# CPU used by an idle program with the live triggers on: `sleep SECONDS`
# under librcshim.so with RCSHIM_INTERVAL=1 and the pressure monitor
# (default poll: 1 s), against bare `sleep`, in one run.
#   scripts/bench-idle.sh [BUILDDIR] [SECONDS]
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
secs=${2:-60}
lib=$(realpath "$dir/src/librcshim.so")
python3 - "$lib" "$secs" <<'PY'
import os, resource, subprocess, sys
lib, secs = sys.argv[1], sys.argv[2]
def cpu(env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["sleep", secs], env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) * 1000, (after.ru_stime - before.ru_stime) * 1000
base = {k: v for k, v in os.environ.items() if not k.startswith("RCSHIM_") and k != "LD_PRELOAD"}
bu, bs = cpu(base)
shim = dict(base, LD_PRELOAD=lib, RCSHIM_INTERVAL="1", RCSHIM_PRESSURE="on")
su, ss = cpu(shim)
print("idle: sleep %s: bare %.1f ms user + %.1f ms sys; with RCSHIM_INTERVAL=1 and "
      "RCSHIM_PRESSURE=on %.1f ms user + %.1f ms sys (%d wake-ups of each kind)"
      % (secs, bu, bs, su, ss, int(float(secs))))
PY
