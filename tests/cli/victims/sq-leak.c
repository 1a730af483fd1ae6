/* Leaks from named functions (docs/report-format.md, "Side by side"): a
 * SQLite connection, an fd, 1000 heap blocks, a temp directory. */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *volatile sink[1000];

__attribute__((noinline)) static sqlite3 *
open_index(const char *p)
{
	sqlite3 *db;
	sqlite3_open(p, &db);
	return db;
}

__attribute__((noinline)) static int
open_log(const char *p)
{
	return open(p, O_WRONLY | O_CREAT | O_APPEND, 0600);
}

__attribute__((noinline)) static char *
parse_record(int i)
{
	char *p = malloc(34);
	memset(p, i, 34);
	return p;
}

int
main(int argc, char **argv)
{
	if (argc < 3) {
		return 2;
	}
	open_index(argv[1]);
	open_log(argv[2]);
	for (int i = 0; i < 1000; i++) {
		sink[i] = parse_record(i);
	}
	char t[4096];
	const char *tmp = getenv("TMPDIR");
	snprintf(t, sizeof(t), "%s/sqdXXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(t) ? 0 : 1;
}
