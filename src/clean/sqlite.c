#include "build-config.h"

#include <errno.h>
#include <string.h>

#include "clean/sqlite.h"
#include "core/lock.h"
#include "core/log.h"

#define SQLITE_OK 0
#define SQLITE_BUSY 5
#define SQLITE_CHECKPOINT_PASSIVE 0
#define SQLITE_DBSTATUS_CACHE_USED 1

/* Takes the connection's mutex without waiting: the program's threads are
 * never blocked by the shim.  NULL mutex (single-thread builds) is free. */
static bool
try_hold(rc_sqlite_db *db, void **mutex)
{
	*mutex = rc_sqlite.db_mutex ? rc_sqlite.db_mutex(db) : NULL;
	if (!*mutex) {
		return true;
	}
	return rc_sqlite.mutex_try && rc_sqlite.mutex_leave &&
	       rc_sqlite.mutex_try(*mutex) == SQLITE_OK;
}

int
rc_sqlite_close_db(rc_sqlite_db *db)
{
	void *mutex;

	if (!rc_sqlite_ready()) {
		return -ENOSYS;
	}
	if (!try_hold(db, &mutex)) {
		return -EBUSY;
	}
	void *stmt;
	while ((stmt = rc_sqlite.next_stmt(db, NULL)) != NULL) {
		rc_sqlite.finalize(stmt);
	}
	if (mutex) {
		/* The db mutex is recursive but dies with the connection:
		 * release it before closing. */
		rc_sqlite.mutex_leave(mutex);
	}
	int rc = rc_sqlite.close(db);
	if (rc != SQLITE_OK) {
		rc_info("sqlite3_close failed (%d)%s", rc,
			rc == SQLITE_BUSY ? ": a backup is still running" : "");
		return rc == SQLITE_BUSY ? -EBUSY : -EIO;
	}
	rc_sqlite_mark_closed(db);
	return 0;
}

long
rc_sqlite_live_reclaim(rc_sqlite_db *db, int *frames)
{
	void *mutex;
	long released = 0;

	*frames = 0;
	if (!rc_sqlite_ready()) {
		return -ENOSYS;
	}
	if (!try_hold(db, &mutex)) {
		return -EBUSY;
	}
	if (rc_sqlite.db_release_memory) {
		/* It returns SQLITE_OK, not a count: the page cache's size
		 * before and after says what went back. */
		int before = 0, after = 0, hi;
		if (rc_sqlite.db_status) {
			rc_sqlite.db_status(db, SQLITE_DBSTATUS_CACHE_USED, &before, &hi, 0);
		}
		rc_sqlite.db_release_memory(db);
		if (rc_sqlite.db_status) {
			rc_sqlite.db_status(db, SQLITE_DBSTATUS_CACHE_USED, &after, &hi, 0);
		}
		if (before > after) {
			released = before - after;
		}
	}
	if (rc_sqlite.wal_checkpoint_v2) {
		int log = 0, ckpt = 0;
		if (rc_sqlite.wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
						&log, &ckpt) == SQLITE_OK && ckpt > 0) {
			*frames = ckpt;
		}
	}
	if (mutex) {
		rc_sqlite.mutex_leave(mutex);
	}
	return released;
}
