/* Scopes (core/scope.c), registrations and the registered step
 * (clean/custom.c, clean/step-custom.c), result rendering (clean/render.c)
 * and the hand-over of records between scopes (core/track.c) — the core,
 * called directly, without preloading.  tests/api/ runs the same through
 * the public API in programs that link librcshim.so. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "clean/custom.h"
#include "clean/engine.h"
#include "clean/render.h"
#include "core/fdtable.h"
#include "core/log.h"
#include "core/registry.h"
#include "clean/scope.h"
#include "core/scope.h"
#include "core/session.h"
#include "core/state.h"
#include "trigger/live.h"
#include "trigger/worker.h"
#include "test.h"

/* --- state --------------------------------------------------------------------- */

static char sc_dir[PATH_MAX / 2];  /* scratch, canonical */
static char sc_root[PATH_MAX / 2]; /* the temp root inside it */

static int
sc_rm(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void
sc_teardown(void)
{
	rc_scope_abandon_thread();
	rc_custom_reset();
	rc_reg_reset();
	rc_fd_reset();
	if (sc_dir[0]) {
		nftw(sc_dir, sc_rm, 16, FTW_DEPTH | FTW_PHYS);
		sc_dir[0] = '\0';
	}
	rc_log_threshold = RC_LOG_WARN;
}

/* The shim's state as the constructor makes it, in a scratch tree whose
 * "root" is the only temp root. */
static void
sc_setup(void)
{
	static char xdg_env[PATH_MAX + 32], roots_env[PATH_MAX + 32];
	char tmpl[] = "/tmp/rcshim-scope-XXXXXX", xdg[PATH_MAX], canon[PATH_MAX];

	sc_teardown();
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_ptr_nonnull(realpath(tmpl, canon));
	ck_assert_uint_lt(strlen(canon), sizeof(sc_dir) - 16);
	memcpy(sc_dir, canon, strlen(canon) + 1);
	ck_assert_int_lt(snprintf(sc_root, sizeof(sc_root), "%s/root", sc_dir), (int)sizeof(sc_root));
	ck_assert_int_lt(snprintf(xdg, sizeof(xdg), "%s/xdg", sc_dir), (int)sizeof(xdg));
	ck_assert_int_eq(mkdir(sc_root, 0700), 0);
	ck_assert_int_eq(mkdir(xdg, 0700), 0);
	snprintf(xdg_env, sizeof(xdg_env), "XDG_RUNTIME_DIR=%s", xdg);
	snprintf(roots_env, sizeof(roots_env), "RCSHIM_TMP_ROOTS=%s", sc_root);
	char *envp[] = { xdg_env, roots_env, (char *)"RCSHIM_LOG=quiet", NULL };
	atomic_store(&rc_ready, 0);
	atomic_store(&rc_finished, false);
	memset(&rc_session, 0, sizeof(rc_session));
	rc_state_init(envp);
	ck_assert_int_eq(atomic_load(&rc_ready), 2);
}

static bool
is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* An fd tracked as the tracking core does inside the current scope (with
 * its identity). */
static int
tracked_fd(void)
{
	struct stat st;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_gt(fd, 2);
	ck_assert_int_eq(fstat(fd, &st), 0);
	rc_fd_track(fd, 0, rc_scope_cur, 0, getpid(), 0, &st);
	return fd;
}

/* A temp directory under the root, recorded in the current scope. */
static void
tracked_dir(char *path, size_t n, const char *name)
{
	struct stat st;
	ck_assert_int_lt(snprintf(path, n, "%s/%s", sc_root, name), (int)n);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(lstat(path, &st), 0);
	struct rc_record rec = {
		.kind = RCSHIM_KIND_TEMP, .flags = RC_REC_DIR,
		.dev = (uint32_t)st.st_dev, .ino = st.st_ino,
		.pid = getpid(), .scope = rc_scope_cur, .path = path,
	};
	ck_assert_ptr_nonnull(rc_reg_add(&rec));
}

static uint32_t
fd_scope(int fd)
{
	struct rc_fd_entry e;
	ck_assert(rc_fd_get(fd, &e));
	return e.scope;
}

struct scope_of {
	int kind;
	uint64_t handle;
	uint32_t scope;
	int32_t pid;
	bool found;
};

static bool
find_record(const struct rc_record *r, void *p)
{
	struct scope_of *s = p;
	if (r->kind == s->kind && r->handle == s->handle) {
		s->scope = r->scope;
		s->pid = r->pid;
		s->found = true;
	}
	return false;
}

static struct scope_of
record_of(int kind, uint64_t handle)
{
	struct scope_of s = { kind, handle, 0, 0, false };
	struct rc_record *none;
	rc_reg_collect(find_record, &s, false, &none);
	return s;
}

/* --- scopes ----------------------------------------------------------------------- */

START_TEST(scope_stack)
{
	char name[RC_SCOPE_NAME_MAX];
	struct rcshim_result r;

	sc_setup();
	size_t open0 = rc_scope_open_count();
	ck_assert_uint_eq(rc_scope_cur, 0);
	uint32_t a = rc_scope_begin("outer", 0);
	uint32_t b = rc_scope_begin("inner", RCSHIM_SCOPE_FREE_HEAP);
	ck_assert_uint_ne(a, 0);
	ck_assert_uint_ne(b, a);
	ck_assert_uint_eq(rc_scope_cur, b);
	ck_assert_uint_eq(rc_scope_depth(), 2);
	ck_assert_uint_eq(rc_scope_open_count(), open0 + 2);
	ck_assert(rc_scope_name(a, name, sizeof(name)));
	ck_assert_str_eq(name, "outer");
	ck_assert(rc_scope_name(b, name, 3));
	ck_assert_str_eq(name, "in");

	ck_assert_int_eq(rc_scope_end(b, RCSHIM_LOW, &r), RCSHIM_OK);
	ck_assert_uint_eq(rc_scope_cur, a);
	ck_assert(!rc_scope_name(b, name, sizeof(name)));
	ck_assert_int_eq(rc_scope_end(b, RCSHIM_LOW, &r), RCSHIM_INVALID);
	ck_assert_int_eq(rc_scope_end(a, (rcshim_priority)9, &r), RCSHIM_INVALID);
	ck_assert_int_eq(rc_scope_end(0, RCSHIM_LOW, NULL), RCSHIM_INVALID);
	ck_assert_int_eq(rc_scope_end(a, RCSHIM_LOW, NULL), RCSHIM_OK);
	ck_assert_uint_eq(rc_scope_cur, 0);
	ck_assert_uint_eq(rc_scope_depth(), 0);
	ck_assert_uint_eq(rc_scope_open_count(), open0);

	errno = 0;
	ck_assert_uint_eq(rc_scope_begin("bad", 1u << 7), 0);
	ck_assert_int_eq(errno, EINVAL);
	sc_teardown();
}
END_TEST

START_TEST(scope_hands_over_what_it_keeps)
{
	struct rcshim_result r;
	char d[PATH_MAX];

	sc_setup();
	uint32_t outer = rc_scope_begin("outer", 0);
	uint32_t inner = rc_scope_begin("inner", 0);
	int fd = tracked_fd();
	tracked_dir(d, sizeof(d), "inner-dir");
	struct rc_record gpu = { .kind = RCSHIM_KIND_GPU, .handle = 0x1000, .size = 64,
				 .pid = getpid(), .scope = inner };
	ck_assert_ptr_nonnull(rc_reg_add(&gpu));
	struct rc_record other_pid = { .kind = RCSHIM_KIND_GPU, .handle = 0x2000,
				       .pid = getpid() + 1, .scope = inner };
	ck_assert_ptr_nonnull(rc_reg_add(&other_pid));

	/* LOW: the directory goes; the fd and the GPU record pass to the
	 * enclosing scope, the other process's record stays as it was. */
	ck_assert_int_eq(rc_scope_end(inner, RCSHIM_LOW, &r), RCSHIM_OK);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	ck_assert_int_eq(access(d, F_OK), -1);
	ck_assert(is_open(fd));
	ck_assert_uint_eq(fd_scope(fd), outer);
	ck_assert_uint_eq(record_of(RCSHIM_KIND_GPU, 0x1000).scope, outer);
	ck_assert_uint_eq(record_of(RCSHIM_KIND_GPU, 0x2000).scope, inner);

	/* MEDIUM at the outer one: the fd is closed. */
	ck_assert_int_eq(rc_scope_end(outer, RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_FD].cleaned, 1);
	ck_assert(!is_open(fd));
	/* From the outermost scope to the process. */
	ck_assert_uint_eq(record_of(RCSHIM_KIND_GPU, 0x1000).scope, 0);
	sc_teardown();
}
END_TEST

START_TEST(scope_out_of_order)
{
	struct rcshim_result r;

	sc_setup();
	uint32_t a = rc_scope_begin("a", 0);
	int fa = tracked_fd();
	rc_scope_begin("b", 0);
	int fb = tracked_fd();
	rc_scope_begin("c", 0);
	int fc = tracked_fd();
	ck_assert_int_eq(rc_scope_end(a, RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_FD].cleaned, 3);
	ck_assert(!is_open(fa) && !is_open(fb) && !is_open(fc));
	ck_assert_uint_eq(rc_scope_depth(), 0);
	sc_teardown();
}
END_TEST

struct foreign {
	uint32_t id;
	rcshim_status st;
	uint32_t begun;
	int fd;
};

static void *
end_it(void *p)
{
	struct foreign *f = p;
	f->st = rc_scope_end(f->id, RCSHIM_CRITICAL, NULL);
	return NULL;
}

static void *
exit_inside(void *p)
{
	struct foreign *f = p;
	f->begun = rc_scope_begin("abandoned", 0);
	f->fd = tracked_fd();
	/* The thread-exit destructor hands this to the process. */
	return NULL;
}

START_TEST(scope_threads)
{
	pthread_t t;
	struct foreign f = { 0 };

	sc_setup();
	size_t open0 = rc_scope_open_count();
	f.id = rc_scope_begin("mine", 0);
	int fd = tracked_fd();
	ck_assert_int_eq(pthread_create(&t, NULL, end_it, &f), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(f.st, RCSHIM_INVALID);
	ck_assert(is_open(fd));
	ck_assert_uint_eq(rc_scope_cur, f.id);

	ck_assert_int_eq(pthread_create(&t, NULL, exit_inside, &f), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_uint_ne(f.begun, 0);
	ck_assert_uint_eq(rc_scope_open_count(), open0 + 1);
	ck_assert(is_open(f.fd));
	ck_assert_uint_eq(fd_scope(f.fd), 0);

	ck_assert_int_eq(rc_scope_end(f.id, RCSHIM_MEDIUM, NULL), RCSHIM_OK);
	ck_assert(!is_open(fd));
	ck_assert(is_open(f.fd));
	close(f.fd);
	sc_teardown();
}
END_TEST

/* --- registrations and the registered step ------------------------------------------ */

static char order[128];

static long
note(void *ctx)
{
	const char *name = ctx;
	strncat(order, name, sizeof(order) - strlen(order) - 1);
	return name[0] == 'F' ? -EIO : 1;
}

static rcshim_status
live(rcshim_priority prio, struct rcshim_result *r)
{
	struct rc_clean_req req = { RC_MODE_LIVE, prio, RC_REASON_API, 0, 0 };
	return rc_clean(&req, r);
}

START_TEST(custom_order)
{
	struct rcshim_result r;

	sc_setup();
	uint64_t a = rc_custom_register_cleaner(note, "a", RCSHIM_LOW, "a");
	uint64_t b = rc_custom_register_cleaner(note, "b", RCSHIM_HIGH, "b");
	uint64_t c = rc_custom_register_cleaner(note, "c", RCSHIM_LOW, "c");
	rc_custom_register_cleaner(note, "F", RCSHIM_MEDIUM, "fails");
	ck_assert(a && b && c);
	ck_assert_uint_eq(rc_custom_count(), 4);
	/* b uses a: b first, though a is LOW. */
	ck_assert_int_eq(rc_custom_depends(b, a), RCSHIM_OK);
	ck_assert_int_eq(rc_custom_depends(b, 999), RCSHIM_INVALID);

	order[0] = '\0';
	ck_assert_int_eq(live(RCSHIM_HIGH, &r), RCSHIM_PARTIAL);
	ck_assert_str_eq(order, "cFba");
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_CUSTOM].cleaned, 3);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_CUSTOM].failed, 1);

	/* At LOW, b is kept and so is a. */
	order[0] = '\0';
	ck_assert_int_eq(live(RCSHIM_LOW, &r), RCSHIM_OK);
	ck_assert_str_eq(order, "c");
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_CUSTOM].skipped, 1);

	/* A cycle: b uses a uses b. */
	ck_assert_int_eq(rc_custom_depends(a, b), RCSHIM_OK);
	order[0] = '\0';
	ck_assert_int_eq(live(RCSHIM_HIGH, &r), RCSHIM_PARTIAL);
	ck_assert_uint_eq(strlen(order), 4);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_CUSTOM].cleaned, 3);

	char name[16];
	ck_assert_ptr_nonnull(rc_custom_name(RCSHIM_KIND_CUSTOM, b, name, sizeof(name)));
	ck_assert_str_eq(name, "b");
	ck_assert_int_eq(rc_custom_unregister(b, true), RCSHIM_OK);
	ck_assert_ptr_null(rc_custom_name(RCSHIM_KIND_CUSTOM, b, name, sizeof(name)));
	ck_assert(!record_of(RCSHIM_KIND_CUSTOM, b).found);
	sc_teardown();
}
END_TEST

/* A registered cleaner starts the worker thread before anything has read
 * a live schedule (here no constructor ran; in a program, another
 * library's constructor may register first).  The worker must then sleep,
 * not take the unset schedule for "a timer run is due now" and run the
 * cleaner behind the program's back — the race that made custom_order
 * fail once in a hundred runs under valgrind. */
START_TEST(worker_before_live_schedule)
{
	sc_setup();
	unsigned long timer_runs = rc_worker_live_runs(RC_REASON_TIMER);
	order[0] = '\0';
	ck_assert(rc_custom_register_cleaner(note, "x", RCSHIM_LOW, "x"));
	/* As the preload layer does after a registration. */
	rc_worker_need();
	ck_assert(rc_worker_running());
	struct timespec ts = { 0, 300 * 1000000 };
	nanosleep(&ts, NULL);
	ck_assert_str_eq(order, "");
	ck_assert_uint_eq(rc_worker_live_runs(RC_REASON_TIMER), timer_runs);
	ck_assert_uint_eq(rc_custom_count(), 1);
	sc_teardown();
}
END_TEST

START_TEST(custom_in_a_scope)
{
	struct rcshim_result r;

	sc_setup();
	uint32_t s = rc_scope_begin("job", 0);
	uint64_t low = rc_custom_register_cleaner(note, "l", RCSHIM_LOW, "low");
	uint64_t high = rc_custom_register_cleaner(note, "h", RCSHIM_HIGH, "high");
	ck_assert_uint_eq(record_of(RCSHIM_KIND_CUSTOM, low).scope, s);
	order[0] = '\0';
	ck_assert_int_eq(rc_scope_end(s, RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_str_eq(order, "l");
	/* Run and forgotten; the HIGH one kept, now the process's. */
	ck_assert(!record_of(RCSHIM_KIND_CUSTOM, low).found);
	ck_assert_uint_eq(record_of(RCSHIM_KIND_CUSTOM, high).scope, 0);
	ck_assert_uint_eq(rc_custom_count(), 1);
	sc_teardown();
}
END_TEST

START_TEST(custom_resources)
{
	struct rcshim_result r;
	char d[PATH_MAX];
	struct stat st;

	sc_setup();
	/* An fd the shim did not track: registering makes its entry. */
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct rc_fd_entry e;
	ck_assert(!rc_fd_get(fd, &e));
	uint64_t fid = rc_custom_register_fd(fd, NULL, "null");
	ck_assert_uint_ne(fid, 0);
	ck_assert(rc_fd_get(fd, &e));
	ck_assert(atomic_load(&e.flags) & RC_FD_REGISTERED);
	ck_assert(atomic_load(&e.flags) & RC_FD_IDENT);
	ck_assert_uint_eq(rc_custom_register_fd(fd, NULL, "again"), fid);
	char name[16];
	ck_assert_str_eq(rc_custom_name(RCSHIM_KIND_FD, (uint64_t)fd, name, sizeof(name)),
			 "again");
	ck_assert_uint_eq(rc_custom_register_fd(2, NULL, "stderr"), 0);

	/* A directory outside the temp roots. */
	ck_assert_int_lt(snprintf(d, sizeof(d), "%s/registered", sc_dir), (int)sizeof(d));
	ck_assert_int_eq(mkdir(d, 0700), 0);
	uint64_t did = rc_custom_register_temp_dir(d, "dir");
	ck_assert_uint_ne(did, 0);
	ck_assert_uint_eq(rc_custom_register_temp_dir("/", "root"), 0);

	ck_assert_int_eq(live(RCSHIM_LOW, &r), RCSHIM_OK);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	ck_assert_int_eq(lstat(d, &st), -1);
	ck_assert(is_open(fd));
	ck_assert_int_eq(live(RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_FD].cleaned, 1);
	ck_assert(!is_open(fd));
	ck_assert_uint_eq(rc_custom_count(), 0);

	/* Closed by the program (the interposer untracks it): forgotten at
	 * the next cleanup, and the number's next owner is left alone. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_uint_ne(rc_custom_register_fd(fd, NULL, "closed"), 0);
	rc_fd_untrack(fd);
	close(fd);
	int again = tracked_fd();
	ck_assert_int_eq(again, fd);
	ck_assert_int_eq(live(RCSHIM_MEDIUM, &r), RCSHIM_OK);
	ck_assert(is_open(again));
	ck_assert_uint_eq(rc_custom_count(), 0);
	close(again);

	/* GPU buffers: kept and counted as skipped without a GPU module. */
	uint64_t gid = rc_custom_register_gpu(0xdead0000, 4096, "weights");
	ck_assert_uint_ne(gid, 0);
	ck_assert_int_eq(live(RCSHIM_HIGH, &r), RCSHIM_OK);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_GPU].cleaned + r.kind[RCSHIM_KIND_GPU].failed, 0);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_GPU].skipped, 1);
	ck_assert(record_of(RCSHIM_KIND_GPU, 0xdead0000).found);
	ck_assert_int_eq(rc_custom_unregister(gid, true), RCSHIM_INVALID);
	ck_assert_int_eq(rc_custom_unregister(gid, false), RCSHIM_OK);
	ck_assert(!record_of(RCSHIM_KIND_GPU, 0xdead0000).found);
	sc_teardown();
}
END_TEST

/* --- rendering ------------------------------------------------------------------------ */

START_TEST(render_text_and_json)
{
	struct rcshim_result r;
	char buf[1024];

	rc_result_init(&r);
	rc_result_add(&r, RCSHIM_KIND_TEMP, 2, 0, 1, 0);
	rc_result_add(&r, RCSHIM_KIND_CUSTOM, 5, 1, 0, 4096);
	rc_result_finish(&r);

	size_t n = rc_result_render(&r, RCSHIM_FORMAT_TEXT, buf, sizeof(buf));
	ck_assert_str_eq(buf, "partial: cleaned 7, failed 1, skipped 1, bytes 4096\n"
			      "  temp: cleaned 2, failed 0, skipped 1, bytes 0\n"
			      "  custom: cleaned 5, failed 1, skipped 0, bytes 4096\n");
	ck_assert_uint_eq(n, strlen(buf));

	n = rc_result_render(&r, RCSHIM_FORMAT_JSON, buf, sizeof(buf));
	ck_assert_str_eq(buf,
		"{\"status\":\"partial\",\"cleaned\":7,\"failed\":1,\"skipped\":1,\"bytes\":4096,"
		"\"kinds\":{"
		"\"temp\":{\"cleaned\":2,\"failed\":0,\"skipped\":1,\"bytes\":0},"
		"\"fd\":{\"cleaned\":0,\"failed\":0,\"skipped\":0,\"bytes\":0},"
		"\"sqlite\":{\"cleaned\":0,\"failed\":0,\"skipped\":0,\"bytes\":0},"
		"\"gpu\":{\"cleaned\":0,\"failed\":0,\"skipped\":0,\"bytes\":0},"
		"\"heap\":{\"cleaned\":0,\"failed\":0,\"skipped\":0,\"bytes\":0},"
		"\"custom\":{\"cleaned\":5,\"failed\":1,\"skipped\":0,\"bytes\":4096}}}");
	ck_assert_uint_eq(n, strlen(buf));

	/* snprintf's contract: the full length, at most size - 1 written. */
	char small[8];
	memset(small, 'x', sizeof(small));
	ck_assert_uint_eq(rc_result_render(&r, RCSHIM_FORMAT_JSON, small, sizeof(small)), n);
	ck_assert_str_eq(small, "{\"statu");
	ck_assert_uint_eq(rc_result_render(&r, RCSHIM_FORMAT_JSON, NULL, 0), n);
	ck_assert_uint_eq(rc_result_render(&r, RCSHIM_FORMAT_JSON, small, 1), n);
	ck_assert_str_eq(small, "");

	/* Nothing to say; an unknown format is text. */
	rc_result_init(&r);
	rc_result_finish(&r);
	rc_result_render(&r, (rcshim_format)7, buf, sizeof(buf));
	ck_assert_str_eq(buf, "ok: cleaned 0, failed 0, skipped 0, bytes 0\n");
	rc_result_render(NULL, RCSHIM_FORMAT_JSON, buf, sizeof(buf));
	ck_assert_str_eq(buf, "null");

	ck_assert_str_eq(rc_status_name(RCSHIM_BUSY), "busy");
	ck_assert_str_eq(rc_status_name(RCSHIM_DISABLED), "disabled");
	ck_assert_str_eq(rc_status_name(-1), "unknown");
	ck_assert_str_eq(rc_status_name(99), "unknown");

	/* Large counts are not cut. */
	rc_result_init(&r);
	rc_result_add(&r, RCSHIM_KIND_HEAP, 0, 0, 0, UINT64_MAX);
	rc_result_finish(&r);
	rc_result_render(&r, RCSHIM_FORMAT_TEXT, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "heap: cleaned 0, failed 0, skipped 0, "
					  "bytes 18446744073709551615\n"));
}
END_TEST

/* --- the program's runtime (the Python binding) ----------------------------------- */

START_TEST(runtime_owns_fds)
{
	struct rcshim_result r;
	char dir[PATH_MAX];

	sc_setup();
	ck_assert_uint_eq(rc_runtime_owns((1u << RCSHIM_KIND_FD) | (1u << RCSHIM_KIND_SQLITE) |
					  (1u << RCSHIM_KIND_HEAP)), 0);
	uint32_t s = rc_scope_begin("py", 0);
	int fd = tracked_fd();
	tracked_dir(dir, sizeof(dir), "made-in-block");
	ck_assert_int_eq(rc_scope_end(s, RCSHIM_CRITICAL, &r), RCSHIM_OK);
	/* The temp dir goes; the fd is the runtime's object's: left, passed on. */
	ck_assert_int_eq(access(dir, F_OK), -1);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_TEMP].cleaned, 1);
	ck_assert(is_open(fd));
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_FD].cleaned, 0);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_FD].skipped, 1);
	ck_assert_uint_eq(fd_scope(fd), 0);
	/* Nor a live CRITICAL, nor an emergency cleanup. */
	ck_assert_int_eq(live(RCSHIM_CRITICAL, &r), RCSHIM_OK);
	ck_assert(is_open(fd));
	struct rc_clean_req em = { RC_MODE_FINAL, RCSHIM_CRITICAL, RC_REASON_API, 0, 0 };
	rc_clean(&em, &r);
	ck_assert(is_open(fd));
	/* Only FD, SQLITE and GPU can be given away; 0 gives them back. */
	ck_assert_uint_eq(rc_runtime_owns(0), (1u << RCSHIM_KIND_FD) | (1u << RCSHIM_KIND_SQLITE));
	ck_assert_int_eq(live(RCSHIM_CRITICAL, &r), RCSHIM_OK);
	ck_assert(!is_open(fd));
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_FD].cleaned, 1);
	sc_teardown();
}
END_TEST

static atomic_int rt_calls;

static long
rt_cleaner(void *ctx)
{
	atomic_fetch_add(&rt_calls, 1);
	return 2;
}

START_TEST(runtime_cleaner_gate)
{
	struct rcshim_result r;

	sc_setup();
	atomic_store(&rt_calls, 0);
	ck_assert_uint_eq(rc_custom_register_cleaner_flags(rt_cleaner, NULL, RCSHIM_LOW, "rt", 2), 0);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert(rc_custom_register_cleaner_flags(rt_cleaner, NULL, RCSHIM_LOW, "rt",
						   RCSHIM_CLEANER_RUNTIME));
	ck_assert_int_eq(live(RCSHIM_LOW, &r), RCSHIM_OK);
	ck_assert_int_eq(atomic_load(&rt_calls), 1);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_CUSTOM].cleaned, 2);
	/* A termination signal's cleanup: the interpreter is stopped in the
	 * handler that waits for it — never called, counted as skipped. */
	struct rc_clean_req sig = { RC_MODE_FINAL, RCSHIM_CRITICAL, RC_REASON_SIGNAL, 15, 0 };
	rc_clean(&sig, &r);
	ck_assert_int_eq(atomic_load(&rt_calls), 1);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_CUSTOM].skipped, 1);

	ck_assert(rc_custom_register_cleaner_flags(rt_cleaner, NULL, RCSHIM_LOW, "rt2",
						   RCSHIM_CLEANER_RUNTIME));
	ck_assert(rc_custom_register_cleaner(rt_cleaner, NULL, RCSHIM_LOW, "plain"));
	rc_runtime_close();
	ck_assert(rc_runtime_is_closed());
	ck_assert_int_eq(live(RCSHIM_LOW, &r), RCSHIM_OK);
	/* The plain one only. */
	ck_assert_int_eq(atomic_load(&rt_calls), 2);
	ck_assert_uint_eq(r.kind[RCSHIM_KIND_CUSTOM].skipped, 1);
	sc_teardown();
	ck_assert(!rc_runtime_is_closed());
}
END_TEST

/* rcshim_runtime_close waits for a runtime cleaner in flight on another
 * thread (here the worker's timer) to return. */
static atomic_int slow_state;

static long
slow_cleaner(void *ctx)
{
	atomic_store(&slow_state, 1);
	struct timespec ts = { 0, 200 * 1000000 };
	nanosleep(&ts, NULL);
	atomic_store(&slow_state, 2);
	return 1;
}

START_TEST(runtime_close_waits_and_timer)
{
	sc_setup();
	atomic_store(&slow_state, 0);
	ck_assert(rc_custom_register_cleaner_flags(slow_cleaner, NULL, RCSHIM_LOW, "slow",
						   RCSHIM_CLEANER_RUNTIME));
	ck_assert_int_eq(rc_live_set_interval(20, RCSHIM_CRITICAL + 1), RCSHIM_INVALID);
	ck_assert_int_eq(rc_live_set_interval(20, RCSHIM_LOW), RCSHIM_OK);
	for (int i = 0; i < 500 && atomic_load(&slow_state) != 1; i++) {
		struct timespec ts = { 0, 2 * 1000000 };
		nanosleep(&ts, NULL);
	}
	ck_assert_int_eq(atomic_load(&slow_state), 1);
	rc_runtime_close();
	ck_assert_int_eq(atomic_load(&slow_state), 2);
	unsigned long runs = rc_worker_live_runs(RC_REASON_TIMER);
	ck_assert_int_eq(rc_live_set_interval(0, RCSHIM_LOW), RCSHIM_OK);
	struct timespec ts = { 0, 100 * 1000000 };
	nanosleep(&ts, NULL);
	runs = rc_worker_live_runs(RC_REASON_TIMER);
	nanosleep(&ts, NULL);
	ck_assert_uint_eq(rc_worker_live_runs(RC_REASON_TIMER), runs);
	sc_teardown();
}
END_TEST

TEST_SUITE(scope)
{
	ADD_TEST(s, scope_stack);
	ADD_TEST(s, scope_hands_over_what_it_keeps);
	ADD_TEST(s, scope_out_of_order);
	ADD_TEST(s, scope_threads);
	ADD_TEST(s, custom_order);
	ADD_TEST(s, worker_before_live_schedule);
	ADD_TEST(s, custom_in_a_scope);
	ADD_TEST(s, custom_resources);
	ADD_TEST(s, render_text_and_json);
	ADD_TEST(s, runtime_owns_fds);
	ADD_TEST(s, runtime_cleaner_gate);
	ADD_TEST(s, runtime_close_waits_and_timer);
}
