/* The GPU scenarios (tests/gpu/scenario.h).  What the output depends on
 * is deterministic (sizes, counts, result codes; never pointer values), so
 * a scenario's output bare and under the shim can be compared, except for
 * the lines about the shim's own results, which start with "rcshim:". */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RCSHIM_WEAK 1
#include <rcshim.h>

#include "scenario.h"

static const struct drv *D;

void
check(CUresult rc, const char *what)
{
	if (rc != CUDA_SUCCESS) {
		printf("%s failed: CUDA error %d\n", what, rc);
		fflush(stdout);
		exit(1);
	}
}

/* As the CUDA runtime does: the device's primary context, current. */
static CUcontext
setup(void)
{
	CUdevice dev;
	CUcontext ctx;
	check(D->Init(0), "cuInit");
	check(D->DeviceGet(&dev, 0), "cuDeviceGet");
	check(D->PrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
	check(D->CtxSetCurrent(ctx), "cuCtxSetCurrent");
	return ctx;
}

static void
print_result(const char *what, rcshim_status st, const struct rcshim_result *r)
{
	const struct rcshim_kind_result *g = &r->kind[RCSHIM_KIND_GPU];
	printf("rcshim: %s status=%d gpu cleaned=%llu failed=%llu skipped=%llu bytes=%llu\n", what,
	       (int)st, (unsigned long long)g->cleaned, (unsigned long long)g->failed,
	       (unsigned long long)g->skipped, (unsigned long long)g->bytes);
}

/* The shim's report, when GPU_TEST_REPORT names a file. */
static void
report(void)
{
	const char *path = getenv("GPU_TEST_REPORT");
	if (!path || !RCSHIM_PRESENT(rcshim_report)) {
		return;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		rcshim_report(fd, getenv("GPU_TEST_REPORT_TEXT") ? RCSHIM_FORMAT_TEXT
								 : RCSHIM_FORMAT_JSON);
		close(fd);
	}
}

static void
emergency(void)
{
	struct rcshim_result r;
	if (!RCSHIM_PRESENT(rcshim_emergency_cleanup)) {
		printf("rcshim: absent\n");
		return;
	}
	rcshim_status st = rcshim_emergency_cleanup(&r);
	print_result("emergency", st, &r);
	printf("rcshim: live after %llu bytes, %llu allocations\n", D->live_bytes(),
	       D->live_count());
}

static size_t
leak_size(int i)
{
	return 1000u * (size_t)(i + 1) + 7u * (size_t)i;
}

/* N allocations of known sizes; every third is freed, the rest leak. */
static int
leak(int n)
{
	CUdeviceptr p[256];
	unsigned long long leaked = 0;
	int nleaked = 0;

	setup();
	if (n > 256) {
		n = 256;
	}
	for (int i = 0; i < n; i++) {
		check(D->MemAlloc(&p[i], leak_size(i)), "cuMemAlloc");
	}
	for (int i = 0; i < n; i++) {
		if (i % 3 == 0) {
			check(D->MemFree(p[i]), "cuMemFree");
		} else {
			leaked += leak_size(i);
			nleaked++;
			printf("leak %zu\n", leak_size(i));
		}
	}
	printf("leaked %d allocations, %llu bytes; driver holds %llu bytes\n", nleaked, leaked,
	       D->live_bytes());
	report();
	emergency();
	return 0;
}

static void
pool_props(CUmemPoolProps *props)
{
	memset(props, 0, sizeof(*props));
	props->allocType = 1;     /* CU_MEM_ALLOCATION_TYPE_PINNED */
	props->location.type = 1; /* CU_MEM_LOCATION_TYPE_DEVICE */
	props->location.id = 0;
}

static unsigned long long
reserved(CUmemoryPool pool)
{
	cuuint64_t v = 0;
	check(D->MemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &v),
	      "cuMemPoolGetAttribute");
	return v;
}

/* One leaked allocation of every kind, stream-ordered ones still in use by
 * queued work. */
static int
kinds(void)
{
	CUdeviceptr dev, pitched, managed, async, async_ptsz = 0, pooled;
	void *host, *hostalloc;
	CUmemGenericAllocationHandle phys;
	CUstream s;
	CUmemoryPool pool;
	CUmemPoolProps props;
	CUmemAllocationProp prop;
	size_t pitch;
	unsigned long long total = 0;

	setup();
	check(D->StreamCreate(&s, 0), "cuStreamCreate");
	pool_props(&props);
	check(D->MemPoolCreate(&pool, &props), "cuMemPoolCreate");
	memset(&prop, 0, sizeof(prop));
	prop.type = 1;
	prop.location.type = 1;

	check(D->MemAlloc(&dev, 1000), "cuMemAlloc");
	total += 1000;
	check(D->MemAllocPitch(&pitched, &pitch, 1000, 3, 4), "cuMemAllocPitch");
	total += pitch * 3;
	check(D->MemAllocManaged(&managed, 2000, CU_MEM_ATTACH_GLOBAL), "cuMemAllocManaged");
	total += 2000;
	check(D->MemAllocAsync(&async, 3000, s), "cuMemAllocAsync");
	total += 3000;
	if (D->MemAllocAsyncPtsz) {
		check(D->MemAllocAsyncPtsz(&async_ptsz, 3500, s), "cuMemAllocAsync_ptsz");
		total += 3500;
	}
	check(D->MemAllocFromPoolAsync(&pooled, 4000, pool, s), "cuMemAllocFromPoolAsync");
	total += 4000;
	check(D->MemAllocHost(&host, 5000), "cuMemAllocHost");
	total += 5000;
	check(D->MemHostAlloc(&hostalloc, 6000, 0), "cuMemHostAlloc");
	total += 6000;
	check(D->MemCreate(&phys, 7000, &prop, 0), "cuMemCreate");
	total += 7000;
	/* Work still queued on the stream uses the stream-ordered memory. */
	check(D->launch(s, async), "launch");
	check(D->launch(s, pooled), "launch");
	printf("allocated %d, %llu bytes; driver holds %llu bytes\n", D->MemAllocAsyncPtsz ? 9 : 8,
	       total, D->live_bytes());
	report();
	emergency();
	if (RCSHIM_PRESENT(rcshim_emergency_cleanup)) {
		printf("rcshim: hazards %llu, default pool spare %llu, pool reserved %llu\n",
		       D->hazards(), D->pool_reserved(), reserved(pool));
	}
	return 0;
}

static int
scope(rcshim_priority prio)
{
	CUdeviceptr outside, a, b;
	void *h;
	struct rcshim_result r;

	setup();
	check(D->MemAlloc(&outside, 1111), "cuMemAlloc");
	if (!RCSHIM_PRESENT(rcshim_scope_begin)) {
		printf("rcshim: absent\n");
		return 0;
	}
	rcshim_scope sc = rcshim_scope_begin("gpu-scope");
	check(D->MemAlloc(&a, 2000), "cuMemAlloc");
	check(D->MemAlloc(&b, 3000), "cuMemAlloc");
	check(D->MemAllocHost(&h, 4000), "cuMemAllocHost");
	check(D->MemFree(b), "cuMemFree");
	rcshim_status st = rcshim_scope_end(sc, prio, &r);
	print_result("scope", st, &r);
	printf("rcshim: live after scope %llu bytes\n", D->live_bytes());
	/* What was allocated outside the scope is untouched. */
	CUresult rc = D->MemFree(outside);
	printf("rcshim: free outside: %d\n", rc);
	emergency();
	return 0;
}

/* Process exit with GPU memory held: reported, never freed. */
static int
at_exit(bool by_signal)
{
	CUdeviceptr p;
	setup();
	for (int i = 0; i < 3; i++) {
		check(D->MemAlloc(&p, 100 * (size_t)(i + 1)), "cuMemAlloc");
	}
	void *h;
	check(D->MemAllocHost(&h, 400), "cuMemAllocHost");
	atexit(D->exit_marker);
	if (by_signal) {
		D->exit_marker();
		raise(SIGTERM);
	}
	return 0;
}

/* Live HIGH: the pools give back what they keep in reserve. */
static int
trim(void)
{
	CUdeviceptr a, b, keep;
	CUstream s;
	CUmemoryPool pool, def;
	CUmemPoolProps props;
	struct rcshim_result r;

	setup();
	check(D->StreamCreate(&s, 0), "cuStreamCreate");
	pool_props(&props);
	check(D->MemPoolCreate(&pool, &props), "cuMemPoolCreate");
	check(D->DeviceGetDefaultMemPool(&def, 0), "cuDeviceGetDefaultMemPool");
	check(D->MemAllocAsync(&a, 10000, s), "cuMemAllocAsync");
	check(D->MemAllocFromPoolAsync(&b, 20000, pool, s), "cuMemAllocFromPoolAsync");
	check(D->MemAllocAsync(&keep, 5000, s), "cuMemAllocAsync");
	check(D->MemFreeAsync(a, s), "cuMemFreeAsync");
	check(D->MemFreeAsync(b, s), "cuMemFreeAsync");
	check(D->StreamSynchronize(s), "cuStreamSynchronize");
	printf("reserved: default %llu, pool %llu\n", reserved(def), reserved(pool));
	if (!RCSHIM_PRESENT(rcshim_clean)) {
		printf("rcshim: absent\n");
		return 0;
	}
	rcshim_status st = rcshim_clean(RCSHIM_HIGH, &r);
	print_result("live HIGH", st, &r);
	printf("rcshim: reserved after: default %llu, pool %llu\n", reserved(def), reserved(pool));
	/* The program's memory is its own still. */
	CUresult rc = D->MemFreeAsync(keep, s);
	printf("rcshim: free kept: %d, live %llu\n", rc, D->live_bytes());
	return 0;
}

/* Contexts destroyed or reset take their memory with them: nothing is
 * left for the shim to free, and nothing must be freed twice. */
static int
contexts(void)
{
	CUcontext mine;
	CUdeviceptr p;
	CUdevice dev;

	CUcontext primary = setup();
	check(D->DeviceGet(&dev, 0), "cuDeviceGet");
	check(D->CtxCreate(&mine, 0, dev), "cuCtxCreate");
	check(D->MemAlloc(&p, 1000), "cuMemAlloc");
	check(D->MemAlloc(&p, 2000), "cuMemAlloc");
	check(D->CtxDestroy(mine), "cuCtxDestroy");
	check(D->CtxSetCurrent(primary), "cuCtxSetCurrent");
	check(D->MemAlloc(&p, 3000), "cuMemAlloc");
	check(D->PrimaryCtxReset(dev), "cuDevicePrimaryCtxReset");
	/* Retained again, then released to zero (setup's and this one). */
	check(D->PrimaryCtxRetain(&primary, dev), "cuDevicePrimaryCtxRetain");
	check(D->CtxSetCurrent(primary), "cuCtxSetCurrent");
	check(D->MemAlloc(&p, 4000), "cuMemAlloc");
	check(D->PrimaryCtxRelease(dev), "cuDevicePrimaryCtxRelease");
	check(D->PrimaryCtxRelease(dev), "cuDevicePrimaryCtxRelease");
	printf("driver holds %llu bytes\n", D->live_bytes());
	emergency();
	return 0;
}

/* Frees of what the shim never saw go to the driver unchanged; results,
 * errno and NULL arguments are the driver's. */
static int
api(void)
{
	CUdeviceptr p;
	size_t f, t;
	CUresult rc;
	int e;

	setup();
	/* Arguments are evaluated in no set order: each call first. */
#define SHOW(label, call)                                                      \
	do {                                                                   \
		rc = (call);                                                   \
		printf("%s: %d\n", (label), rc);                               \
	} while (0)
#define SHOW_ERRNO(label, call, value)                                         \
	do {                                                                   \
		errno = (value);                                               \
		rc = (call);                                                   \
		e = errno;                                                     \
		printf("%s: %d errno %d\n", (label), rc, e);                   \
	} while (0)
	p = D->alloc_unseen(4096);
	SHOW_ERRNO("free unseen", D->MemFree(p), 4242);
	SHOW_ERRNO("free bogus", D->MemFree(0x1234), 4343);
	SHOW("free host bogus", D->MemFreeHost((void *)0x5678));
	SHOW("release bogus", D->MemRelease(0x9abc));
	SHOW("free async bogus", D->MemFreeAsync(0x4321, NULL));
	SHOW_ERRNO("alloc", D->MemAlloc(&p, 64), 4444);
	SHOW("alloc 0", D->MemAlloc(&p, 0));
	SHOW("alloc null", D->MemAlloc(NULL, 64));
	SHOW_ERRNO("free", D->MemFree(p), 4545);
	SHOW("double free", D->MemFree(p));
	SHOW("meminfo null", D->MemGetInfo(NULL, NULL));
	rc = D->MemGetInfo(&f, &t);
	printf("meminfo: %d total %zu\n", rc, t);
	printf("driver holds %llu bytes\n", D->live_bytes());
#undef SHOW
#undef SHOW_ERRNO
	return 0;
}

struct worker_arg {
	int id;
	unsigned long long leaked;
};

static void *
worker(void *p)
{
	struct worker_arg *w = p;
	CUdeviceptr d;
	check(D->CtxSetCurrent(NULL), "cuCtxSetCurrent");
	setup();
	for (int i = 0; i < 20000; i++) {
		size_t n = 16 + (size_t)((i * 7919 + w->id) % 4096);
		check(D->MemAlloc(&d, n), "cuMemAlloc");
		if (i % 1000 == 999) {
			w->leaked += n;
		} else {
			check(D->MemFree(d), "cuMemFree");
		}
	}
	return NULL;
}

/* Four threads allocating and freeing at once, each leaking a few. */
static int
threads(void)
{
	pthread_t t[4];
	struct worker_arg w[4];
	unsigned long long leaked = 0;
	setup();
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker_arg){ i, 0 };
		pthread_create(&t[i], NULL, worker, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		leaked += w[i].leaked;
	}
	printf("leaked 80 allocations, %llu bytes; driver holds %llu bytes\n", leaked,
	       D->live_bytes());
	emergency();
	return 0;
}

/* cuMemAlloc/cuMemFree pairs: nanoseconds per pair. */
static int
bench(long n)
{
	CUdeviceptr p;
	struct timespec t0, t1;
	setup();
	for (long i = 0; i < 1000; i++) { /* warm up */
		check(D->MemAlloc(&p, 4096), "cuMemAlloc");
		check(D->MemFree(p), "cuMemFree");
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		D->MemAlloc(&p, 4096);
		D->MemFree(p);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	printf("%.1f\n", ns / (double)n);
	return 0;
}

int
scenario_main(const struct drv *d, int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "leak";
	D = d;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(what, "leak")) {
		return leak(argc > 2 ? atoi(argv[2]) : 12);
	}
	if (!strcmp(what, "kinds")) {
		return kinds();
	}
	if (!strcmp(what, "scope")) {
		return scope(RCSHIM_HIGH);
	}
	if (!strcmp(what, "scope-medium")) {
		return scope(RCSHIM_MEDIUM);
	}
	if (!strcmp(what, "exit")) {
		return at_exit(false);
	}
	if (!strcmp(what, "exit-signal")) {
		return at_exit(true);
	}
	if (!strcmp(what, "trim")) {
		return trim();
	}
	if (!strcmp(what, "contexts")) {
		return contexts();
	}
	if (!strcmp(what, "api")) {
		return api();
	}
	if (!strcmp(what, "threads")) {
		return threads();
	}
	if (!strcmp(what, "bench")) {
		return bench(argc > 2 ? atol(argv[2]) : 1000000);
	}
	fprintf(stderr, "unknown scenario %s\n", what);
	return 2;
}
