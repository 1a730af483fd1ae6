#!/bin/sh
# rcshim plot's page in a real browser: a short job that leaks and is
# cleaned live twice runs under `rcshim run --timeline`, `rcshim plot`
# draws it as HTML, headless Chromium loads the page, and
#   - the DOM it built has the seven charts, a band per non-empty chart,
#     the process's label and both cleanup markers;
#   - a screenshot of it is not blank: many colors, among them the
#     process's band and the cleanups' red.
# Nothing is fetched: the page is self-contained.
#
# Usage: plot-browser-check.sh RCSHIM VICTIM [KEEP_DIR]
#   RCSHIM  the launcher as built (build/src/rcshim)
#   VICTIM  build/tests/victim-timeline-leak
#   KEEP_DIR  where to leave page.html and shot.png (default: removed)
# Exits 77 (skipped) without Chromium (scripts/deps.sh --browser installs it).
set -eu
rcshim=$1
victim=$2
keep=${3:-}

browser=""
for b in chromium chromium-browser google-chrome; do
	if command -v "$b" >/dev/null 2>&1; then
		browser=$b
		break
	fi
done
if [ -z "$browser" ]; then
	echo "SKIP: no headless Chromium here (scripts/deps.sh --browser installs the Debian package chromium)"
	exit 77
fi
py=${RCSHIM_TEST_PYTHON:-python3}

work=$(mktemp -d "${TMPDIR:-/tmp}/plot-browser.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0
fail() {
	echo "FAIL: $*"
	failed=1
}

# --- the job and its picture -------------------------------------------------------
mkdir "$work/tmp"
asan=${RCSHIM_TEST_ASAN_RT:-}
env ${asan:+LD_PRELOAD=$asan} TMPDIR="$work/tmp" RCSHIM_TMP_ROOTS="$work/tmp" \
	"$rcshim" run -q --timeline 50ms --tmp-owner process --report "$work/r.json" \
	-- "$victim" 3 10 40 >"$work/victim.out"
[ "$(cat "$work/victim.out")" = "cleanups 2" ] || fail "the victim says: $(cat "$work/victim.out")"
env ${asan:+LD_PRELOAD=$asan} "$rcshim" plot "$work/r.json" -o "$work/page.html"

# --- the browser -----------------------------------------------------------------------
# --no-sandbox: tests may run as root, where Chromium's sandbox refuses to
# start; the page is ours and has no script.
run_browser() {
	timeout 90 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
		--no-first-run --no-default-browser-check --disable-extensions --disable-sync \
		--disable-background-networking --disable-component-update --mute-audio \
		--user-data-dir="$work/profile" --hide-scrollbars "$@" "file://$work/page.html"
}
run_browser --dump-dom >"$work/dom.html" 2>"$work/dom.err" ||
	fail "$browser --dump-dom exited with $?: $(tail -3 "$work/dom.err")"
run_browser --screenshot="$work/shot.png" --window-size=1200,1500 \
	>"$work/shot.out" 2>"$work/shot.err" ||
	fail "$browser --screenshot exited with $?: $(tail -3 "$work/shot.err")"

count() { grep -o -- "$1" "$work/dom.html" | wc -l; }
for k in temp temp-bytes fds sqlite heap gpu rss; do
	[ "$(count "<g class=\"chart chart-$k\"")" -eq 1 ] || fail "no chart-$k in the DOM"
done
[ "$(count '<g class="event event-live"')" -eq 2 ] || fail "not 2 live cleanup markers in the DOM"
# Bands: temp, temp bytes, fds, heap, rss (no heap band where ASan owns the
# allocator: the shim steps aside there).
bands=5
[ -z "$asan" ] || bands=4
[ "$(count '<path class="series"')" -eq "$bands" ] || fail "not $bands bands in the DOM"
grep -q 'victim-timeline-leak 3 10 40</text>' "$work/dom.html" || fail "no process label in the DOM"
grep -q 'live cleanup CRITICAL (live_signal' "$work/dom.html" || fail "no cleanup label in the DOM"

# --- the screenshot: a PNG decoded by hand (zlib, the five filters) -----------------------
if [ -s "$work/shot.png" ]; then
	"$py" - "$work/shot.png" <<'PY' || fail "the screenshot does not show the chart"
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, hdr = 8, b'', None
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        hdr = struct.unpack('>IIBBBBB', body)
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
w, h, depth, ctype = hdr[:4]
assert depth == 8 and ctype in (2, 6), hdr
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colors = {}
i = 0
for y in range(h):
    f = raw[i]
    line = bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = bytes(line[x:x + 3])
        colors[px] = colors.get(px, 0) + 1
    prev = line
def near(rgb, tol=14):
    return sum(n for c, n in colors.items() if all(abs(c[k] - rgb[k]) <= tol for k in range(3)))
white = near((255, 255, 255), 2)
band = near((104, 140, 179))    # #4e79a7 at 85 % over the plot's #fafafa
red = near((192, 0, 0), 30)      # the cleanups' #c00000
print(f'{w}x{h}: {len(colors)} colors, {white} white, {band} band, {red} red pixels')
assert len(colors) >= 20, 'too few colors: a blank page?'
assert white < w * h * 0.97, 'almost all white'
assert band > 2000, 'no process band'
assert red > 200, 'no cleanup marker'
PY
else
	fail "no screenshot"
fi
if [ -n "$keep" ]; then
	mkdir -p "$keep"
	cp "$work/page.html" "$work/shot.png" "$keep/"
fi
if [ "$failed" -ne 0 ]; then
	exit 1
fi
echo "ok: $browser drew 7 charts, 2 cleanup markers; the screenshot has the bands and markers"
