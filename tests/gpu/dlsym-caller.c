/* dlsym must answer as if the shim were not there: RTLD_NEXT and
 * RTLD_DEFAULT are relative to the object that calls dlsym.
 * Usage: gpu-dlsym-caller PATH-TO-libgpu-local-c.so */
#include <dlfcn.h>
#include <stdio.h>

void *b_next(void);
int rc_probe(void);
int rc_probe_a(void);

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s LIBGPU-LOCAL-C\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (rc_probe_a() != 1) {
		return 1;
	}
	int (*next)(void) = (int (*)(void))dlsym(RTLD_NEXT, "rc_probe");
	printf("main next rc_probe: %d\n", next ? next() : 0);
	int (*def)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "rc_probe");
	printf("main default rc_probe: %d\n", def ? def() : 0);
	printf("b next rc_probe: %s\n", b_next() ? "found" : "null");

	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		printf("dlopen: %s\n", dlerror());
		return 1;
	}
	void *(*c_default)(void) = (void *(*)(void))dlsym(h, "c_default");
	void *(*c_next)(void) = (void *(*)(void))dlsym(h, "c_next");
	printf("c default rc_local_only: %s\n", c_default && c_default() ? "found" : "null");
	printf("c next rc_local_only: %s\n", c_next && c_next() ? "found" : "null");
	printf("main default rc_local_only: %s\n",
	       dlsym(RTLD_DEFAULT, "rc_local_only") ? "found" : "null");
	dlerror();
	void *missing = dlsym(h, "no_such_symbol");
	const char *err = dlerror();
	printf("missing: %s, dlerror %s\n", missing ? "found" : "null", err ? "set" : "clear");
	printf("dlerror again: %s\n", dlerror() ? "set" : "clear");
	void *(*gp)(void) = (void *(*)(void))dlsym(RTLD_NEXT, "getpid");
	printf("next getpid: %s\n", gp ? "found" : "null");
	return 0;
}
