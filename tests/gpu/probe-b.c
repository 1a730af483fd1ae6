/* dlsym caller tests: a second definition of rc_probe, loaded after
 * probe-a, and a lookup of "the next one after me" (there is none). */
#include <dlfcn.h>

int rc_probe(void);
void *b_next(void);

int rc_probe_calls;

int
rc_probe(void)
{
	return 2;
}

void *
b_next(void)
{
	void *r = dlsym(RTLD_NEXT, "rc_probe");
	/* Not a tail call: dlsym must see this library as its caller. */
	rc_probe_calls++;
	return r;
}
