#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "rcshim.h"
#include "test.h"
#include "trigger/monitor.h"

/* A fake root holding recorded /proc and cgroup files. */
struct fake {
	char root[64];
};

static void
put(struct fake *f, const char *rel, const char *content)
{
	char path[512], cmd[600];
	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	ck_assert_int_eq(system(cmd), 0);
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(content, fp);
	fclose(fp);
}

static void
fake_init(struct fake *f)
{
	strcpy(f->root, "/tmp/rcshim-monitor-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->root));
}

static void
fake_fini(struct fake *f)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	ck_assert_int_eq(system(cmd), 0);
}

static const char mountinfo[] =
	"22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
	"30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw\n";

static void
cgroup_files(struct fake *f, const char *pressure, const char *current, const char *max)
{
	put(f, "proc/self/cgroup", "0::/app.slice/job\n");
	put(f, "proc/self/mountinfo", mountinfo);
	put(f, "sys/fs/cgroup/app.slice/job/memory.pressure", pressure);
	put(f, "sys/fs/cgroup/app.slice/job/memory.current", current);
	put(f, "sys/fs/cgroup/app.slice/job/memory.max", max);
}

static char *
psi_text(double some)
{
	static char buf[160];
	snprintf(buf, sizeof(buf),
		 "some avg10=%.2f avg60=0.00 avg300=0.00 total=1\n"
		 "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", some);
	return buf;
}

START_TEST(parse_defaults_and_spec)
{
	struct rc_pressure_cfg c;
	char err[160];

	ck_assert_int_eq(rc_pressure_parse("on", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.source, RC_PRESSURE_AUTO);
	ck_assert_uint_eq(c.poll_ms, 1000);
	ck_assert_uint_eq(c.gap_ms, 10000);
	ck_assert(c.usage[0] == 70 && c.usage[1] == 80 && c.usage[2] == 90);
	ck_assert(c.psi[0] == 5 && c.psi[1] == 10 && c.psi[2] == 20);

	ck_assert_int_eq(rc_pressure_parse("source=psi,poll=0.5,gap=2,usage=50/60/95.5,"
					   "psi=1/2/3,hysteresis=10",
					   &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.source, RC_PRESSURE_PSI);
	ck_assert_uint_eq(c.poll_ms, 500);
	ck_assert_uint_eq(c.gap_ms, 2000);
	ck_assert(c.usage[2] == 95.5 && c.psi[1] == 2);
	ck_assert(c.hysteresis > 0.099 && c.hysteresis < 0.101);
}
END_TEST

START_TEST(parse_rejects_with_reason)
{
	struct rc_pressure_cfg c;
	char err[160];
	const char *bad[] = { "poll=fast", "source=disk", "usage=90/80/70", "usage=1/2",
			      "psi=1/2/300", "hysteresis=100", "speed=3", "poll", "poll=0" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err[0] = '\0';
		ck_assert_msg(rc_pressure_parse(bad[i], &c, err, sizeof(err)) == -1, "%s accepted",
			      bad[i]);
		ck_assert_msg(err[0], "no reason for %s", bad[i]);
	}
}
END_TEST

START_TEST(discover_prefers_cgroup_v2)
{
	struct fake f;
	struct rc_pressure_files files;
	struct rc_pressure_reading r;

	fake_init(&f);
	cgroup_files(&f, psi_text(3.5), "600\n", "1000\n");
	put(&f, "proc/pressure/memory", psi_text(50));
	rc_pressure_discover(f.root, NULL, RC_PRESSURE_AUTO, &files);
	ck_assert_ptr_nonnull(strstr(files.cg_pressure, "/sys/fs/cgroup/app.slice/job/memory.pressure"));
	ck_assert_str_eq(files.psi, "");
	ck_assert(rc_pressure_read(&files, &r));
	ck_assert(r.has_usage && r.has_psi);
	ck_assert(r.usage > 59.9 && r.usage < 60.1);
	ck_assert(r.psi > 3.49 && r.psi < 3.51);
	fake_fini(&f);
}
END_TEST

START_TEST(unlimited_cgroup_uses_psi_only)
{
	struct fake f;
	struct rc_pressure_files files;
	struct rc_pressure_reading r;

	fake_init(&f);
	cgroup_files(&f, psi_text(12), "600\n", "max\n");
	rc_pressure_discover(f.root, NULL, RC_PRESSURE_AUTO, &files);
	ck_assert(rc_pressure_read(&files, &r));
	ck_assert(!r.has_usage);
	ck_assert(r.has_psi && r.psi == 12);
	fake_fini(&f);
}
END_TEST

START_TEST(falls_back_to_proc_pressure_then_meminfo)
{
	struct fake f;
	struct rc_pressure_files files;
	struct rc_pressure_reading r;

	fake_init(&f);
	put(&f, "proc/self/cgroup", "0::/\n");
	put(&f, "proc/self/mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n");
	put(&f, "proc/pressure/memory", psi_text(7));
	put(&f, "proc/meminfo", "MemTotal:       1000 kB\nMemFree: 100 kB\nMemAvailable:    250 kB\n");
	rc_pressure_discover(f.root, NULL, RC_PRESSURE_AUTO, &files);
	ck_assert_str_eq(files.cg_pressure, "");
	ck_assert_ptr_nonnull(strstr(files.psi, "/proc/pressure/memory"));
	ck_assert(rc_pressure_read(&files, &r) && r.has_psi && r.psi == 7 && !r.has_usage);

	char path[512];
	snprintf(path, sizeof(path), "%s/proc/pressure/memory", f.root);
	unlink(path);
	rc_pressure_discover(f.root, NULL, RC_PRESSURE_AUTO, &files);
	ck_assert_str_eq(files.psi, "");
	ck_assert(rc_pressure_read(&files, &r) && r.has_usage && !r.has_psi);
	ck_assert(r.usage > 74.9 && r.usage < 75.1);
	fake_fini(&f);
}
END_TEST

/* Recorded files drive the escalation LOW -> MEDIUM -> HIGH and back, with
 * hysteresis (defaults: usage 70/80/90, hysteresis 20 %, gap 10 s). */
START_TEST(recorded_files_drive_escalation_and_hysteresis)
{
	struct fake f;
	struct rc_pressure_cfg cfg;
	struct rc_pressure_files files;
	struct rc_pressure_state st;
	struct rc_pressure_reading r;
	char err[80];
	char current[32];

	fake_init(&f);
	cgroup_files(&f, psi_text(0), "0\n", "1000\n");
	ck_assert_int_eq(rc_pressure_parse("on", &cfg, err, sizeof(err)), 0);
	rc_pressure_discover(f.root, NULL, RC_PRESSURE_AUTO, &files);
	rc_pressure_state_init(&st);

	/* usage in ‰ of the limit, time in ms, expected priority or -1 */
	static const struct {
		int cur;
		unsigned t;
		int expect;
		int level;
	} seq[] = {
		{ 500, 0, -1, -1 },                     /* calm */
		{ 720, 1000, RCSHIM_LOW, 0 },           /* rises: runs at once */
		{ 730, 2000, -1, 0 },                   /* same level, inside the gap */
		{ 810, 3000, RCSHIM_MEDIUM, 1 },        /* higher: at once */
		{ 920, 4000, RCSHIM_HIGH, 2 },
		{ 850, 5000, -1, 2 },                   /* below 90 but above 72: holds HIGH */
		{ 930, 16000, RCSHIM_HIGH, 2 },         /* gap passed: runs again */
		{ 700, 17000, -1, 1 },                  /* below 72 and 64? 70 >= 64: MEDIUM */
		{ 600, 18000, -1, 0 },                  /* below 64, above 56: LOW */
		{ 950, 19000, RCSHIM_HIGH, 2 },         /* straight back up: at once */
		{ 100, 20000, -1, -1 },                 /* calm again */
		{ 710, 21000, RCSHIM_LOW, 0 },
	};
	for (size_t i = 0; i < sizeof(seq) / sizeof(*seq); i++) {
		snprintf(current, sizeof(current), "%d\n", seq[i].cur);
		put(&f, "sys/fs/cgroup/app.slice/job/memory.current", current);
		ck_assert(rc_pressure_read(&files, &r));
		int p = rc_pressure_step(&st, &cfg, &r, seq[i].t);
		ck_assert_msg(p == seq[i].expect && st.level == seq[i].level,
			      "step %zu (usage %d.%d%%): got prio %d level %d, want %d level %d",
			      i, seq[i].cur / 10, seq[i].cur % 10, p, st.level, seq[i].expect,
			      seq[i].level);
	}
	fake_fini(&f);
}
END_TEST

/* PSI alone escalates as well, and the higher of the two measures wins. */
START_TEST(psi_escalates_and_max_of_measures_wins)
{
	struct rc_pressure_cfg cfg;
	struct rc_pressure_state st;
	char err[80];

	ck_assert_int_eq(rc_pressure_parse("gap=0", &cfg, err, sizeof(err)), 0);
	rc_pressure_state_init(&st);
	struct rc_pressure_reading r = { .has_psi = true, .psi = 11 };
	ck_assert_int_eq(rc_pressure_step(&st, &cfg, &r, 0), RCSHIM_MEDIUM);
	r = (struct rc_pressure_reading){ .has_psi = true, .psi = 1, .has_usage = true, .usage = 91 };
	ck_assert_int_eq(rc_pressure_step(&st, &cfg, &r, 1), RCSHIM_HIGH);
	r = (struct rc_pressure_reading){ .has_psi = true, .psi = 25, .has_usage = true, .usage = 10 };
	ck_assert_int_eq(rc_pressure_step(&st, &cfg, &r, 2), RCSHIM_HIGH);
	r = (struct rc_pressure_reading){ .has_psi = true, .psi = 0, .has_usage = true, .usage = 0 };
	ck_assert_int_eq(rc_pressure_step(&st, &cfg, &r, 3), -1);
	ck_assert_int_eq(st.level, -1);
}
END_TEST

TEST_SUITE(monitor)
{
	ADD_TEST(s, parse_defaults_and_spec);
	ADD_TEST(s, parse_rejects_with_reason);
	ADD_TEST(s, discover_prefers_cgroup_v2);
	ADD_TEST(s, unlimited_cgroup_uses_psi_only);
	ADD_TEST(s, falls_back_to_proc_pressure_then_meminfo);
	ADD_TEST(s, recorded_files_drive_escalation_and_hysteresis);
	ADD_TEST(s, psi_escalates_and_max_of_measures_wins);
}
