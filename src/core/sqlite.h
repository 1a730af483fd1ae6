/* The SQLite API as the shim uses it: resolved from the library the
 * program actually loaded (never linked: without SQLite this part is off),
 * and the connections the shim closed itself.  The tracking core binds it
 * at the first connection; closing and reclaiming them is clean/sqlite.h.
 *
 * Python loads libsqlite3 RTLD_LOCAL through its extension module, so the
 * functions are not in the global scope: they are found through the object
 * that holds the real sqlite3_open_v2 (dladdr) and a handle to it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct rc_sqlite_db rc_sqlite_db; /* sqlite3, opaque */

struct rc_sqlite_api {
	int (*close)(rc_sqlite_db *);
	int (*close_v2)(rc_sqlite_db *);
	void *(*next_stmt)(rc_sqlite_db *, void *);
	int (*finalize)(void *);
	const char *(*db_filename)(rc_sqlite_db *, const char *);
	int (*wal_checkpoint_v2)(rc_sqlite_db *, const char *, int, int *, int *);
	void *(*db_mutex)(rc_sqlite_db *);
	int (*mutex_try)(void *);
	void (*mutex_leave)(void *);
	int (*db_release_memory)(rc_sqlite_db *);
	int (*get_autocommit)(rc_sqlite_db *);
	const char *(*errmsg)(rc_sqlite_db *);
	int (*db_status)(rc_sqlite_db *, int, int *, int *, int);
};

extern struct rc_sqlite_api rc_sqlite;

/* Resolves the API from the object that defines @fn (a real SQLite
 * function).  Idempotent; false if the library cannot be inspected. */
bool rc_sqlite_bind(void *fn);
bool rc_sqlite_ready(void);

/* Connections the shim closed itself: a later sqlite3_close from the
 * program must not reach SQLite with a dangling pointer. */
void rc_sqlite_mark_closed(void *db);
bool rc_sqlite_take_closed(void *db);
