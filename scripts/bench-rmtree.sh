#!/bin/sh
# Removing a 100k-file temp tree: rc_rmtree against `rm -rf` (DESIGN §9).
#   scripts/bench-rmtree.sh [BUILDDIR] [-r ROUNDS] [-n FILES] [BASEDIR]
# BUILDDIR (default: build) is configured if it is not yet and the benchmark
# built in it; the other arguments go to tests/bench-rmtree.  The trees go
# under BASEDIR, else $TMPDIR, else /tmp.
set -eu
cd "$(dirname "$0")/.."
dir=build
case ${1-} in
''|-*) ;;
*) dir=$1; shift ;;
esac
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" >/dev/null
fi
ninja -C "$dir" tests/bench-rmtree >/dev/null
cd "$dir"
exec ./tests/bench-rmtree "$@"
