#!/bin/sh
# The exe_wrapper of `meson test --setup=valgrind`: test binaries run under
# memcheck; shell-script tests run as they are (memcheck would report the
# shell's own leaks, not ours).
# --fair-sched=yes: valgrind runs one thread at a time, and by default a
# thread that keeps calling malloc can starve the others for minutes.
# Usage: valgrind-wrap.sh SUPPRESSIONS PROGRAM ARGS...
supp=$1
shift
if [ "$(head -c 2 "$1" 2>/dev/null)" = "#!" ]; then
	exec "$@"
fi
exec valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--trace-children=no --fair-sched=yes -q --suppressions="$supp" "$@"
