/* The example of the original Python cleaner, in C: register a temp
 * directory, a file, a GPU buffer and a database, clean at a priority,
 * print how many items were cleaned.  One round per priority. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <rcshim.h>

/* What cuMemAlloc would have returned: this example needs no GPU. */
#define GPU_BUFFER ((uint64_t)0x7f3a00000000)

static void
round_at(rcshim_priority priority)
{
	char dir[] = "/tmp/frames-XXXXXX", path[64];
	struct rcshim_result result;
	sqlite3 *db;

	/* Each round in a scope: what the round leaves is reclaimed at its
	 * end, before the next one. */
	RCSHIM_SCOPE("round");

	mkdtemp(dir);
	rcshim_register_temp_dir(dir, "frames");

	snprintf(path, sizeof(path), "%s/frame-0001.raw", dir);
	FILE *f = fopen(path, "w");
	rcshim_register_file(f, "current frame");

	rcshim_register_gpu_buffer(GPU_BUFFER, 64 << 20, "decoder output");

	sqlite3_open(":memory:", &db);
	sqlite3_exec(db, "CREATE TABLE frames(name)", NULL, NULL, NULL);
	rcshim_register_db(db, "index");

	rcshim_clean(priority, &result);
	/* Counted per kind: a cleanup also does work of its own (at MEDIUM
	 * it trims the heap, counted under "heap"). */
	uint64_t cleaned = 0, kept = 0;
	const rcshim_kind kinds[] = { RCSHIM_KIND_TEMP, RCSHIM_KIND_FD, RCSHIM_KIND_SQLITE,
				      RCSHIM_KIND_GPU };
	for (int i = 0; i < 4; i++) {
		cleaned += result.kind[kinds[i]].cleaned;
		kept += result.kind[kinds[i]].skipped;
	}
	printf("clean(%s): %llu of 4 items cleaned", rcshim_priority_name(priority),
	       (unsigned long long)cleaned);
	if (kept) {
		printf(", %llu kept", (unsigned long long)kept);
	}
	printf("\n");
}

int
main(void)
{
	for (int p = RCSHIM_LOW; p <= RCSHIM_CRITICAL; p++) {
		round_at((rcshim_priority)p);
	}
	return 0;
}
