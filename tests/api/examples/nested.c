/* Nested scopes: what an inner scope keeps passes to the enclosing one.
 * And a scope belongs to the thread that began it. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rcshim.h>

static const char *
state(int fd)
{
	return fcntl(fd, F_GETFD) == -1 ? "closed" : "open";
}

static void *
end_elsewhere(void *scope)
{
	struct rcshim_result r;
	rcshim_scope_end(*(rcshim_scope *)scope, RCSHIM_MEDIUM, &r);
	printf("batch ended on another thread: %s\n", rcshim_status_name(r.status));
	return NULL;
}

int
main(void)
{
	struct rcshim_result r;
	pthread_t thread;
	char dir[] = "/tmp/step-XXXXXX";

	rcshim_scope batch = rcshim_scope_begin("batch");
	rcshim_scope step = rcshim_scope_begin("step");
	int fd = open("/dev/null", O_RDONLY);
	mkdtemp(dir);

	/* LOW reclaims temp artifacts only: the fd passes to "batch". */
	rcshim_scope_end(step, RCSHIM_LOW, &r);
	printf("step ended at LOW: cleaned %llu, fd %s\n", (unsigned long long)r.cleaned,
	       state(fd));

	/* Another thread cannot end "batch": an error, and nothing happens. */
	pthread_create(&thread, NULL, end_elsewhere, &batch);
	pthread_join(thread, NULL);
	printf("fd %s\n", state(fd));

	rcshim_scope_end(batch, RCSHIM_MEDIUM, &r);
	printf("batch ended at MEDIUM: cleaned %llu, fd %s\n", (unsigned long long)r.cleaned,
	       state(fd));
	return 0;
}
