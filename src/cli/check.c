/* Can the shim be preloaded into CMD at all?  The dynamic loader is what
 * reads LD_PRELOAD: a statically linked program has none, a set-user-ID
 * program runs it in secure mode (paths in LD_PRELOAD ignored), and a
 * program of another ELF class or machine refuses the library.  Each case
 * gets a warning instead of silently tracking nothing (DESIGN §1). */
#include "build-config.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli/cli.h"

/* glibc's execvp when PATH is unset. */
#define DEFAULT_PATH "/bin:/usr/bin"

static bool
executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *
cli_which(const char *cmd, const char *path_env)
{
	if (!cmd || !*cmd) {
		return NULL;
	}
	if (strchr(cmd, '/')) {
		return executable_file(cmd) ? strdup(cmd) : NULL;
	}
	const char *p = path_env ? path_env : DEFAULT_PATH;
	for (;;) {
		size_t n = strcspn(p, ":");
		char *cand;
		/* An empty entry is the current directory. */
		if (asprintf(&cand, "%.*s%s%s", (int)n, p, n ? "/" : "", cmd) < 0) {
			return NULL;
		}
		if (executable_file(cand)) {
			return cand;
		}
		free(cand);
		if (!p[n]) {
			return NULL;
		}
		p += n + 1;
	}
}

struct elf_id {
	unsigned char cls; /* ELFCLASS32 / ELFCLASS64 */
	unsigned char data;
	uint16_t machine;
	bool dynamic; /* has PT_INTERP */
};

static uint16_t
u16(const unsigned char *p, unsigned char data)
{
	return data == ELFDATA2MSB ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t
u32(const unsigned char *p, unsigned char data)
{
	return data == ELFDATA2MSB
		       ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
		       : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint64_t
u64(const unsigned char *p, unsigned char data)
{
	return data == ELFDATA2MSB ? (uint64_t)u32(p, data) << 32 | u32(p + 4, data)
				   : (uint64_t)u32(p + 4, data) << 32 | u32(p, data);
}

/* Reads the ELF identity of an open file; false if it is not ELF. */
static bool
elf_read(int fd, const unsigned char *head, size_t got, struct elf_id *id)
{
	if (got < EI_NIDENT + 48 || memcmp(head, ELFMAG, SELFMAG) != 0) {
		return false;
	}
	id->cls = head[EI_CLASS];
	id->data = head[EI_DATA];
	if ((id->cls != ELFCLASS32 && id->cls != ELFCLASS64) ||
	    (id->data != ELFDATA2LSB && id->data != ELFDATA2MSB)) {
		return false;
	}
	bool is64 = id->cls == ELFCLASS64;
	id->machine = u16(head + 18, id->data);
	uint64_t phoff = is64 ? u64(head + 32, id->data) : u32(head + 28, id->data);
	uint16_t phentsize = u16(head + (is64 ? 54 : 42), id->data);
	uint16_t phnum = u16(head + (is64 ? 56 : 44), id->data);
	id->dynamic = false;
	if (phentsize < (is64 ? 56 : 32) || phnum == 0 || phnum > 4096) {
		return true; /* no program headers: not loadable by ld.so either */
	}
	for (uint16_t i = 0; i < phnum; i++) {
		unsigned char ph[4];
		if (pread(fd, ph, sizeof(ph), (off_t)(phoff + (uint64_t)i * phentsize)) !=
		    (ssize_t)sizeof(ph)) {
			break;
		}
		if (u32(ph, id->data) == PT_INTERP) {
			id->dynamic = true;
			break;
		}
	}
	return true;
}

static bool
elf_of_path(const char *path, struct elf_id *id)
{
	unsigned char head[128];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return false;
	}
	ssize_t got = read(fd, head, sizeof(head));
	bool ok = got > 0 && elf_read(fd, head, (size_t)got, id);
	close(fd);
	return ok;
}

static const char *
machine_word(const struct elf_id *id)
{
	return id->cls == ELFCLASS32 ? "32-bit" : "64-bit";
}

/* Whether exec of @path switches to secure mode. */
static bool
secure_exec(const char *path, const struct stat *st, char *why, size_t len)
{
	struct statvfs vfs;
	bool nosuid = statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_NOSUID);

	if (!nosuid && (st->st_mode & S_ISUID) && st->st_uid != getuid()) {
		snprintf(why, len, "is set-user-ID");
		return true;
	}
	if (!nosuid && (st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP) && st->st_gid != getgid()) {
		snprintf(why, len, "is set-group-ID");
		return true;
	}
	if (!nosuid && getxattr(path, "security.capability", NULL, 0) > 0) {
		snprintf(why, len, "has file capabilities");
		return true;
	}
	return false;
}

/* The problem with @path itself in @why ("is statically linked ..."). */
static bool
check_file(const char *path, const struct elf_id *lib, const char *path_env, int depth,
	   char *why, size_t len)
{
	struct stat st;
	unsigned char head[256];

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		return false;
	}
	if (secure_exec(path, &st, why, len)) {
		size_t n = strlen(why);
		snprintf(why + n, len - n, ": the dynamic loader ignores LD_PRELOAD in it");
		return true;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return false; /* execute-only: cannot tell */
	}
	ssize_t got = read(fd, head, sizeof(head) - 1);
	struct elf_id id;
	bool is_elf = got > 0 && elf_read(fd, head, (size_t)got, &id);
	close(fd);
	if (got <= 0) {
		return false;
	}
	if (is_elf) {
		if (lib && (id.cls != lib->cls || id.machine != lib->machine)) {
			snprintf(why, len, "is a %s program for ELF machine %u, and the shim is %s "
					   "for machine %u: the dynamic loader refuses it",
				 machine_word(&id), id.machine, machine_word(lib), lib->machine);
			return true;
		}
		if (!id.dynamic) {
			snprintf(why, len, "is statically linked: there is no dynamic loader to "
					   "preload the shim");
			return true;
		}
		return false;
	}
	if (got < 2 || head[0] != '#' || head[1] != '!' || depth >= 4) {
		return false;
	}
	/* "#!interp [one argument]" as the kernel reads it. */
	head[got] = '\0';
	char *line = (char *)head + 2;
	line[strcspn(line, "\n")] = '\0';
	line += strspn(line, " \t");
	size_t n = strcspn(line, " \t");
	char interp[256];
	snprintf(interp, sizeof(interp), "%.*s", (int)n, line);
	char *arg = line + n;
	arg += strspn(arg, " \t");

	char inner[512];
	char *target = NULL;
	const char *base = strrchr(interp, '/');
	base = base ? base + 1 : interp;
	/* "#!/usr/bin/env [-S] python3 ...": what matters is what env runs. */
	if (!strcmp(base, "env") && *arg) {
		char *save = NULL;
		for (char *tok = strtok_r(arg, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
			if (tok[0] == '-' || strchr(tok, '=')) {
				continue;
			}
			target = cli_which(tok, path_env);
			break;
		}
	}
	const char *what = target ? target : interp;
	bool bad = check_file(what, lib, path_env, depth + 1, inner, sizeof(inner));
	if (bad) {
		snprintf(why, len, "runs %s, which %s", what, inner);
	}
	free(target);
	return bad;
}

bool
cli_check_preloadable(const char *path, const char *lib, const char *path_env,
		      char *why, size_t len)
{
	struct elf_id lib_id;
	bool have_lib = lib && elf_of_path(lib, &lib_id);

	why[0] = '\0';
	return check_file(path, have_lib ? &lib_id : NULL, path_env, 0, why, len);
}
