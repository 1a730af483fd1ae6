#!/bin/sh
# Writes the benchmarks' pipeline script to stdout: BLOCKS blocks of five
# lines, every one a few short processes (cat/sed/grep/sort/mktemp...).
#   scripts/bench/pipeline.sh BLOCKS
i=0
while [ "$i" -lt "${1:-100}" ]; do
	cat <<SH
seq 1 40 | sed 's/1/x/g' | grep -c x >/dev/null
f=\$(mktemp); printf 'b\na\nc\n' | sort > "\$f"; cat "\$f" | head -n 1 >/dev/null; rm -f "\$f"
d=\$(mktemp -d); echo $i > "\$d/v"; cat "\$d/v" | tr 0-9 a-j >/dev/null; rm -r "\$d"
echo line $i | awk '{print \$2}' | wc -c >/dev/null
ls / | grep -v nothing | wc -l >/dev/null
SH
	i=$((i + 1))
done
