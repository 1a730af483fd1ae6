#!/bin/sh
# The sqlite3 shell's workload for bench-real.sh and bench-insns.sh: a
# table and ROWS inserts in one transaction, then a query, on stdout.
#   scripts/bench/insert-sql.sh ROWS
set -eu
echo "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, value REAL);"
echo "BEGIN;"
awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
	printf "INSERT INTO t (name, value) VALUES (%cname-%d%c, %d.5);\n", 39, i, 39, i }'
echo "COMMIT;"
echo "SELECT count(*), sum(value) FROM t;"
