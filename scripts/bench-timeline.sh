#!/bin/sh
# The timeline's CPU cost (docs/performance.md, "The timeline"): the same
# job runs twice at once under `rcshim run`, with --timeline (100 ms) and
# without, and the CPU each used (user + system time of the launcher and
# every process of the job, from wait4) is compared.  Two jobs:
#   sleep SECONDS                          (idle: the sampler alone)
#   victim-timeline-leak 3 STEPS 200       (leaks for SECONDS, cleaned live twice)
# Usage: scripts/bench-timeline.sh [SECONDS] [BUILDDIR]   (default 60 build)
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
dir=${2:-build}
[ -x "$dir/src/rcshim" ] || BUILDDIR=$dir scripts/build.sh
exec python3 - "$secs" "$dir" <<'PY'
import os, subprocess, sys, tempfile, time
secs, build = int(sys.argv[1]), sys.argv[2]
rcshim = os.path.abspath(f'{build}/src/rcshim')
victim = os.path.abspath(f'{build}/tests/victim-timeline-leak')
steps = max(1, secs * 1000 // 3 // 200)

def pair(job):
    procs = {}
    with tempfile.TemporaryDirectory() as d:
        for name, opts in (('timeline', ['--timeline', '100ms']), ('off', [])):
            tmp = os.path.join(d, name)
            os.mkdir(tmp)
            env = dict(os.environ, TMPDIR=tmp, RCSHIM_TMP_ROOTS=tmp)
            cmd = [rcshim, 'run', '-q', '--tmp-owner', 'process', '--report',
                   os.path.join(d, name + '.%p.json'), '--json'] + opts + ['--'] + job
            p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
            procs[p.pid] = (name, time.monotonic())
        out = {}
        while procs:
            pid, status, ru = os.wait4(-1, 0)
            if pid in procs:
                name, t0 = procs.pop(pid)
                out[name] = (ru.ru_utime + ru.ru_stime, time.monotonic() - t0, status)
        samples = 0
        for f in os.listdir(d):
            if f.startswith('timeline.') and f.endswith('.json'):
                samples += open(os.path.join(d, f)).read().count('{"t_ms":')
    return out, samples

for label, job in ((f'sleep {secs}', ['sleep', str(secs)]),
                   (f'victim-timeline-leak 3 {steps} 200', [victim, '3', str(steps), '200'])):
    r, samples = pair(job)
    on, off = r['timeline'], r['off']
    extra = on[0] - off[0]
    print(f'{label}: wall {on[1]:.1f} s; CPU with --timeline {on[0]*1000:.0f} ms, '
          f'without {off[0]*1000:.0f} ms; the timeline: {extra*1000:+.0f} ms '
          f'= {100*extra/on[1]:.3f} % of one CPU ({samples} samples)')
PY
