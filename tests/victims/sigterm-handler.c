/* Installs its own SIGTERM handler, creates a temp dir, raises SIGTERM:
 * the handler must run (it prints and exits 42), as without the shim. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
on_term(int sig)
{
	static const char msg[] = "handler ran\n";
	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0) {
		_exit(1);
	}
	exit(42);
}

int
main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	struct sigaction sa, old;

	/* With "query", report what the program sees before installing. */
	if (argc > 1 && strcmp(argv[1], "query") == 0) {
		sigaction(SIGTERM, NULL, &old);
		printf("before: %s\n", old.sa_handler == SIG_DFL ? "default" : "other");
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, &old);
	printf("old: %s\n", old.sa_handler == SIG_DFL ? "default" : "other");
	snprintf(path, sizeof(path), "%s/handler-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(path)) {
		return 1;
	}
	printf("%s\n", path);
	fflush(stdout);
	raise(SIGTERM);
	return 0;
}
