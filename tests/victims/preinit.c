/* A program whose .preinit_array function calls sigaction, as
 * AddressSanitizer's __asan_init does in an instrumented program: it runs
 * before every library's initialiser, libc's and the shim's included, so
 * the shim's sigaction is called before libc has set environ.  main then
 * prints what it sees: its environment must be the one it was started
 * with, the shim's session variable included, and the temp dir it makes
 * is the shim's to remove. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int early_rc = -2;
static int early_env_null = -1;

extern char **environ;

static void
on_usr2(int sig)
{
	(void)sig;
}

static void
early(int argc, char **argv, char **envp)
{
	struct sigaction sa, old;

	(void)argc;
	(void)argv;
	(void)envp;
	early_env_null = environ == NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr2;
	early_rc = sigaction(SIGUSR2, &sa, &old);
}

__attribute__((section(".preinit_array"), used)) static void (*const early_p)(int, char **,
									      char **) = early;

int
main(void)
{
	const char *marker = getenv("VICTIM_MARKER");
	const char *session = getenv("RCSHIM_SESSION");
	const char *tmp = getenv("TMPDIR");
	struct sigaction now;
	char path[4096];

	sigaction(SIGUSR2, NULL, &now);
	printf("preinit sigaction: %d\n", early_rc);
	printf("handler kept: %s\n", now.sa_handler == on_usr2 ? "yes" : "no");
	printf("marker: %s\n", marker ? marker : "(unset)");
	printf("session: %s\n", session && *session ? "set" : "unset");
	snprintf(path, sizeof(path), "%s/preinit-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(path)) {
		return 1;
	}
	printf("%s\n", path);
	/* Informative: whether libc had set environ yet (not on glibc). */
	printf("environ in preinit: %s\n", early_env_null ? "unset" : "set");
	return 0;
}
