#!/bin/sh
# The Python package's tests (tests/python/test_*.py) with the interpreter
# the suite uses.  Not under valgrind: the interpreter would run under
# memcheck for minutes per test and the C code they reach is the preload
# suite's (skipped, 77, saying so).
# Usage: run.sh [--rcshim-run RCSHIM] [MODULE...] | run.sh --gpu
set -u
if [ -n "${RCSHIM_TEST_VALGRIND:-}" ]; then
	echo "python tests skipped under valgrind (the interpreter under memcheck: see docs/testing.md)"
	exit 77
fi
here=$(dirname "$0")
if [ "${1:-}" = "--gpu" ]; then
	exec "$RCSHIM_TEST_PYTHON" "$here/gpu.py"
fi
# Scratch in the build tree; its tmp is the temp root of every process.
scratch=$(mktemp -d "${RCSHIM_TEST_BUILDDIR:-/tmp}/scratch-python.XXXXXX")
mkdir "$scratch/tmp"
export PY_RCSHIM_SCRATCH="$scratch" TMPDIR="$scratch/tmp"
trap 'rm -rf "$scratch"' EXIT
if [ "${1:-}" = "--rcshim-run" ]; then
	launcher=$2
	shift 2
	export PY_RCSHIM_MODE=run
	env -u RCSHIM_TEST_BUILDDIR -u RCSHIM_TEST_PYTHON -u RCSHIM_TEST_PRELOAD -u RCSHIM_TEST_LIB \
		"$launcher" run -q -- "$RCSHIM_TEST_PYTHON" "$here/run.py" "$@"
	exit $?
fi
export PY_RCSHIM_MODE=bare
"$RCSHIM_TEST_PYTHON" "$here/run.py" "$@"
