#!/bin/sh
# Builds rcshim and runs the whole test suite: the plain build, then an
# AddressSanitizer+UBSan build, then the plain build under valgrind.
#   scripts/test.sh            all three
#   scripts/test.sh --quick    the plain build only
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh --test

summary=""
total_pass=0
total_fail=0
status=0

run_suite() { # NAME BUILDDIR MESON-TEST-ARGS...
	name=$1 dir=$2
	shift 2
	echo "== $name"
	if meson test -C "$dir" --print-errorlogs "$@"; then
		res=ok
	else
		res=FAILED
		status=1
	fi
	# Check's own closing lines, one per test binary.
	checks=$(grep -hE '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' \
		"$dir/meson-logs/testlog"*.txt 2>/dev/null || true)
	echo "$checks"
	p=$(echo "$checks" | awk -F'[:,] *' '/Checks/ {p += $3 - $5 - $7} END {print p + 0}')
	f=$(echo "$checks" | awk -F'[:,] *' '/Checks/ {f += $5 + $7} END {print f + 0}')
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	summary="$summary$name: $res ($p passed, $f failed)\n"
}

BUILDDIR=build scripts/build.sh
rm -f build/meson-logs/testlog*.txt
run_suite "plain" build

if [ "${1:-}" != "--quick" ]; then
	BUILDDIR=build-asan scripts/build.sh -Db_sanitize=address,undefined -Db_lundef=false
	rm -f build-asan/meson-logs/testlog*.txt
	run_suite "asan+ubsan" build-asan

	rm -f build/meson-logs/testlog*.txt
	run_suite "valgrind" build --setup=valgrind --no-suite exports
fi

echo
printf "$summary"
echo "$total_pass passed, $total_fail failed"
exit $status
