/* Naming program counters inside a signal handler.
 *
 * A process without the worker thread writes the report `rcshim report
 * PID` asks for, and its final report at a termination signal, inside the
 * signal handler (trigger/live.h), where the report's usual symbolizer
 * (libdwfl through dlopen, or dladdr) must not run: both enter the loader
 * and allocate.  This one is async-signal-safe: the mappings come from
 * /proc/self/maps and the symbols from the ELF files' own symbol tables
 * (.symtab, else .dynsym), read with raw system calls into the shim's
 * arena.  It names the object and the function, not the source line.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rc_elfsym;

/* Reads the process's mappings as they are now; NULL when out of memory or
 * /proc is unreadable. */
struct rc_elfsym *rc_elfsym_begin(void);

/* For the return address @pc (the call is at pc - 1): the object's path
 * into @object, the function's name into @function ("" when unknown) and
 * the offset of @pc from the function (else from the object's start).
 * False when @pc lies in no mapped file. */
bool rc_elfsym_lookup(struct rc_elfsym *es, uintptr_t pc, char *object, size_t object_len,
		      char *function, size_t function_len, uintptr_t *offset);

void rc_elfsym_end(struct rc_elfsym *es);
