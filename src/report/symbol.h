/* Symbolizing program counters for reports: function and offset always
 * (from the symbol tables), file and line where debug information exists.
 *
 * elfutils' libdwfl does the work; it is opened with dlopen when the first
 * report is written, so start-up never pays for it.  Without it, dladdr
 * gives what the dynamic symbol tables know.  Not async-signal-safe (it
 * reads files and allocates); run with rc_guard raised.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct rc_frame_info {
	uintptr_t pc;
	char object[256];   /* path of the ELF object, "" if unknown */
	char function[256]; /* "" if unknown */
	uintptr_t offset;   /* from the function, else from the object */
	char file[256];     /* source file, "" if unknown */
	int line;           /* 0 if unknown */
	/* Left to the reader of the report (rc_sym_defer): @offset is the
	 * return address in the object's own addresses, @build_id its GNU
	 * build id in hex ("" if it has none). */
	bool deferred;
	char build_id[41];
};

struct rc_symbolizer;

/* Starts a symbolization session over the process as mapped now.  Never
 * NULL (falls back to dladdr). */
struct rc_symbolizer *rc_sym_begin(void);
/* Fills @out for the return address @pc (the call site is pc - 1). */
void rc_sym_lookup(struct rc_symbolizer *s, uintptr_t pc, struct rc_frame_info *out);
void rc_sym_end(struct rc_symbolizer *s);
/* Whether file:line lookups are available (libdw found). */
bool rc_sym_has_lines(struct rc_symbolizer *s);

/* Leaves the names to whoever reads the report (the launcher: heaptrack's
 * split between a cheap recorder and an interpreter out of process): a
 * frame is then its object, its build id and its address in the object,
 * and this process never opens libdw nor reads a debug file.  Set once,
 * from the environment (RCSHIM_INTERNAL_GATHER=1). */
void rc_sym_defer(bool on);

/* Offline: names for addresses in object files, looked up in the files
 * themselves (the launcher, for the frames its processes deferred).
 * Modules are opened once per session and kept. */
struct rc_sym_offline;
struct rc_sym_offline *rc_sym_offline_begin(void);
/* Names the return address @vaddr of @object (its own addresses; @build_id
 * in hex or "" to skip the check).  False, with @out untouched but for
 * @object, when the object cannot be read or is not the one recorded. */
bool rc_sym_offline_lookup(struct rc_sym_offline *s, const char *object, const char *build_id,
			   uintptr_t vaddr, struct rc_frame_info *out);
void rc_sym_offline_end(struct rc_sym_offline *s);
