#!/bin/sh
# Installs what building and testing rcshim needs, where it is missing.
# Debian or Ubuntu; needs root (or sudo) only when something is missing.
set -eu

need=""
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pc() { have_cmd pkg-config && pkg-config --exists "$1" 2>/dev/null; }

have_cmd cc || need="$need gcc libc6-dev"
have_cmd meson || need="$need meson"
have_cmd ninja || need="$need ninja-build"
have_cmd pkg-config || need="$need pkg-config"
have_pc check || need="$need check"
have_pc libunwind || need="$need libunwind-dev"
have_pc libdw || need="$need libdw-dev"
have_pc sqlite3 || need="$need libsqlite3-dev"
have_cmd sqlite3 || need="$need sqlite3"
have_cmd python3 || need="$need python3"
have_cmd nm || need="$need binutils"
have_cmd bash || need="$need bash"
have_cmd awk || need="$need gawk"
have_cmd bc || need="$need bc"
if [ "${1:-}" = "--test" ]; then
	have_cmd valgrind || need="$need valgrind"
	# tests/cli/help-man.sh renders docs/rcshim.1 with man -l.
	have_cmd man || need="$need man-db"
	# tests/cli/test-sweep.c checks --metrics with a real Prometheus parser.
	python3 -c 'import prometheus_client.parser' 2>/dev/null ||
		/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null ||
		need="$need python3-prometheus-client"
fi
# scripts/plot-browser-check.sh (the plot-browser test, which exits 77
# without it) loads rcshim plot's page in headless Chromium: installed with
# --browser, and with --test only when it is cheap here (what apt would
# download is under RCSHIM_BROWSER_MAX_MB, default 150 MiB).
want_browser=""
if [ "${1:-}" = "--browser" ]; then
	want_browser=1
elif [ "${1:-}" = "--test" ] && ! have_cmd chromium && have_cmd apt-get; then
	mb=$(apt-get install --print-uris -qq chromium 2>/dev/null |
		awk '{ s += $3 } END { printf "%d", s / 1048576 }')
	[ -n "$mb" ] && [ "$mb" -gt 0 ] && [ "$mb" -lt "${RCSHIM_BROWSER_MAX_MB:-150}" ] &&
		want_browser=1
fi
if [ -n "$want_browser" ]; then
	have_cmd chromium || need="$need chromium"
	have_cmd python3 || need="$need python3"
fi
# The benchmarks compare against heaptrack and run ffmpeg (not needed to
# build or test).
if [ "${1:-}" = "--bench" ]; then
	have_cmd heaptrack || need="$need heaptrack"
	have_cmd ffmpeg || need="$need ffmpeg"
fi

[ -z "$need" ] && exit 0
echo "rcshim: installing:$need" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $need >/dev/null
