#include "build-config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "clean/sqlite.h"
#include "core/lock.h"
#include "core/log.h"

#define SQLITE_OK 0
#define SQLITE_BUSY 5
#define SQLITE_CHECKPOINT_PASSIVE 0
#define SQLITE_DBSTATUS_CACHE_USED 1

struct rc_sqlite_api rc_sqlite;
static atomic_bool bound;
static struct rc_spinlock bind_lock;

bool
rc_sqlite_ready(void)
{
	return atomic_load_explicit(&bound, memory_order_acquire);
}

bool
rc_sqlite_bind(void *fn)
{
	Dl_info info;
	void *h;

	if (rc_sqlite_ready()) {
		return true;
	}
	rc_spin_lock(&bind_lock);
	if (rc_sqlite_ready()) {
		rc_spin_unlock(&bind_lock);
		return true;
	}
	if (!fn || !dladdr(fn, &info) || !info.dli_fname) {
		rc_spin_unlock(&bind_lock);
		return false;
	}
	/* NOLOAD: a handle to the object already there, kept for good so
	 * the pointers never dangle. */
	h = dlopen(info.dli_fname, RTLD_NOLOAD | RTLD_LAZY | RTLD_NODELETE);
	if (!h) {
		/* The main executable has no usable name for dlopen. */
		h = dlopen(NULL, RTLD_LAZY);
	}
	if (!h) {
		rc_spin_unlock(&bind_lock);
		return false;
	}
#define R(field, name) rc_sqlite.field = (__typeof__(rc_sqlite.field))dlsym(h, name)
	R(close, "sqlite3_close");
	R(close_v2, "sqlite3_close_v2");
	R(next_stmt, "sqlite3_next_stmt");
	R(finalize, "sqlite3_finalize");
	R(db_filename, "sqlite3_db_filename");
	R(wal_checkpoint_v2, "sqlite3_wal_checkpoint_v2");
	R(db_mutex, "sqlite3_db_mutex");
	R(mutex_try, "sqlite3_mutex_try");
	R(mutex_leave, "sqlite3_mutex_leave");
	R(db_release_memory, "sqlite3_db_release_memory");
	R(get_autocommit, "sqlite3_get_autocommit");
	R(errmsg, "sqlite3_errmsg");
	R(db_status, "sqlite3_db_status");
#undef R
	bool ok = rc_sqlite.close && rc_sqlite.next_stmt && rc_sqlite.finalize;
	atomic_store_explicit(&bound, ok, memory_order_release);
	rc_spin_unlock(&bind_lock);
	return ok;
}

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

/* A handful of slots is plenty: it only matters between the shim's final
 * close and a late close by the program (a destructor after ours). */
#define NCLOSED 64
static void *_Atomic closed[NCLOSED] RC_COLD_BSS;
static atomic_uint closed_next;

void
rc_sqlite_mark_closed(void *db)
{
	unsigned i = atomic_fetch_add(&closed_next, 1) % NCLOSED;
	atomic_store(&closed[i], db);
}

bool
rc_sqlite_take_closed(void *db)
{
	for (unsigned i = 0; i < NCLOSED; i++) {
		void *expected = db;
		if (db && atomic_compare_exchange_strong(&closed[i], &expected, NULL)) {
			return true;
		}
	}
	return false;
}
