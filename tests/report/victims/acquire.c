/* Acquires one resource of each kind from its own function and keeps them
 * to the end, so the report at exit names each acquiring call site:
 *   make_scratch_dir  — a temp dir (mkdtemp under $TMPDIR)
 *   open_log_file     — an fd (open)
 *   open_database     — a SQLite connection (sqlite3_open_v2)
 * With "snapshot" as argument it also writes rcshim_report() as JSON to
 * stdout (found with dlsym: the program runs unchanged without the shim).
 * With "trim" it frees a large heap and asks for a live MEDIUM cleanup,
 * printing the heap bytes it reclaimed. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_SQLITE
#include <sqlite3.h>
#endif

#include "rcshim.h"

static char dir_path[4096];

__attribute__((noinline)) static const char *
make_scratch_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir_path, sizeof(dir_path), "%s/acquire-XXXXXX", tmp ? tmp : "/tmp");
	return mkdtemp(dir_path);
}

__attribute__((noinline)) static int
open_log_file(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/log.txt", dir);
	return open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
}

#ifdef HAVE_SQLITE
__attribute__((noinline)) static sqlite3 *
open_database(const char *dir)
{
	char path[4200];
	sqlite3 *db = NULL;
	snprintf(path, sizeof(path), "%s/data.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		return NULL;
	}
	sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", NULL, NULL, NULL);
	return db;
}
#endif

static int
trim(void)
{
	enum { N = 200000 };
	static void *blocks[N];
	__typeof__(rcshim_clean) *clean =
		(__typeof__(rcshim_clean) *)dlsym(RTLD_DEFAULT, "rcshim_clean");
	for (int i = 0; i < N; i++) {
		blocks[i] = malloc(256);
		memset(blocks[i], 1, 256);
	}
	/* The last block, taken from the top of the heap, stays: the freed
	 * space lies below it, where only malloc_trim can return it. */
	void *sentinel = blocks[N - 1];
	for (int i = 0; i < N - 1; i++) {
		free(blocks[i]);
	}
	struct rcshim_result res;
	memset(&res, 0, sizeof(res));
	if (clean) {
		clean(RCSHIM_MEDIUM, &res);
	}
	printf("trimmed %d %llu\n", (int)res.kind[RCSHIM_KIND_HEAP].cleaned,
	       (unsigned long long)res.kind[RCSHIM_KIND_HEAP].bytes);
	free(sentinel);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "trim") == 0) {
		return trim();
	}
	const char *dir = make_scratch_dir();
	if (!dir) {
		perror("mkdtemp");
		return 1;
	}
	int fd = open_log_file(dir);
	if (fd < 0) {
		perror("open");
		return 1;
	}
#ifdef HAVE_SQLITE
	if (!open_database(dir)) {
		fprintf(stderr, "sqlite3_open_v2 failed\n");
		return 1;
	}
#endif
	if (argc > 1 && strcmp(argv[1], "snapshot") == 0) {
		__typeof__(rcshim_report) *report =
			(__typeof__(rcshim_report) *)dlsym(RTLD_DEFAULT, "rcshim_report");
		fflush(stdout);
		if (!report || report(1, RCSHIM_FORMAT_JSON) != 0) {
			fprintf(stderr, "rcshim_report failed\n");
			return 1;
		}
	}
	return 0;
}
