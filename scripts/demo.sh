#!/bin/sh
# The main job: builds rcshim, then runs an unmodified Python program that
# leaks temp files and a SQLite WAL connection and is killed by SIGTERM —
# once bare, once under librcshim.so — and shows what each left behind.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
BUILDDIR=build scripts/build.sh
lib=$PWD/build/src/librcshim.so

work=$(mktemp -d "${TMPDIR:-/tmp}/rcshim-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT

leftovers() { # TMPDIR DB
	left=$(find "$1" -mindepth 1 -maxdepth 1 | sed "s|^$1/|  temp: |")
	for f in "$2-wal" "$2-shm"; do
		[ -e "$f" ] && left="$left
  sqlite: $(basename "$f")"
	done
	echo "${left:-  nothing}" | sed '/^$/d'
	echo "committed rows readable afterwards: $(sqlite3 "$2" 'SELECT count(*) FROM results')"
}

run() { # LABEL NAME PRELOAD
	echo "== $1"
	mkdir "$work/$2.tmp"
	set +e
	# The interpreter itself, not a wrapper script that would run under
	# the shim too (pyenv's shims are bash).
	TMPDIR=$work/$2.tmp LD_PRELOAD=$3 RCSHIM_LOG=info "$python" scripts/demo/worker.py "$work/$2.db"
	status=$?
	set -e
	echo "exit status: $status (143 = killed by SIGTERM)"
	echo "left behind:"
	leftovers "$work/$2.tmp" "$work/$2.db"
}

python=$(python3 -c 'import sys; print(sys.executable)')

run "bare python3" bare ""
echo
run "python3 under librcshim.so (RCSHIM_PRIORITY=MEDIUM, the default)" shim "$lib"
