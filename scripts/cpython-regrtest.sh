#!/bin/sh
# CPython's own regression tests, bare and under `rcshim run`: the shim must
# not change how a program runs (DESIGN §4).  Prints a table of totals per
# test module; the test cases that fail only under the shim are run once
# more under it with RCSHIM_SIGNAL=none (SIGUSR1 is the live-cleanup signal
# at its default disposition, so a test of SIGUSR1's default action fails
# under the shim by design: docs/configuration.md, RCSHIM_SIGNAL).
#
#   scripts/cpython-regrtest.sh [BUILDDIR]
#
# PYTHONS: the interpreters to use, in order of preference (default:
# "python3 /usr/bin/python3", each resolved to the binary itself: pyenv's
# python3 is a shell script).  Each test module runs with the first one
# that has it: Debian's libpython3.X-testsuite lacks test_sqlite3, and a
# Python built from source may lack others.  When none has a module and
# /usr/bin/python3 is among them, installs its libpython3.X-testsuite with
# apt-get.  TESTS: the modules; JOBS (default 2): regrtest's -j.
# Slow (about 15 minutes on a 2-core machine): not part of scripts/test.sh.
# The last run's table is in docs/testing.md.
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
tests=${TESTS:-"test_posix test_subprocess test_concurrent_futures test_faulthandler test_signal
test_os test_threading test_tempfile test_sqlite3"}
jobs=${JOBS:-2}
pythons=${PYTHONS:-"python3 /usr/bin/python3"}

rcshim=$(realpath "$dir/src/rcshim")
if [ ! -x "$rcshim" ]; then
	echo "no $rcshim: build first (BUILDDIR=$dir scripts/build.sh)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cpython-regrtest.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The interpreters, as binaries, each once.
: >"$work/pythons"
for p in $pythons; do
	b=$("$p" -c 'import sys; print(sys.executable)' 2>/dev/null) || continue
	grep -qxF "$b" "$work/pythons" || echo "$b" >>"$work/pythons"
done

# Which of @tests interpreter $1 has.
has() {
	# shellcheck disable=SC2086
	"$1" - $tests <<'EOF'
import importlib.util, sys
print(" ".join(t for t in sys.argv[1:] if importlib.util.find_spec("test." + t) is not None))
EOF
}

# Assigns each module to the first interpreter that has it.
assign() {
	: >"$work/groups"
	left=$tests
	while read -r py; do
		mine=""
		avail=" $(has "$py") "
		rest=""
		for t in $left; do
			case "$avail" in
			*" $t "*) mine="$mine $t" ;;
			*) rest="$rest $t" ;;
			esac
		done
		left=$rest
		[ -n "$mine" ] && echo "$py$mine" >>"$work/groups"
	done <"$work/pythons"
	echo "$left"
}
left=$(assign)
if [ -n "$(echo "$left" | tr -d ' ')" ] && grep -qx '/usr/bin/python3.*' "$work/pythons"; then
	ver=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	pkg=libpython$ver-testsuite
	echo "installing $pkg (test modules missing:$left)" >&2
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo apt-get install -y "$pkg" >&2 || true
	left=$(assign)
fi

# Runs one interpreter's modules, bare or under the shim: junit XML into
# $work/$name.$n.xml.   run NAME N PYTHON MODULES [COMMAND...] -- [ENV...]
run() {
	name=$1 n=$2 py=$3 mods=$4
	shift 4
	echo "== $name: $py$mods" >&2
	# shellcheck disable=SC2086
	(cd "$work" && "$@" "$py" -m test -j"$jobs" --junit-xml "$work/$name.$n.xml" $mods \
		>"$work/$name.$n.log" 2>&1) || true
	grep -E '^(Total tests|Result|Tests result)' "$work/$name.$n.log" >&2 || true
}
n=0
while read -r py mods; do
	n=$((n + 1))
	echo "$n $py" >>"$work/index"
	run bare "$n" "$py" " $mods" env
	run shim "$n" "$py" " $mods" "$rcshim" run --
	# The test cases that failed only under the shim, once more with
	# RCSHIM_SIGNAL=none.
	"$py" - "$work/bare.$n.xml" "$work/shim.$n.xml" >"$work/only-shim.$n.txt" <<'EOF'
import os, sys, xml.etree.ElementTree as ET
def bad(path):
    out = set()
    if os.path.exists(path):
        for tc in ET.parse(path).iter("testcase"):
            if tc.find("failure") is not None or tc.find("error") is not None:
                out.add(tc.get("name"))
    return out
for name in sorted(bad(sys.argv[2]) - bad(sys.argv[1])):
    print(name)
EOF
	if [ -s "$work/only-shim.$n.txt" ]; then
		# shellcheck disable=SC2086
		(cd "$work" && RCSHIM_SIGNAL=none "$rcshim" run -- "$py" -m test -j"$jobs" \
			--junit-xml "$work/none.$n.xml" --matchfile "$work/only-shim.$n.txt" $mods \
			>"$work/none.$n.log" 2>&1) || true
	fi
done <"$work/groups"

# --- the table ------------------------------------------------------------------
py=$(head -n 1 "$work/pythons")
"$py" - "$work" "$left" <<'EOF'
import glob, os, sys, xml.etree.ElementTree as ET
work, missing = sys.argv[1], sys.argv[2].split()
pythons = dict(line.split(None, 1) for line in open(os.path.join(work, "index")).read().splitlines())

def totals(kind):
    """module -> [tests, failures, errors, skipped], failing cases, interpreter"""
    per, bad, who = {}, {}, {}
    for path in sorted(glob.glob(os.path.join(work, kind + ".*.xml"))):
        n = path.rsplit(".", 2)[-2]
        for tc in ET.parse(path).iter("testcase"):
            name = tc.get("name", "")
            mod = name.split(".")[1] if name.startswith("test.") else name.split(".")[0]
            who[mod] = pythons.get(n, "?")
            t = per.setdefault(mod, [0, 0, 0, 0])
            t[0] += 1
            if tc.find("failure") is not None:
                t[1] += 1
                bad.setdefault(mod, []).append(name)
            elif tc.find("error") is not None:
                t[2] += 1
                bad.setdefault(mod, []).append(name)
            elif tc.find("skipped") is not None:
                t[3] += 1
    return per, bad, who

bare, bare_bad, who = totals("bare")
shim, shim_bad, _ = totals("shim")
none, none_bad, _ = totals("none")

def cell(t):
    return "%d / %d / %d / %d" % tuple(t) if t else "—"

print("| module (interpreter) | bare: run / failed / errors / skipped | `rcshim run` | failing only under the shim, rerun with `RCSHIM_SIGNAL=none` |")
print("| --- | --- | --- | --- |")
sum_b, sum_s = [0] * 4, [0] * 4
for mod in sorted(set(bare) | set(shim)):
    b, s = bare.get(mod), shim.get(mod)
    extra = sorted(set(shim_bad.get(mod, [])) - set(bare_bad.get(mod, [])))
    if extra:
        n = none.get(mod, [0, 0, 0, 0])
        rerun = "%d: %d failed, %d errors" % (len(extra), n[1], n[2])
    else:
        rerun = "—"
    for i in range(4):
        sum_b[i] += b[i] if b else 0
        sum_s[i] += s[i] if s else 0
    print("| %s (%s) | %s | %s | %s |" % (mod, who.get(mod, "?"), cell(b), cell(s), rerun))
print("| **total** | %s | %s | |" % (cell(sum_b), cell(sum_s)))
for mod in missing:
    print("| %s | not in any interpreter's test package | | |" % mod)
for mod in sorted(shim_bad):
    for name in sorted(set(shim_bad[mod]) - set(bare_bad.get(mod, []))):
        print("\nonly under the shim: %s" % name)
EOF
