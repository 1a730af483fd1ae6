/* Reports: gathering what every kind holds, the cleanup log and notes,
 * and writing them where RCSHIM_REPORT says (or to an fd on request).
 * The two formats are in emit.c. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/uio.h>
#include <time.h>

#include "core/append.h"
#include "core/arena.h"
#include "core/escape.h"
#include "core/fdtable.h"
#include "core/gpu.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/registry.h"
#include "core/scope.h"
#include "core/stack.h"
#include "core/state.h"
#include "core/sys.h"
#include "report/dest.h"
#include "report/internal.h"
#include "report/report.h"
#include "report/timeline.h"

/* The cleanup log and the notes: written only by a process that cleans
 * or notes something, so in .lbss (core/state.h). */
static struct {
	struct rc_cleanup_entry cleanups[RC_REPORT_MAX_CLEANUPS];
	char notes[RC_REPORT_MAX_NOTES][RC_REPORT_NOTE_LEN];
} L RC_COLD_BSS;

/* Small, and in the small .bss with start-up's other written state:
 * every process under the launcher writes some of it at its exit. */
static struct {
	struct rc_spinlock write_lock; /* one report at a time */
	struct rc_spinlock log_lock;   /* the cleanup log and notes */
	size_t ncleanups;              /* total ever recorded */
	size_t nnotes;                 /* total ever recorded */
	/* What was held when the process began to end. */
	struct rc_item *snap;
	size_t nsnap;
	bool snap_taken;
	atomic_bool final_written;
	/* The report file of a path with %p: which process claimed its
	 * creation, which one finished it, and with what. */
	atomic_int create_pid, made_pid;
	bool made_ok;
	struct rc_dest_id made_id;
	atomic_int warned_pid; /* the process that said its report was refused */
} R;

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- gathering ---------------------------------------------------------------- */

struct items {
	struct rc_item *v;
	size_t n, cap;
};

static struct rc_item *
items_push(struct items *it)
{
	if (it->n == it->cap) {
		size_t cap = it->cap ? it->cap * 2 : 64;
		struct rc_item *v = rc_alloc(cap * sizeof(*v));
		if (!v) {
			return NULL;
		}
		if (it->v) {
			memcpy(v, it->v, it->n * sizeof(*v));
			rc_free(it->v);
		}
		it->v = v;
		it->cap = cap;
	}
	struct rc_item *e = &it->v[it->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

static bool
owned_record(const struct rc_record *r, void *ctx)
{
	return r->pid == *(const int32_t *)ctx;
}

struct fd_ctx {
	struct items *it;
	int32_t pid;
};

static bool
collect_fd(int fd, const struct rc_fd_entry *e, void *p)
{
	struct fd_ctx *c = p;
	uint32_t flags = atomic_load_explicit(&((struct rc_fd_entry *)e)->flags,
					      memory_order_relaxed);
	if (e->pid != c->pid) {
		return true;
	}
	struct rc_item *i = items_push(c->it);
	if (!i) {
		return false;
	}
	char link[64], target[1024];
	rc_fmt(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = rc_sys_readlinkat(AT_FDCWD, link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		i->path = rc_strdup(target);
	}
	i->kind = RCSHIM_KIND_FD;
	i->handle = (uint64_t)fd;
	i->scope = e->scope;
	i->flags = (uint8_t)flags;
	/* Without a stack (a fork child's first sites, RCSHIM_STACK_DEPTH=0,
	 * or the unwinder busy) the interposer's caller still names the
	 * call site. */
	i->stack = rc_fd_stack_of(e);
	return true;
}

static uint64_t
item_key(const struct rc_item *i)
{
	return (uint64_t)i->kind << 32 | i->stack;
}

/* Stable merge sort by (kind, stack): qsort may allocate. */
static void
sort_items(struct rc_item *v, size_t n)
{
	if (n < 2) {
		return;
	}
	struct rc_item *tmp = rc_alloc(n * sizeof(*tmp));
	if (!tmp) {
		return;
	}
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n;
			size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t a = lo, b = mid, k = lo;
			while (a < mid && b < hi) {
				tmp[k++] = item_key(&v[b]) < item_key(&v[a]) ? v[b++] : v[a++];
			}
			while (a < mid) {
				tmp[k++] = v[a++];
			}
			while (b < hi) {
				tmp[k++] = v[b++];
			}
		}
		memcpy(v, tmp, n * sizeof(*v));
	}
	rc_free(tmp);
}

/* Every record and fd this process owns, copied. */
static void
gather(struct rc_item **out, size_t *n)
{
	struct items it = { 0 };
	int32_t pid = rc_sys_getpid();
	struct rc_record *list;
	size_t nrec = rc_reg_collect(owned_record, &pid, false, &list);

	for (size_t k = 0; k < nrec; k++) {
		struct rc_item *i = items_push(&it);
		if (!i) {
			break;
		}
		i->kind = list[k].kind;
		i->handle = list[k].handle;
		i->size = list[k].size;
		i->stack = list[k].stack;
		i->scope = list[k].scope;
		i->flags = list[k].flags;
		i->path = list[k].path ? rc_strdup(list[k].path) : NULL;
	}
	rc_reg_free_list(list, nrec);
	struct fd_ctx c = { &it, pid };
	rc_fd_foreach(collect_fd, &c);
	sort_items(it.v, it.n);
	*out = it.v;
	*n = it.n;
}

static void
free_items(struct rc_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rc_free(v[i].path);
	}
	rc_free(v);
}

/* --- one report ---------------------------------------------------------------- */

/* Frames are named by the launcher when it gathers the reports
 * (report/symbol.h); said to the symbolizer here, when a report is
 * written, not at start-up (a page of its own, in every process). */
static struct rc_symbolizer *
sym_begin(void)
{
	rc_sym_defer(rc_cfg.gather != NULL);
	return rc_sym_begin();
}

static void
build(struct rc_report *r, enum rc_report_event ev, int signo,
      const struct rcshim_result *final)
{
	memset(r, 0, sizeof(*r));
	r->event = ev;
	r->signo = signo;
	r->pid = rc_sys_getpid();
	/* The time is set by the caller that writes a report (a quiet line
	 * has none: reading the clock faults the vDSO's pages in). */
	r->final = final;
	r->prio = ev == RC_EVENT_SIGNAL ? rc_cfg.priority : rc_cfg.exit_priority;
	/* r->exe: read by the writer (read_exe, or a quiet line's). */

	/* What is held: as it was before the final cleanup, if known. */
	if (ev != RC_EVENT_SNAPSHOT && R.snap_taken) {
		r->items = R.snap;
		r->nitems = R.nsnap;
		R.snap = NULL;
		R.nsnap = 0;
		R.snap_taken = false;
	} else {
		gather(&r->items, &r->nitems);
	}
	/* Nothing allocated for what is empty: the process that held
	 * nothing writes its quiet line without mapping the arena (a system
	 * call and the page faults of a fresh mapping, in every process
	 * under the launcher). */
	r->groups = r->nitems ? rc_alloc(r->nitems * sizeof(*r->groups)) : NULL;
	for (size_t i = 0; r->groups && i < r->nitems; i++) {
		if (i == 0 || item_key(&r->items[i]) != item_key(&r->items[i - 1])) {
			r->groups[r->ngroups++] = (struct rc_group){ i, 0, 0 };
		}
		r->groups[r->ngroups - 1].n++;
		r->groups[r->ngroups - 1].bytes += r->items[i].size;
	}

	/* Without a driver the GPU kind is absent, not merely empty. */
	r->gpu_present = rc_gpu_present();

	/* The heap: exact totals now (after the cleanup at exit, which may
	 * have freed some), the estimates, and its samples by stack. */
	r->heap_inactive = rc_heap_inactive_reason();
	r->heap_active = !r->heap_inactive && (rc_cfg.track & (1u << RCSHIM_KIND_HEAP));
	if (r->heap_active) {
		rc_heap_summarize(&r->heap);
	}

	rc_spin_lock(&R.log_lock);
	size_t nc = R.ncleanups < RC_REPORT_MAX_CLEANUPS ? R.ncleanups : RC_REPORT_MAX_CLEANUPS;
	r->cleanups = nc ? rc_alloc(nc * sizeof(*r->cleanups)) : NULL;
	if (r->cleanups) {
		/* Oldest first. */
		for (size_t i = 0; i < nc; i++) {
			r->cleanups[i] = L.cleanups[(R.ncleanups - nc + i) % RC_REPORT_MAX_CLEANUPS];
		}
		r->ncleanups = nc;
		r->cleanups_dropped = R.ncleanups - nc;
	}
	size_t nn = R.nnotes < RC_REPORT_MAX_NOTES ? R.nnotes : RC_REPORT_MAX_NOTES;
	r->notes = nn ? rc_alloc(nn * sizeof(*r->notes)) : NULL;
	if (r->notes) {
		memcpy(r->notes, L.notes, nn * sizeof(*r->notes));
		r->nnotes = nn;
		r->notes_dropped = R.nnotes - nn;
	}
	rc_spin_unlock(&R.log_lock);

	r->arena_mapped = rc_arena_mapped();
	r->stack_count = rc_stack_count();
	r->stack_memory = rc_stack_memory();
	r->sample_memory = rc_heap_sample_memory();
	r->sym = NULL; /* begun when the report is emitted (not a quiet line) */
}

/* The program's file, for a full report: /proc/self/exe. */
static void
read_exe(struct rc_report *r)
{
	ssize_t n = rc_sys_readlinkat(AT_FDCWD, "/proc/self/exe", r->exe, sizeof(r->exe) - 1);
	r->exe[n > 0 ? n : 0] = '\0';
}

/* The command line, for a full report (a quiet line names the exe only). */
static void
read_cmdline(struct rc_report *r)
{
	ssize_t n = rc_report_read_small("/proc/self/cmdline", r->cmdline, sizeof(r->cmdline));
	r->cmdline_len = n > 0 ? (size_t)n : 0;
	r->cmdline_cut = r->cmdline_len == sizeof(r->cmdline);
	/* Words end in a NUL; one cut short ends at the buffer's end. */
	while (r->cmdline_len && r->cmdline[r->cmdline_len - 1] == '\0') {
		r->cmdline_len--;
	}
}

static void
release(struct rc_report *r)
{
	free_items(r->items, r->nitems);
	rc_free(r->groups);
	rc_free(r->heap.groups);
	rc_free(r->cleanups);
	rc_free(r->notes);
	rc_sym_end(r->sym);
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = rc_append(fd, p, n);
		if (w == -EINTR) {
			continue;
		}
		if (w < 0) {
			return (int)w;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
write_report(int fd, enum rc_report_format fmt, enum rc_report_event ev, int signo,
	     const struct rcshim_result *final)
{
	struct rc_report r;
	struct rc_out o = { 0 };
	int rc;

	rc_guard++;
	/* Inside a signal handler (rc_self.signal_safe), never a wait that
	 * might not end: the writer may be waiting, inside libdw, for the
	 * allocator's lock the interrupted code holds. */
	if (rc_self.signal_safe && !rc_spin_trylock_for(&R.write_lock, 100)) {
		rc_guard--;
		return -EBUSY;
	}
	if (!rc_self.signal_safe) {
		rc_spin_lock(&R.write_lock);
	}
	build(&r, ev, signo, final);
	read_exe(&r);
	r.time_ms = now_ms();
	read_cmdline(&r);
	r.sym = sym_begin();
	if (fmt == RC_REPORT_JSON) {
		rc_report_emit_json(&o, &r);
	} else {
		rc_report_emit_text(&o, &r);
	}
	release(&r);
	rc_spin_unlock(&R.write_lock);
	/* One write: reports of several processes appending to one file
	 * do not interleave. */
	rc = o.oom && !o.len ? -ENOMEM : write_all(fd, o.p, o.len);
	rc_out_free(&o);
	rc_guard--;
	return rc;
}

/* --- the report file ------------------------------------------------------------ */

/* RCSHIM_REPORT for this process in @buf; *@per_pid: whether a %p was
 * expanded (the file is then this process's alone). */
static const char *
expand_path(char *buf, size_t len, bool *per_pid)
{
	const char *s = rc_cfg.report;
	size_t n = 0;

	*per_pid = false;
	buf[0] = '\0';
	for (; *s && n + 1 < len; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			n += rc_fmt(buf + n, len - n, "%d", (int)rc_sys_getpid());
			*per_pid = true;
			s++;
		} else if (s[0] == '%' && s[1] == '%') {
			buf[n++] = '%';
			s++;
		} else {
			buf[n++] = *s;
		}
	}
	buf[n < len ? n : len - 1] = '\0';
	return buf;
}

const char *
rc_report_path(char *buf, size_t len)
{
	bool per_pid;
	return expand_path(buf, len, &per_pid);
}

/* Says once per process why its report cannot be written. */
static void
refused(const char *path, const char *why)
{
	int32_t pid = rc_sys_getpid();
	if (atomic_exchange(&R.warned_pid, pid) != pid) {
		rc_warn("report not written to %s: %s", path, why);
	}
}

/* A path with %p names this process's own file: created new (O_EXCL) by
 * the first report or line of the process, appended to by the next ones
 * only while the path still names that file.  Threads of the process may
 * race to the first one: one creates, the others wait for it. */
static int
open_per_pid(const char *path, char *why, size_t n)
{
	int32_t pid = rc_sys_getpid();
	int32_t c = atomic_load(&R.create_pid);
	if (c != pid && atomic_compare_exchange_strong(&R.create_pid, &c, pid)) {
		struct rc_dest_id id = { 0, 0 };
		int fd = rc_report_dest_open(path, RC_DEST_NEW, &id, why, n);
		R.made_id = id;
		R.made_ok = fd >= 0;
		atomic_store(&R.made_pid, pid);
		return fd;
	}
	/* Another thread creates it: a few system calls. */
	for (unsigned i = 0; atomic_load(&R.made_pid) != pid && i < 100000; i++) {
		rc_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
	}
	if (atomic_load(&R.made_pid) != pid || !R.made_ok) {
		why[0] = '\0'; /* refused already, and said so */
		return -EEXIST;
	}
	struct rc_dest_id id = R.made_id;
	return rc_report_dest_open(path, RC_DEST_SAME, &id, why, n);
}

/* The report file, opened for appending (several processes of a session
 * may share a path without %p) under the rules of report/dest.h; -1 when
 * none is configured or it is refused (said once per process). */
static int
open_report(bool *close_it)
{
	char path[1100], why[160];
	bool per_pid;
	*close_it = false;
	if (!expand_path(path, sizeof(path), &per_pid)[0]) {
		return -1;
	}
	if (strcmp(path, "-") == 0) {
		/* Only while fd 2 is still the process's stderr. */
		return rc_log_stderr_ok() ? 2 : -1;
	}
	int fd = per_pid ? open_per_pid(path, why, sizeof(why))
			 : rc_report_dest_open(path, RC_DEST_APPEND, NULL, why, sizeof(why));
	if (fd < 0) {
		if (why[0]) {
			refused(path, why);
		}
		return -1;
	}
	*close_it = true;
	return fd;
}

/* Under the launcher (rc_cfg.gather): whether the report of this
 * process has nothing to say but that it ran: nothing held at its end,
 * no cleanup, no note, no heap sample.  Such a process adds one line to
 * the session's shared "quiet" file instead of a report file of its own
 * (a new file made, read and removed for each process of a build or a
 * shell loop). */


static bool
is_quiet(const struct rc_report *r)
{
	/* A timeline (RCSHIM_TIMELINE) is a picture of the whole run, also
	 * of a process that ended with nothing. */
	return r->event == RC_EVENT_EXIT && !rc_cfg.timeline_ms && r->nitems == 0 &&
	       r->ncleanups == 0 &&
	       r->cleanups_dropped == 0 && r->nnotes == 0 && r->notes_dropped == 0 &&
	       (!r->heap_active || r->heap.ngroups == 0);
}

/* The quiet line: "== rcshim report: pid N held nothing (heap B blocks,
 * Y bytes): EXE" (the launcher's gather reads it back).  EXE is the path
 * the program was started by (AT_EXECFN) where that is absolute: reading
 * /proc/self/exe took a fresh process 15 us, half of what its quiet
 * line cost (docs/performance.md); else /proc/self/exe. */
static bool
write_quiet(struct rc_report *r)
{
	char why[160], exe[700], line[900];
	const char *fn = (const char *)getauxval(AT_EXECFN);
	if (fn && fn[0] == '/' && strnlen(fn, sizeof(r->exe)) < sizeof(r->exe)) {
		memcpy(r->exe, fn, strlen(fn) + 1);
	} else {
		read_exe(r);
	}
	int fd = rc_report_dest_open(rc_cfg.gather, RC_DEST_APPEND, NULL, why, sizeof(why));
	if (fd < 0) {
		return false; /* the full report then says it, or why not */
	}
	rc_esc_text(exe, sizeof(exe), r->exe, strlen(r->exe));
	long long b = r->heap_active ? (long long)r->heap.blocks : 0;
	long long y = r->heap_active ? (long long)r->heap.bytes : 0;
	int n = rc_fmt(line, sizeof(line), "== rcshim report: pid %d held nothing (heap %lld blocks, "
			"%lld bytes): %s\n", (int)r->pid, b, y, exe);
	int rc = write_all(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	rc_sys_close(fd);
	return rc == 0;
}

/* A full report under the launcher, appended to the session's shared file
 * (rc_cfg.gather) as one record (report/dest.h): a line that gives its
 * pid, the length of the report and the time, the report as it would be
 * in a file of its own, and a line that ends it.  One writev: the kernel
 * appends a write to a regular file whole, under the file's lock, so the
 * records of processes that end together never interleave; one cut short
 * (a full disk) lacks its end and the reader drops it (cli/records.c).
 * Not a new file per process: making a file costs a local file system far
 * more than appending to one (docs/performance.md).  Fails (false) only
 * when nothing was written. */
static bool
append_record(int32_t pid, const struct rc_out *o)
{
	char why[160], head[160], end[64];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int n = rc_fmt(head, sizeof(head), RC_REPORT_RECORD_HEAD "%d, %zu bytes, at %lld.%09ld\n",
		       (int)pid, o->len, (long long)ts.tv_sec, (long)ts.tv_nsec);
	int e = rc_fmt(end, sizeof(end), RC_REPORT_RECORD_END "%d\n", (int)pid);
	if (n <= 0 || (size_t)n >= sizeof(head) || e <= 0 || (size_t)e >= sizeof(end)) {
		return false;
	}
	int fd = rc_report_dest_open(rc_cfg.gather, RC_DEST_APPEND, NULL, why, sizeof(why));
	if (fd < 0) {
		return false; /* the process's own file then, or why not */
	}
	struct iovec iov[3] = { { head, (size_t)n }, { o->p, o->len }, { end, (size_t)e } };
	long w;
	do {
		w = rc_appendv(fd, iov, 3);
	} while (w == -EINTR);
	rc_sys_close(fd);
	return w > 0;
}

static void
final_report(enum rc_report_event ev, int signo, const struct rcshim_result *final)
{
	bool close_it;
	if (atomic_exchange(&R.final_written, true)) {
		return;
	}
	if (rc_cfg.gather && ev == RC_EVENT_EXIT && !rc_self.signal_safe) {
		/* Built once: the state held before the final cleanup
		 * (R.snap) is taken by the first build. */
		struct rc_report r;
		struct rc_out o = { 0 };
		rc_guard++;
		rc_spin_lock(&R.write_lock);
		build(&r, ev, signo, final);
		bool quiet = is_quiet(&r) && write_quiet(&r);
		if (!quiet) {
			read_exe(&r);
			r.time_ms = now_ms();
			read_cmdline(&r);
			r.sym = sym_begin();
			(rc_cfg.report_format == RC_REPORT_JSON ? rc_report_emit_json
								 : rc_report_emit_text)(&o, &r);
		}
		int32_t pid = r.pid;
		release(&r);
		rc_spin_unlock(&R.write_lock);
		/* A process that wrote lines of its own file already (live
		 * cleanups) ends its report there. */
		bool appended = !quiet && !o.oom && atomic_load(&R.create_pid) != rc_sys_getpid() &&
				append_record(pid, &o);
		int fd = quiet || appended ? -1 : open_report(&close_it);
		if (fd >= 0) {
			if (!o.oom || o.len) {
				write_all(fd, o.p, o.len);
			}
			if (close_it) {
				rc_sys_close(fd);
			}
		}
		rc_out_free(&o);
		rc_guard--;
		return;
	}
	int fd = open_report(&close_it);
	if (fd < 0) {
		return;
	}
	write_report(fd, rc_cfg.report_format, ev, signo, final);
	if (close_it) {
		rc_sys_close(fd);
	}
}

/* --- the interface -------------------------------------------------------------- */

int
rc_report_write(int fd, enum rc_report_format fmt)
{
	if (fd < 0) {
		return -EBADF;
	}
	return write_report(fd, fmt, RC_EVENT_SNAPSHOT, 0, NULL);
}

void
rc_report_cleanup(const struct rc_clean_req *req, const struct rcshim_result *res)
{
	struct rc_cleanup_entry c;
	if (!req || !res) {
		return;
	}
	c.time_ms = now_ms();
	c.req = *req;
	c.res = *res;
	rc_spin_lock(&R.log_lock);
	L.cleanups[R.ncleanups % RC_REPORT_MAX_CLEANUPS] = c;
	R.ncleanups++;
	rc_spin_unlock(&R.log_lock);
	rc_timeline_event(req, res);

	if (req->mode == RC_MODE_FINAL && req->scope == 0 && req->reason == RC_REASON_SIGNAL) {
		/* The process ends right after this: no destructor will
		 * write the final report. */
		final_report(RC_EVENT_SIGNAL, req->signo, res);
		return;
	}
	if (req->mode != RC_MODE_LIVE) {
		return; /* scopes and explicit final requests: kept for the report */
	}
	bool close_it;
	rc_guard++;
	int fd = open_report(&close_it);
	if (fd >= 0) {
		struct rc_out o = { 0 };
		rc_report_emit_cleanup_line(&o, rc_cfg.report_format, rc_sys_getpid(), &c);
		write_all(fd, o.p, o.len);
		rc_out_free(&o);
		if (close_it) {
			rc_sys_close(fd);
		}
	}
	rc_guard--;
}

void
rc_report_scope_heap(uint32_t scope, uint32_t parent, rcshim_priority prio, bool freed,
		     uint64_t blocks, uint64_t bytes, const struct rc_heap_scope_group *g,
		     size_t ng)
{
	char name[RC_SCOPE_NAME_MAX];
	rc_scope_name(scope, name, sizeof(name));
	char fate[48];
	if (freed) {
		rc_fmt(fate, sizeof(fate), "freed");
	} else if (parent) {
		rc_fmt(fate, sizeof(fate), "kept, handed to scope %u", (unsigned)parent);
	} else {
		rc_fmt(fate, sizeof(fate), "kept, handed to the process");
	}
	rc_report_note("scope %u \"%s\" ended with %lu heap blocks (%lu bytes) allocated "
		       "inside it still live: %s", (unsigned)scope, name, (unsigned long)blocks,
		       (unsigned long)bytes, fate);
	rc_info("scope %u \"%s\": %lu heap blocks (%lu bytes) allocated inside it still live "
		"at its end: %s", (unsigned)scope, name, (unsigned long)blocks,
		(unsigned long)bytes, fate);
	if (prio < RCSHIM_HIGH) {
		return;
	}
	bool close_it;
	rc_guard++;
	int fd = open_report(&close_it);
	if (fd >= 0) {
		struct rc_scope_heap_entry e = { rc_sys_getpid(), scope, parent, name, prio, freed,
						 fate, blocks, bytes, g, ng };
		struct rc_out o = { 0 };
		rc_spin_lock(&R.write_lock);
		rc_sym_defer(rc_cfg.gather != NULL);
		rc_report_emit_scope_heap(&o, rc_cfg.report_format, &e);
		rc_spin_unlock(&R.write_lock);
		write_all(fd, o.p, o.len);
		rc_out_free(&o);
		if (close_it) {
			rc_sys_close(fd);
		}
	}
	rc_guard--;
}

void
rc_report_note(const char *fmt, ...)
{
	char line[RC_REPORT_NOTE_LEN];
	va_list ap;

	va_start(ap, fmt);
	rc_vfmt(line, sizeof(line), fmt, ap);
	va_end(ap);
	rc_spin_lock(&R.log_lock);
	if (R.nnotes < RC_REPORT_MAX_NOTES) {
		memcpy(L.notes[R.nnotes], line, sizeof(line));
	}
	R.nnotes++;
	rc_spin_unlock(&R.log_lock);
}

void
rc_report_before_exit(void)
{
	rc_timeline_final();
	if (!rc_cfg.report[0] || R.snap_taken) {
		return;
	}
	rc_guard++;
	gather(&R.snap, &R.nsnap);
	R.snap_taken = true;
	rc_guard--;
}

void
rc_report_at_exit(const struct rcshim_result *final)
{
	if (!rc_cfg.report[0]) {
		return; /* no report wanted: R stays untouched (start-up's pages) */
	}
	final_report(RC_EVENT_EXIT, 0, final);
}
