/* Between the dlsym hook (dl.c) and the CUDA driver wrappers (cuda.c). */
#pragma once

#include <stdbool.h>

/* Index of @name among the driver functions the shim wraps, or -1.  Cheap
 * for names that do not start with "cu". */
int rc_cuda_index(const char *name);

/* The function to hand out for wrapped entry @i when the driver's own is
 * @real: the shim's wrapper, with @real bound as the function it calls.
 * If the wrapper already calls another function (a second driver), @real
 * itself: that one is not tracked, but never misdirected. */
void *rc_cuda_wrap(int i, void *real);

/* Looks up, in the driver object @handle, the exported address of every
 * wrapped entry point (to recognise what cuGetProcAddress hands out). */
void rc_cuda_learn_exports(void *handle);

/* Whether @addr lies in the CUDA driver (an object named libcuda.so*), and
 * in the shim itself.  Both cache what they learn. */
bool rc_dl_in_driver(const void *addr);
bool rc_dl_in_self(const void *addr);

/* The real dlsym (the next definition after the shim). */
void *rc_dl_real(void *handle, const char *name);
