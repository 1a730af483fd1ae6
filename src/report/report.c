/* Reports: not written yet (issue: heap tracking and leak reports). */
#include "build-config.h"

#include "report/report.h"

int
rc_report_write(int fd, enum rc_report_format fmt)
{
	(void)fd;
	(void)fmt;
	return 0;
}

void
rc_report_cleanup(const struct rc_clean_req *req, const struct rcshim_result *res)
{
	(void)req;
	(void)res;
}

void
rc_report_note(const char *fmt, ...)
{
	(void)fmt;
}

void
rc_report_at_exit(const struct rcshim_result *final)
{
	(void)final;
}
