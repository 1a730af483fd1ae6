/* The tracking core: what the interposers call after a successful libc
 * call.  It knows nothing about interposition (tests call it directly).
 * Every function preserves errno and is a no-op when its kind is not
 * tracked or the shim is working on this thread. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* open/openat/creat and their 64 and fortify forms returned @fd. */
void rc_track_open(int dirfd, const char *path, int flags, int fd);
/* mkstemp family: @path is the filled-in template, @fd the result. */
void rc_track_mkstemp(const char *path, int fd);
/* fopen/freopen/fdopen/tmpfile returned @fp (for fopen, @path and @mode). */
void rc_track_fopen(FILE *fp, const char *path, const char *mode);
/* dup/dup2/dup3/fcntl(F_DUPFD*) made @newfd from @oldfd. */
void rc_track_dup(int oldfd, int newfd);
/* Before close(fd) / fclose: forget it (numbers are reused at once). */
void rc_track_close(int fd);
/* Before close_range(lo, hi) and closefrom(lo) (hi = INT_MAX). */
void rc_track_close_range(unsigned lo, unsigned hi);

/* mkdir/mkdirat of @path succeeded; mkdtemp returned @path. */
void rc_track_mkdir(int dirfd, const char *path);
/* unlink/unlinkat/remove/rmdir of @path succeeded. */
void rc_track_unlink(int dirfd, const char *path);
/* rename/renameat/renameat2 succeeded. */
void rc_track_rename(int olddirfd, const char *oldpath, int newdirfd,
		     const char *newpath);

/* sqlite3_open* gave @db (SQLITE_OK).  @api_fn is the real function that
 * was called, used to find the rest of the library's API. */
void rc_track_sqlite_open(void *db, void *api_fn);
/* Before sqlite3_close*: returns true if the shim already closed @db
 * itself (the call must then not reach SQLite again). */
bool rc_track_sqlite_closed_by_shim(void *db);
/* Around sqlite3_close (which can fail with SQLITE_BUSY and leave the
 * connection open): take the record before, put it back on failure. */
bool rc_track_sqlite_close_begin(void *db, void *saved /* struct rc_record */);
void rc_track_sqlite_close_failed(void *saved);
void rc_track_sqlite_close_done(void *saved);
/* Size of the buffer @saved must point to. */
#define RC_TRACK_SAVED_SIZE 64

/* A scope ended: what this process still holds under scope @from (records
 * and fds) passes to scope @to (0: the process). */
void rc_track_rescope(uint32_t from, uint32_t to);

/* GPU memory (DESIGN §1 GPU; record layout in core/gpu.h).  @drv_fn is
 * the real driver function that was called: the rest of the driver is
 * resolved from the object that defines it. */
/* An allocation succeeded: @handle (device pointer, pinned host pointer or
 * cuMemCreate handle) of @size bytes, made as @sub (enum rc_gpu_sub); @pool
 * is the explicit pool of cuMemAllocFromPoolAsync, else 0. */
void rc_track_gpu_alloc(uint64_t handle, uint64_t size, unsigned sub, uint64_t pool,
			void *drv_fn);
/* Before a free call (cuMemFree_v2, cuMemFreeAsync, cuMemFreeHost,
 * cuMemRelease): takes the record of @handle into @saved
 * (RC_TRACK_SAVED_SIZE bytes) so the address cannot be reused in between;
 * false if it was not tracked.  If the driver then refuses the free, the
 * record goes back with rc_track_gpu_free_failed. */
bool rc_track_gpu_free_begin(uint64_t handle, void *saved);
void rc_track_gpu_free_failed(void *saved);
/* Context @ctx was destroyed, and with it all its memory: its records go,
 * without any free. */
void rc_track_gpu_ctx_gone(uint64_t ctx);
/* Around cuDevicePrimaryCtxRelease* / cuDevicePrimaryCtxReset*: before,
 * the primary context of @dev if it is active and the shim tracks GPU
 * memory (else 0); after a successful call, its records go if the context
 * was reset (or released for the last time). */
uint64_t rc_track_gpu_primary_before(int dev);
void rc_track_gpu_primary_after(int dev, uint64_t ctx, bool reset);
/* Before cuMemPoolDestroy(@pool): live HIGH must not trim it any more. */
void rc_track_gpu_pool_gone(uint64_t pool);

/* The caller's address for reports, set by the interposer. */
extern __thread __attribute__((tls_model("initial-exec"))) void *rc_track_caller;
