/* Shared by the preload tests. */
#pragma once

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "util.h"

#define ck_assert_status_eq(a, b)                                              \
	ck_assert_msg((a) == (b), "exit status differs: %s vs %s",              \
		      strdup(t_status_str(a)), strdup(t_status_str(b)))

#define ck_assert_killed_by(st, sig)                                           \
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == (sig),                  \
		      "expected death by signal %d, got %s", (sig), t_status_str(st))

/* The n-th line (0-based) of @text in @buf, or "" */
static inline const char *
nth_line(const char *text, int n, char *buf, size_t len)
{
	const char *p = text;
	for (int i = 0; i < n && p; i++) {
		p = strchr(p, '\n');
		if (p) {
			p++;
		}
	}
	buf[0] = '\0';
	if (!p) {
		return buf;
	}
	size_t l = strcspn(p, "\n");
	if (l >= len) {
		l = len - 1;
	}
	memcpy(buf, p, l);
	buf[l] = '\0';
	return buf;
}

/* Counts the lines of @text. */
static inline int
count_lines(const char *text)
{
	int n = 0;
	for (const char *p = text; *p; p++) {
		n += *p == '\n';
	}
	return n + (*text && text[strlen(text) - 1] != '\n');
}

/* Counts the lines of @text that contain @needle. */
static inline int
count_lines_with(const char *text, const char *needle)
{
	int n = 0;
	const char *p = text;
	while (p && *p) {
		const char *end = strchr(p, '\n');
		size_t l = end ? (size_t)(end - p) : strlen(p);
		char *line = strndup(p, l);
		if (strstr(line, needle)) {
			n++;
		}
		free(line);
		p = end ? end + 1 : NULL;
	}
	return n;
}

/* A scratch dir with a "tmp" temp root inside: TMPDIR points there. */
struct scratch {
	char *dir;
	char tmp[512];
	char env_tmpdir[600];
	char env_roots[600];
};

static inline void
scratch_init(struct scratch *s)
{
	s->dir = t_scratch();
	snprintf(s->tmp, sizeof(s->tmp), "%s/tmp", s->dir);
	ck_assert_int_eq(mkdir(s->tmp, 0700), 0);
	snprintf(s->env_tmpdir, sizeof(s->env_tmpdir), "TMPDIR=%s", s->tmp);
	snprintf(s->env_roots, sizeof(s->env_roots), "RCSHIM_TMP_ROOTS=%s", s->tmp);
}

static inline void
scratch_fini(struct scratch *s)
{
	t_scratch_free(s->dir);
}
