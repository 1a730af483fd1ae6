/* Page faults are the costliest part of a short process's life under the
 * shim on a virtual machine (about 15 µs each on the development VMs:
 * docs/performance.md).  The shim's code is spread over 190 KB; the paths
 * a process runs at start, at fork and at exit touch it in several places
 * and fault once per 64 KB window, in every process and again in every
 * fork child (fork copies no page table entry of a file mapping).  One
 * madvise(MADV_POPULATE_READ) maps it all (Linux 5.14; before, nothing is
 * done). */
#pragma once

/* At start-up: the code, and the shim's data and small .bss made
 * writable (one copy or zero page each, in one call: they are written at
 * start-up or exit anyway, a fault each). */
void rc_prefault_start(void);
/* In a fork child: the code only (the data pages it writes are copied
 * as it writes them; most it does not). */
void rc_prefault_text(void);
