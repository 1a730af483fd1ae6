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
