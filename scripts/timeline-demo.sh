#!/bin/sh
# The issue's picture: a 60 s job that leaks (temp files, fds, heap) and is
# cleaned live twice (CRITICAL, on its live signal) runs under
# `rcshim run --timeline`; `rcshim plot` draws the run's gathered report as
# OUTDIR/timeline.html and OUTDIR/timeline.svg, with both drops marked;
# with Chromium, OUTDIR/timeline.png is a screenshot of the page.
# Usage: scripts/timeline-demo.sh [SECONDS] [OUTDIR]   (default 60 timeline-demo)
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
out=${2:-timeline-demo}
BUILDDIR=build scripts/build.sh
steps=$((secs * 1000 / 3 / 200))
[ "$steps" -ge 1 ] || steps=1
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
TMPDIR=$tmp RCSHIM_TMP_ROOTS=$tmp build/src/rcshim run --timeline --tmp-owner process \
	-- build/tests/victim-timeline-leak 3 "$steps" 200 2>"$tmp/err"
cat "$tmp/err" >&2
report=$(sed -n 's/^rcshim: report ([0-9]* process[es]*): //p' "$tmp/err")
[ -n "$report" ] || { echo "no report named in the summary" >&2; exit 1; }
cp "$report" "$out/report.json"
build/src/rcshim plot "$out/report.json" -o "$out/timeline.html"
build/src/rcshim plot "$out/report.json" -o "$out/timeline.svg"
for b in chromium chromium-browser google-chrome; do
	if command -v "$b" >/dev/null 2>&1; then
		timeout 90 "$b" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
			--user-data-dir="$tmp/profile" --hide-scrollbars --window-size=1200,1500 \
			--screenshot="$out/timeline.png" "file://$out/timeline.html" \
			>/dev/null 2>&1 || true
		break
	fi
done
echo "timeline: $out/timeline.html, $out/timeline.svg$( [ -f "$out/timeline.png" ] && echo ", $out/timeline.png")"
