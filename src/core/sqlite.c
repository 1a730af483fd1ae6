/* The SQLite API, bound from the library the program loaded, and the
 * connections the shim closed (core/sqlite.h). */
#include "build-config.h"

#include <dlfcn.h>
#include <stdatomic.h>

#include "core/lock.h"
#include "core/sqlite.h"
#include "core/state.h"

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
