/* Creates a temp dir, then — behind the shim's back, with a raw system
 * call — moves it aside and puts a symlink to OUTSIDE (argv[1]) in its
 * place.  The shim still holds the old name: at exit it must find the
 * name now means something else and touch nothing in OUTSIDE.
 * Prints the tracked path and where the real dir went. */

#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096], moved[4200];

	if (argc < 2) {
		return 2;
	}
	snprintf(path, sizeof(path), "%s/swap-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(path)) {
		return 1;
	}
	snprintf(moved, sizeof(moved), "%s.moved", path);
	if (syscall(SYS_rename, path, moved) != 0 || symlink(argv[1], path) != 0) {
		return 1;
	}
	printf("%s\n%s\n", path, moved);
	return 0;
}
