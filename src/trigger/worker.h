/* The shim's own thread.  Work that is not async-signal-safe (closing a
 * SQLite connection, freeing, reporting) never runs inside a signal
 * handler: the handler hands it to this thread, which runs with every
 * signal blocked.  It is started lazily, by the first resource that needs
 * it, so most processes of a pipeline never get a thread. */
#pragma once

#include <stdbool.h>

#include "clean/engine.h"

/* Starts the thread if it is not running.  Not from a signal handler. */
bool rc_worker_ensure(void);
bool rc_worker_running(void);

/* From a signal handler: asks for @req and waits up to @deadline_ms for it
 * to finish.  True if it finished.  Async-signal-safe. */
bool rc_worker_request_wait(const struct rc_clean_req *req, unsigned deadline_ms);

/* The fork child has no worker (threads do not survive fork). */
void rc_worker_after_fork_child(void);
