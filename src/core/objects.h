/* The objects the dynamic loader has mapped, asked through
 * dl_iterate_phdr: a walk of the loader's list.  dladdr answers the same
 * question by searching the object's symbol table for the nearest symbol
 * (90 000 instructions for libc here), and dlopen(RTLD_NOLOAD) of a name
 * that is not loaded looks for it on the library path: start-up and a
 * short process's exit pay for neither. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The object whose PT_LOAD segments contain @addr: its path ("" for the
 * main program) in *@name, its load bias in *@base, and the range of its
 * executable segment in [*@text_lo, *@text_hi) (any may be NULL).  False
 * when no object contains it. */
bool rc_object_at(const void *addr, const char **name, uintptr_t *base, uintptr_t *text_lo,
		  uintptr_t *text_hi);

/* Whether an object whose file name starts with @prefix ("libcuda.so") is
 * loaded. */
bool rc_object_loaded(const char *prefix);
