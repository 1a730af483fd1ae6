/* Helpers for tests that run real programs under the shim. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct rc_run {
	int status;  /* as from waitpid */
	char *out;   /* captured stdout, NUL-terminated */
	char *err;   /* captured stderr */
};

/* The LD_PRELOAD value that loads the shim (the sanitizer runtime first
 * under ASan), from $RCSHIM_TEST_PRELOAD, set by tests/meson.build. */
const char *t_preload(void);

/* Runs @argv (argv[0] looked up in PATH) with the test's environment minus
 * any RCSHIM_* and LD_PRELOAD, plus @env (NULL-terminated "NAME=VALUE"
 * list), plus LD_PRELOAD when @preload.  Feeds @input (may be NULL) on
 * stdin.  Waits and captures both outputs.  Fails the test on error. */
void t_run(struct rc_run *r, bool preload, const char *const *env,
	   const char *input, const char *const *argv);
void t_run_free(struct rc_run *r);

/* Runs a shell command line with /bin/sh -c. */
void t_sh(struct rc_run *r, bool preload, const char *const *env, const char *cmd);

/* A fresh scratch directory in the build tree (outside every default temp
 * root) and its recursive removal. */
char *t_scratch(void);
void t_scratch_free(char *dir);

bool t_exists(const char *path);
/* Reads a whole small file; NULL if absent. */
char *t_read_file(const char *path);
/* Writes a file. */
void t_write_file(const char *path, const char *content);

/* Path of a built helper program (victims), from $RCSHIM_TEST_BUILDDIR. */
const char *t_victim(const char *name);

/* "exited 0", "killed by signal 15" — for messages. */
const char *t_status_str(int status);
