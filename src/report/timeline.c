/* The timeline recorder (report/timeline.h): samples on the worker,
 * cleanups as events, both written into the process's report. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/fdtable.h"
#include "core/heap.h"
#include "core/lock.h"
#include "core/registry.h"
#include "core/state.h"
#include "core/sys.h"
#include "report/timeline.h"
#include "trigger/live.h"
#include "trigger/worker.h"

struct tl_sample {
	uint32_t t_ms, temp_count, fds, sqlite;
	uint64_t temp_bytes, heap_bytes, gpu_bytes, rss_bytes;
};

struct tl_event {
	uint32_t t_ms;
	uint8_t mode, reason, prio, status;
	uint64_t cleaned, failed, bytes;
	uint64_t kcleaned[RCSHIM_KIND_COUNT], kbytes[RCSHIM_KIND_COUNT];
};

/* Whether this process samples: read by every process at its exit, so
 * not in T. */
static bool timeline_on RC_HOT;

/* Cold: only a process with the timeline on touches these pages. */
static struct {
	struct rc_spinlock lock;   /* samples, events, the path buffer */
	bool heap;                 /* heap totals are meaningful */
	uint64_t t0_mono, t0_epoch;
	unsigned interval;         /* now: doubled at each decimation */
	unsigned decimations;
	uint64_t next_ms;
	uint64_t taken;            /* samples taken in all */
	size_t n;
	struct tl_sample s[RC_TL_MAX_SAMPLES];
	uint64_t nev;              /* events recorded in all */
	struct tl_event ev[RC_TL_MAX_EVENTS];
	atomic_bool soon;          /* a cleanup ran: sample at the next tick */
	atomic_bool stopped;       /* the process is ending: no more samples */
	long page;
	char cmdline[512];
	size_t cmdline_len;
	bool cmdline_read;
	char paths[RC_TL_MAX_TEMP_STAT * 256];
} T RC_COLD_BSS;

static uint64_t
epoch_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool
rc_timeline_init(void)
{
	if (!rc_cfg.timeline_ms) {
		return false;
	}
	T.t0_mono = rc_now_ms();
	T.t0_epoch = epoch_ms();
	T.interval = rc_cfg.timeline_ms;
	T.next_ms = T.t0_mono; /* the first sample at once */
	T.page = sysconf(_SC_PAGESIZE);
	if (T.page <= 0) {
		T.page = 4096;
	}
	T.heap = (rc_cfg.track & (1u << RCSHIM_KIND_HEAP)) != 0;
	timeline_on = true;
	return true;
}

/* A small file read whole with open/read/close: nothing kept open. */
ssize_t
rc_report_read_small(const char *path, char *buf, size_t n)
{
	int fd = rc_sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
	if (fd < 0) {
		return -1;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = rc_sys_read(fd, buf + got, n - got);
		if (r == -EINTR) {
			continue;
		}
		if (r <= 0) {
			break;
		}
		got += (size_t)r;
	}
	rc_sys_close(fd);
	return (ssize_t)got;
}

static uint64_t
rss_bytes(void)
{
	char buf[128];
	ssize_t n = rc_report_read_small("/proc/self/statm", buf, sizeof(buf) - 1);
	if (n <= 0) {
		return 0;
	}
	buf[n] = '\0';
	/* "size resident shared ...": the second field, in pages. */
	const char *p = buf;
	while (*p && *p != ' ') {
		p++;
	}
	uint64_t pages = 0;
	for (p++; *p >= '0' && *p <= '9'; p++) {
		pages = pages * 10 + (uint64_t)(*p - '0');
	}
	return pages * (uint64_t)T.page;
}

struct fd_count {
	int32_t pid;
	uint32_t n;
};

static bool
count_fd(int fd, const struct rc_fd_entry *e, void *ctx)
{
	struct fd_count *c = ctx;
	(void)fd;
	if (e->pid == c->pid) {
		c->n++;
	}
	return true;
}

/* Caller holds T.lock. */
static void
take(uint64_t now)
{
	struct tl_sample s;
	uint64_t cnt[RCSHIM_KIND_COUNT], bytes[RCSHIM_KIND_COUNT];
	int32_t pid = rc_sys_getpid();

	memset(&s, 0, sizeof(s));
	s.t_ms = (uint32_t)(now - T.t0_mono);
	size_t np = rc_reg_tally(pid, cnt, bytes, T.paths, sizeof(T.paths), RC_TL_MAX_TEMP_STAT);
	s.temp_count = (uint32_t)cnt[RCSHIM_KIND_TEMP];
	s.sqlite = (uint32_t)cnt[RCSHIM_KIND_SQLITE];
	s.gpu_bytes = bytes[RCSHIM_KIND_GPU];
	/* A temp file's size now (the record has its size at creation, 0
	 * for mkstemp's); directories count no bytes. */
	const char *p = T.paths;
	for (size_t i = 0; i < np; i++) {
		struct stat st;
		if (rc_sys_fstatat(AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
			s.temp_bytes += (uint64_t)st.st_size;
		}
		p += strlen(p) + 1;
	}
	struct fd_count fc = { pid, 0 };
	rc_fd_foreach(count_fd, &fc);
	s.fds = fc.n;
	if (T.heap && !rc_heap_inactive_reason()) {
		int64_t blocks, hb, req;
		rc_heap_totals(&blocks, &hb, &req);
		s.heap_bytes = hb > 0 ? (uint64_t)hb : 0;
	}
	s.rss_bytes = rss_bytes();
	if (!T.cmdline_read) {
		ssize_t n = rc_report_read_small("/proc/self/cmdline", T.cmdline, sizeof(T.cmdline) - 1);
		T.cmdline_len = n > 0 ? (size_t)n : 0;
		T.cmdline_read = true;
	}

	if (T.n == RC_TL_MAX_SAMPLES) {
		/* Full: every other sample kept (the first stays), the
		 * interval doubled. */
		for (size_t i = 0; i < RC_TL_MAX_SAMPLES / 2; i++) {
			T.s[i] = T.s[2 * i];
		}
		T.n = RC_TL_MAX_SAMPLES / 2;
		T.interval *= 2;
		T.decimations++;
	}
	T.s[T.n++] = s;
	T.taken++;
}

uint64_t
rc_timeline_tick(uint64_t now)
{
	if (!timeline_on || atomic_load(&T.stopped)) {
		return UINT64_MAX;
	}
	bool soon = atomic_exchange(&T.soon, false);
	if (now >= T.next_ms || soon) {
		rc_spin_lock(&T.lock);
		take(now);
		rc_spin_unlock(&T.lock);
		T.next_ms = now + T.interval;
	}
	return T.next_ms;
}

void
rc_timeline_sample_now(void)
{
	if (!timeline_on || atomic_load(&T.stopped)) {
		return;
	}
	rc_spin_lock(&T.lock);
	take(rc_now_ms());
	rc_spin_unlock(&T.lock);
}

void
rc_timeline_event(const struct rc_clean_req *req, const struct rcshim_result *res)
{
	if (!timeline_on || !req || !res) {
		return;
	}
	struct tl_event e;
	memset(&e, 0, sizeof(e));
	e.t_ms = (uint32_t)(rc_now_ms() - T.t0_mono);
	e.mode = (uint8_t)req->mode;
	e.reason = (uint8_t)req->reason;
	e.prio = (uint8_t)req->prio;
	e.status = (uint8_t)res->status;
	e.cleaned = res->cleaned;
	e.failed = res->failed;
	e.bytes = res->bytes;
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		e.kcleaned[k] = res->kind[k].cleaned;
		e.kbytes[k] = res->kind[k].bytes;
	}
	/* From a handler too (a live signal without a worker): only ever
	 * a bounded wait. */
	if (!rc_spin_trylock_for(&T.lock, 50)) {
		return;
	}
	if (req->mode == RC_MODE_FINAL && req->scope == 0 &&
	    (req->reason == RC_REASON_SIGNAL || req->reason == RC_REASON_EXIT)) {
		/* The process ends: what follows is the shim's own work
		 * (symbolizing, writing the report). */
		atomic_store(&T.stopped, true);
	}
	T.ev[T.nev % RC_TL_MAX_EVENTS] = e;
	T.nev++;
	rc_spin_unlock(&T.lock);
	/* The drop, shown where it happened. */
	atomic_store(&T.soon, true);
	rc_worker_wake();
}

static void
json_sample(struct rc_out *o, const struct tl_sample *s)
{
	rc_out_fmt(o, "{\"t_ms\":%u,\"temp_count\":%u,\"temp_bytes\":%lu,\"fds\":%u,\"sqlite\":%u,"
		   "\"heap_bytes\":%lu,\"gpu_bytes\":%lu,\"rss_bytes\":%lu}",
		   s->t_ms, s->temp_count, (unsigned long)s->temp_bytes, s->fds, s->sqlite,
		   (unsigned long)s->heap_bytes, (unsigned long)s->gpu_bytes,
		   (unsigned long)s->rss_bytes);
}

static void
json_event(struct rc_out *o, const struct tl_event *e)
{
	rc_out_fmt(o, "{\"t_ms\":%u,\"trigger\":\"%s\",\"mode\":\"%s\",\"priority\":\"%s\","
		   "\"status\":\"%s\",\"reclaimed\":{\"cleaned\":%lu,\"failed\":%lu,\"bytes\":%lu",
		   e->t_ms, rc_report_reason_name(e->reason), rc_report_mode_name(e->mode),
		   rc_priority_name(e->prio), rc_report_status_name(e->status),
		   (unsigned long)e->cleaned, (unsigned long)e->failed, (unsigned long)e->bytes);
	rc_out_str(o, ",\"kinds\":{");
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		rc_out_fmt(o, "%s\"%s\":{\"cleaned\":%lu,\"bytes\":%lu}", k ? "," : "", rc_kind_name(k),
			   (unsigned long)e->kcleaned[k], (unsigned long)e->kbytes[k]);
	}
	rc_out_str(o, "}}}");
}

static bool
lock_for_report(void)
{
	if (rc_self.signal_safe) {
		return rc_spin_trylock_for(&T.lock, 50);
	}
	rc_spin_lock(&T.lock);
	return true;
}

void
rc_timeline_final(void)
{
	if (!timeline_on || atomic_exchange(&T.stopped, true)) {
		return;
	}
	rc_spin_lock(&T.lock);
	take(rc_now_ms());
	rc_spin_unlock(&T.lock);
}

void
rc_timeline_emit_json(struct rc_out *o)
{
	if (!timeline_on || !lock_for_report()) {
		return;
	}
	rc_out_fmt(o, ",\"timeline_info\":{\"interval_ms\":%u,\"start_epoch_ms\":%lu,"
		   "\"samples_taken\":%lu,\"decimations\":%u,\"events_omitted\":%lu,\"cmdline\":[",
		   rc_cfg.timeline_ms, (unsigned long)T.t0_epoch, (unsigned long)T.taken,
		   T.decimations,
		   (unsigned long)(T.nev > RC_TL_MAX_EVENTS ? T.nev - RC_TL_MAX_EVENTS : 0));
	rc_out_json_words(o, T.cmdline, T.cmdline_len, false);
	rc_out_str(o, "]},\"timeline\":[");
	for (size_t i = 0; i < T.n; i++) {
		rc_out_str(o, i ? ",\n" : "\n");
		json_sample(o, &T.s[i]);
	}
	rc_out_str(o, "],\"events\":[");
	uint64_t first = T.nev > RC_TL_MAX_EVENTS ? T.nev - RC_TL_MAX_EVENTS : 0;
	for (uint64_t i = first; i < T.nev; i++) {
		rc_out_str(o, i > first ? ",\n" : "\n");
		json_event(o, &T.ev[i % RC_TL_MAX_EVENTS]);
	}
	rc_out_str(o, "]");
	rc_spin_unlock(&T.lock);
}

void
rc_timeline_emit_text(struct rc_out *o)
{
	if (!timeline_on || !lock_for_report()) {
		return;
	}
	rc_out_fmt(o, "timeline: %zu samples (every %u ms), %lu cleanups marked; "
		   "the samples are in the JSON report (rcshim plot reads it)\n",
		   T.n, T.interval, (unsigned long)T.nev);
	rc_spin_unlock(&T.lock);
}

void
rc_timeline_after_fork_child(void)
{
	if (!timeline_on) {
		return;
	}
	rc_spin_reset(&T.lock);
	T.n = 0;
	T.nev = 0;
	T.taken = 0;
	T.decimations = 0;
	T.cmdline_read = false;
	T.t0_mono = rc_now_ms();
	T.t0_epoch = epoch_ms();
	T.interval = rc_cfg.timeline_ms;
	T.next_ms = T.t0_mono;
	atomic_store(&T.soon, false);
	atomic_store(&T.stopped, false);
	/* Its own sampler, at its first tracked call (a fork handler is no
	 * place to start a thread). */
	rc_worker_start_later();
}
