/* A result as text and as JSON, into a buffer of the right size. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rcshim.h>

int
main(void)
{
	struct rcshim_result result;
	char a[] = "/tmp/a-XXXXXX", b[] = "/tmp/b-XXXXXX";

	rcshim_scope scope = rcshim_scope_begin("two dirs");
	mkdtemp(a);
	mkdtemp(b);
	rcshim_scope_end(scope, RCSHIM_LOW, &result);

	/* Like snprintf: asked with no room, it says how much it needs. */
	size_t n = rcshim_result_format(&result, RCSHIM_FORMAT_TEXT, NULL, 0);
	char *text = malloc(n + 1);
	rcshim_result_format(&result, RCSHIM_FORMAT_TEXT, text, n + 1);
	fputs(text, stdout);

	n = rcshim_result_format(&result, RCSHIM_FORMAT_JSON, NULL, 0);
	char *json = malloc(n + 1);
	rcshim_result_format(&result, RCSHIM_FORMAT_JSON, json, n + 1);
	puts(json);

	/* Too small a buffer: truncated, and still terminated. */
	char small[16];
	size_t need = rcshim_result_format(&result, RCSHIM_FORMAT_JSON, small, sizeof(small));
	printf("%s... (%zu of %zu)\n", small, sizeof(small) - 1, need);

	free(text);
	free(json);
	return 0;
}
