#!/bin/sh
# rcshim --help and the man page rcshim(1) name an option for every
# RCSHIM_* variable the shim knows (the table in src/core/config.c) and
# documents (docs/configuration.md); the man page renders without a
# warning; --version prints the project's version.
#
# Usage: help-man.sh RCSHIM SOURCE_ROOT VERSION SCRATCH_PARENT
set -eu
rcshim=$1
src=$2
version=$3
man_src="$src/docs/rcshim.1"
work=$(mktemp -d "$4/scratch-help-man.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0
fail() {
	echo "FAIL: $*"
	failed=1
}

# --- the variables -------------------------------------------------------------
awk '/^static const struct rc_var vars\[\] = \{/ { on = 1; next }
     on && /^\};/ { on = 0 }
     on' "$src/src/core/config.c" |
	sed -n 's/^[[:space:]]*{ "\([A-Z_]*\)",.*/\1/p' | sort >"$work/code"
sed -n 's/^| \[`RCSHIM_\([A-Z_]*\)`\].*/\1/p' "$src/docs/configuration.md" |
	grep -v '^SESSION$' | sort >"$work/doc"
[ "$(wc -l <"$work/code")" -ge 15 ] || fail "found only $(wc -l <"$work/code") variables in config.c"
if ! cmp -s "$work/code" "$work/doc"; then
	fail "config.c and docs/configuration.md list different variables:"
	diff "$work/code" "$work/doc" || true
fi

# --- --help --------------------------------------------------------------------
"$rcshim" --help >"$work/help" || fail "rcshim --help exited with $?"
"$rcshim" run --help >"$work/help-run" || fail "rcshim run --help exited with $?"
cmp -s "$work/help" "$work/help-run" || fail "rcshim --help and rcshim run --help differ"

# --- the man page, rendered as a user reads it ------------------------------------
if command -v man >/dev/null 2>&1; then
	renderer="man -l"
	LC_ALL=C MANWIDTH=100 MANPAGER=cat MAN_KEEP_FORMATTING= man -l "$man_src" \
		>"$work/man.raw" 2>"$work/man.err" || fail "man -l $man_src exited with $?"
elif command -v groff >/dev/null 2>&1; then
	renderer="groff -man -Tascii"
	LC_ALL=C groff -man -Tascii -rLL=100n "$man_src" >"$work/man.raw" 2>"$work/man.err" ||
		fail "groff exited with $?"
else
	echo "neither man nor groff: cannot render the man page"
	exit 77
fi
# Bold and underline by overstriking, if any.
sed 's/.\x08//g' "$work/man.raw" >"$work/man"
[ -s "$work/man.err" ] && fail "$renderer said: $(cat "$work/man.err")"
grep -q '^SYNOPSIS' "$work/man" || fail "no SYNOPSIS in the rendered man page"
grep -q '^OPTIONS' "$work/man" || fail "no OPTIONS in the rendered man page"
if command -v groff >/dev/null 2>&1; then
	LC_ALL=C groff -man -Tascii -ww -z "$man_src" >"$work/warn" 2>&1 || true
	[ -s "$work/warn" ] && fail "groff -ww warns: $(cat "$work/warn")"
fi

for v in $(cat "$work/code"); do
	opt="--$(echo "$v" | tr 'A-Z_' 'a-z-')"
	grep -q -- "^  $opt " "$work/help" || fail "--help has no $opt (for RCSHIM_$v)"
	grep -q -- "^ *$opt\b" "$work/man" || fail "the man page has no $opt item (for RCSHIM_$v)"
	grep -q -- "RCSHIM_$v\b" "$work/man" || fail "the man page does not name RCSHIM_$v"
done
# Every option --help lists is in the man page too.
grep -o -- '^  \(-[a-zA-Z], \)\?--[a-z-]*' "$work/help" | sed 's/.*--/--/' | sort -u >"$work/opts"
[ "$(wc -l <"$work/opts")" -ge 19 ] || fail "only $(wc -l <"$work/opts") options in --help"
for opt in $(cat "$work/opts"); do
	grep -q -- "$opt\b" "$work/man" || fail "the man page does not mention $opt"
done

# --- --version -------------------------------------------------------------------
# The first line is the version; then the library and the optional parts.
"$rcshim" --version >"$work/version" || fail "rcshim --version exited with $?"
[ "$(head -n 1 "$work/version")" = "rcshim $version" ] ||
	fail "--version says '$(head -n 1 "$work/version")'"
grep -q '^library: /.*librcshim\.so' "$work/version" || fail "--version names no library"
for part in libdw libunwind SQLite CUDA; do
	grep -q "^  .*$part" "$work/version" || fail "--version does not say whether $part is built in"
done
"$rcshim" run -V >"$work/version-run" || fail "rcshim run -V exited with $?"
cmp -s "$work/version" "$work/version-run" || fail "run -V and --version differ"
grep -q "\"rcshim $version\"" "$man_src" || fail "the man page is not for version $version"

if [ "$failed" -ne 0 ]; then
	exit 1
fi
echo "ok: $(wc -l <"$work/code") variables, $(wc -l <"$work/opts") options, rendered with $renderer"
