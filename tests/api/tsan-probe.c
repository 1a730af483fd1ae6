/* Starts under ThreadSanitizer or not at all: run-tsan.sh skips the test
 * where this does not exit 0 (some kernels' memory layouts refuse TSan). */
#include <pthread.h>
#include <stddef.h>

static void *
work(void *arg)
{
	return arg;
}

int
main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, work, NULL) != 0 || pthread_join(t, NULL) != 0) {
		return 1;
	}
	return 0;
}
