/* SQLite connections (DESIGN §1 SQLITE).  The shim does not link SQLite:
 * these definitions only ever run in programs that load it, and find the
 * real functions in whatever object the caller sees. */
#include "build-config.h"

#include <errno.h>
#include <stdint.h>

#include "preload/real.h"
#include "trigger/worker.h"

#define SQLITE_OK 0
#define SQLITE_MISUSE 21

typedef struct sqlite3 sqlite3;

REAL(int (*)(const char *, sqlite3 **), sqlite3_open);
REAL(int (*)(const char *, sqlite3 **, int, const char *), sqlite3_open_v2);
REAL(int (*)(const void *, sqlite3 **), sqlite3_open16);
REAL(int (*)(sqlite3 *), sqlite3_close);
REAL(int (*)(sqlite3 *), sqlite3_close_v2);

/* Resolves through the caller: Python's _sqlite3 module sees its private
 * libsqlite3, the global scope does not. */
#define RESOLVE_SQLITE(name)                                                     \
	do {                                                                     \
		if (__builtin_expect(!real_##name, 0)) {                         \
			real_##name = (__typeof__(real_##name))rc_real_from_caller( \
				#name, __builtin_return_address(0));             \
			if (!real_##name) {                                      \
				return SQLITE_MISUSE;                            \
			}                                                        \
		}                                                                \
	} while (0)

/* Closing a connection is not async-signal-safe: a termination signal
 * needs the worker for it, started now. */
static void
need_worker(sqlite3 *db)
{
	if (db && rc_tracking(RCSHIM_KIND_SQLITE)) {
		rc_worker_need();
	}
}

RC_EXPORT int
sqlite3_open(const char *filename, sqlite3 **db)
{
	RESOLVE_SQLITE(sqlite3_open);
	int rc = real_sqlite3_open(filename, db);
	if (rc == SQLITE_OK && db) {
		rc_ensure_init();
		CALLER();
		rc_track_sqlite_open(*db, (void *)real_sqlite3_open);
		need_worker(*db);
	}
	return rc;
}

RC_EXPORT int
sqlite3_open_v2(const char *filename, sqlite3 **db, int flags, const char *vfs)
{
	RESOLVE_SQLITE(sqlite3_open_v2);
	int rc = real_sqlite3_open_v2(filename, db, flags, vfs);
	if (rc == SQLITE_OK && db) {
		rc_ensure_init();
		CALLER();
		rc_track_sqlite_open(*db, (void *)real_sqlite3_open_v2);
		need_worker(*db);
	}
	return rc;
}

RC_EXPORT int
sqlite3_open16(const void *filename, sqlite3 **db)
{
	RESOLVE_SQLITE(sqlite3_open16);
	int rc = real_sqlite3_open16(filename, db);
	if (rc == SQLITE_OK && db) {
		rc_ensure_init();
		CALLER();
		rc_track_sqlite_open(*db, (void *)real_sqlite3_open16);
		need_worker(*db);
	}
	return rc;
}

RC_EXPORT int
sqlite3_close(sqlite3 *db)
{
	unsigned char saved[RC_TRACK_SAVED_SIZE] __attribute__((aligned(16)));

	RESOLVE_SQLITE(sqlite3_close);
	/* Already closed by the shim's final cleanup (a destructor that runs
	 * after it): the pointer dangles, SQLite must not see it. */
	if (rc_track_sqlite_closed_by_shim(db)) {
		return SQLITE_OK;
	}
	bool tracked = rc_track_sqlite_close_begin(db, saved);
	int rc = real_sqlite3_close(db);
	if (tracked) {
		/* SQLITE_BUSY (unfinalized statements) leaves it open. */
		if (rc == SQLITE_OK) {
			rc_track_sqlite_close_done(saved);
		} else {
			rc_track_sqlite_close_failed(saved);
		}
	}
	return rc;
}

RC_EXPORT int
sqlite3_close_v2(sqlite3 *db)
{
	unsigned char saved[RC_TRACK_SAVED_SIZE] __attribute__((aligned(16)));

	RESOLVE_SQLITE(sqlite3_close_v2);
	if (rc_track_sqlite_closed_by_shim(db)) {
		return SQLITE_OK;
	}
	/* close_v2 always releases the handle (a zombie until its
	 * statements are finalized). */
	if (rc_track_sqlite_close_begin(db, saved)) {
		rc_track_sqlite_close_done(saved);
	}
	return real_sqlite3_close_v2(db);
}
