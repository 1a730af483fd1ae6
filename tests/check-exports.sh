#!/bin/sh
# Usage: check-exports.sh LIB MAP
# Fails if LIB exports a symbol the version script does not name, or if
# the script names one LIB does not export (rcshim_* are matched by prefix).
set -eu
lib=$1 map=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 ~ /^[TWDBiV]$/ {print $3}' | sed 's/@.*//' | sort -u >"$tmp/exported"
sed -n '/global:/,/local:/p' "$map" | sed 's,/\*.*\*/,,' | tr ';' '\n' | tr -d ' \t' |
	grep -v -e '^$' -e ':$' -e '^\*' -e '^rcshim_\*' | sort -u >"$tmp/listed"
status=0
extra=$(grep -v '^rcshim_' "$tmp/exported" | comm -23 - "$tmp/listed")
missing=$(comm -13 "$tmp/exported" "$tmp/listed")
if [ -n "$extra" ]; then echo "exported but not in $map:"; echo "$extra"; status=1; fi
if [ -n "$missing" ]; then echo "in $map but not exported:"; echo "$missing"; status=1; fi
if ! grep -q '^rcshim_clean$' "$tmp/exported"; then echo "rcshim_clean is not exported"; status=1; fi
[ $status -eq 0 ] && echo "exports: $(wc -l <"$tmp/exported") symbols, all intended"
exit $status
