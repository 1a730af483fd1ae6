/* The batch of the issue with its GPU part, against the fake CUDA driver
 * of the GPU tests (tests/gpu/fake-cuda.c, built as libcuda.so.1):
 * 1 000 jobs, each in a scope, each leaking a temp directory, an fd, a
 * SQLite connection and a GPU buffer; none may be held at the end, and the
 * fd count must stay flat.  Then a GPU buffer the shim never saw
 * allocated, registered and released by a live cleanup at HIGH; and the
 * original cleaner's example (docs/api.md) with a driver.
 *
 * The driver is reached as the CUDA runtime reaches it: dlopen and dlsym.
 * Exits 77 (skipped) when no libcuda.so.1 can be loaded, or when the one
 * found is not the fake (its test hooks are missing). */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rcshim.h>

#define JOBS 1000

typedef int (*cu_init_fn)(unsigned);
typedef int (*cu_device_get_fn)(int *, int);
typedef int (*cu_ctx_create_fn)(void **, unsigned, int);
typedef int (*cu_mem_alloc_fn)(unsigned long long *, size_t);
typedef size_t (*fake_count_fn)(void);
typedef unsigned long long (*fake_unseen_fn)(size_t);

static int failures;

#define CHECK(cond, ...)                                                        \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "batch-gpu.c:%d: %s: ", __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                            \
			fputc('\n', stderr);                                     \
			if (++failures > 20) {                                   \
				exit(1);                                         \
			}                                                        \
		}                                                                \
	} while (0)

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (d && readdir(d)) {
		n++;
	}
	if (d) {
		closedir(d);
	}
	return n;
}

static cu_mem_alloc_fn mem_alloc;

static void
job(const char *base, int i, char *dir, size_t len)
{
	char path[512];
	sqlite3 *db;
	unsigned long long dptr = 0;

	snprintf(dir, len, "%s-job%04d-XXXXXX", base, i);
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/job.db", dir);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK, "sqlite3_open");
	sqlite3_exec(db, "PRAGMA synchronous=OFF; CREATE TABLE r(x); INSERT INTO r VALUES (1)",
		     NULL, NULL, NULL);
	snprintf(path, sizeof(path), "%s/out", dir);
	CHECK(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600) > 2, "open");
	CHECK(mem_alloc(&dptr, 1 << 20) == 0 && dptr, "cuMemAlloc_v2");
}

int
main(void)
{
	char base[] = "/tmp/rcshim-batch-gpu-XXXXXX", dir[600];
	struct rcshim_result r;
	void *ctx;
	int dev;

	void *cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!cuda) {
		printf("no libcuda.so.1 (%s): skipped\n", dlerror());
		return 77;
	}
	fake_count_fn live_count = (fake_count_fn)dlsym(cuda, "fake_cuda_live_count");
	fake_unseen_fn alloc_unseen = (fake_unseen_fn)dlsym(cuda, "fake_cuda_alloc_unseen");
	cu_init_fn init = (cu_init_fn)dlsym(cuda, "cuInit");
	cu_device_get_fn device_get = (cu_device_get_fn)dlsym(cuda, "cuDeviceGet");
	cu_ctx_create_fn ctx_create = (cu_ctx_create_fn)dlsym(cuda, "cuCtxCreate_v2");
	mem_alloc = (cu_mem_alloc_fn)dlsym(cuda, "cuMemAlloc_v2");
	if (!live_count || !alloc_unseen) {
		printf("libcuda.so.1 is not the fake driver of the tests: skipped\n");
		return 77;
	}
	if (!init || !device_get || !ctx_create || !mem_alloc || init(0) != 0 ||
	    device_get(&dev, 0) != 0 || ctx_create(&ctx, 0, dev) != 0) {
		printf("the fake driver does not start\n");
		return 1;
	}
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 99;
	}

	/* A first job: SQLite's and the driver's start-up are not the
	 * batch's. */
	rcshim_scope s = rcshim_scope_begin("warm-up");
	job(base, -1, dir, sizeof(dir));
	rcshim_scope_end(s, RCSHIM_HIGH, &r);
	int fds = open_fds();
	size_t gpu = live_count();

	uint64_t cleaned[RCSHIM_KIND_COUNT] = { 0 };
	for (int i = 0; i < JOBS; i++) {
		s = rcshim_scope_begin("job");
		job(base, i, dir, sizeof(dir));
		CHECK(rcshim_scope_end(s, RCSHIM_HIGH, &r) == RCSHIM_OK, "job %d: %s", i,
		      rcshim_status_name(r.status));
		for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
			cleaned[k] += r.kind[k].cleaned;
		}
		CHECK(r.kind[RCSHIM_KIND_GPU].cleaned == 1 &&
			      r.kind[RCSHIM_KIND_GPU].bytes == 1 << 20,
		      "job %d: gpu cleaned %llu, %llu bytes", i,
		      (unsigned long long)r.kind[RCSHIM_KIND_GPU].cleaned,
		      (unsigned long long)r.kind[RCSHIM_KIND_GPU].bytes);
		CHECK(access(dir, F_OK) != 0, "job %d: %s left", i, dir);
		CHECK(open_fds() == fds, "job %d: %d fds open, %d before", i, open_fds(), fds);
		CHECK(live_count() == gpu, "job %d: %zu GPU allocations live, %zu before", i,
		      live_count(), gpu);
	}
	CHECK(cleaned[RCSHIM_KIND_TEMP] == JOBS, "temp %llu", (unsigned long long)cleaned[0]);
	CHECK(cleaned[RCSHIM_KIND_FD] == JOBS, "fd %llu", (unsigned long long)cleaned[1]);
	CHECK(cleaned[RCSHIM_KIND_SQLITE] == JOBS, "sqlite %llu", (unsigned long long)cleaned[2]);
	CHECK(cleaned[RCSHIM_KIND_GPU] == JOBS, "gpu %llu", (unsigned long long)cleaned[3]);
	printf("%d jobs: temp %llu, fd %llu, sqlite %llu, gpu %llu reclaimed; "
	       "%d fds and %zu GPU allocations before and after\n",
	       JOBS, (unsigned long long)cleaned[0], (unsigned long long)cleaned[1],
	       (unsigned long long)cleaned[2], (unsigned long long)cleaned[3], fds, gpu);

	/* A buffer the shim never saw: registered, it is released at live
	 * HIGH by the registered step through the GPU module. */
	unsigned long long unseen = alloc_unseen(4096);
	CHECK(unseen != 0, "fake_cuda_alloc_unseen");
	CHECK(live_count() == gpu + 1, "the unseen buffer is not live");
	CHECK(rcshim_register_gpu_buffer(unseen, 4096, "unseen") != 0, "register");
	CHECK(rcshim_clean(RCSHIM_MEDIUM, &r) == RCSHIM_OK, "clean MEDIUM");
	CHECK(live_count() == gpu + 1, "freed below HIGH");
	CHECK(rcshim_clean(RCSHIM_HIGH, &r) == RCSHIM_OK, "clean HIGH");
	CHECK(r.kind[RCSHIM_KIND_GPU].cleaned >= 1, "gpu cleaned %llu",
	      (unsigned long long)r.kind[RCSHIM_KIND_GPU].cleaned);
	CHECK(live_count() == gpu, "%zu GPU allocations live, %zu expected", live_count(), gpu);
	printf("registered GPU buffer: freed at HIGH\n");

	/* The original cleaner's example (docs/api.md) with a driver: the
	 * temp directory at LOW and above, the file and the database from
	 * MEDIUM, the GPU buffer from HIGH — 1, 3, 4, 4 items.  (At CRITICAL
	 * the live cleanup is destructive and takes every temp artifact of
	 * the process, this program's base directory included.) */
	for (int p = RCSHIM_LOW; p <= RCSHIM_CRITICAL; p++) {
		char d[600], f[700];
		sqlite3 *db;
		s = rcshim_scope_begin("round");
		snprintf(d, sizeof(d), "%s-frames-XXXXXX", base);
		CHECK(mkdtemp(d) != NULL, "mkdtemp");
		rcshim_register_temp_dir(d, "frames");
		snprintf(f, sizeof(f), "%s/frame", d);
		rcshim_register_file(fopen(f, "w"), "current frame");
		rcshim_register_gpu_buffer(alloc_unseen(1 << 16), 1 << 16, "decoder output");
		sqlite3_open(":memory:", &db);
		sqlite3_exec(db, "CREATE TABLE frames(name)", NULL, NULL, NULL);
		rcshim_register_db(db, "index");
		rcshim_clean((rcshim_priority)p, &r);
		const struct rcshim_kind_result *k = r.kind;
		CHECK(k[RCSHIM_KIND_TEMP].cleaned >= 1 && access(d, F_OK) != 0 &&
			      k[RCSHIM_KIND_FD].cleaned == (p >= RCSHIM_MEDIUM) &&
			      k[RCSHIM_KIND_SQLITE].cleaned == (p >= RCSHIM_MEDIUM) &&
			      k[RCSHIM_KIND_GPU].cleaned == (p >= RCSHIM_HIGH) && r.failed == 0 &&
			      r.skipped == 0,
		      "clean(%s): temp %llu, fd %llu, sqlite %llu, gpu %llu, %llu failed, "
		      "%llu skipped", rcshim_priority_name((rcshim_priority)p),
		      (unsigned long long)k[RCSHIM_KIND_TEMP].cleaned,
		      (unsigned long long)k[RCSHIM_KIND_FD].cleaned,
		      (unsigned long long)k[RCSHIM_KIND_SQLITE].cleaned,
		      (unsigned long long)k[RCSHIM_KIND_GPU].cleaned,
		      (unsigned long long)r.failed, (unsigned long long)r.skipped);
		printf("original example, clean(%s): gpu %llu cleaned, %llu kept\n",
		       rcshim_priority_name((rcshim_priority)p),
		       (unsigned long long)k[RCSHIM_KIND_GPU].cleaned,
		       (unsigned long long)k[RCSHIM_KIND_GPU].skipped);
		rcshim_scope_end(s, RCSHIM_CRITICAL, NULL);
	}
	CHECK(live_count() == gpu, "%zu GPU allocations live, %zu expected", live_count(), gpu);

	rmdir(base);
	return failures ? 1 : 0;
}
