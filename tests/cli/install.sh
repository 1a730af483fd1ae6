#!/bin/sh
# meson install puts rcshim next to the library, header, pkg-config file and
# the man page; the installed launcher finds the installed library (here,
# relocated under a DESTDIR: relative to itself), and runs a program with it.
#
# Usage: install.sh BUILD_ROOT [ASAN_RUNTIME]
# (In a sanitizer build the library needs the ASan runtime first in
# LD_PRELOAD, and the launcher keeps it first.)
set -eu
build=$1
asan=${2:-}
dest=$(mktemp -d "$build/tests/scratch-install.XXXXXX")
trap 'rm -rf "$dest"' EXIT
failed=0
fail() {
	echo "FAIL: $*"
	failed=1
}

meson install -C "$build" --no-rebuild --destdir "$dest" --quiet >"$dest/log" 2>&1 ||
	{ cat "$dest/log"; echo "FAIL: meson install"; exit 1; }
bin=$(find "$dest" -path '*/bin/rcshim' -type f)
lib=$(find "$dest" -name 'librcshim.so.0' -type f)
[ -n "$bin" ] && [ -x "$bin" ] || fail "no bin/rcshim installed"
[ -n "$lib" ] || fail "no librcshim.so.0 installed"
[ -n "$(find "$dest" -path '*/man1/rcshim.1' -type f)" ] || fail "no man1/rcshim.1 installed"
for f in rcshim-sweep.service rcshim-sweep.timer rcshim-tmpfiles.conf; do
	[ -n "$(find "$dest" -path "*/doc/rcshim/examples/systemd/$f" -type f)" ] ||
		fail "no doc/rcshim/examples/systemd/$f installed"
done
[ -n "$(find "$dest" -name rcshim.h -type f)" ] || fail "no rcshim.h installed"
[ -n "$(find "$dest" -name rcshim.pc -type f)" ] || fail "no rcshim.pc installed"
pyinit=$(find "$dest" -path '*/rcshim/__init__.py' -type f)
[ -n "$pyinit" ] || fail "no Python package rcshim installed"
if [ -n "$pyinit" ]; then
	grep -q "^LIBDIR = \"/" "$(dirname "$pyinit")/_install.py" ||
		fail "the Python package does not know the libdir"
	# It loads the installed library (named by RCSHIM_LIB: the prefix is
	# relocated under DESTDIR here).
	pyout=$(env -i PATH="$PATH" LD_PRELOAD="$asan" ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
		PYTHONPATH="$(dirname "$(dirname "$pyinit")")" RCSHIM_LIB="$lib" TMPDIR="$dest/tmp" \
		python3 -c 'import rcshim; print(rcshim.engine_version(), rcshim.automatic_tracking())' 2>&1) ||
		fail "import rcshim: $pyout"
	case "$pyout" in
	None*|*True) fail "import rcshim said: $pyout" ;;
	*" False") ;;
	*) fail "import rcshim said: $pyout" ;;
	esac
fi
[ "$failed" -eq 0 ] || exit 1

mkdir "$dest/tmp" "$dest/run"
chmod 700 "$dest/run"
out=$(env -i PATH="$PATH" ASAN_OPTIONS="${ASAN_OPTIONS:-}" LD_PRELOAD="$asan" \
	TMPDIR="$dest/tmp" RCSHIM_TMP_ROOTS="$dest/tmp" XDG_RUNTIME_DIR="$dest/run" \
	"$bin" run -q -- sh -c 'echo "$LD_PRELOAD"; mktemp -d' 2>"$dest/err") ||
	fail "the installed rcshim exited with $?: $(cat "$dest/err")"
[ -s "$dest/err" ] && fail "the installed rcshim said: $(cat "$dest/err")"
preload=$(echo "$out" | sed -n 1p)
tmpdir=$(echo "$out" | sed -n 2p)
want=$(realpath "$lib")
[ -z "$asan" ] || want="$asan:$want"
[ "$preload" = "$want" ] || fail "LD_PRELOAD=$preload, not the installed $lib"
[ -n "$tmpdir" ] && [ ! -e "$tmpdir" ] || fail "the temp dir '$tmpdir' was not removed"
if command -v man >/dev/null 2>&1; then
	LC_ALL=C MANPAGER=cat man -l "$(find "$dest" -path '*/man1/rcshim.1')" | grep -q '^SYNOPSIS' ||
		fail "the installed man page does not render"
fi
[ "$failed" -eq 0 ] || exit 1
echo "ok: installed rcshim ran with $lib"
