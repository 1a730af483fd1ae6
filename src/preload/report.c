/* rcshim_report (include/rcshim.h): a forward into the report module. */
#include "build-config.h"

#include "preload/real.h"
#include "report/report.h"

RC_EXPORT int
rcshim_report(int fd, rcshim_format format)
{
	rc_ensure_init();
	return rc_report_write(fd, format == RCSHIM_FORMAT_JSON ? RC_REPORT_JSON : RC_REPORT_TEXT);
}
