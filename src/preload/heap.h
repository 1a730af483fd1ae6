/* The malloc family's start-up (preload/heap.c). */
#pragma once

/* Finds the next allocator (if no allocation did yet), decides whether
 * heap tracking is active, and applies the configuration.  From the
 * constructor, after the configuration is read. */
void rc_heap_preload_init(void);
