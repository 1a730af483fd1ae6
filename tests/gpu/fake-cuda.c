/* A fake CUDA driver, built as libcuda.so.1, for the GPU tests.
 *
 * It exports the driver's own symbol names with their ABI (the versioned
 * _v2 / _ptsz entry points, the legacy unversioned ones, cuGetProcAddress
 * and cuGetProcAddress_v2) and behaves as the driver documents: nothing
 * works before cuInit; allocations need a current context; freeing
 * something it did not allocate is CUDA_ERROR_INVALID_VALUE; destroying or
 * resetting a context frees its memory; cuGetProcAddress picks the variant
 * by version and per-thread-stream flag; after its destructor ran (process
 * exit) every call answers CUDA_ERROR_DEINITIALIZED.
 *
 * Device memory is host memory from malloc.  Memory pools keep freed
 * blocks in reserve until cuMemPoolTrimTo (as with a release threshold of
 * UINT64_MAX, which is what frameworks set), so trimming is observable.
 * "Queued work" exists only through fake_cuda_launch(): freeing memory it
 * still uses before the stream is synchronized counts as a hazard.
 *
 * Test hooks: fake_cuda_* (tests/gpu/cu.h).  $FAKE_CUDA_LOG names a file
 * that gets one line per free after fake_cuda_exit_marker() and one at
 * teardown.  $FAKE_CUDA_PROC_ALIASES=1 makes cuGetProcAddress hand out
 * internal aliases instead of the exported functions for cuMemAlloc and
 * cuMemFree (a driver is free to).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cu.h"

#define EXPORT __attribute__((visibility("default")))
#define DRIVER_VERSION 13000
#define DEVICES 1
#define TOTAL_MEM (16ull << 30)

enum kind { K_DEVICE, K_PITCHED, K_MANAGED, K_ASYNC, K_HOST, K_PHYSICAL };

struct CUctx_st {
	struct CUctx_st *all; /* every context ever created */
	CUdevice dev;
	bool primary;
	bool alive;
	int refs; /* primary: retain count */
};

struct CUstream_st {
	CUcontext ctx;
	int busy; /* work queued by fake_cuda_launch */
};

struct CUmemPoolHandle_st {
	CUdevice dev;
	size_t used;
	size_t spare; /* freed blocks kept in reserve */
	struct block *free_list;
	bool is_default;
};

struct block {
	struct block *next;
	void *mem;
	size_t size;
};

struct alloc {
	struct alloc *next;
	uint64_t addr;
	size_t size;
	enum kind kind;
	CUcontext ctx;
	CUmemoryPool pool;
	CUstream busy_on; /* queued work uses it */
	uint64_t id;
	void *mem; /* what malloc returned (pool blocks: the block's memory) */
};

#define BUCKETS 4096
static struct {
	pthread_mutex_t lock;
	struct alloc *bucket[BUCKETS];
	bool initialized;
	bool torn_down;
	bool after_exit;
	unsigned long long live_bytes, live_count, hazards, next_id;
	struct CUctx_st primary[DEVICES];
	struct CUmemPoolHandle_st default_pool[DEVICES];
} F = { .lock = PTHREAD_MUTEX_INITIALIZER };

static __thread CUcontext current;
static CUcontext created; /* lock held */
/* Initialised and not torn down (read without the lock). */
static atomic_bool ready;

/* --- helpers ---------------------------------------------------------------- */

static void
log_line(const char *fmt, ...)
{
	const char *path = getenv("FAKE_CUDA_LOG");
	char buf[256];
	va_list ap;
	if (!path || !*path) {
		return;
	}
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		ssize_t w = write(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
		(void)w;
		close(fd);
	}
}

static size_t
bucket_of(uint64_t addr)
{
	return (size_t)((addr >> 4) * 0x9e3779b97f4a7c15ull >> 52) % BUCKETS;
}

/* Lock held. */
static struct alloc *
find(uint64_t addr, struct alloc ***link)
{
	struct alloc **pp = &F.bucket[bucket_of(addr)];
	for (struct alloc *a = *pp; a; pp = &a->next, a = a->next) {
		if (a->addr == addr) {
			if (link) {
				*link = pp;
			}
			return a;
		}
	}
	return NULL;
}

/* Like a driver's own sub-allocator, the fake recycles what it frees
 * (bookkeeping nodes, and device blocks by exact size) instead of going
 * back to malloc every time.  Lock held for all four. */
#define CACHED_BLOCKS 64
static struct alloc *free_nodes;
static struct block *cached_blocks; /* kept inside the blocks themselves */
static unsigned n_cached;

static struct alloc *
node_new(void)
{
	struct alloc *a = free_nodes;
	if (a) {
		free_nodes = a->next;
		memset(a, 0, sizeof(*a));
		return a;
	}
	return calloc(1, sizeof(*a));
}

static void
node_free(struct alloc *a)
{
	a->next = free_nodes;
	free_nodes = a;
}

static void *
block_get(size_t size)
{
	for (struct block **pp = &cached_blocks; *pp; pp = &(*pp)->next) {
		if ((*pp)->size == size) {
			struct block *b = *pp;
			*pp = b->next;
			n_cached--;
			return b;
		}
	}
	return malloc(size);
}

static void
block_put(void *mem, size_t size)
{
	if (size < sizeof(struct block) || n_cached >= CACHED_BLOCKS) {
		free(mem);
		return;
	}
	struct block *b = mem;
	b->mem = mem;
	b->size = size;
	b->next = cached_blocks;
	cached_blocks = b;
	n_cached++;
}

/* Lock held. */
static struct alloc *
insert(uint64_t addr, size_t size, enum kind kind, void *mem)
{
	struct alloc *a = node_new();
	if (!a) {
		return NULL;
	}
	a->addr = addr;
	a->size = size;
	a->kind = kind;
	a->mem = mem;
	a->ctx = current;
	a->id = ++F.next_id;
	size_t b = bucket_of(addr);
	a->next = F.bucket[b];
	F.bucket[b] = a;
	F.live_bytes += size;
	F.live_count++;
	return a;
}

/* Lock held: releases @a (unlinked by the caller). */
static void
release(struct alloc *a)
{
	if (a->busy_on && a->busy_on->busy) {
		F.hazards++;
	}
	F.live_bytes -= a->size;
	F.live_count--;
	if (a->pool) {
		/* Back to the pool's reserve. */
		struct block *b = malloc(sizeof(*b));
		if (b) {
			b->mem = a->mem;
			b->size = a->size;
			b->next = a->pool->free_list;
			a->pool->free_list = b;
			a->pool->spare += a->size;
		} else {
			free(a->mem);
		}
		a->pool->used -= a->size;
	} else {
		block_put(a->mem, a->size);
	}
	node_free(a);
}

/* Lock held: drops every allocation for which @match is true. */
static void
drop_where(bool (*match)(const struct alloc *, const void *), const void *arg)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		struct alloc **pp = &F.bucket[i];
		while (*pp) {
			struct alloc *a = *pp;
			if (match(a, arg)) {
				*pp = a->next;
				release(a);
			} else {
				pp = &a->next;
			}
		}
	}
}

static bool
of_ctx(const struct alloc *a, const void *ctx)
{
	return a->ctx == ctx && a->kind != K_PHYSICAL && !a->pool;
}

static bool
any(const struct alloc *a, const void *unused)
{
	(void)a;
	(void)unused;
	return true;
}

#define ENTER()                                                                \
	do {                                                                   \
		pthread_mutex_lock(&F.lock);                                   \
		if (F.torn_down) {                                             \
			pthread_mutex_unlock(&F.lock);                         \
			return CUDA_ERROR_DEINITIALIZED;                       \
		}                                                              \
		if (!F.initialized) {                                          \
			pthread_mutex_unlock(&F.lock);                         \
			return CUDA_ERROR_NOT_INITIALIZED;                     \
		}                                                              \
	} while (0)
/* @rc is evaluated before the lock is let go. */
#define LEAVE(rc)                                                              \
	do {                                                                   \
		CUresult rc_ = (rc);                                           \
		pthread_mutex_unlock(&F.lock);                                 \
		return rc_;                                                    \
	} while (0)
#define NEED_CTX()                                                             \
	do {                                                                   \
		if (!current || !current->alive) {                             \
			LEAVE(CUDA_ERROR_INVALID_CONTEXT);                     \
		}                                                              \
	} while (0)

/* Every free call after the program's exit began is logged, before
 * anything else (after teardown the call fails, and a real driver would
 * crash). */
static void
note_free(const char *fn, uint64_t addr)
{
	pthread_mutex_lock(&F.lock);
	bool late = F.after_exit || F.torn_down;
	bool dead = F.torn_down;
	pthread_mutex_unlock(&F.lock);
	if (late) {
		log_line("free after exit: %s 0x%llx%s\n", fn, (unsigned long long)addr,
			 dead ? " (after teardown)" : "");
	}
}

/* --- initialisation, devices, versions -------------------------------------- */

EXPORT CUresult
cuInit(unsigned int flags)
{
	if (flags != 0) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	pthread_mutex_lock(&F.lock);
	if (F.torn_down) {
		LEAVE(CUDA_ERROR_DEINITIALIZED);
	}
	if (!F.initialized) {
		for (int i = 0; i < DEVICES; i++) {
			F.primary[i].dev = i;
			F.primary[i].primary = true;
			F.default_pool[i].dev = i;
			F.default_pool[i].is_default = true;
		}
		F.initialized = true;
		atomic_store(&ready, true);
	}
	LEAVE(CUDA_SUCCESS);
}

EXPORT CUresult
cuDriverGetVersion(int *version)
{
	if (!version) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	*version = DRIVER_VERSION;
	return CUDA_SUCCESS;
}

EXPORT CUresult
cuDeviceGetCount(int *count)
{
	if (!count) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	*count = DEVICES;
	LEAVE(CUDA_SUCCESS);
}

EXPORT CUresult
cuDeviceGet(CUdevice *dev, int ordinal)
{
	if (!dev) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	if (ordinal < 0 || ordinal >= DEVICES) {
		LEAVE(CUDA_ERROR_INVALID_DEVICE);
	}
	*dev = ordinal;
	LEAVE(CUDA_SUCCESS);
}

/* --- contexts -------------------------------------------------------------------- */

EXPORT CUresult
cuCtxCreate_v2(CUcontext *ctx, unsigned int flags, CUdevice dev)
{
	(void)flags;
	if (!ctx) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	if (dev < 0 || dev >= DEVICES) {
		LEAVE(CUDA_ERROR_INVALID_DEVICE);
	}
	CUcontext c = calloc(1, sizeof(*c));
	if (!c) {
		LEAVE(CUDA_ERROR_OUT_OF_MEMORY);
	}
	c->dev = dev;
	c->alive = true;
	c->all = created;
	created = c;
	current = c;
	*ctx = c;
	LEAVE(CUDA_SUCCESS);
}

/* The context stays allocated (dead, on the list of all contexts) so that
 * its handle is never reused: a stale handle stays recognisably stale. */
EXPORT CUresult
cuCtxDestroy_v2(CUcontext ctx)
{
	ENTER();
	if (!ctx || ctx->primary || !ctx->alive) {
		LEAVE(CUDA_ERROR_INVALID_CONTEXT);
	}
	drop_where(of_ctx, ctx);
	ctx->alive = false;
	if (current == ctx) {
		current = NULL;
	}
	LEAVE(CUDA_SUCCESS);
}

/* A thread-local read, as in the driver. */
EXPORT CUresult
cuCtxGetCurrent(CUcontext *ctx)
{
	if (!ctx) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (!atomic_load_explicit(&ready, memory_order_acquire)) {
		return F.torn_down ? CUDA_ERROR_DEINITIALIZED : CUDA_ERROR_NOT_INITIALIZED;
	}
	*ctx = current;
	return CUDA_SUCCESS;
}

EXPORT CUresult
cuCtxSetCurrent(CUcontext ctx)
{
	ENTER();
	if (ctx && !ctx->alive) {
		LEAVE(CUDA_ERROR_INVALID_CONTEXT);
	}
	current = ctx;
	LEAVE(CUDA_SUCCESS);
}

/* Lock held: completes the queued work of @ctx's streams (NULL: all). */
static void
complete_work(CUcontext ctx, CUstream only)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		for (struct alloc *a = F.bucket[i]; a; a = a->next) {
			if (a->busy_on && (only ? a->busy_on == only : (!ctx || a->busy_on->ctx == ctx))) {
				a->busy_on->busy = 0;
				a->busy_on = NULL;
			}
		}
	}
}

EXPORT CUresult
cuCtxSynchronize(void)
{
	ENTER();
	NEED_CTX();
	complete_work(current, NULL);
	LEAVE(CUDA_SUCCESS);
}

EXPORT CUresult
cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev)
{
	if (!ctx) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	if (dev < 0 || dev >= DEVICES) {
		LEAVE(CUDA_ERROR_INVALID_DEVICE);
	}
	F.primary[dev].alive = true;
	F.primary[dev].refs++;
	*ctx = &F.primary[dev];
	LEAVE(CUDA_SUCCESS);
}

/* Lock held. */
static void
primary_reset(CUdevice dev)
{
	drop_where(of_ctx, &F.primary[dev]);
	F.primary[dev].alive = false;
}

EXPORT CUresult
cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	ENTER();
	if (dev < 0 || dev >= DEVICES) {
		LEAVE(CUDA_ERROR_INVALID_DEVICE);
	}
	if (F.primary[dev].refs <= 0) {
		LEAVE(CUDA_ERROR_INVALID_CONTEXT);
	}
	if (--F.primary[dev].refs == 0) {
		primary_reset(dev);
	}
	LEAVE(CUDA_SUCCESS);
}

EXPORT CUresult
cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
	ENTER();
	if (dev < 0 || dev >= DEVICES) {
		LEAVE(CUDA_ERROR_INVALID_DEVICE);
	}
	primary_reset(dev);
	LEAVE(CUDA_SUCCESS);
}

EXPORT CUresult
cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
	if (!flags || !active) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	if (dev < 0 || dev >= DEVICES) {
		LEAVE(CUDA_ERROR_INVALID_DEVICE);
	}
	*flags = 0;
	*active = F.primary[dev].alive;
	LEAVE(CUDA_SUCCESS);
}

/* --- streams ----------------------------------------------------------------------- */

EXPORT CUresult
cuStreamCreate(CUstream *stream, unsigned int flags)
{
	(void)flags;
	if (!stream) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	NEED_CTX();
	CUstream s = calloc(1, sizeof(*s));
	if (!s) {
		LEAVE(CUDA_ERROR_OUT_OF_MEMORY);
	}
	s->ctx = current;
	*stream = s;
	LEAVE(CUDA_SUCCESS);
}

EXPORT CUresult
cuStreamDestroy_v2(CUstream stream)
{
	ENTER();
	if (!stream) {
		LEAVE(CUDA_ERROR_INVALID_HANDLE);
	}
	/* Queued work still completes; the handle goes when it has. */
	complete_work(NULL, stream);
	free(stream);
	LEAVE(CUDA_SUCCESS);
}

EXPORT CUresult
cuStreamSynchronize(CUstream stream)
{
	ENTER();
	if (stream) {
		complete_work(NULL, stream);
	} else {
		NEED_CTX();
		complete_work(current, NULL);
	}
	LEAVE(CUDA_SUCCESS);
}

EXPORT CUresult
cuStreamSynchronize_ptsz(CUstream stream)
{
	return cuStreamSynchronize(stream);
}

EXPORT CUresult
fake_cuda_launch(CUstream stream, CUdeviceptr ptr)
{
	ENTER();
	struct alloc *a = find(ptr, NULL);
	if (!stream || !a) {
		LEAVE(CUDA_ERROR_INVALID_VALUE);
	}
	stream->busy = 1;
	a->busy_on = stream;
	LEAVE(CUDA_SUCCESS);
}

/* --- allocations ----------------------------------------------------------------------- */

/* Lock held. */
static CUresult
device_alloc(CUdeviceptr *dptr, size_t bytes, enum kind kind)
{
	if (!dptr || bytes == 0) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	void *mem = block_get(bytes);
	if (!mem) {
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (!insert((uint64_t)(uintptr_t)mem, bytes, kind, mem)) {
		block_put(mem, bytes);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*dptr = (CUdeviceptr)(uintptr_t)mem;
	return CUDA_SUCCESS;
}

EXPORT CUresult
cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes)
{
	ENTER();
	NEED_CTX();
	LEAVE(device_alloc(dptr, bytes, K_DEVICE));
}

EXPORT CUresult
cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
		   unsigned int elem)
{
	if (!pitch || !width || !height || (elem != 4 && elem != 8 && elem != 16)) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	NEED_CTX();
	size_t p = (width + 511) & ~(size_t)511;
	CUresult rc = device_alloc(dptr, p * height, K_PITCHED);
	if (rc == CUDA_SUCCESS) {
		*pitch = p;
	}
	LEAVE(rc);
}

EXPORT CUresult
cuMemAllocManaged(CUdeviceptr *dptr, size_t bytes, unsigned int flags)
{
	if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	NEED_CTX();
	LEAVE(device_alloc(dptr, bytes, K_MANAGED));
}

/* Lock held. */
static CUresult
pool_alloc(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool)
{
	void *mem = NULL;
	if (!dptr || bytes == 0 || !pool) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	/* First fit from the reserve, the size kept exact for accounting. */
	for (struct block **pp = &pool->free_list; *pp; pp = &(*pp)->next) {
		if ((*pp)->size == bytes) {
			struct block *b = *pp;
			*pp = b->next;
			mem = b->mem;
			pool->spare -= b->size;
			free(b);
			break;
		}
	}
	if (!mem && !(mem = malloc(bytes))) {
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	struct alloc *a = insert((uint64_t)(uintptr_t)mem, bytes, K_ASYNC, mem);
	if (!a) {
		free(mem);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	a->pool = pool;
	pool->used += bytes;
	*dptr = (CUdeviceptr)(uintptr_t)mem;
	return CUDA_SUCCESS;
}

EXPORT CUresult
cuMemAllocAsync(CUdeviceptr *dptr, size_t bytes, CUstream stream)
{
	(void)stream;
	ENTER();
	NEED_CTX();
	LEAVE(pool_alloc(dptr, bytes, &F.default_pool[current->dev]));
}

EXPORT CUresult
cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytes, CUstream stream)
{
	return cuMemAllocAsync(dptr, bytes, stream);
}

EXPORT CUresult
cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream stream)
{
	(void)stream;
	ENTER();
	NEED_CTX();
	LEAVE(pool_alloc(dptr, bytes, pool));
}

EXPORT CUresult
cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool,
			     CUstream stream)
{
	return cuMemAllocFromPoolAsync(dptr, bytes, pool, stream);
}

EXPORT CUresult
cuMemAllocHost_v2(void **pp, size_t bytes)
{
	CUdeviceptr d;
	if (!pp) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	NEED_CTX();
	CUresult rc = device_alloc(&d, bytes, K_HOST);
	if (rc == CUDA_SUCCESS) {
		*pp = (void *)(uintptr_t)d;
	}
	LEAVE(rc);
}

EXPORT CUresult
cuMemHostAlloc(void **pp, size_t bytes, unsigned int flags)
{
	(void)flags;
	return cuMemAllocHost_v2(pp, bytes);
}

EXPORT CUresult
cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop,
	    unsigned long long flags)
{
	CUdeviceptr d;
	if (!handle || !prop || flags != 0) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	/* The handle is the address of the backing memory: distinct from
	 * every pointer, as the real driver's handles are. */
	CUresult rc = device_alloc(&d, size, K_PHYSICAL);
	if (rc == CUDA_SUCCESS) {
		*handle = d;
	}
	LEAVE(rc);
}

EXPORT CUdeviceptr
fake_cuda_alloc_unseen(size_t bytes)
{
	CUdeviceptr d = 0;
	pthread_mutex_lock(&F.lock);
	if (device_alloc(&d, bytes, K_DEVICE) != CUDA_SUCCESS) {
		d = 0;
	}
	pthread_mutex_unlock(&F.lock);
	return d;
}

/* --- releases ---------------------------------------------------------------------------- */

/* Lock held. */
static CUresult
free_kind(uint64_t addr, bool (*ok)(enum kind), const char *fn)
{
	struct alloc **link;
	(void)fn;
	struct alloc *a = find(addr, &link);
	if (!a || !ok(a->kind)) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	*link = a->next;
	release(a);
	return CUDA_SUCCESS;
}

static bool
device_kind(enum kind k)
{
	return k == K_DEVICE || k == K_PITCHED || k == K_MANAGED || k == K_ASYNC;
}

static bool
host_kind(enum kind k)
{
	return k == K_HOST;
}

static bool
physical_kind(enum kind k)
{
	return k == K_PHYSICAL;
}

EXPORT CUresult
cuMemFree_v2(CUdeviceptr dptr)
{
	note_free("cuMemFree_v2", dptr);
	ENTER();
	LEAVE(free_kind(dptr, device_kind, "cuMemFree_v2"));
}

EXPORT CUresult
cuMemFreeAsync(CUdeviceptr dptr, CUstream stream)
{
	note_free("cuMemFreeAsync", dptr);
	(void)stream;
	ENTER();
	/* Stream-ordered: the work queued before it finishes first, so a
	 * busy block is no hazard here. */
	struct alloc *a = find(dptr, NULL);
	if (a && a->busy_on && a->busy_on == stream) {
		a->busy_on = NULL;
	}
	LEAVE(free_kind(dptr, device_kind, "cuMemFreeAsync"));
}

EXPORT CUresult
cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream stream)
{
	return cuMemFreeAsync(dptr, stream);
}

EXPORT CUresult
cuMemFreeHost(void *p)
{
	note_free("cuMemFreeHost", (uint64_t)(uintptr_t)p);
	ENTER();
	LEAVE(free_kind((uint64_t)(uintptr_t)p, host_kind, "cuMemFreeHost"));
}

EXPORT CUresult
cuMemRelease(CUmemGenericAllocationHandle handle)
{
	note_free("cuMemRelease", handle);
	ENTER();
	LEAVE(free_kind(handle, physical_kind, "cuMemRelease"));
}

EXPORT CUresult
cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes)
{
	if (!free_bytes || !total_bytes) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	NEED_CTX();
	size_t spare = 0;
	for (int i = 0; i < DEVICES; i++) {
		spare += F.default_pool[i].spare;
	}
	*total_bytes = TOTAL_MEM;
	*free_bytes = TOTAL_MEM - F.live_bytes - spare;
	LEAVE(CUDA_SUCCESS);
}

/* --- memory pools ----------------------------------------------------------------------- */

EXPORT CUresult
cuDeviceGetDefaultMemPool(CUmemoryPool *pool, CUdevice dev)
{
	if (!pool) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	if (dev < 0 || dev >= DEVICES) {
		LEAVE(CUDA_ERROR_INVALID_DEVICE);
	}
	*pool = &F.default_pool[dev];
	LEAVE(CUDA_SUCCESS);
}

EXPORT CUresult
cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props)
{
	if (!pool || !props) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	CUmemoryPool p = calloc(1, sizeof(*p));
	if (!p) {
		LEAVE(CUDA_ERROR_OUT_OF_MEMORY);
	}
	p->dev = props->location.id;
	*pool = p;
	LEAVE(CUDA_SUCCESS);
}

/* Lock held. */
static size_t
trim(CUmemoryPool pool, size_t keep)
{
	size_t released = 0;
	while (pool->free_list && pool->used + pool->spare > keep) {
		struct block *b = pool->free_list;
		pool->free_list = b->next;
		pool->spare -= b->size;
		released += b->size;
		free(b->mem);
		free(b);
	}
	return released;
}

static bool
of_pool(const struct alloc *a, const void *pool)
{
	return a->pool == pool;
}

EXPORT CUresult
cuMemPoolDestroy(CUmemoryPool pool)
{
	ENTER();
	if (!pool || pool->is_default) {
		LEAVE(CUDA_ERROR_INVALID_VALUE);
	}
	/* Outstanding allocations die with it, as the driver documents. */
	drop_where(of_pool, pool);
	trim(pool, 0);
	free(pool);
	LEAVE(CUDA_SUCCESS);
}

EXPORT CUresult
cuMemPoolTrimTo(CUmemoryPool pool, size_t keep)
{
	ENTER();
	if (!pool) {
		LEAVE(CUDA_ERROR_INVALID_VALUE);
	}
	trim(pool, keep);
	LEAVE(CUDA_SUCCESS);
}

EXPORT CUresult
cuMemPoolGetAttribute(CUmemoryPool pool, int attr, void *value)
{
	if (!pool || !value) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	switch (attr) {
	case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
		*(cuuint64_t *)value = pool->used + pool->spare;
		break;
	case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
		*(cuuint64_t *)value = pool->used;
		break;
	case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
		*(cuuint64_t *)value = ~0ull;
		break;
	default:
		LEAVE(CUDA_ERROR_INVALID_VALUE);
	}
	LEAVE(CUDA_SUCCESS);
}

EXPORT CUresult
cuPointerGetAttribute(void *data, int attr, CUdeviceptr ptr)
{
	if (!data) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	ENTER();
	struct alloc *a = find(ptr, NULL);
	if (!a || a->kind == K_PHYSICAL) {
		LEAVE(CUDA_ERROR_INVALID_VALUE);
	}
	switch (attr) {
	case CU_POINTER_ATTRIBUTE_CONTEXT:
		*(CUcontext *)data = a->ctx;
		break;
	case CU_POINTER_ATTRIBUTE_BUFFER_ID:
		*(unsigned long long *)data = a->id;
		break;
	case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
		*(CUdeviceptr *)data = a->addr;
		break;
	case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
		*(size_t *)data = a->size;
		break;
	default:
		LEAVE(CUDA_ERROR_INVALID_VALUE);
	}
	LEAVE(CUDA_SUCCESS);
}

/* --- the legacy (pre-3.2, 32-bit) entry points: present, as in the real
 * driver, and of no use in a 64-bit process. ---------------------------------------------- */

EXPORT CUresult
cuMemAlloc(unsigned int *dptr, unsigned int bytes)
{
	(void)dptr;
	(void)bytes;
	return CUDA_ERROR_NOT_SUPPORTED;
}

EXPORT CUresult
cuMemAllocPitch(unsigned int *dptr, unsigned int *pitch, unsigned int w, unsigned int h,
		unsigned int elem)
{
	(void)dptr, (void)pitch, (void)w, (void)h, (void)elem;
	return CUDA_ERROR_NOT_SUPPORTED;
}

EXPORT CUresult
cuMemAllocHost(void **pp, unsigned int bytes)
{
	return cuMemAllocHost_v2(pp, bytes);
}

EXPORT CUresult
cuMemFree(unsigned int dptr)
{
	(void)dptr;
	return CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult
cuMemGetInfo(unsigned int *free_bytes, unsigned int *total_bytes)
{
	if (!free_bytes || !total_bytes) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_ERROR_NOT_SUPPORTED;
}

EXPORT CUresult
cuCtxCreate(CUcontext *ctx, unsigned int flags, CUdevice dev)
{
	return cuCtxCreate_v2(ctx, flags, dev);
}

EXPORT CUresult
cuCtxDestroy(CUcontext ctx)
{
	return cuCtxDestroy_v2(ctx);
}

/* Before 11.0 these never reset a context that other threads still had
 * current; here they behave as their _v2 (what matters to a tracker is
 * that they can free memory). */
EXPORT CUresult
cuDevicePrimaryCtxRelease(CUdevice dev)
{
	return cuDevicePrimaryCtxRelease_v2(dev);
}

EXPORT CUresult
cuDevicePrimaryCtxReset(CUdevice dev)
{
	return cuDevicePrimaryCtxReset_v2(dev);
}

/* --- cuGetProcAddress ------------------------------------------------------------------------- */

static CUresult
alias_cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes)
{
	return cuMemAlloc_v2(dptr, bytes);
}

static CUresult
alias_cuMemFree_v2(CUdeviceptr dptr)
{
	return cuMemFree_v2(dptr);
}

EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version,
				    cuuint64_t flags, int *status);

static const struct proc {
	const char *base;
	int since;
	bool ptsz;
	void *fn;
	void *alias;
} procs[] = {
#define P(base, since, fn) { base, since, false, (void *)fn, NULL }
#define PA(base, since, fn, alias) { base, since, false, (void *)fn, (void *)alias }
#define PT(base, since, fn) { base, since, true, (void *)fn, NULL }
	P("cuInit", 2000, cuInit),
	P("cuDriverGetVersion", 2020, cuDriverGetVersion),
	P("cuDeviceGet", 2000, cuDeviceGet),
	P("cuDeviceGetCount", 2000, cuDeviceGetCount),
	P("cuCtxCreate", 2000, cuCtxCreate),
	P("cuCtxCreate", 3020, cuCtxCreate_v2),
	P("cuCtxDestroy", 2000, cuCtxDestroy),
	P("cuCtxDestroy", 4000, cuCtxDestroy_v2),
	P("cuCtxGetCurrent", 4000, cuCtxGetCurrent),
	P("cuCtxSetCurrent", 4000, cuCtxSetCurrent),
	P("cuCtxSynchronize", 2000, cuCtxSynchronize),
	P("cuDevicePrimaryCtxRetain", 7000, cuDevicePrimaryCtxRetain),
	P("cuDevicePrimaryCtxRelease", 7000, cuDevicePrimaryCtxRelease),
	P("cuDevicePrimaryCtxRelease", 11000, cuDevicePrimaryCtxRelease_v2),
	P("cuDevicePrimaryCtxReset", 7000, cuDevicePrimaryCtxReset),
	P("cuDevicePrimaryCtxReset", 11000, cuDevicePrimaryCtxReset_v2),
	P("cuDevicePrimaryCtxGetState", 7000, cuDevicePrimaryCtxGetState),
	P("cuStreamCreate", 2000, cuStreamCreate),
	P("cuStreamDestroy", 4000, cuStreamDestroy_v2),
	P("cuStreamSynchronize", 2000, cuStreamSynchronize),
	PT("cuStreamSynchronize", 7000, cuStreamSynchronize_ptsz),
	P("cuMemAlloc", 2000, cuMemAlloc),
	PA("cuMemAlloc", 3020, cuMemAlloc_v2, alias_cuMemAlloc_v2),
	P("cuMemAllocPitch", 2000, cuMemAllocPitch),
	P("cuMemAllocPitch", 3020, cuMemAllocPitch_v2),
	P("cuMemAllocManaged", 6000, cuMemAllocManaged),
	P("cuMemAllocAsync", 11020, cuMemAllocAsync),
	PT("cuMemAllocAsync", 11020, cuMemAllocAsync_ptsz),
	P("cuMemAllocFromPoolAsync", 11020, cuMemAllocFromPoolAsync),
	PT("cuMemAllocFromPoolAsync", 11020, cuMemAllocFromPoolAsync_ptsz),
	P("cuMemAllocHost", 2000, cuMemAllocHost),
	P("cuMemAllocHost", 3020, cuMemAllocHost_v2),
	P("cuMemHostAlloc", 2020, cuMemHostAlloc),
	P("cuMemCreate", 10020, cuMemCreate),
	P("cuMemRelease", 10020, cuMemRelease),
	P("cuMemFree", 2000, cuMemFree),
	PA("cuMemFree", 3020, cuMemFree_v2, alias_cuMemFree_v2),
	P("cuMemFreeAsync", 11020, cuMemFreeAsync),
	PT("cuMemFreeAsync", 11020, cuMemFreeAsync_ptsz),
	P("cuMemFreeHost", 2000, cuMemFreeHost),
	P("cuMemGetInfo", 2000, cuMemGetInfo),
	P("cuMemGetInfo", 3020, cuMemGetInfo_v2),
	P("cuDeviceGetDefaultMemPool", 11020, cuDeviceGetDefaultMemPool),
	P("cuMemPoolCreate", 11020, cuMemPoolCreate),
	P("cuMemPoolDestroy", 11020, cuMemPoolDestroy),
	P("cuMemPoolTrimTo", 11020, cuMemPoolTrimTo),
	P("cuMemPoolGetAttribute", 11020, cuMemPoolGetAttribute),
	P("cuPointerGetAttribute", 4000, cuPointerGetAttribute),
	P("cuGetProcAddress", 11030, cuGetProcAddress),
	P("cuGetProcAddress", 12000, cuGetProcAddress_v2),
#undef P
#undef PA
#undef PT
};

/* The documented rule: the newest variant introduced at or before
 * @version; the per-thread default stream variant when asked for and one
 * exists. */
static CUresult
lookup(const char *symbol, void **pfn, int version, cuuint64_t flags, int *status)
{
	const struct proc *best = NULL;
	bool named = false, ptsz_exists = false;
	bool want_ptsz = flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;

	*pfn = NULL;
	if (version > DRIVER_VERSION) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	for (size_t i = 0; i < sizeof(procs) / sizeof(*procs); i++) {
		if (strcmp(procs[i].base, symbol) == 0 && procs[i].ptsz) {
			ptsz_exists = true;
		}
	}
	for (size_t i = 0; i < sizeof(procs) / sizeof(*procs); i++) {
		const struct proc *p = &procs[i];
		if (strcmp(p->base, symbol) != 0) {
			continue;
		}
		named = true;
		if (p->ptsz != (want_ptsz && ptsz_exists) || p->since > version) {
			continue;
		}
		if (!best || p->since > best->since) {
			best = p;
		}
	}
	if (status) {
		*status = best ? CU_GET_PROC_ADDRESS_SUCCESS
			       : named ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
				       : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
	}
	if (!best) {
		return CUDA_ERROR_NOT_FOUND;
	}
	const char *aliases = getenv("FAKE_CUDA_PROC_ALIASES");
	*pfn = best->alias && aliases && *aliases == '1' ? best->alias : best->fn;
	return CUDA_SUCCESS;
}

/* 11.3 to 11.8: not found is an error. */
EXPORT CUresult
cuGetProcAddress(const char *symbol, void **pfn, int version, cuuint64_t flags)
{
	if (!symbol || !pfn) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	return lookup(symbol, pfn, version, flags, NULL);
}

/* 12.0 on: not found is CUDA_SUCCESS with *pfn NULL and the reason in
 * *status. */
EXPORT CUresult
cuGetProcAddress_v2(const char *symbol, void **pfn, int version, cuuint64_t flags, int *status)
{
	if (!symbol || !pfn) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	CUresult rc = lookup(symbol, pfn, version, flags, status);
	return rc == CUDA_ERROR_NOT_FOUND ? CUDA_SUCCESS : rc;
}

/* --- test hooks and teardown ------------------------------------------------------------------ */

EXPORT unsigned long long
fake_cuda_live_bytes(void)
{
	pthread_mutex_lock(&F.lock);
	unsigned long long v = F.live_bytes;
	pthread_mutex_unlock(&F.lock);
	return v;
}

EXPORT unsigned long long
fake_cuda_live_count(void)
{
	pthread_mutex_lock(&F.lock);
	unsigned long long v = F.live_count;
	pthread_mutex_unlock(&F.lock);
	return v;
}

EXPORT unsigned long long
fake_cuda_hazards(void)
{
	pthread_mutex_lock(&F.lock);
	unsigned long long v = F.hazards;
	pthread_mutex_unlock(&F.lock);
	return v;
}

EXPORT unsigned long long
fake_cuda_pool_reserved(void)
{
	pthread_mutex_lock(&F.lock);
	unsigned long long v = 0;
	for (int i = 0; i < DEVICES; i++) {
		v += F.default_pool[i].spare;
	}
	/* Explicit pools are asked through cuMemPoolGetAttribute. */
	pthread_mutex_unlock(&F.lock);
	return v;
}

EXPORT void
fake_cuda_exit_marker(void)
{
	pthread_mutex_lock(&F.lock);
	F.after_exit = true;
	pthread_mutex_unlock(&F.lock);
}

/* Process exit: the driver tears its contexts down and frees everything;
 * whatever comes after finds it deinitialized. */
__attribute__((destructor)) static void
teardown(void)
{
	pthread_mutex_lock(&F.lock);
	if (F.after_exit) {
		log_line("teardown: %llu allocations, %llu bytes\n", F.live_count, F.live_bytes);
	}
	drop_where(any, NULL);
	for (int i = 0; i < DEVICES; i++) {
		trim(&F.default_pool[i], 0);
	}
	while (cached_blocks) {
		struct block *b = cached_blocks;
		cached_blocks = b->next;
		free(b->mem);
	}
	while (free_nodes) {
		struct alloc *a = free_nodes;
		free_nodes = a->next;
		free(a);
	}
	F.torn_down = true;
	atomic_store(&ready, false);
	pthread_mutex_unlock(&F.lock);
}
