/* A job that leaks: a temp directory holding a SQLite database, a FILE
 * with unflushed data, and an fd.  Its scope reclaims all of it when
 * job() returns, and says what it did. */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rcshim.h>

static char dir[] = "/tmp/job-XXXXXX";
static int fd = -1, log_fd = -1;
static struct rcshim_result result;

static void
job(void)
{
	RCSHIM_SCOPE_EX("job", RCSHIM_MEDIUM, 0, &result);
	char path[64];
	sqlite3 *db;

	mkdtemp(dir);
	snprintf(path, sizeof(path), "%s/jobs.db", dir);
	sqlite3_open(path, &db);
	sqlite3_exec(db, "CREATE TABLE done(id); INSERT INTO done VALUES (1)", NULL, NULL, NULL);

	FILE *log = fopen("job.log", "w"); /* not a temp file: it stays */
	fprintf(log, "job 1 done\n");      /* still in the FILE's buffer */
	log_fd = fileno(log);

	fd = open("/dev/null", O_WRONLY);
	/* ...and returns without closing or removing anything. */
}

static const char *
state(int n)
{
	return fcntl(n, F_GETFD) == -1 ? "closed" : "open";
}

int
main(void)
{
	char text[512], line[64] = "";
	struct stat st;

	job();
	rcshim_result_format(&result, RCSHIM_FORMAT_TEXT, text, sizeof(text));
	fputs(text, stdout);
	printf("temp dir: %s\n", stat(dir, &st) == 0 ? "still there" : "removed");
	printf("fd: %s, log FILE: %s\n", state(fd), state(log_fd));

	FILE *log = fopen("job.log", "r");
	fgets(line, sizeof(line), log);
	fclose(log);
	unlink("job.log");
	printf("job.log: %s", line);
	return 0;
}
