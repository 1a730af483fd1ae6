/* What the cleanup does to a SQLite connection (the API it calls through,
 * and the connections the shim closed: core/sqlite.h). */
#pragma once

#include "core/sqlite.h"

/* Final close of a connection the program leaked: finalizes its
 * statements (when its mutex can be had without waiting) and closes it,
 * which checkpoints the WAL and removes -wal/-shm if it was the last
 * connection.  Returns 0 closed, -EBUSY if another thread holds it, -EIO
 * if SQLite refused. */
int rc_sqlite_close_db(rc_sqlite_db *db);

/* Live reclaim on a connection whose mutex is free: release cache memory
 * and run a passive WAL checkpoint.  Returns bytes released (>= 0), or
 * -EBUSY if the connection is in use. */
long rc_sqlite_live_reclaim(rc_sqlite_db *db, int *checkpointed_frames);
