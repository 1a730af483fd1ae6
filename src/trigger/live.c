/* Live triggers: the live signal, RCSHIM_INTERVAL, RCSHIM_PRESSURE. */
#include "build-config.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "clean/render.h"
#include "clean/step.h"
#include "core/append.h"
#include "core/escape.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/registry.h"
#include "core/session.h"
#include "core/sys.h"
#include "core/state.h"
#include "report/report.h"
#include "report/timeline.h"
#include "trigger/live.h"
#include "trigger/monitor.h"
#include "trigger/worker.h"

/* The schedule: written by every process's start (rc_live_init), so
 * small and in .data (core/state.h, RC_HOT); the monitor's files and
 * state, 4 KiB, apart in P, touched only with the monitor on. */
static struct {
	bool pressure_on;
	uint64_t next_interval_ms;
	uint64_t next_poll_ms;
	unsigned interval_ms;
	rcshim_priority interval_prio;
	atomic_ulong received, refused;
	/* A change asked for through the API (rc_live_set_*), applied by the
	 * worker at its next tick: its schedule is the worker's alone. */
	struct rc_spinlock want_lock;
	atomic_bool want;
	bool want_interval, want_pressure;
	unsigned want_interval_ms;
	rcshim_priority want_prio;
	bool want_pressure_on;
} L RC_HOT = {
	/* Nothing is due until rc_live_init has read the configuration: a
	 * worker started first (a cleaner registered from another library's
	 * constructor, a unit test) must not take a zero for "due now". */
	.next_interval_ms = UINT64_MAX,
	.next_poll_ms = UINT64_MAX,
};

static struct {
	struct rc_pressure_cfg pcfg;
	struct rc_pressure_files files;
	struct rc_pressure_state pstate;
	struct rc_pressure_cfg want_pcfg;
	struct rc_pressure_files want_files;
} P RC_COLD_BSS;

bool
rc_live_init(void)
{
	char err[160];

	L.pressure_on = false;
	if (rc_cfg.pressure) {
		if (rc_pressure_parse(rc_cfg.pressure_spec, &P.pcfg, err, sizeof(err)) < 0) {
			/* The one line for a bad value, as for every variable:
			 * from the process that starts the session only. */
			if (rc_session.created) {
				rc_warn("RCSHIM_PRESSURE=%.*s is not valid (%s); the monitor is off",
					64, rc_cfg.pressure_spec, err);
			}
		} else {
			rc_pressure_discover("", NULL, P.pcfg.source, &P.files);
			rc_pressure_state_init(&P.pstate);
			L.pressure_on = true;
			rc_debug("pressure monitor: cgroup %s%s, psi %s, meminfo %s",
				 P.files.cg_pressure[0] ? P.files.cg_pressure : "-",
				 P.files.cg_current[0] ? " (+usage)" : "",
				 P.files.psi[0] ? P.files.psi : "-",
				 P.files.meminfo[0] ? P.files.meminfo : "-");
		}
	}
	/* The clock only for a schedule: its first read costs a page. */
	L.interval_ms = rc_cfg.interval_ms;
	L.interval_prio = rc_cfg.priority;
	uint64_t now = rc_cfg.interval_ms || L.pressure_on ? rc_now_ms() : 0;
	L.next_interval_ms = rc_cfg.interval_ms ? now + rc_cfg.interval_ms : UINT64_MAX;
	L.next_poll_ms = L.pressure_on ? now + P.pcfg.poll_ms : UINT64_MAX;
	/* A worker already asleep waits for the old schedule. */
	rc_worker_wake();
	bool timeline = rc_timeline_init();
	return rc_cfg.interval_ms || L.pressure_on || timeline;
}

/* Worker: takes a change asked for through the API. */
static void
apply_wanted(uint64_t now)
{
	rc_spin_lock(&L.want_lock);
	if (L.want_interval) {
		L.interval_ms = L.want_interval_ms;
		L.interval_prio = L.want_prio;
		L.next_interval_ms = L.interval_ms ? now + L.interval_ms : UINT64_MAX;
	}
	if (L.want_pressure) {
		L.pressure_on = L.want_pressure_on;
		if (L.pressure_on) {
			P.pcfg = P.want_pcfg;
			P.files = P.want_files;
			rc_pressure_state_init(&P.pstate);
		}
		L.next_poll_ms = L.pressure_on ? now + P.pcfg.poll_ms : UINT64_MAX;
	}
	L.want_interval = L.want_pressure = false;
	atomic_store(&L.want, false);
	rc_spin_unlock(&L.want_lock);
}

rcshim_status
rc_live_set_interval(unsigned ms, rcshim_priority prio)
{
	if (prio < RCSHIM_LOW || prio > RCSHIM_CRITICAL) {
		return RCSHIM_INVALID;
	}
	rc_spin_lock(&L.want_lock);
	L.want_interval = true;
	L.want_interval_ms = ms;
	L.want_prio = prio;
	atomic_store(&L.want, true);
	rc_spin_unlock(&L.want_lock);
	if (ms && !rc_worker_ensure()) {
		return RCSHIM_DISABLED;
	}
	rc_worker_wake();
	return RCSHIM_OK;
}

rcshim_status
rc_live_set_pressure(const char *spec)
{
	struct rc_pressure_cfg cfg;
	struct rc_pressure_files files;
	char err[160];
	bool on = spec && strcasecmp(spec, "off") != 0 && strcmp(spec, "0") != 0;

	if (on) {
		if (rc_pressure_parse(spec, &cfg, err, sizeof(err)) < 0) {
			rc_warn("rcshim_set_pressure(\"%.*s\"): %s; the monitor is unchanged",
				64, spec, err);
			return RCSHIM_INVALID;
		}
		rc_pressure_discover("", NULL, cfg.source, &files);
	}
	rc_spin_lock(&L.want_lock);
	L.want_pressure = true;
	L.want_pressure_on = on;
	if (on) {
		P.want_pcfg = cfg;
		P.want_files = files;
	}
	atomic_store(&L.want, true);
	rc_spin_unlock(&L.want_lock);
	if (on && !rc_worker_ensure()) {
		return RCSHIM_DISABLED;
	}
	rc_worker_wake();
	return RCSHIM_OK;
}

uint64_t
rc_live_tick(uint64_t now)
{
	if (atomic_load(&L.want)) {
		apply_wanted(now);
	}
	if (now >= L.next_interval_ms) {
		rc_worker_run_live(L.interval_prio, RC_REASON_TIMER);
		/* Counted from the end of the run: a slow cleanup never
		 * piles runs up behind it. */
		now = rc_now_ms();
		L.next_interval_ms = now + L.interval_ms;
	}
	if (now >= L.next_poll_ms) {
		struct rc_pressure_reading r;
		if (rc_pressure_read(&P.files, &r)) {
			int prio = rc_pressure_step(&P.pstate, &P.pcfg, &r, now);
			if (prio >= 0) {
				rc_info("memory pressure (usage %d%%, psi %d%%): live cleanup at %s",
					r.has_usage ? (int)r.usage : -1, r.has_psi ? (int)r.psi : -1,
					rc_priority_name(prio));
				rc_worker_run_live((rcshim_priority)prio, RC_REASON_PRESSURE);
				now = rc_now_ms();
			}
		}
		L.next_poll_ms = now + P.pcfg.poll_ms;
	}
	uint64_t next = L.next_interval_ms < L.next_poll_ms ? L.next_interval_ms : L.next_poll_ms;
	uint64_t tl = rc_timeline_tick(now);
	next = tl < next ? tl : next;
	return next == UINT64_MAX ? UINT64_MAX : (next > now ? next - now : 0);
}

/* ---- answers to `rcshim clean PID` ---------------------------------------- */

/* ID * 8 + priority + 1 of each request waiting for its answer; 0 = free. */
static atomic_uint answer_slot[RC_LIVE_ANSWER_SLOTS];

/* From the handler.  With every slot taken (eight launchers waiting at
 * once) the cleanup still runs; that launcher says it got no answer. */
static void
answer_wanted(unsigned id, rcshim_priority prio)
{
	unsigned v = (id << RC_LIVE_ANSWER_SHIFT) | ((unsigned)prio + 1);
	for (size_t i = 0; i < RC_LIVE_ANSWER_SLOTS; i++) {
		unsigned zero = 0;
		if (atomic_compare_exchange_strong(&answer_slot[i], &zero, v)) {
			return;
		}
	}
	rc_info("clean request %u: no room to keep it; it runs, unanswered", id);
}

size_t
rc_live_answers_mark(rcshim_priority prio, struct rc_live_mark *marks)
{
	size_t n = 0;
	for (unsigned i = 0; i < RC_LIVE_ANSWER_SLOTS; i++) {
		unsigned v = atomic_load(&answer_slot[i]);
		if (v && (v & 7) - 1 <= (unsigned)prio) {
			marks[n++] = (struct rc_live_mark){ i, v };
		}
	}
	return n;
}

const char *
rc_live_answer_path(int pid, unsigned id, char *buf, size_t len)
{
	buf[0] = '\0';
	if (rc_session.dir[0]) {
		rc_fmt(buf, len, "%s/clean-%d-%u", rc_session.dir, pid, id);
	}
	return buf;
}

struct abuf {
	char b[6144];
	size_t n;
};

static void
aput(struct abuf *a, const char *s)
{
	size_t n = strlen(s);
	if (a->n + n < sizeof(a->b)) {
		memcpy(a->b + a->n, s, n);
		a->n += n;
	}
}

/* The answer, as lines the launcher reads (cli/remote.c words them):
 *   rcshim-clean 1
 *   priority P | status S (or "not-run": another cleanup held the engine)
 *   total C F S B, then kind K C F S B for each kind
 *   temp-held N: the temp artifacts this process still holds
 *   temp-session 0|1: whether they are the session's (removed by its owner
 *     when the session ends), not this process's own
 *   left PATH: up to 10 of them, escaped as text
 *   end */
static void
answer_text(struct abuf *a, rcshim_priority prio, const struct rcshim_result *res)
{
	char line[160];
	aput(a, "rcshim-clean 1\n");
	rc_fmt(line, sizeof(line), "priority %s\n", rc_priority_name(prio));
	aput(a, line);
	if (!res) {
		aput(a, "status not-run\nend\n");
		return;
	}
	rc_fmt(line, sizeof(line), "status %s\ntotal %llu %llu %llu %llu\n",
	       rc_status_name(res->status), (unsigned long long)res->cleaned,
	       (unsigned long long)res->failed, (unsigned long long)res->skipped,
	       (unsigned long long)res->bytes);
	aput(a, line);
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		const struct rcshim_kind_result *r = &res->kind[k];
		rc_fmt(line, sizeof(line), "kind %s %llu %llu %llu %llu\n", rc_kind_name(k),
		       (unsigned long long)r->cleaned, (unsigned long long)r->failed,
		       (unsigned long long)r->skipped, (unsigned long long)r->bytes);
		aput(a, line);
	}
	struct rc_step_match m = { RCSHIM_KIND_TEMP, rc_sys_getpid(), 0, 0, 0 };
	struct rc_record *list = NULL;
	size_t n = rc_reg_collect(rc_step_match, &m, false, &list);
	rc_fmt(line, sizeof(line), "temp-held %zu\ntemp-session %d\n", n,
	       rc_session_owner() ? 0 : 1);
	aput(a, line);
	for (size_t i = 0; i < n && i < 10; i++) {
		char esc[600];
		rc_esc_text(esc, sizeof(esc), list[i].path, strlen(list[i].path));
		aput(a, "left ");
		aput(a, esc);
		aput(a, "\n");
	}
	if (n) {
		rc_reg_free_list(list, n);
	}
	aput(a, "end\n");
}

/* Written under a temporary name, then renamed: the launcher sees the
 * whole answer or none.  The journal directory is private (checked when
 * the session began); the file is created new (O_EXCL, O_NOFOLLOW), then
 * checked (a regular file of ours with one link) before a byte goes in,
 * and its fd is closed before this returns: the program never sees it. */
static void
answer_write(unsigned id, rcshim_priority prio, const struct rcshim_result *res)
{
	char path[512], tmp[600];
	if (!rc_live_answer_path(rc_sys_getpid(), id, path, sizeof(path))[0]) {
		return;
	}
	rc_fmt(tmp, sizeof(tmp), "%s.%d.tmp", path, rc_sys_gettid());
	rc_sys_unlinkat(AT_FDCWD, tmp, 0);
	int fd = rc_sys_openat(AT_FDCWD, tmp,
			       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc_info("cannot write the clean result to %s (error %d)", tmp, -fd);
		return;
	}
	struct stat st;
	bool ok = rc_sys_fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
		  st.st_uid == rc_sys_geteuid();
	struct abuf *a = NULL, local;
	if (ok) {
		a = &local;
		a->n = 0;
		answer_text(a, prio, res);
		ok = rc_append(fd, a->b, a->n) == (ssize_t)a->n;
	}
	rc_sys_close(fd);
	if (!ok || rc_sys(SYS_rename, tmp, path, 0, 0, 0, 0) < 0) {
		rc_sys_unlinkat(AT_FDCWD, tmp, 0);
	}
}

void
rc_live_answers_send(const struct rc_live_mark *marks, size_t n, rcshim_priority prio,
		     const struct rcshim_result *res)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = marks[i].value;
		/* Still waiting (not answered by another run meanwhile). */
		if (!atomic_compare_exchange_strong(&answer_slot[marks[i].slot], &v, 0)) {
			continue;
		}
		answer_write(marks[i].value >> RC_LIVE_ANSWER_SHIFT, prio, res);
	}
}

/* Set while a thread drains the live requests (there is no worker): the
 * others only queue theirs, which it picks up before it stops. */
static atomic_bool draining;

/* One round of requests, without the worker: the async-signal-safe steps
 * only (rc_self.signal_safe), on this thread. */
static void
drain_round(unsigned mask, enum rc_reason reason)
{
	rc_guard++;
	rc_self.signal_safe++;
	if (mask & RC_WORKER_REPORT_BIT) {
		rc_live_write_requested_report();
		mask &= ~RC_WORKER_REPORT_BIT;
	}
	if (mask) {
		int prio = 31 - __builtin_clz(mask);
		struct rc_clean_req req = { RC_MODE_LIVE, (rcshim_priority)prio, reason, 0, 0 };
		struct rcshim_result res;
		struct rc_live_mark marks[RC_LIVE_ANSWER_SLOTS];
		size_t nmarks = rc_live_answers_mark((rcshim_priority)prio, marks);
		if (rc_clean(&req, &res) == RCSHIM_BUSY) {
			/* Another thread's cleanup (an API call) kept the engine
			 * past the handler's bound: this request is dropped. */
			atomic_fetch_add(&L.refused, 1);
			rc_info("live cleanup at %s not run: another cleanup is running",
				rc_priority_name(prio));
			rc_live_answers_send(marks, nmarks, (rcshim_priority)prio, NULL);
		} else {
			rc_worker_count_run(reason);
			rc_report_cleanup(&req, &res);
			rc_result_log(reason, 0, &res);
			rc_live_answers_send(marks, nmarks, (rcshim_priority)prio, &res);
		}
	}
	rc_self.signal_safe--;
	rc_guard--;
}

void
rc_live_drain(void)
{
	/* Inside the shim's own critical section on this thread: when it
	 * ends (core/lock.h). */
	if (rc_self.locks) {
		atomic_fetch_or(&rc_due, RC_DUE_DRAIN);
		return;
	}
	while (!atomic_exchange(&draining, true)) {
		enum rc_reason reason;
		unsigned mask;
		while ((mask = rc_worker_take(&reason)) != 0) {
			/* A worker started meanwhile: the rest is its work. */
			if (rc_worker_post(mask, reason)) {
				break;
			}
			drain_round(mask, reason);
		}
		atomic_store(&draining, false);
		/* A request queued while this thread was finishing. */
		if (!rc_worker_take_peek()) {
			break;
		}
	}
}

void
rc_live_on_signal(int sig, int code, int value)
{
	rcshim_priority prio = rc_cfg.signal_priority;
	unsigned bit;

	atomic_fetch_add(&L.received, 1);
	if (code == SI_QUEUE && value == RC_LIVE_REPORT_VALUE) {
		bit = RC_WORKER_REPORT_BIT;
	} else {
		unsigned id = ((unsigned)value & ~RC_LIVE_ANSWER_FLAG) >> RC_LIVE_ANSWER_SHIFT;
		if (code == SI_QUEUE && ((unsigned)value & RC_LIVE_ANSWER_FLAG) && id &&
		    (value & 7) <= 4) {
			/* `rcshim clean PID`, waiting for the result. */
			if (value & 7) {
				prio = (rcshim_priority)((value & 7) - 1);
			}
			answer_wanted(id, prio);
			value = (int)prio + 1;
		}
		if (code == SI_QUEUE) {
			if (value < 1 || value > 4) {
				atomic_fetch_add(&L.refused, 1);
				rc_warn("signal %d with value %d refused: values 1-4 select LOW, "
					"MEDIUM, HIGH, CRITICAL; 5 asks for a report; 2^30 + ID * 8 "
					"+ 0-4 a cleanup whose result `rcshim clean` waits for", sig, value);
				return;
			}
			prio = (rcshim_priority)(value - 1);
		}
		bit = 1u << prio;
	}
	if (rc_worker_post(bit, RC_REASON_LIVE_SIGNAL)) {
		return;
	}
	/* No worker (the process holds nothing that needs one): done here,
	 * in the handler, with the async-signal-safe steps — all that its
	 * temp artifacts and fds need (docs/design-notes.md). */
	rc_worker_queue(bit, RC_REASON_LIVE_SIGNAL);
	rc_live_drain();
}

unsigned long
rc_live_signals_received(void)
{
	return atomic_load(&L.received);
}

unsigned long
rc_live_signals_refused(void)
{
	return atomic_load(&L.refused);
}

const char *
rc_live_report_path(int pid, char *buf, size_t len)
{
	buf[0] = '\0';
	if (rc_session.dir[0]) {
		rc_fmt(buf, len, "%s/report-%d", rc_session.dir, pid);
	}
	return buf;
}

void
rc_live_write_requested_report(void)
{
	char path[512], tmp[600];
	int pid = rc_sys_getpid();

	if (!rc_live_report_path(pid, path, sizeof(path))[0]) {
		return;
	}
	rc_fmt(tmp, sizeof(tmp), "%s.%d.tmp", path, rc_sys_gettid());
	int fd = rc_sys_openat(AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
			       0600);
	if (fd < 0) {
		rc_warn("cannot write the report to %s (error %d)", tmp, -fd);
		return;
	}
	int r = rc_report_write(fd, (enum rc_report_format)rc_cfg.report_format);
	rc_sys_close(fd);
	if (r < 0 || rc_sys(SYS_rename, tmp, path, 0, 0, 0, 0) < 0) {
		rc_sys_unlinkat(AT_FDCWD, tmp, 0);
	}
}
