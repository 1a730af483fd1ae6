#!/bin/sh
# The same leaking program (leak-demo.c) under valgrind, heaptrack and
# rcshim: the outputs pasted in docs/report-format.md, "Side by side".
# Usage: scripts/demo/side-by-side.sh [BUILDDIR] (default: build); writes
# its outputs to $OUT (default /tmp/leak-demo).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
rcshim=$(cd "$build" && pwd)/src/rcshim
out=${OUT:-/tmp/leak-demo}
mkdir -p "$out" && cd "$out" || exit 1
rm -f /tmp/sq-demo.db /tmp/sq-demo.log heaptrack.leak-demo.*
cc -g -O0 -o leak-demo "$here/leak-demo.c" -lsqlite3 || exit 1

valgrind --leak-check=full ./leak-demo > valgrind.txt 2>&1
heaptrack ./leak-demo > heaptrack.txt 2>&1
# The default view (most calls, peak consumers, totals), then the leaks.
heaptrack_print heaptrack.leak-demo.* > heaptrack_print.txt 2>&1
heaptrack_print --print-leaks 1 -p 0 -a 0 -T 0 heaptrack.leak-demo.* > heaptrack_print-leaks.txt 2>&1
"$rcshim" run --heap-sample 1 -- ./leak-demo > rcshim-sample1.stderr 2>&1
report=$(sed -n 's/^rcshim: report.*: //p' rcshim-sample1.stderr)
[ -n "$report" ] && cp "$report" rcshim-sample1.report.txt
"$rcshim" run -- ./leak-demo > rcshim-default.stderr 2>&1
report=$(sed -n 's/^rcshim: report.*: //p' rcshim-default.stderr)
[ -n "$report" ] && cp "$report" rcshim-default.report.txt
# valgrind and heaptrack leave their /tmp/sqdXXXXXX behind (nobody removes
# it there): that is part of the comparison.
ls -l "$out"
