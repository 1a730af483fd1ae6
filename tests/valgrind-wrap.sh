#!/bin/sh
# The exe_wrapper of `meson test --setup=valgrind`: test binaries run under
# memcheck; shell-script tests run as they are (memcheck would report the
# shell's own leaks, not ours).
# Usage: valgrind-wrap.sh SUPPRESSIONS PROGRAM ARGS...
supp=$1
shift
if [ "$(head -c 2 "$1" 2>/dev/null)" = "#!" ]; then
	exec "$@"
fi
exec valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--trace-children=no -q --suppressions="$supp" "$@"
