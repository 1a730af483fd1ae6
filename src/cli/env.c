/* The library to preload, and the LD_PRELOAD value that loads it. */
#include "build-config.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

#define LIB_NAME "librcshim.so.0"

/* Where the library lies from the directory of an installed rcshim
 * (bindir to libdir, e.g. "../lib/x86_64-linux-gnu"): a relocated install
 * finds its own library before the configured prefix's.  Set by Meson. */
#ifndef RCSHIM_BIN_TO_LIB
#define RCSHIM_BIN_TO_LIB ""
#endif

const char *
cli_env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (char *const *e = envp; e && *e; e++) {
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
			return *e + n + 1;
		}
	}
	return NULL;
}

/* A readable regular file, named by an absolute path that LD_PRELOAD can
 * hold (it splits on spaces and colons). */
static int
usable(const char *path, char *out, size_t len)
{
	char real[PATH_MAX];
	struct stat st;

	if (!realpath(path, real)) {
		return -errno;
	}
	if (stat(real, &st) < 0) {
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		return -EINVAL;
	}
	if (access(real, R_OK) < 0) {
		return -errno;
	}
	if (strpbrk(real, " :\t\n")) {
		return -EDOM;
	}
	if (strlen(real) >= len) {
		return -ENAMETOOLONG;
	}
	strcpy(out, real);
	return 0;
}

static const char *
why(int err)
{
	return err == -EDOM ? "its path holds a space or a colon, which LD_PRELOAD cannot hold"
			    : err == -EINVAL ? "not a regular file" : strerror(-err);
}

int
cli_find_lib(const char *rcshim_lib, const char *self_exe, char *out, size_t len)
{
	char cand[PATH_MAX + 64];
	int r;

	if (rcshim_lib && *rcshim_lib) {
		r = usable(rcshim_lib, out, len);
		if (r < 0) {
			cli_msg("RCSHIM_LIB=%s cannot be preloaded: %s", rcshim_lib, why(r));
			return -1;
		}
		return 0;
	}
	if (self_exe && *self_exe) {
		const char *slash = strrchr(self_exe, '/');
		int dlen = slash ? (int)(slash - self_exe) : 0;
		/* The build tree: src/rcshim next to src/librcshim.so.0. */
		snprintf(cand, sizeof(cand), "%.*s/%s", dlen, self_exe, LIB_NAME);
		if (usable(cand, out, len) == 0) {
			return 0;
		}
		if (RCSHIM_BIN_TO_LIB[0]) {
			snprintf(cand, sizeof(cand), "%.*s/%s/%s", dlen, self_exe,
				 RCSHIM_BIN_TO_LIB, LIB_NAME);
			if (usable(cand, out, len) == 0) {
				return 0;
			}
		}
	}
	snprintf(cand, sizeof(cand), "%s/%s", RCSHIM_LIBDIR, LIB_NAME);
	r = usable(cand, out, len);
	if (r == 0) {
		return 0;
	}
	cli_msg("cannot find %s (looked next to %s and in %s: %s); set RCSHIM_LIB to its path",
		LIB_NAME, self_exe && *self_exe ? self_exe : "rcshim", RCSHIM_LIBDIR, why(r));
	return -1;
}

static bool
same_file(const char *a, const struct stat *b)
{
	struct stat st;
	return stat(a, &st) == 0 && st.st_dev == b->st_dev && st.st_ino == b->st_ino;
}

char *
cli_ld_preload(const char *old, const char *lib)
{
	struct stat lst;
	bool have_lst = stat(lib, &lst) == 0;
	bool empty = true;

	for (const char *p = old ? old : ""; *p;) {
		size_t skip = strspn(p, " :");
		p += skip;
		size_t n = strcspn(p, " :");
		if (!n) {
			continue;
		}
		empty = false;
		char *tok = strndup(p, n);
		if (!tok) {
			abort();
		}
		const char *base = strrchr(tok, '/');
		base = base ? base + 1 : tok;
		bool ours = strncmp(base, "librcshim.so", 12) == 0 ||
			    (have_lst && same_file(tok, &lst));
		free(tok);
		if (ours) {
			char *same = strdup(old);
			if (!same) {
				abort();
			}
			return same;
		}
		p += n;
	}
	char *v;
	if (empty) {
		v = strdup(lib);
	} else if (asprintf(&v, "%s:%s", old, lib) < 0) {
		v = NULL;
	}
	if (!v) {
		abort();
	}
	return v;
}

/* Whether @soname can be loaded here (the shim loads it with dlopen when
 * it first needs it). */
static const char *
loadable(const char *soname)
{
	void *h = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
	if (!h) {
		return "not found here";
	}
	dlclose(h);
	return "found here";
}

int
cli_version(void)
{
	char self[PATH_MAX] = "", lib[PATH_MAX];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[sl > 0 ? sl : 0] = '\0';
	const char *env_lib = getenv("RCSHIM_LIB");

	printf("rcshim %s\n", RCSHIM_VERSION);
	fflush(stdout);
	if (cli_find_lib(env_lib, self, lib, sizeof(lib)) == 0) {
		printf("library: %s (what `rcshim run` preloads%s)\n", lib,
		       env_lib && *env_lib ? ", from $RCSHIM_LIB" : "; $RCSHIM_LIB chooses another");
	} else {
		printf("library: not found (`rcshim run` cannot start programs)\n");
	}
	printf("optional parts:\n");
#ifdef RC_HAVE_LIBDW
	printf("  symbolization (libdw): built in; libdw.so.1 %s\n", loadable("libdw.so.1"));
#else
	printf("  symbolization (libdw): not built in (reports name functions from dynamic "
	       "symbols only)\n");
#endif
	printf("  stack capture (libunwind): built in; libunwind.so.8 %s\n",
	       loadable("libunwind.so.8"));
	printf("  SQLite support: built in (connections tracked when the program uses "
	       "libsqlite3)\n");
	printf("  CUDA support: built in (GPU memory tracked when the program uses the CUDA "
	       "runtime or driver)\n");
	return fflush(stdout) == 0 ? 0 : CLI_EXIT_FAILED;
}
