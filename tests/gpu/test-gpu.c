/* GPU memory under the shim (issue 5), against the fake libcuda.so.1 built
 * by the test suite: through the CUDA runtime's path (dlopen, dlsym,
 * cuGetProcAddress) and through direct linking alike. */
#include "build-config.h"

#include <check.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../preload/common.h"
#include "test.h"

static const char *const programs[] = { "gpu-runtime", "gpu-direct" };

static const char *
gpu_dir(void)
{
	static char dir[4096];
	snprintf(dir, sizeof(dir), "%s", t_victim("gpu"));
	return dir;
}

static const char *
env_libpath(void)
{
	static char buf[4200];
	snprintf(buf, sizeof(buf), "LD_LIBRARY_PATH=%s", gpu_dir());
	return buf;
}

/* Runs tests/gpu/@prog @scenario [@arg] with the fake driver on the
 * library path, plus @extra ("NAME=VALUE", NULL-terminated, may be NULL). */
static void
run(struct rc_run *r, bool preload, const char *prog, const char *scenario, const char *arg,
    const char *const *extra)
{
	char path[600];
	const char *env[16];
	size_t k = 0;
	env[k++] = env_libpath();
	env[k++] = "RCSHIM_SIGNAL=none";
	for (const char *const *e = extra; e && *e && k < 15; e++) {
		env[k++] = *e;
	}
	env[k] = NULL;
	snprintf(path, sizeof(path), "gpu/%s", prog);
	const char *argv[] = { t_victim(path), scenario, arg, NULL };
	t_run(r, preload, env, NULL, argv);
}

/* @out without the lines about the shim ("rcshim: ..."). */
static char *
program_lines(const char *out)
{
	char *copy = strdup(out), *res = calloc(1, strlen(out) + 1);
	for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "rcshim:", 7) != 0) {
			strcat(res, line);
			strcat(res, "\n");
		}
	}
	free(copy);
	return res;
}

#define ck_assert_has(hay, needle)                                                     \
	ck_assert_msg(strstr((hay), (needle)), "missing \"%s\" in:\n%s", (needle), (hay))
#define ck_assert_hasnt(hay, needle)                                                   \
	ck_assert_msg(!strstr((hay), (needle)), "unexpected \"%s\" in:\n%s", (needle), (hay))

/* Runs @scenario bare and under the shim: same exit status, same program
 * output; the shim's run is left in @shim. */
static void
run_both(struct rc_run *shim, const char *prog, const char *scenario, const char *arg,
	 const char *const *extra)
{
	struct rc_run bare;
	run(&bare, false, prog, scenario, arg, extra);
	run(shim, true, prog, scenario, arg, extra);
	ck_assert_msg(shim->status == bare.status, "%s %s: bare %s, shim %s: %s", prog, scenario,
		      strdup(t_status_str(bare.status)), strdup(t_status_str(shim->status)),
		      shim->err);
	char *b = program_lines(bare.out), *s = program_lines(shim->out);
	ck_assert_msg(strcmp(b, s) == 0, "%s %s: output differs\nbare:\n%s\nshim:\n%s", prog,
		      scenario, b, s);
	free(b);
	free(s);
	t_run_free(&bare);
}

static unsigned long long
leaked_bytes(int n)
{
	unsigned long long sum = 0;
	for (int i = 0; i < n; i++) {
		if (i % 3) {
			sum += 1000ull * (unsigned)(i + 1) + 7ull * (unsigned)i;
		}
	}
	return sum;
}

/* --- N allocations, some freed, some leaked ------------------------------------------ */

/* The report (rcshim_report, JSON) lists exactly the leaked allocations,
 * with their sizes and their call site (tests/gpu/check-report.py). */
static void
check_report(const char *report, const char *function, int n)
{
	struct rc_run r;
	char script[4200];
	const char *argv[64] = { "python3", script, report, function };
	char sizes[64][24];
	size_t k = 4;

	snprintf(script, sizeof(script), "%s/check-report.py", RC_GPU_SRCDIR);
	for (int i = 0; i < n && k < 63; i++) {
		if (i % 3) {
			snprintf(sizes[k], sizeof(sizes[k]), "%llu",
				 1000ull * (unsigned)(i + 1) + 7ull * (unsigned)i);
			argv[k] = sizes[k];
			k++;
		}
	}
	argv[k] = NULL;
	t_run(&r, false, NULL, NULL, argv);
	ck_assert_msg(strcmp(r.out, "ok\n") == 0, "report %s: %s%s", report, r.out, r.err);
	t_run_free(&r);
}

static void
check_leak(const char *prog, const char *const *extra)
{
	struct rc_run r;
	struct scratch s;
	char want[200], report[700], env_report[800];
	const char *env[8];
	size_t k = 0;
	unsigned long long bytes = leaked_bytes(12);

	scratch_init(&s);
	snprintf(report, sizeof(report), "%s/report.json", s.dir);
	snprintf(env_report, sizeof(env_report), "GPU_TEST_REPORT=%s", report);
	env[k++] = env_report;
	for (const char *const *e = extra; e && *e && k < 7; e++) {
		env[k++] = *e;
	}
	env[k] = NULL;
	run_both(&r, prog, "leak", "12", env);
	ck_assert_int_eq(r.status, 0);
	check_report(report, "leak", 12);
	snprintf(want, sizeof(want), "leaked 8 allocations, %llu bytes; driver holds %llu bytes\n",
		 bytes, bytes);
	ck_assert_has(r.out, want);
	snprintf(want, sizeof(want),
		 "rcshim: emergency status=0 gpu cleaned=8 failed=0 skipped=0 bytes=%llu\n", bytes);
	ck_assert_has(r.out, want);
	ck_assert_has(r.out, "rcshim: live after 0 bytes, 0 allocations\n");
	t_run_free(&r);
	scratch_fini(&s);
}

START_TEST(leak_runtime)
{
	check_leak("gpu-runtime", NULL);
}
END_TEST

START_TEST(leak_direct)
{
	check_leak("gpu-direct", NULL);
}
END_TEST

/* A driver whose cuGetProcAddress hands out internal aliases rather than
 * its exported functions: the shim recognises the variant by version. */
START_TEST(leak_runtime_aliases)
{
	const char *env[] = { "FAKE_CUDA_PROC_ALIASES=1", NULL };
	check_leak("gpu-runtime", env);
}
END_TEST

/* --- every kind of allocation ------------------------------------------------------- */

static void
check_kinds(const char *prog)
{
	struct rc_run r;
	char want[200];
	/* device, pitched (pitch 1024 x 3), managed, async, async ptsz,
	 * pool, host, host alloc, physical */
	unsigned long long bytes = 1000 + 3072 + 2000 + 3000 + 3500 + 4000 + 5000 + 6000 + 7000;

	run_both(&r, prog, "kinds", NULL, NULL);
	ck_assert_int_eq(r.status, 0);
	snprintf(want, sizeof(want), "allocated 9, %llu bytes; driver holds %llu bytes\n", bytes,
		 bytes);
	ck_assert_has(r.out, want);
	snprintf(want, sizeof(want),
		 "rcshim: emergency status=0 gpu cleaned=9 failed=0 skipped=0 bytes=%llu\n", bytes);
	ck_assert_has(r.out, want);
	ck_assert_has(r.out, "rcshim: live after 0 bytes, 0 allocations\n");
	/* The queued work was waited for; the pools were trimmed. */
	ck_assert_has(r.out, "rcshim: hazards 0, default pool spare 0, pool reserved 0\n");
	t_run_free(&r);
}

START_TEST(kinds_runtime)
{
	check_kinds("gpu-runtime");
}
END_TEST

START_TEST(kinds_direct)
{
	check_kinds("gpu-direct");
}
END_TEST

/* --- scopes ---------------------------------------------------------------------------- */

START_TEST(scope_frees_what_it_allocated)
{
	struct rc_run r;
	const char *prog = programs[_i];

	run_both(&r, prog, "scope", NULL, NULL);
	ck_assert_int_eq(r.status, 0);
	/* 2000 (device) + 4000 (host) still held at the scope's end. */
	ck_assert_has(r.out, "rcshim: scope status=0 gpu cleaned=2 failed=0 skipped=0 bytes=6000\n");
	ck_assert_has(r.out, "rcshim: live after scope 1111 bytes\n");
	ck_assert_has(r.out, "rcshim: free outside: 0\n");
	ck_assert_has(r.out, "rcshim: emergency status=0 gpu cleaned=0 failed=0 skipped=0 bytes=0\n");
	t_run_free(&r);
}
END_TEST

/* Below HIGH a scope keeps its GPU memory; it passes to the process. */
START_TEST(scope_below_high_keeps_gpu_memory)
{
	struct rc_run r;
	const char *prog = programs[_i];

	run_both(&r, prog, "scope-medium", NULL, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_has(r.out, "rcshim: scope status=0 gpu cleaned=0 failed=0 skipped=0 bytes=0\n");
	ck_assert_has(r.out, "rcshim: live after scope 7111 bytes\n");
	ck_assert_has(r.out, "rcshim: free outside: 0\n");
	ck_assert_has(r.out,
		      "rcshim: emergency status=0 gpu cleaned=2 failed=0 skipped=0 bytes=6000\n");
	ck_assert_has(r.out, "rcshim: live after 0 bytes, 0 allocations\n");
	t_run_free(&r);
}
END_TEST

/* --- process end: reported, never freed ---------------------------------------------- */

START_TEST(exit_reports_and_never_frees)
{
	const char *prog = programs[_i];
	struct scratch s;
	struct rc_run bare, shim;
	char env_log[700], log[600];

	scratch_init(&s);
	snprintf(log, sizeof(log), "%s/fake.log", s.dir);
	snprintf(env_log, sizeof(env_log), "FAKE_CUDA_LOG=%s", log);
	const char *env[] = { env_log, "RCSHIM_LOG=info", "RCSHIM_EXIT_PRIORITY=CRITICAL", NULL };

	run(&bare, false, prog, "exit", NULL, env);
	char *bare_log = t_read_file(log);
	unlink(log);
	run(&shim, true, prog, "exit", NULL, env);
	char *shim_log = t_read_file(log);
	ck_assert_int_eq(bare.status, 0);
	ck_assert_msg(shim.status == 0, "%s: %s", t_status_str(shim.status), shim.err);
	ck_assert_ptr_nonnull(bare_log);
	ck_assert_ptr_nonnull(shim_log);
	/* The driver tore down 4 allocations (1000 bytes) itself, after the
	 * program's atexit handler; nothing was freed after it. */
	ck_assert_str_eq(bare_log, "teardown: 4 allocations, 1000 bytes\n");
	ck_assert_str_eq(shim_log, bare_log);
	ck_assert_has(shim.err, "gpu: 4 allocations (1000 bytes) held at exit, left to the driver");
	free(bare_log);
	free(shim_log);
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

START_TEST(termination_signal_never_frees)
{
	const char *prog = programs[_i];
	struct scratch s;
	struct rc_run bare, shim;
	char env_log[700], log[600];

	scratch_init(&s);
	snprintf(log, sizeof(log), "%s/fake.log", s.dir);
	snprintf(env_log, sizeof(env_log), "FAKE_CUDA_LOG=%s", log);
	const char *env[] = { env_log, "RCSHIM_PRIORITY=CRITICAL", NULL };

	run(&bare, false, prog, "exit-signal", NULL, env);
	run(&shim, true, prog, "exit-signal", NULL, env);
	ck_assert_killed_by(bare.status, SIGTERM);
	ck_assert_killed_by(shim.status, SIGTERM);
	char *shim_log = t_read_file(log);
	ck_assert_msg(!shim_log || !strstr(shim_log, "free after exit"), "log: %s", shim_log);
	free(shim_log);
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* --- live HIGH: pools trimmed ---------------------------------------------------------- */

START_TEST(live_high_trims_pools)
{
	struct rc_run r;
	const char *prog = programs[_i];

	run_both(&r, prog, "trim", NULL, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_has(r.out, "reserved: default 15000, pool 20000\n");
	ck_assert_has(r.out,
		      "rcshim: live HIGH status=0 gpu cleaned=2 failed=0 skipped=0 bytes=30000\n");
	ck_assert_has(r.out, "rcshim: reserved after: default 5000, pool 0\n");
	ck_assert_has(r.out, "rcshim: free kept: 0, live 0\n");
	t_run_free(&r);
}
END_TEST

/* --- contexts take their memory with them ----------------------------------------------- */

START_TEST(destroyed_contexts_are_forgotten)
{
	struct rc_run r;
	const char *prog = programs[_i];

	run_both(&r, prog, "contexts", NULL, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_has(r.out, "driver holds 0 bytes\n");
	ck_assert_has(r.out, "rcshim: emergency status=0 gpu cleaned=0 failed=0 skipped=0 bytes=0\n");
	t_run_free(&r);
}
END_TEST

/* --- the driver's answers, unchanged ---------------------------------------------------- */

START_TEST(api_results_and_errno_unchanged)
{
	struct rc_run r;
	const char *prog = programs[_i];

	run_both(&r, prog, "api", NULL, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "free unseen: 0 errno 4242\n"
				"free bogus: 1 errno 4343\n"
				"free host bogus: 1\n"
				"release bogus: 1\n"
				"free async bogus: 1\n"
				"alloc: 0 errno 4444\n"
				"alloc 0: 1\n"
				"alloc null: 1\n"
				"free: 0 errno 4545\n"
				"double free: 1\n"
				"meminfo null: 1\n"
				"meminfo: 0 total 17179869184\n"
				"driver holds 0 bytes\n");
	t_run_free(&r);
}
END_TEST

START_TEST(threads_allocate_at_once)
{
	struct rc_run r;
	const char *prog = programs[_i];
	char want[200];
	unsigned long long leaked = 0;

	run_both(&r, prog, "threads", NULL, NULL);
	ck_assert_int_eq(r.status, 0);
	const char *p = strstr(r.out, "leaked 80 allocations, ");
	ck_assert_ptr_nonnull(p);
	leaked = strtoull(p + strlen("leaked 80 allocations, "), NULL, 10);
	snprintf(want, sizeof(want),
		 "rcshim: emergency status=0 gpu cleaned=80 failed=0 skipped=0 bytes=%llu\n", leaked);
	ck_assert_has(r.out, want);
	ck_assert_has(r.out, "rcshim: live after 0 bytes, 0 allocations\n");
	t_run_free(&r);
}
END_TEST

/* RCSHIM_TRACK without gpu: nothing is tracked, nothing freed. */
START_TEST(untracked_kind_is_left_alone)
{
	struct rc_run r;
	const char *env[] = { "RCSHIM_TRACK=temp,fd", NULL };
	char want[200];
	unsigned long long bytes = leaked_bytes(12);

	run(&r, true, programs[_i], "leak", "12", env);
	ck_assert_int_eq(r.status, 0);
	ck_assert_has(r.out, "rcshim: emergency status=0 gpu cleaned=0 failed=0 skipped=0 bytes=0\n");
	snprintf(want, sizeof(want), "rcshim: live after %llu bytes, 8 allocations\n", bytes);
	ck_assert_has(r.out, want);
	t_run_free(&r);
}
END_TEST

/* A library preloaded after the shim is initialised before it: its
 * constructor's allocation is tracked all the same. */
START_TEST(allocation_before_the_constructor)
{
	struct rc_run r;
	char preload[13000], early[4200], want[200];
	snprintf(early, sizeof(early), "%s/libgpu-early.so", gpu_dir());
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s:%s", t_preload(), early);
	const char *env[] = { preload, NULL };
	unsigned long long bytes = leaked_bytes(12) + 777;

	run(&r, false, "gpu-direct", "leak", "12", env);
	ck_assert_msg(r.status == 0, "%s: %s", t_status_str(r.status), r.err);
	/* A sanitizer runtime preloaded first starts the shim from its own
	 * early calls: then the allocation comes after, and the test shows
	 * less (but still that it is tracked). */
	if (strstr(t_preload(), "libasan")) {
		ck_assert_has(r.err, "early: allocated 777 bytes");
	} else {
		ck_assert_has(r.err, "early: allocated 777 bytes before the shim's constructor");
	}
	snprintf(want, sizeof(want),
		 "rcshim: emergency status=0 gpu cleaned=9 failed=0 skipped=0 bytes=%llu\n", bytes);
	ck_assert_has(r.out, want);
	t_run_free(&r);
}
END_TEST

/* --- the lookups ------------------------------------------------------------------------ */

START_TEST(lookups_hand_out_wrappers_for_tracked_names_only)
{
	struct rc_run r;

	run_both(&r, "gpu-runtime", "lookup", NULL, NULL);
	ck_assert_int_eq(r.status, 0);
	static const char *const wrapped[] = {
		"cuMemAlloc@3020/0", "cuMemFree@3020/0", "cuMemAllocHost@3020/0",
		"cuMemAllocAsync@11020/0", "cuMemAllocAsync@11020/2", "cuMemFreeAsync@11020/2",
		"cuMemCreate@10020/0", "cuCtxDestroy@4000/0", "cuDevicePrimaryCtxRelease@7000/0",
		"cuDevicePrimaryCtxRelease@11000/0", "cuGetProcAddress@11030/0",
		"cuGetProcAddress@12000/0",
	};
	static const char *const plain[] = {
		"cuMemAlloc@2000/0", /* the legacy 32-bit ABI */
		"cuMemGetInfo@3020/0",
		"cuCtxGetCurrent@4000/0",
	};
	char want[200];
	for (size_t i = 0; i < sizeof(wrapped) / sizeof(*wrapped); i++) {
		snprintf(want, sizeof(want), "rcshim: %s wrapped: yes\n", wrapped[i]);
		ck_assert_has(r.out, want);
	}
	for (size_t i = 0; i < sizeof(plain) / sizeof(*plain); i++) {
		snprintf(want, sizeof(want), "rcshim: %s wrapped: no\n", plain[i]);
		ck_assert_has(r.out, want);
	}
	ck_assert_hasnt(r.out, "): no\n"); /* "same as dlsym(...): no" */
	ck_assert_has(r.out, "too new: 1 null\n");
	ck_assert_has(r.out, "unknown: 0 null status 1\n");
	ck_assert_has(r.out, "dlsym unknown: null, dlerror set\n");
	ck_assert_has(r.out, "dlsym known: pointer, dlerror clear\n");
	t_run_free(&r);
}
END_TEST

/* dlsym(RTLD_NEXT / RTLD_DEFAULT) answers relative to the object that
 * calls it, not to the shim. */
START_TEST(dlsym_is_relative_to_its_caller)
{
	struct rc_run bare, shim;
	char lib[4200];
	snprintf(lib, sizeof(lib), "%s/libgpu-local-c.so", gpu_dir());
	const char *argv[] = { t_victim("gpu/gpu-dlsym-caller"), lib, NULL };
	const char *env[] = { "RCSHIM_SIGNAL=none", NULL };

	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(bare.status, 0);
	ck_assert_msg(shim.status == 0, "%s: %s", t_status_str(shim.status), shim.err);
	const char *want = "main next rc_probe: 1\n"
			   "main default rc_probe: 1\n"
			   "b next rc_probe: null\n"
			   "c default rc_local_only: found\n"
			   "c next rc_local_only: found\n"
			   "main default rc_local_only: null\n"
			   "missing: null, dlerror set\n"
			   "dlerror again: clear\n"
			   "next getpid: found\n";
	ck_assert_str_eq(bare.out, want);
	ck_assert_str_eq(shim.out, want);
	t_run_free(&bare);
	t_run_free(&shim);
}
END_TEST

/* --- no driver at all --------------------------------------------------------------------- */

START_TEST(without_a_driver_the_program_is_unchanged)
{
	struct rc_run bare, shim;
	const char *argv[] = { t_victim("gpu/gpu-runtime"), "absent", NULL };
	const char *env[] = { "RCSHIM_SIGNAL=none", "RCSHIM_LOG=debug", NULL,
			      NULL };

	/* A machine with a real driver: the program looks for one by a name
	 * no driver has (the shim's view is the same: no libcuda.so.1). */
	void *real = dlopen("libcuda.so.1", RTLD_LAZY);
	if (real) {
		dlclose(real);
		env[2] = "GPU_TEST_DRIVER=libcuda-absent.so.1";
	}
	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_int_eq(bare.status, 0);
	ck_assert_status_eq(shim.status, bare.status);
	ck_assert_str_eq(shim.out, bare.out);
	ck_assert_msg(strncmp(bare.out, "no CUDA driver: libcuda", 23) == 0 &&
			      strstr(bare.out, "cannot open shared object file"),
		      "%s", bare.out);
	/* Silently off: not a word about the GPU. */
	ck_assert_hasnt(shim.err, "gpu");
	t_run_free(&bare);
	t_run_free(&shim);
}
END_TEST

/* The report tells a process without a CUDA driver from one whose GPU
 * memory was all freed: "gpu: absent (no CUDA driver)" in text, "present":
 * false in JSON.  (With a driver, check-report.py requires "present": true.) */
START_TEST(report_says_gpu_absent_without_a_driver)
{
	struct scratch s;
	struct rc_run r;
	char text[600], json[600], env_text[700], env_json[700];
	const char *argv[] = { t_victim("gpu/gpu-runtime"), "absent", NULL };
	const char *env[] = { "RCSHIM_SIGNAL=none", NULL, NULL, NULL, NULL };

	scratch_init(&s);
	snprintf(text, sizeof(text), "%s/report.txt", s.dir);
	snprintf(json, sizeof(json), "%s/report.json", s.dir);
	snprintf(env_text, sizeof(env_text), "RCSHIM_REPORT=%s", text);
	snprintf(env_json, sizeof(env_json), "RCSHIM_REPORT=%s", json);
	void *real = dlopen("libcuda.so.1", RTLD_LAZY);
	size_t k = 1;
	if (real) {
		dlclose(real);
		env[k++] = "GPU_TEST_DRIVER=libcuda-absent.so.1";
	}
	env[k] = env_text;
	t_run(&r, true, env, NULL, argv);
	ck_assert_int_eq(r.status, 0);
	t_run_free(&r);
	env[k] = env_json;
	env[k + 1] = "RCSHIM_REPORT_FORMAT=json";
	t_run(&r, true, env, NULL, argv);
	ck_assert_int_eq(r.status, 0);
	t_run_free(&r);

	char *t = t_read_file(text), *j = t_read_file(json);
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(j);
	ck_assert_has(t, "\ngpu: absent (no CUDA driver)\n");
	ck_assert_hasnt(t, "gpu: 0 held");
	ck_assert_has(j, "{\"kind\":\"gpu\",\"tracked\":true,\"count\":0,\"bytes\":0,"
			 "\"present\":false,");
	free(t);
	free(j);
	scratch_fini(&s);
}
END_TEST

#ifdef RC_TEST_HAVE_CUDART
/* The real CUDA runtime's lookups go through the shim, and it behaves the
 * same with and without it. */
START_TEST(real_cuda_runtime_against_the_fake_driver)
{
	struct rc_run bare, shim;
	const char *argv[] = { t_victim("gpu/gpu-cudart"), NULL };
	const char *env[] = { env_libpath(), "RCSHIM_SIGNAL=none", "RCSHIM_LOG=debug", NULL };

	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_status_eq(shim.status, bare.status);
	ck_assert_str_eq(shim.out, bare.out);
	ck_assert_has(shim.err, "gpu: cuGetProcAddress(cuMemAlloc, 3020, 0): cuMemAlloc_v2 wrapped");
	ck_assert_has(shim.err, "gpu: cuGetProcAddress(cuMemFree, 3020, 0): cuMemFree_v2 wrapped");
	ck_assert_has(shim.err, "gpu: cuGetProcAddress(cuMemAllocAsync, 11020, 2): "
				"cuMemAllocAsync_ptsz wrapped");
	ck_assert_has(shim.err, "gpu: cuGetProcAddress(cuDevicePrimaryCtxReset, 7000, 0): "
				"cuDevicePrimaryCtxReset wrapped");
	t_run_free(&bare);
	t_run_free(&shim);
}
END_TEST
#endif

#define ADD_LOOP(s_, fn_, n_)                                                          \
	do {                                                                           \
		TCase *tc_ = tcase_create(#fn_);                                       \
		tcase_set_timeout(tc_, 120);                                           \
		tcase_add_loop_test(tc_, fn_, 0, (n_));                                \
		suite_add_tcase((s_), tc_);                                            \
	} while (0)

TEST_SUITE(gpu)
{
	/* meson test puts the fake driver's directory on the library path
	 * (the test depends on it): each run here says where the driver is,
	 * or that there is none. */
	unsetenv("LD_LIBRARY_PATH");
	ADD_TEST(s, leak_runtime);
	ADD_TEST(s, leak_direct);
	ADD_TEST(s, leak_runtime_aliases);
	ADD_TEST(s, kinds_runtime);
	ADD_TEST(s, kinds_direct);
	ADD_LOOP(s, scope_frees_what_it_allocated, 2);
	ADD_LOOP(s, scope_below_high_keeps_gpu_memory, 2);
	ADD_LOOP(s, exit_reports_and_never_frees, 2);
	ADD_LOOP(s, termination_signal_never_frees, 2);
	ADD_LOOP(s, live_high_trims_pools, 2);
	ADD_LOOP(s, destroyed_contexts_are_forgotten, 2);
	ADD_LOOP(s, api_results_and_errno_unchanged, 2);
	ADD_LOOP(s, threads_allocate_at_once, 2);
	ADD_LOOP(s, untracked_kind_is_left_alone, 2);
	ADD_TEST(s, allocation_before_the_constructor);
	ADD_TEST(s, lookups_hand_out_wrappers_for_tracked_names_only);
	ADD_TEST(s, dlsym_is_relative_to_its_caller);
	ADD_TEST(s, without_a_driver_the_program_is_unchanged);
	ADD_TEST(s, report_says_gpu_absent_without_a_driver);
#ifdef RC_TEST_HAVE_CUDART
	ADD_TEST(s, real_cuda_runtime_against_the_fake_driver);
#endif
}
