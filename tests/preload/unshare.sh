#!/bin/sh
# `unshare -U true` under the preloaded shim: a new user namespace needs a
# single-threaded caller, so the shim must not have started a thread.
# Skipped (77) where the kernel or the system forbids user namespaces.
# Usage: unshare.sh LD_PRELOAD-VALUE
command -v unshare >/dev/null 2>&1 || exit 77
if ! unshare -U true 2>/dev/null; then
	echo "user namespaces are not allowed here: skipped"
	exit 77
fi
# The same under valgrind's setup too: valgrind would add its own threads.
unset RCSHIM_TEST_VALGRIND
if ! LD_PRELOAD=$1 unshare -U true; then
	echo "unshare -U true fails under the shim"
	exit 1
fi
# And a shell that makes a temp dir first (a tracked call, a stack taken).
if ! LD_PRELOAD=$1 unshare -U sh -c 'd=$(mktemp -d) && rmdir "$d"'; then
	echo "unshare -U sh fails under the shim"
	exit 1
fi
exit 0
