/* The test program of threads-tsan is built from the shim's own sources
 * but not from preload/init.c (its constructor wires fork handlers,
 * signals and the heap interposer, none of which this test is about, and
 * the heap interposer cannot live beside ThreadSanitizer's allocator).
 * This is its initialisation: the shim's state and the live triggers'
 * settings, as the constructor makes them. */
#include "build-config.h"

#include "core/state.h"
#include "preload/real.h"
#include "trigger/live.h"

extern char **environ;

void
rc_preload_init(void)
{
	rc_state_init(environ);
	/* The live triggers' state (no interval, no pressure monitor
	 * here): the worker thread, started by the first registration,
	 * reads it. */
	rc_live_init();
}
