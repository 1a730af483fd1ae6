/* Records of tracked resources other than fds: temp dirs and files, SQLite
 * connections (and, as they come, GPU allocations and custom cleaners).
 *
 * A chained hash table keyed by (kind, handle); for temp artifacts the
 * handle is a hash of the absolute path and lookups compare the path.
 * Records are 64 bytes; creation order is kept as a sequence number, which
 * the cleanup engine uses to reclaim the newest first (what was made later
 * may depend on what was made earlier).  One spinlock guards the table;
 * the crash path only ever try-locks it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rcshim.h"

enum rc_rec_flags {
	RC_REC_DIR = 1u << 0,        /* TEMP: a directory */
	RC_REC_REGISTERED = 1u << 1, /* named through the API */
	RC_REC_JOURNALED = 1u << 2,  /* TEMP: written to the session journal */
};

struct rc_record {
	struct rc_record *hnext;
	uint64_t handle; /* pointer value, or path hash for TEMP */
	uint64_t size;
	uint64_t ino;
	char *path;      /* TEMP: absolute path; SQLITE: database file */
	uint32_t dev;
	uint32_t seq;
	uint32_t stack;
	uint32_t scope;
	int32_t pid;
	uint8_t kind;
	uint8_t flags;
	uint16_t sub;
};

_Static_assert(sizeof(struct rc_record) == 64, "records are 64 bytes");

/* Stable 64-bit hash of a path (FNV-1a). */
uint64_t rc_path_hash(const char *path);

/* Adds a copy of @tmpl (path copied too).  Returns the stored record or
 * NULL when out of memory. */
struct rc_record *rc_reg_add(const struct rc_record *tmpl);

/* Removes the record of (@kind, @handle) and copies it to @out (may be
 * NULL).  For TEMP use rc_reg_take_path.  False if absent. */
bool rc_reg_take(int kind, uint64_t handle, struct rc_record *out);
/* Removes the TEMP record of @path; its path string is freed unless @out
 * is given, in which case out->path must be rc_free'd by the caller. */
bool rc_reg_take_path(const char *path, struct rc_record *out);
/* True if (@kind, @handle) is tracked. */
bool rc_reg_has(int kind, uint64_t handle);
/* Renames a TEMP record in place.  False if absent or out of memory. */
bool rc_reg_rename(const char *from, const char *to);
/* Puts back a record taken with rc_reg_take, keeping its sequence number. */
void rc_reg_put_back(const struct rc_record *rec);

/* Number of records of @kind (racy read, for fast rejects). */
size_t rc_reg_count(int kind);

/* What process @pid owns, by kind: records and their size fields summed
 * (GPU bytes; a temp file's size when it was tracked), without
 * allocating.  The paths of up to @max_paths TEMP files (not directories)
 * are copied, NUL-terminated, into @paths (@paths_len bytes in all), so
 * that the caller can stat them outside the lock; the number copied is
 * returned.  For the timeline sampler (report/timeline.c). */
size_t rc_reg_tally(int32_t pid, uint64_t count[RCSHIM_KIND_COUNT],
		    uint64_t bytes[RCSHIM_KIND_COUNT], char *paths, size_t paths_len,
		    size_t max_paths);

/* Copies out the records for which @match returns true, newest first,
 * removing them from the table when @take is set.  The array and its path
 * strings belong to the caller: free with rc_reg_free_list.  Returns the
 * count (0 with *out NULL when none or out of memory). */
/* Sorts @n records in place, ascending by @less (heapsort: no allocation,
 * no recursion). */
void rc_reg_sort(struct rc_record *a, size_t n,
		 bool (*less)(const struct rc_record *, const struct rc_record *));

size_t rc_reg_collect(bool (*match)(const struct rc_record *r, void *ctx), void *ctx,
		      bool take, struct rc_record **out);
void rc_reg_free_list(struct rc_record *list, size_t n);

/* Forgets everything (tests; the fork child keeps its parent's records but
 * owns none of them, which the pid field already says). */
void rc_reg_reset(void);
/* Lock handling around fork. */
void rc_reg_lock(void);
void rc_reg_unlock(void);
