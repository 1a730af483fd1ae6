/* What the program's processes still held when they ended, from their
 * reports: the summary's "held at the end" line. */
#include "build-config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void
put(struct cli_kinds *out, const char *kind, size_t len, uint64_t count, uint64_t bytes)
{
	if (out->n < CLI_MAX_KINDS && len < sizeof(out->k[0].kind)) {
		struct cli_kind_count *k = &out->k[out->n++];
		memcpy(k->kind, kind, len);
		k->kind[len] = '\0';
		k->count = count;
		k->bytes = bytes;
	}
}

bool
cli_text_report_kinds(const char *p, size_t n, struct cli_kinds *out)
{
	memset(out, 0, sizeof(*out));
	for (const char *end = p + n; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[256];
		snprintf(line, sizeof(line), "%.*s", (int)(len < 255 ? len : 255), p);
		p += len + 1;

		unsigned long long c = 0, b = 0;
		char kind[16];
		int used = 0;
		if (!strncmp(line, "== rcshim report", 16)) {
			out->n = 0; /* the last report of a file wins */
			out->found = true;
		} else if (sscanf(line, "heap: %llu blocks, %llu bytes%n", &c, &b, &used) == 2 &&
			   used) {
			put(out, "heap", 4, c, b);
		} else if (sscanf(line, "%15[a-z]: %llu held%n", kind, &c, &used) == 2 && used) {
			sscanf(line + used, ", %llu bytes", &b);
			put(out, kind, strlen(kind), c, b);
		}
	}
	return out->found;
}
