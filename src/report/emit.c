/* The two report formats: text for people, JSON (one object per line)
 * for programs.  The JSON schema is docs/report-format.md. */
#include "build-config.h"

#include <string.h>

#include "core/arena.h"
#include "core/escape.h"
#include "core/fdtable.h"
#include "core/log.h"
#include "core/registry.h"
#include "core/stack.h"
#include "report/internal.h"
#include "report/timeline.h"

#define TEXT_ITEMS_PER_GROUP 8
#define JSON_ITEMS_PER_GROUP 64
#define TEXT_RECLAIMED 8 /* items of the final cleanup named in text */

/* --- the output buffer ---------------------------------------------------------- */

void
rc_out_add(struct rc_out *o, const char *s, size_t n)
{
	if (o->oom) {
		return;
	}
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16384;
		while (cap < o->len + n + 1) {
			cap *= 2;
		}
		char *p = rc_alloc(cap);
		if (!p) {
			o->oom = true;
			return;
		}
		if (o->p) {
			memcpy(p, o->p, o->len);
			rc_free(o->p);
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

void
rc_out_str(struct rc_out *o, const char *s)
{
	rc_out_add(o, s, strlen(s));
}

void
rc_out_fmt(struct rc_out *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	size_t n = rc_vfmt(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	rc_out_add(o, buf, n);
}

void
rc_out_json_str(struct rc_out *o, const char *s)
{
	rc_out_add(o, "\"", 1);
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	const unsigned char *end = p + strlen((const char *)p);
	while (*p) {
		const unsigned char *run = p;
		while (*p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80) {
			p++;
		}
		rc_out_add(o, (const char *)run, (size_t)(p - run));
		if (!*p) {
			break;
		}
		size_t n;
		if (*p == '"' || *p == '\\') {
			char esc[2] = { '\\', (char)*p };
			rc_out_add(o, esc, 2);
			p++;
		} else if (*p < 0x20) {
			rc_out_fmt(o, "\\u%c%c%c%c", '0', '0', "0123456789abcdef"[*p >> 4],
				   "0123456789abcdef"[*p & 15]);
			p++;
		} else if ((n = rc_utf8_len(p, (size_t)(end - p))) > 0) {
			rc_out_add(o, (const char *)p, n);
			p += n;
		} else {
			rc_out_fmt(o, "\\u00%c%c", "0123456789abcdef"[*p >> 4],
				   "0123456789abcdef"[*p & 15]);
			p++;
		}
	}
	rc_out_add(o, "\"", 1);
}

void
rc_out_text(struct rc_out *o, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	while (n > 0) {
		size_t k = rc_esc_text_plain(s, n);
		rc_out_add(o, s, k);
		s += k;
		n -= k;
		if (n > 0) {
			char esc[5];
			rc_out_add(o, esc, rc_esc_text_byte((unsigned char)*s, esc));
			s++;
			n--;
		}
	}
}

static void
out_hex(struct rc_out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	rc_out_add(o, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char h[2] = { hex[*p >> 4], hex[*p & 15] };
		rc_out_add(o, h, 2);
	}
	rc_out_add(o, "\"", 1);
}

bool
rc_out_json_needs_hex(const char *s)
{
	return s && !rc_utf8_valid(s, strlen(s));
}

void
rc_out_json_member(struct rc_out *o, const char *key, const char *s)
{
	rc_out_fmt(o, "\"%s\":", key);
	rc_out_json_str(o, s);
	if (rc_out_json_needs_hex(s)) {
		rc_out_fmt(o, ",\"%s_hex\":", key);
		out_hex(o, s);
	}
}

void
rc_out_json_hex_or_null(struct rc_out *o, const char *s)
{
	if (rc_out_json_needs_hex(s)) {
		out_hex(o, s);
	} else {
		rc_out_str(o, "null");
	}
}

/* Calls @fn on each word of the NUL-separated [buf, buf + len). */
static bool
each_word(struct rc_out *o, const char *buf, size_t len, bool (*fn)(struct rc_out *, const char *, bool),
	  bool stop_on_true)
{
	bool first = true;
	for (size_t i = 0; i < len; first = false) {
		size_t l = strnlen(buf + i, len - i);
		char word[2048];
		l = l < sizeof(word) ? l : sizeof(word) - 1;
		memcpy(word, buf + i, l);
		word[l] = '\0';
		if (fn(o, word, first) && stop_on_true) {
			return true;
		}
		i += strnlen(buf + i, len - i) + 1;
	}
	return false;
}

static bool
word_json(struct rc_out *o, const char *w, bool first)
{
	rc_out_str(o, first ? "" : ",");
	rc_out_json_str(o, w);
	return false;
}

static bool
word_hex(struct rc_out *o, const char *w, bool first)
{
	rc_out_str(o, first ? "" : ",");
	rc_out_json_hex_or_null(o, w);
	return false;
}

static bool
word_needs_hex(struct rc_out *o, const char *w, bool first)
{
	(void)o;
	(void)first;
	return rc_out_json_needs_hex(w);
}

void
rc_out_json_words(struct rc_out *o, const char *buf, size_t len, bool hex)
{
	each_word(o, buf, len, hex ? word_hex : word_json, false);
}

bool
rc_out_words_need_hex(const char *buf, size_t len)
{
	return each_word(NULL, buf, len, word_needs_hex, true);
}

void
rc_out_free(struct rc_out *o)
{
	rc_free(o->p);
	o->p = NULL;
	o->len = o->cap = 0;
}

/* --- names --------------------------------------------------------------------- */

const char *
rc_report_reason_name(int reason)
{
	static const char *const names[] = {
		[RC_REASON_EXIT] = "exit",       [RC_REASON_SIGNAL] = "signal",
		[RC_REASON_CRASH] = "crash",     [RC_REASON_API] = "api",
		[RC_REASON_SCOPE] = "scope",     [RC_REASON_LIVE_SIGNAL] = "live_signal",
		[RC_REASON_TIMER] = "timer",     [RC_REASON_PRESSURE] = "pressure",
	};
	return (unsigned)reason < sizeof(names) / sizeof(*names) && names[reason]
		       ? names[reason] : "unknown";
}

const char *
rc_report_mode_name(int mode)
{
	return mode == RC_MODE_LIVE ? "live" : mode == RC_MODE_CRASH ? "crash" : "final";
}

const char *
rc_report_status_name(int status)
{
	static const char *const names[] = { "ok", "partial", "busy", "invalid", "disabled" };
	return (unsigned)status < 5 ? names[status] : "unknown";
}

static const char *
event_name(enum rc_report_event ev)
{
	return ev == RC_EVENT_EXIT ? "exit" : ev == RC_EVENT_SIGNAL ? "signal" : "snapshot";
}

static uint64_t
round_u64(double x)
{
	return x <= 0 ? 0 : (uint64_t)(x + 0.5);
}

static const char *
fd_what(uint8_t flags)
{
	if (flags & RC_FD_TEMP) {
		return "temp file";
	}
	return flags & RC_FD_STDIO ? "FILE" : "fd";
}

/* Order in which kinds appear. */
static const int kind_order[] = {
	RCSHIM_KIND_HEAP, RCSHIM_KIND_TEMP, RCSHIM_KIND_FD,
	RCSHIM_KIND_SQLITE, RCSHIM_KIND_GPU, RCSHIM_KIND_CUSTOM,
};

static void
kind_totals(const struct rc_report *r, int kind, size_t *groups_first, size_t *ngroups,
	    uint64_t *count, uint64_t *bytes)
{
	*groups_first = 0;
	*ngroups = 0;
	*count = *bytes = 0;
	bool started = false;
	for (size_t g = 0; g < r->ngroups; g++) {
		if (r->items[r->groups[g].first].kind != kind) {
			continue;
		}
		if (!started) {
			*groups_first = g;
			started = true;
		}
		(*ngroups)++;
		*count += r->groups[g].n;
		*bytes += r->groups[g].bytes;
	}
}

/* --- text ------------------------------------------------------------------------ */

static void
text_frames(struct rc_out *o, struct rc_report *r, uint32_t stack)
{
	const uintptr_t *pc;
	unsigned n = rc_stack_frames(stack, &pc);
	if (n == 0) {
		rc_out_str(o, "      (no stack)\n");
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		struct rc_frame_info f;
		rc_sym_lookup(r->sym, pc[i], &f);
		rc_out_fmt(o, "      #%-2u 0x%lx ", i, (unsigned long)pc[i]);
		if (f.deferred) {
			/* Named by the launcher (cli/symbolize.c): the
			 * address in the object, and the object's build id. */
			rc_out_fmt(o, "?+0x%lx in ", (unsigned long)f.offset);
			rc_out_text(o, f.object);
			rc_out_fmt(o, " [unsymbolized %s]\n", f.build_id[0] ? f.build_id : "-");
			continue;
		}
		rc_out_text(o, f.function[0] ? f.function : "?");
		rc_out_fmt(o, "+0x%lx", (unsigned long)f.offset);
		if (f.object[0]) {
			rc_out_str(o, " in ");
			rc_out_text(o, f.object);
		}
		if (f.file[0]) {
			rc_out_str(o, " at ");
			rc_out_text(o, f.file);
			rc_out_fmt(o, ":%d", f.line);
		}
		rc_out_str(o, "\n");
	}
}

static void
text_result(struct rc_out *o, const struct rcshim_result *res)
{
	char what[256];
	rc_result_describe(res, what, sizeof(what));
	rc_out_fmt(o, "%s; %lu cleaned, %lu failed, %lu left alone, %lu bytes (%s)",
		   rc_report_status_name(res->status), (unsigned long)res->cleaned,
		   (unsigned long)res->failed, (unsigned long)res->skipped,
		   (unsigned long)res->bytes, what);
}

/* Whether sampling left part of the heap without a stack: the groups,
 * scaled, cover less than the exact total (DESIGN §8). */
static bool
heap_hint(const struct rc_heap_summary *h)
{
	return h->interval > 1 && h->bytes > 0 && h->groups_bytes + 0.5 < (double)h->bytes;
}

static void
text_heap(struct rc_out *o, struct rc_report *r)
{
	const struct rc_heap_summary *h = &r->heap;
	if (!r->heap_active) {
		rc_out_fmt(o, "heap: not tracked (%s)\n",
			   r->heap_inactive ? r->heap_inactive : "RCSHIM_TRACK leaves it out");
		return;
	}
	/* Exact: blocks, and bytes as the allocator holds them (usable
	 * size); requested bytes exact only in RCSHIM_HEAP=exact. */
	rc_out_fmt(o, "heap: %ld blocks, %ld bytes %s (exact, usable size); ", (long)h->blocks,
		   (long)h->bytes, r->event == RC_EVENT_SNAPSHOT ? "in use" : "still allocated");
	if (h->requested_exact) {
		rc_out_fmt(o, "%ld bytes requested (exact)\n", (long)h->requested);
	} else {
		rc_out_fmt(o, "about %ld bytes requested (estimated)\n", (long)h->requested);
	}
	if (h->interval <= 1) {
		rc_out_fmt(o, "  every allocation sampled: %lu blocks, %lu bytes with stacks\n",
			   (unsigned long)h->samples, (unsigned long)h->sampled_bytes);
	} else {
		rc_out_fmt(o, "  sampled every %zu bytes on average: %lu samples of %lu bytes; "
			   "groups below are estimates\n",
			   h->interval, (unsigned long)h->samples, (unsigned long)h->sampled_bytes);
	}
	for (size_t g = 0; g < h->ngroups; g++) {
		const struct rc_heap_group *gr = &h->groups[g];
		rc_out_fmt(o, "  %s%lu blocks, %lu bytes (%lu requested; %lu samples), allocated at:\n",
			   h->interval > 1 ? "about " : "", (unsigned long)round_u64(gr->est_blocks),
			   (unsigned long)round_u64(gr->est_bytes),
			   (unsigned long)round_u64(gr->est_requested), (unsigned long)gr->samples);
		text_frames(o, r, gr->stack);
	}
	if (heap_hint(h)) {
		rc_out_fmt(o, "  hint: the groups above cover about %lu of the %ld bytes; "
			   "--heap-sample 1 (RCSHIM_HEAP_SAMPLE=1) records every allocation "
			   "with its stack\n",
			   (unsigned long)round_u64(h->groups_bytes), (long)h->bytes);
	}
}

static void
text_kind(struct rc_out *o, struct rc_report *r, int kind)
{
	size_t g0, ng;
	uint64_t count, bytes;
	kind_totals(r, kind, &g0, &ng, &count, &bytes);
	if (!(rc_cfg.track & (1u << kind)) && count == 0) {
		rc_out_fmt(o, "%s: not tracked\n", rc_kind_name(kind));
		return;
	}
	if (kind == RCSHIM_KIND_GPU && !r->gpu_present && count == 0) {
		rc_out_str(o, "gpu: absent (no CUDA driver)\n");
		return;
	}
	rc_out_fmt(o, "%s: %lu held", rc_kind_name(kind), (unsigned long)count);
	if (bytes) {
		rc_out_fmt(o, ", %lu bytes", (unsigned long)bytes);
	}
	rc_out_str(o, "\n");
	for (size_t g = g0; g < g0 + ng; g++) {
		const struct rc_group *grp = &r->groups[g];
		rc_out_fmt(o, "  %zu, acquired at:\n", grp->n);
		for (size_t i = grp->first; i < grp->first + grp->n; i++) {
			const struct rc_item *it = &r->items[i];
			if (i - grp->first == TEXT_ITEMS_PER_GROUP) {
				rc_out_fmt(o, "    ... and %zu more\n", grp->n - TEXT_ITEMS_PER_GROUP);
				break;
			}
			rc_out_str(o, "    ");
			if (kind == RCSHIM_KIND_FD) {
				rc_out_fmt(o, "%s %lu ", fd_what(it->flags), (unsigned long)it->handle);
			} else if (kind == RCSHIM_KIND_TEMP) {
				rc_out_str(o, it->flags & RC_REC_DIR ? "dir " : "file ");
			} else if (it->handle && kind != RCSHIM_KIND_TEMP) {
				rc_out_fmt(o, "0x%lx ", (unsigned long)it->handle);
			}
			rc_out_text(o, it->path ? it->path : "");
			if (it->size && kind != RCSHIM_KIND_FD) {
				rc_out_fmt(o, " (%lu bytes)", (unsigned long)it->size);
			}
			rc_out_str(o, "\n");
		}
		text_frames(o, r, r->items[grp->first].stack);
	}
}

/* The command line on one line: each word escaped as text; a word with a
 * space or a quote in it, or an empty one, in single quotes. */
static void
text_words(struct rc_out *o, const struct rc_report *r)
{
	for (size_t i = 0; i < r->cmdline_len; i++) {
		const char *w = r->cmdline + i;
		size_t l = strnlen(w, r->cmdline_len - i);
		char word[sizeof(r->cmdline) + 1]; /* a first word may fill it all */
		memcpy(word, w, l);
		word[l] = '\0';
		bool quote = !l || strpbrk(word, " '\"");
		rc_out_str(o, i ? " " : "");
		rc_out_str(o, quote ? "'" : "");
		rc_out_text(o, word);
		rc_out_str(o, quote ? "'" : "");
		i += l;
	}
	if (r->cmdline_cut) {
		rc_out_str(o, " ...");
	}
}

/* What the final cleanup reclaimed, item by item (clean/engine.h). */
static void
text_reclaimed(struct rc_out *o)
{
	const struct rc_reclaimed *l = &rc_last_reclaimed;
	for (uint32_t i = 0; i < l->n && i < TEXT_RECLAIMED; i++) {
		rc_out_fmt(o, "  reclaimed: %s ", rc_kind_name(l->item[i].kind));
		rc_out_text(o, l->item[i].what);
		rc_out_str(o, "\n");
	}
	uint64_t shown = l->n < TEXT_RECLAIMED ? l->n : TEXT_RECLAIMED;
	if (l->total > shown) {
		rc_out_fmt(o, "  and %lu more reclaimed\n", (unsigned long)(l->total - shown));
	}
}

void
rc_report_emit_text(struct rc_out *o, struct rc_report *r)
{
	rc_out_fmt(o, "== rcshim report: pid %d", (int)r->pid);
	if (r->exe[0]) {
		rc_out_str(o, " (");
		rc_out_text(o, r->exe);
		rc_out_str(o, ")");
	}
	if (r->event == RC_EVENT_SNAPSHOT) {
		rc_out_str(o, ", now\n");
	} else if (r->event == RC_EVENT_SIGNAL) {
		rc_out_fmt(o, ", ended by signal %d, priority %s; what it held:\n", r->signo,
			   rc_priority_name(r->prio));
	} else {
		rc_out_fmt(o, ", at exit, priority %s; what it held:\n", rc_priority_name(r->prio));
	}
	if (r->cmdline_len) {
		rc_out_str(o, "command: ");
		text_words(o, r);
		rc_out_str(o, "\n");
	}
	text_heap(o, r);
	for (size_t k = 1; k < sizeof(kind_order) / sizeof(*kind_order); k++) {
		text_kind(o, r, kind_order[k]);
	}
	if (r->final) {
		rc_out_str(o, "final cleanup: ");
		text_result(o, r->final);
		rc_out_str(o, "\n");
		text_reclaimed(o);
	}
	if (r->ncleanups) {
		rc_out_str(o, "cleanups (oldest first):\n");
		if (r->cleanups_dropped) {
			rc_out_fmt(o, "  (%lu earlier ones not kept)\n", (unsigned long)r->cleanups_dropped);
		}
		for (size_t i = 0; i < r->ncleanups; i++) {
			const struct rc_cleanup_entry *c = &r->cleanups[i];
			rc_out_fmt(o, "  %s %s %s: ", rc_report_reason_name(c->req.reason),
				   rc_report_mode_name(c->req.mode), rc_priority_name(c->req.prio));
			text_result(o, &c->res);
			rc_out_str(o, "\n");
		}
	}
	if (r->nnotes) {
		rc_out_str(o, "notes:\n");
		for (size_t i = 0; i < r->nnotes; i++) {
			rc_out_str(o, "  ");
			rc_out_text(o, r->notes[i]);
			rc_out_str(o, "\n");
		}
		if (r->notes_dropped) {
			rc_out_fmt(o, "  (%lu more not kept)\n", (unsigned long)r->notes_dropped);
		}
	}
	rc_timeline_emit_text(o);
	rc_out_fmt(o, "shim memory: %zu bytes mapped; %zu stacks (%zu bytes), "
		   "%lu heap samples (%zu bytes)\n",
		   r->arena_mapped, r->stack_count, r->stack_memory, (unsigned long)r->heap.samples,
		   r->sample_memory);
	if (o->oom) {
		rc_out_str(o, "(report truncated: out of memory)\n");
	}
}

/* --- JSON ------------------------------------------------------------------------ */

static void
json_result(struct rc_out *o, const struct rcshim_result *res)
{
	rc_out_fmt(o, "{\"status\":\"%s\",\"cleaned\":%lu,\"failed\":%lu,\"skipped\":%lu,"
		   "\"bytes\":%lu,\"kinds\":{",
		   rc_report_status_name(res->status), (unsigned long)res->cleaned,
		   (unsigned long)res->failed, (unsigned long)res->skipped,
		   (unsigned long)res->bytes);
	for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
		const struct rcshim_kind_result *kr = &res->kind[k];
		rc_out_fmt(o, "%s\"%s\":{\"cleaned\":%lu,\"failed\":%lu,\"skipped\":%lu,\"bytes\":%lu}",
			   k ? "," : "", rc_kind_name(k), (unsigned long)kr->cleaned,
			   (unsigned long)kr->failed, (unsigned long)kr->skipped,
			   (unsigned long)kr->bytes);
	}
	rc_out_str(o, "}}");
}

static void
json_cleanup(struct rc_out *o, const struct rc_cleanup_entry *c)
{
	rc_out_fmt(o, "{\"time_ms\":%lu,\"reason\":\"%s\",\"mode\":\"%s\",\"priority\":\"%s\","
		   "\"signal\":%d,\"scope\":%u,\"result\":",
		   (unsigned long)c->time_ms, rc_report_reason_name(c->req.reason),
		   rc_report_mode_name(c->req.mode), rc_priority_name(c->req.prio), c->req.signo,
		   (unsigned)c->req.scope);
	json_result(o, &c->res);
	rc_out_str(o, "}");
}

static void
json_item(struct rc_out *o, const struct rc_item *it)
{
	rc_out_str(o, "{");
	switch (it->kind) {
	case RCSHIM_KIND_FD:
		rc_out_fmt(o, "\"fd\":%lu,\"type\":\"%s\",", (unsigned long)it->handle,
			   it->flags & RC_FD_TEMP ? "temp_file"
			   : it->flags & RC_FD_STDIO ? "file_stream" : "fd");
		break;
	case RCSHIM_KIND_TEMP:
		rc_out_fmt(o, "\"type\":\"%s\",", it->flags & RC_REC_DIR ? "dir" : "file");
		break;
	default:
		rc_out_fmt(o, "\"handle\":\"0x%lx\",", (unsigned long)it->handle);
		break;
	}
	rc_out_fmt(o, "\"size\":%lu,\"scope\":%u,\"registered\":%s,",
		   (unsigned long)it->size, (unsigned)it->scope,
		   (it->kind == RCSHIM_KIND_FD ? (it->flags & RC_FD_REGISTERED)
					       : (it->flags & RC_REC_REGISTERED)) ? "true" : "false");
	if (it->path) {
		rc_out_json_member(o, "path", it->path);
	} else {
		rc_out_str(o, "\"path\":null");
	}
	rc_out_str(o, "}");
}

static void
json_kind(struct rc_out *o, struct rc_report *r, int kind)
{
	size_t g0, ng;
	uint64_t count, bytes;
	kind_totals(r, kind, &g0, &ng, &count, &bytes);
	rc_out_fmt(o, "{\"kind\":\"%s\",\"tracked\":%s,\"count\":%lu,\"bytes\":%lu,",
		   rc_kind_name(kind), (rc_cfg.track & (1u << kind)) ? "true" : "false",
		   (unsigned long)count, (unsigned long)bytes);
	if (kind == RCSHIM_KIND_GPU) {
		/* Whether the process has a CUDA driver at all. */
		rc_out_fmt(o, "\"present\":%s,", r->gpu_present || count ? "true" : "false");
	}
	rc_out_str(o, "\"groups\":[");
	for (size_t g = g0; g < g0 + ng; g++) {
		const struct rc_group *grp = &r->groups[g];
		rc_out_fmt(o, "%s{\"stack\":%u,\"count\":%zu,\"bytes\":%lu,\"items\":[",
			   g > g0 ? "," : "", (unsigned)r->items[grp->first].stack, grp->n,
			   (unsigned long)grp->bytes);
		size_t shown = grp->n < JSON_ITEMS_PER_GROUP ? grp->n : JSON_ITEMS_PER_GROUP;
		for (size_t i = 0; i < shown; i++) {
			if (i) {
				rc_out_str(o, ",");
			}
			json_item(o, &r->items[grp->first + i]);
		}
		rc_out_fmt(o, "],\"items_omitted\":%zu}", grp->n - shown);
	}
	rc_out_str(o, "]}");
}

static void
json_heap(struct rc_out *o, struct rc_report *r)
{
	const struct rc_heap_summary *h = &r->heap;
	rc_out_fmt(o, "{\"kind\":\"heap\",\"tracked\":%s,", r->heap_active ? "true" : "false");
	if (!r->heap_active) {
		rc_out_str(o, "\"why_not\":");
		rc_out_json_str(o, r->heap_inactive ? r->heap_inactive
						    : "RCSHIM_TRACK leaves it out");
		rc_out_str(o, ",\"count\":0,\"bytes\":0,\"groups\":[]}");
		return;
	}
	rc_out_fmt(o, "\"mode\":\"%s\",\"count\":%ld,\"bytes\":%ld,\"requested_bytes\":%ld,"
		   "\"requested_exact\":%s,\"sample_interval\":%zu,\"samples\":%lu,"
		   "\"sampled_bytes\":%lu,\"sampled_requested_bytes\":%lu,\"groups\":[",
		   h->exact_mode ? "exact" : "counts", (long)h->blocks, (long)h->bytes,
		   (long)h->requested, h->requested_exact ? "true" : "false", h->interval,
		   (unsigned long)h->samples, (unsigned long)h->sampled_bytes,
		   (unsigned long)h->sampled_requested);
	for (size_t g = 0; g < h->ngroups; g++) {
		const struct rc_heap_group *gr = &h->groups[g];
		rc_out_fmt(o, "%s{\"stack\":%u,\"count\":%lu,\"bytes\":%lu,\"requested_bytes\":%lu,"
			   "\"samples\":%lu,\"sampled_bytes\":%lu,\"sampled_requested_bytes\":%lu}",
			   g ? "," : "", (unsigned)gr->stack, (unsigned long)round_u64(gr->est_blocks),
			   (unsigned long)round_u64(gr->est_bytes),
			   (unsigned long)round_u64(gr->est_requested), (unsigned long)gr->samples,
			   (unsigned long)gr->sampled_bytes, (unsigned long)gr->sampled_requested);
	}
	rc_out_fmt(o, "],\"groups_estimated\":%s,\"groups_bytes\":%lu",
		   h->interval > 1 ? "true" : "false", (unsigned long)round_u64(h->groups_bytes));
	if (heap_hint(h)) {
		rc_out_str(o, ",\"hint\":\"--heap-sample 1 (RCSHIM_HEAP_SAMPLE=1) records every "
			      "allocation with its stack\"");
	}
	rc_out_str(o, "}");
}

static int
cmp_u32(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b;
}

/* The distinct stack ids the report refers to, sorted. */
static size_t
used_stacks(struct rc_report *r, uint32_t **out)
{
	size_t cap = r->ngroups + r->heap.ngroups + 1, n = 0;
	uint32_t *ids = rc_alloc(cap * sizeof(*ids));
	*out = ids;
	if (!ids) {
		return 0;
	}
	for (size_t g = 0; g < r->ngroups; g++) {
		ids[n++] = r->items[r->groups[g].first].stack;
	}
	for (size_t g = 0; g < r->heap.ngroups; g++) {
		ids[n++] = r->heap.groups[g].stack;
	}
	/* Insertion sort: a few hundred ids at most in practice. */
	for (size_t i = 1; i < n; i++) {
		uint32_t v = ids[i];
		size_t j = i;
		while (j > 0 && cmp_u32(ids[j - 1], v) > 0) {
			ids[j] = ids[j - 1];
			j--;
		}
		ids[j] = v;
	}
	size_t u = 0;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] && (u == 0 || ids[u - 1] != ids[i])) {
			ids[u++] = ids[i];
		}
	}
	return u;
}

/* The frames of stack @id, as a JSON array. */
static void
json_frames(struct rc_out *o, struct rc_report *r, uint32_t id)
{
	const uintptr_t *pc;
	unsigned nf = rc_stack_frames(id, &pc);
	rc_out_str(o, "[");
	for (unsigned i = 0; i < nf; i++) {
		struct rc_frame_info f;
		rc_sym_lookup(r->sym, pc[i], &f);
		rc_out_fmt(o, "%s{\"pc\":\"0x%lx\",", i ? "," : "", (unsigned long)pc[i]);
		rc_out_json_member(o, "object", f.object);
		if (f.function[0]) {
			rc_out_str(o, ",");
			rc_out_json_member(o, "function", f.function);
		} else {
			rc_out_str(o, ",\"function\":null");
		}
		rc_out_fmt(o, ",\"offset\":%lu,", (unsigned long)f.offset);
		if (f.file[0]) {
			rc_out_json_member(o, "file", f.file);
			rc_out_fmt(o, ",\"line\":%d}", f.line);
		} else if (f.deferred) {
			/* Named by the launcher: "offset" is the address in the
			 * object until then. */
			rc_out_fmt(o, "\"file\":null,\"line\":null,\"unsymbolized\":\"%s\"}",
				   f.build_id);
		} else {
			rc_out_str(o, "\"file\":null,\"line\":null}");
		}
	}
	rc_out_str(o, "]");
}

static void
json_stacks(struct rc_out *o, struct rc_report *r)
{
	uint32_t *ids;
	size_t n = used_stacks(r, &ids);
	rc_out_str(o, "\"stacks\":[");
	for (size_t s = 0; s < n; s++) {
		rc_out_fmt(o, "%s{\"id\":%u,\"frames\":", s ? "," : "", (unsigned)ids[s]);
		json_frames(o, r, ids[s]);
		rc_out_str(o, "}");
	}
	rc_out_str(o, "]");
	rc_free(ids);
}

void
rc_report_emit_json(struct rc_out *o, struct rc_report *r)
{
	rc_out_fmt(o, "{\"format\":\"rcshim-report\",\"schema\":1,\"rcshim\":\"%s\",\"event\":\"%s\","
		   "\"pid\":%d,\"time_ms\":%lu,",
		   RCSHIM_VERSION, event_name(r->event), (int)r->pid, (unsigned long)r->time_ms);
	rc_out_json_member(o, "exe", r->exe);
	rc_out_str(o, ",\"cmdline\":[");
	rc_out_json_words(o, r->cmdline, r->cmdline_len, false);
	rc_out_str(o, "]");
	if (rc_out_words_need_hex(r->cmdline, r->cmdline_len)) {
		rc_out_str(o, ",\"cmdline_hex\":[");
		rc_out_json_words(o, r->cmdline, r->cmdline_len, true);
		rc_out_str(o, "]");
	}
	if (r->cmdline_cut) {
		rc_out_str(o, ",\"cmdline_truncated\":true");
	}
	if (r->event == RC_EVENT_SNAPSHOT) {
		rc_out_str(o, ",\"priority\":null,\"signal\":null");
	} else {
		rc_out_fmt(o, ",\"priority\":\"%s\",\"signal\":", rc_priority_name(r->prio));
		if (r->event == RC_EVENT_SIGNAL) {
			rc_out_fmt(o, "%d", r->signo);
		} else {
			rc_out_str(o, "null");
		}
	}
	rc_out_str(o, ",\"kinds\":[");
	json_heap(o, r);
	for (size_t k = 1; k < sizeof(kind_order) / sizeof(*kind_order); k++) {
		rc_out_str(o, ",");
		json_kind(o, r, kind_order[k]);
	}
	rc_out_str(o, "],");
	json_stacks(o, r);
	rc_out_str(o, ",\"final\":");
	if (r->final) {
		json_result(o, r->final);
		/* The result's object, with the items it reclaimed. */
		if (o->len && !o->oom) {
			o->len--;
		}
		const struct rc_reclaimed *l = &rc_last_reclaimed;
		rc_out_str(o, ",\"items\":[");
		for (uint32_t i = 0; i < l->n; i++) {
			rc_out_fmt(o, "%s{\"kind\":\"%s\",", i ? "," : "", rc_kind_name(l->item[i].kind));
			rc_out_json_member(o, "what", l->item[i].what);
			rc_out_str(o, "}");
		}
		rc_out_fmt(o, "],\"items_omitted\":%lu}", (unsigned long)(l->total - l->n));
	} else {
		rc_out_str(o, "null");
	}
	rc_out_fmt(o, ",\"cleanups_omitted\":%lu,\"cleanups\":[", (unsigned long)r->cleanups_dropped);
	for (size_t i = 0; i < r->ncleanups; i++) {
		if (i) {
			rc_out_str(o, ",");
		}
		json_cleanup(o, &r->cleanups[i]);
	}
	rc_out_fmt(o, "],\"notes_omitted\":%lu,\"notes\":[", (unsigned long)r->notes_dropped);
	for (size_t i = 0; i < r->nnotes; i++) {
		if (i) {
			rc_out_str(o, ",");
		}
		rc_out_json_str(o, r->notes[i]);
	}
	rc_out_str(o, "]");
	bool hex = false;
	for (size_t i = 0; i < r->nnotes; i++) {
		hex |= rc_out_json_needs_hex(r->notes[i]);
	}
	if (hex) {
		/* A scope's name in a note need not be UTF-8. */
		rc_out_str(o, ",\"notes_hex\":[");
		for (size_t i = 0; i < r->nnotes; i++) {
			rc_out_str(o, i ? "," : "");
			rc_out_json_hex_or_null(o, r->notes[i]);
		}
		rc_out_str(o, "]");
	}
	rc_timeline_emit_json(o);
	rc_out_fmt(o, ",\"shim_memory\":{\"mapped\":%zu,\"stacks\":%zu,\"stack_bytes\":%zu,"
		   "\"sample_bytes\":%zu},\"truncated\":%s}\n",
		   r->arena_mapped, r->stack_count, r->stack_memory, r->sample_memory,
		   o->oom ? "true" : "false");
}

void
rc_report_emit_scope_heap(struct rc_out *o, enum rc_report_format fmt,
			  const struct rc_scope_heap_entry *e)
{
	struct rc_report r;
	memset(&r, 0, sizeof(r));
	r.sym = rc_sym_begin();

	if (fmt == RC_REPORT_JSON) {
		rc_out_fmt(o, "{\"format\":\"rcshim-event\",\"schema\":1,\"pid\":%d,"
			   "\"scope_heap\":{\"scope\":%u,", (int)e->pid, (unsigned)e->scope);
		rc_out_json_member(o, "name", e->name);
		rc_out_fmt(o, ",\"priority\":\"%s\",\"freed\":%s,\"to_scope\":", rc_priority_name(e->prio),
			   e->freed ? "true" : "false");
		if (e->freed) {
			rc_out_str(o, "null");
		} else {
			rc_out_fmt(o, "%u", (unsigned)e->parent);
		}
		rc_out_fmt(o, ",\"count\":%lu,\"bytes\":%lu,\"groups\":[", (unsigned long)e->blocks,
			   (unsigned long)e->bytes);
		for (size_t g = 0; g < e->ngroups; g++) {
			rc_out_fmt(o, "%s{\"count\":%lu,\"bytes\":%lu,\"frames\":", g ? "," : "",
				   (unsigned long)e->groups[g].blocks,
				   (unsigned long)e->groups[g].bytes);
			json_frames(o, &r, e->groups[g].stack);
			rc_out_str(o, "}");
		}
		rc_out_str(o, "]}}\n");
	} else {
		rc_out_fmt(o, "rcshim[%d]: scope %u \"", (int)e->pid, (unsigned)e->scope);
		rc_out_text(o, e->name);
		rc_out_fmt(o, "\" ended (%s) with %lu heap blocks, %lu bytes "
			   "allocated inside it and still live: %s\n", rc_priority_name(e->prio),
			   (unsigned long)e->blocks, (unsigned long)e->bytes, e->fate);
		for (size_t g = 0; g < e->ngroups; g++) {
			rc_out_fmt(o, "  %lu blocks, %lu bytes, allocated at:\n",
				   (unsigned long)e->groups[g].blocks, (unsigned long)e->groups[g].bytes);
			text_frames(o, &r, e->groups[g].stack);
		}
	}
	rc_sym_end(r.sym);
}

void
rc_report_emit_cleanup_line(struct rc_out *o, enum rc_report_format fmt, int32_t pid,
			    const struct rc_cleanup_entry *c)
{
	if (fmt == RC_REPORT_JSON) {
		rc_out_fmt(o, "{\"format\":\"rcshim-event\",\"schema\":1,\"pid\":%d,\"cleanup\":",
			   (int)pid);
		json_cleanup(o, c);
		rc_out_str(o, "}\n");
		return;
	}
	rc_out_fmt(o, "rcshim[%d]: %s cleanup (%s, %s): ", (int)pid,
		   rc_report_mode_name(c->req.mode), rc_report_reason_name(c->req.reason),
		   rc_priority_name(c->req.prio));
	text_result(o, &c->res);
	rc_out_str(o, "\n");
}
