/* Shared between the report's gathering (report.c) and its two output
 * formats (emit.c).  Everything here lives in the shim's arena. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clean/engine.h"
#include "core/config.h"
#include "core/heap.h"
#include "report/symbol.h"

/* A growable output buffer; on out of memory it stops growing and says
 * so (oom), and what fit is still written. */
struct rc_out {
	char *p;
	size_t len, cap;
	bool oom;
};

void rc_out_add(struct rc_out *o, const char *s, size_t n);
void rc_out_str(struct rc_out *o, const char *s);
void rc_out_fmt(struct rc_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal, quotes included; invalid UTF-8 bytes are
 * written as the code points of the same value (as Latin-1). */
void rc_out_json_str(struct rc_out *o, const char *s);
/* A path or name for people: escaped as text (core/escape.h). */
void rc_out_text(struct rc_out *o, const char *s);
/* Whether @s is not well-formed UTF-8 (so that its JSON string alone
 * cannot give its bytes back). */
bool rc_out_json_needs_hex(const char *s);
/* "KEY":"S", then ,"KEY_hex":"<the bytes of S in hex>" when S is not
 * well-formed UTF-8: every byte of a name recoverable
 * (docs/report-format.md, "Names that are not UTF-8"). */
void rc_out_json_member(struct rc_out *o, const char *key, const char *s);
/* The bytes of @s in hex as a JSON string when it is not UTF-8, else null
 * (for the "_hex" array of an array of names). */
void rc_out_json_hex_or_null(struct rc_out *o, const char *s);
void rc_out_free(struct rc_out *o);
/* The NUL-separated words of [buf, buf + len) (a /proc cmdline) as the
 * members of a JSON array, brackets left to the caller; with @hex, each
 * word's bytes in hex where it is not UTF-8, else null. */
void rc_out_json_words(struct rc_out *o, const char *buf, size_t len, bool hex);
/* Whether a word of [buf, buf + len) is not UTF-8. */
bool rc_out_words_need_hex(const char *buf, size_t len);

/* timeline.c: up to @n bytes of a small file (/proc), raw system calls;
 * how many, or -1. */
ssize_t rc_report_read_small(const char *path, char *buf, size_t n);

/* One held resource (not heap). */
struct rc_item {
	uint64_t handle; /* fd number, pointer, or 0 */
	uint64_t size;
	char *path;      /* owned; may be NULL */
	uint32_t stack;
	uint32_t scope;
	uint8_t kind;
	uint8_t flags;   /* record flags (RC_REC_*) or fd flags (RC_FD_*) */
};

/* A run of items with one kind and stack (items sorted by both). */
struct rc_group {
	size_t first, n;
	uint64_t bytes;
};

/* A cleanup that ran. */
struct rc_cleanup_entry {
	uint64_t time_ms;
	struct rc_clean_req req;
	struct rcshim_result res;
};

#define RC_REPORT_MAX_CLEANUPS 64
#define RC_REPORT_MAX_NOTES 32
#define RC_REPORT_NOTE_LEN 240

enum rc_report_event {
	RC_EVENT_SNAPSHOT = 0, /* rcshim_report(), or a live request */
	RC_EVENT_EXIT,
	RC_EVENT_SIGNAL,       /* ended by a termination signal */
};

/* Everything one report shows. */
struct rc_report {
	enum rc_report_event event;
	int signo;
	int32_t pid;
	uint64_t time_ms;
	char exe[512];
	/* /proc/self/cmdline (NUL-separated words), read for a full report
	 * only; cut at the buffer's size. */
	char cmdline[2048];
	size_t cmdline_len;
	bool cmdline_cut;
	rcshim_priority prio;            /* of the final cleanup */
	const struct rcshim_result *final;

	struct rc_item *items;           /* sorted by (kind, stack) */
	size_t nitems;
	struct rc_group *groups;
	size_t ngroups;

	bool gpu_present;                /* a CUDA driver was bound or is loaded */

	bool heap_active;
	const char *heap_inactive;
	struct rc_heap_summary heap;     /* its figures, when heap_active */

	/* Copies of the cleanup log and notes, taken under their lock. */
	struct rc_cleanup_entry *cleanups;
	size_t ncleanups;
	uint64_t cleanups_dropped;
	char (*notes)[RC_REPORT_NOTE_LEN];
	size_t nnotes;
	uint64_t notes_dropped;

	size_t arena_mapped, stack_count, stack_memory, sample_memory;

	struct rc_symbolizer *sym;
};

void rc_report_emit_text(struct rc_out *o, struct rc_report *r);
void rc_report_emit_json(struct rc_out *o, struct rc_report *r);
/* The heap blocks a scope left (rc_report_scope_heap), appended to the
 * report file. */
struct rc_scope_heap_entry {
	int32_t pid;
	uint32_t scope, parent;
	const char *name;
	rcshim_priority prio;
	bool freed;
	const char *fate;  /* "freed", "kept, handed to ..." */
	uint64_t blocks, bytes;
	const struct rc_heap_scope_group *groups;
	size_t ngroups;
};
void rc_report_emit_scope_heap(struct rc_out *o, enum rc_report_format fmt,
			       const struct rc_scope_heap_entry *e);

/* One line for a live cleanup, appended to the report file. */
void rc_report_emit_cleanup_line(struct rc_out *o, enum rc_report_format fmt, int32_t pid,
				 const struct rc_cleanup_entry *c);

const char *rc_report_reason_name(int reason);
const char *rc_report_mode_name(int mode);
const char *rc_report_status_name(int status);
