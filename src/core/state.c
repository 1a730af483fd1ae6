#include "build-config.h"

#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/log.h"
#include "core/journal.h"
#include "core/roots.h"
#include "core/session.h"
#include "core/state.h"
#include "core/sys.h"

/* Start-up writes only its first fields (the text buffers are last). */
struct rc_config rc_cfg;
atomic_int rc_ready RC_HOT;
atomic_bool rc_finished RC_HOT;
/* A new thread starts with its fast paths closed: the first allocation
 * registers it (core/heap.c). */
RC_TLS struct rc_thread rc_self = { .free_off = 1, .alloc_off = 1 };
RC_TLS uint32_t rc_scope_cur;
RC_TLS int *rc_errno_at;
int32_t rc_pid_cached RC_HOT;

static void
warn_line(void *ctx, const char *line)
{
	bool *quiet = ctx;
	if (!*quiet) {
		rc_log(RC_LOG_WARN, "%s", line);
	}
}

/* The variables start-up reads besides rc_config_load's, picked out in
 * one pass over the environment (the first of duplicates wins, as with
 * getenv): each pass is a few hundred instructions in every process. */
enum { ENV_SESSION, ENV_LOG, ENV_XDG, ENV_HOME, N_ENV };

static void
env_pick(char *const *envp, const char *out[N_ENV])
{
	static const struct {
		const char *name;
		size_t len;
	} want[N_ENV] = {
		[ENV_SESSION] = { RC_SESSION_ENV "=", sizeof(RC_SESSION_ENV) },
		[ENV_LOG] = { "RCSHIM_LOG=", sizeof("RCSHIM_LOG") },
		[ENV_XDG] = { "XDG_RUNTIME_DIR=", sizeof("XDG_RUNTIME_DIR") },
		[ENV_HOME] = { "HOME=", sizeof("HOME") },
	};
	for (int k = 0; k < N_ENV; k++) {
		out[k] = NULL;
	}
	for (char *const *e = envp; e && *e; e++) {
		for (int k = 0; k < N_ENV; k++) {
			if (!out[k] && (*e)[0] == want[k].name[0] &&
			    strncmp(*e, want[k].name, want[k].len) == 0) {
				out[k] = *e + want[k].len;
				break;
			}
		}
	}
}

bool
rc_state_init(char *const *envp)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&rc_ready, &expected, 1)) {
		return false;
	}
	rc_guard++;
	rc_log_stderr_init(); /* before the first line the shim may write */
	rc_pid_cached = rc_sys_getpid();

	const char *env[N_ENV];
	env_pick(envp, env);
	const char *sid = env[ENV_SESSION];
	/* Only the process that starts the session reports bad settings:
	 * every process of a pipeline would repeat the same lines. */
	bool quiet = rc_session_id_valid(sid);
	const char *log = env[ENV_LOG];
	/* The threshold must be known before the warnings are written. */
	if (log && (!strcasecmp(log, "quiet") || !strcmp(log, "0"))) {
		quiet = true;
	}
	rc_config_load(&rc_cfg, envp, warn_line, &quiet);
	rc_log_threshold = (enum rc_log_level)rc_cfg.log_level;

	bool created = rc_session_init(sid, rc_cfg.tmp_owner == RC_TMP_OWNER_PROCESS,
				       env[ENV_XDG]);
	/* Checked when first needed; a dropped root is said by the process
	 * that started the session (the launcher says it for its members). */
	rc_tmp_roots_set(rc_cfg.tmp_roots, rc_cfg.n_tmp_roots, env[ENV_HOME],
			 created && !quiet);

	rc_guard--;
	atomic_store_explicit(&rc_ready, 2, memory_order_release);
	return created;
}

void
rc_state_after_fork_child(void)
{
	rc_pid_cached = rc_sys_getpid();
	rc_journal_after_fork_child();
	rc_tmp_roots_after_fork_child();
}
