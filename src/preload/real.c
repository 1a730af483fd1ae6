#include "build-config.h"

#include <dlfcn.h>
#include <string.h>

#include "core/log.h"
#include "preload/real.h"

static bool
is_ours(const void *p)
{
	Dl_info mine, theirs;
	return dladdr((const void *)&is_ours, &mine) && dladdr(p, &theirs) &&
	       mine.dli_fbase == theirs.dli_fbase;
}

void *
rc_real_next(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p) {
		rc_debug("no next definition of %s", name);
	}
	return p;
}

void *
rc_real_from_caller(const char *name, const void *caller)
{
	void *p = dlsym(RTLD_NEXT, name);
	Dl_info info;

	if (p && !is_ours(p)) {
		return p;
	}
	/* A library loaded RTLD_LOCAL is not in the global scope; the object
	 * that called us can see it among its own dependencies. */
	if (caller && dladdr(caller, &info) && info.dli_fname && !is_ours(caller)) {
		void *h = dlopen(info.dli_fname, RTLD_NOLOAD | RTLD_LAZY);
		if (h) {
			p = dlsym(h, name);
			dlclose(h);
			if (p && !is_ours(p)) {
				return p;
			}
		}
	}
	return NULL;
}
