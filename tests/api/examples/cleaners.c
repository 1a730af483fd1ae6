/* Custom cleaners: priorities, a dependency on a registered database, a
 * dependency that goes against the priority order, and one that fails. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include <rcshim.h>

struct cache {
	sqlite3 *db;
	int dirty; /* rows not yet written */
};

static long
flush_cache(void *ctx)
{
	struct cache *c = ctx;
	int n = c->dirty;
	if (n == 0) {
		return 0;
	}
	for (; c->dirty > 0; c->dirty--) {
		sqlite3_exec(c->db, "INSERT INTO rows VALUES (1)", NULL, NULL, NULL);
	}
	printf("  flush cache: %d rows written\n", n);
	return n;
}

static long
drop_thumbnails(void *ctx)
{
	printf("  drop thumbnails\n");
	return 12;
}

static long
upload_stats(void *ctx)
{
	printf("  upload stats: network is down\n");
	return -ENETDOWN;
}

static long
stop_uploader(void *ctx)
{
	printf("  stop uploader\n");
	return 1;
}

static long
close_session(void *ctx)
{
	printf("  close network session\n");
	return 1;
}

static void
at_exit(void)
{
	/* Runs before the shim's final cleanup, which comes after the
	 * program's own atexit handlers and destructors. */
	printf("exit (final cleanup at MEDIUM, the default):\n");
}

static void
clean(rcshim_priority priority)
{
	struct rcshim_result r;

	printf("clean(%s):\n", rcshim_priority_name(priority));
	rcshim_clean(priority, &r);
	const struct rcshim_kind_result *c = &r.kind[RCSHIM_KIND_CUSTOM];
	printf("  -> %s; cleaners: cleaned %llu, failed %llu, kept %llu; databases closed: %llu\n",
	       rcshim_status_name(r.status), (unsigned long long)c->cleaned,
	       (unsigned long long)c->failed, (unsigned long long)c->skipped,
	       (unsigned long long)r.kind[RCSHIM_KIND_SQLITE].cleaned);
}

/* Static: a cleaner's context must outlive the cleaner, and the process's
 * final cleanup runs after main has returned. */
static struct cache cache = { NULL, 3 };

int
main(void)
{

	sqlite3_open(":memory:", &cache.db);
	sqlite3_exec(cache.db, "CREATE TABLE rows(x)", NULL, NULL, NULL);
	rcshim_id db = rcshim_register_db(cache.db, "rows database");
	rcshim_id flush = rcshim_register_cleaner(flush_cache, &cache, RCSHIM_MEDIUM, "flush");
	rcshim_depends_on(flush, db); /* the flush writes into the database */

	rcshim_register_cleaner(drop_thumbnails, NULL, RCSHIM_LOW, "thumbnails");
	rcshim_register_cleaner(upload_stats, NULL, RCSHIM_MEDIUM, "upload stats");

	/* The uploader uses the session: it must stop first, though the
	 * session is closed at a lower priority. */
	rcshim_id session = rcshim_register_cleaner(close_session, NULL, RCSHIM_LOW, "session");
	rcshim_id uploader = rcshim_register_cleaner(stop_uploader, NULL, RCSHIM_HIGH, "uploader");
	rcshim_depends_on(uploader, session);

	clean(RCSHIM_LOW);
	clean(RCSHIM_MEDIUM);
	clean(RCSHIM_HIGH);
	atexit(at_exit);
	return 0;
}
