/* dlsym caller tests: loaded RTLD_LOCAL, with local-d as its dependency;
 * RTLD_DEFAULT and RTLD_NEXT from here see local-d, the global scope
 * does not. */
#include <dlfcn.h>

int rc_local_only(void);
void *c_default(void);
void *c_next(void);

int rc_local_calls;

/* Referenced, so that the linker keeps local-d as a dependency. */
int (*rc_local_ref)(void) = rc_local_only;

void *
c_default(void)
{
	void *r = dlsym(RTLD_DEFAULT, "rc_local_only");
	rc_local_calls++;
	return r;
}

void *
c_next(void)
{
	void *r = dlsym(RTLD_NEXT, "rc_local_only");
	rc_local_calls++;
	return r;
}
