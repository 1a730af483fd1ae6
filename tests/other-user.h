/* A second user, for the attacks another user can make (planting a file or
 * a symlink in a shared directory).  The tests run as root here and in
 * CI: the user "rcshim-other" is made with useradd when it is missing.
 * Where that cannot be done (not root, no useradd), a suite that needs it
 * exits 77, Meson's "skipped", and says why. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define T_OTHER_USER "rcshim-other"

struct t_user {
	uid_t uid;
	gid_t gid;
};

/* Runs useradd quietly; its status (-1 if it could not run). */
static inline int
t_useradd_(void)
{
	pid_t pid = fork();
	if (pid < 0) {
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		const char *argv[] = { "useradd", "--system", "--no-create-home", "--user-group",
				       T_OTHER_USER, NULL };
		execv("/usr/sbin/useradd", (char *const *)argv);
		execvp("useradd", (char *const *)argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Finds the second user, making it if needed.  False, with @why, when
 * there is none and none can be made. */
static inline bool
t_other_user(struct t_user *u, char *why, size_t n)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		struct passwd *pw = getpwnam(T_OTHER_USER);
		if (pw) {
			if (pw->pw_uid == geteuid()) {
				snprintf(why, n, "user %s is the user running the tests", T_OTHER_USER);
				return false;
			}
			u->uid = pw->pw_uid;
			u->gid = pw->pw_gid;
			return true;
		}
		if (geteuid() != 0) {
			snprintf(why, n, "no user %s, and only root can make one (useradd)",
				 T_OTHER_USER);
			return false;
		}
		/* Another test binary may be making it at the same time
		 * (useradd then fails on its lock, or finds it exists). */
		int st = t_useradd_();
		if (st == 127 || st < 0) {
			snprintf(why, n, "no user %s, and useradd cannot be run", T_OTHER_USER);
			return false;
		}
	}
	snprintf(why, n, "useradd %s did not make the user", T_OTHER_USER);
	return false;
}

/* Runs @fn(@arg) in a child process as @u (groups dropped); true when it
 * returned 0. */
static inline bool
t_as_user(const struct t_user *u, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	if (pid < 0) {
		return false;
	}
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(u->gid, u->gid, u->gid) < 0 ||
		    setresuid(u->uid, u->uid, u->uid) < 0) {
			_exit(126);
		}
		_exit(fn(arg));
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}
