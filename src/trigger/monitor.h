/* The memory-pressure monitor (DESIGN §4; syntax in docs/live.md).
 *
 * Reads, in order of preference: the process's own cgroup v2
 * (memory.pressure, memory.current against memory.max), else
 * /proc/pressure/memory, else MemAvailable in /proc/meminfo.  Two measures
 * come out of them: usage (percent of the limit, or of MemTotal) and PSI
 * "some avg10" (percent of time some task stalled on memory).  Each has
 * three thresholds, for LOW, MEDIUM and HIGH; the level is the higher of
 * the two.  Going down needs the measure to fall below the threshold times
 * (1 - hysteresis).  A run happens when the level rises, or after the
 * minimum gap while it stays up.
 *
 * Everything here is plain functions over values or files, so recorded
 * files drive it in tests exactly as the live ones do.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rc_pressure_source {
	RC_PRESSURE_AUTO = 0,
	RC_PRESSURE_CGROUP,
	RC_PRESSURE_PSI,
	RC_PRESSURE_MEMINFO,
};

struct rc_pressure_cfg {
	enum rc_pressure_source source;
	unsigned poll_ms;      /* how often to read */
	unsigned gap_ms;       /* least time between two runs at one level */
	double usage[3];       /* % of limit for LOW, MEDIUM, HIGH */
	double psi[3];         /* some avg10 % for LOW, MEDIUM, HIGH */
	double hysteresis;     /* fraction: down below threshold * (1 - h) */
};

/* Where the files are.  Empty strings: not available. */
struct rc_pressure_files {
	char cg_pressure[512];
	char cg_current[512];
	char cg_max[512];
	char psi[256];
	char meminfo[256];
};

struct rc_pressure_reading {
	bool has_usage, has_psi;
	double usage; /* percent */
	double psi;   /* some avg10, percent */
};

struct rc_pressure_state {
	int level;            /* -1 none, else RCSHIM_LOW..RCSHIM_HIGH */
	int last_run_level;   /* -1 before the first run */
	uint64_t last_run_ms;
};

/* Defaults: auto, poll 1 s, gap 10 s, usage 70/80/90 %, PSI 5/10/20 %,
 * hysteresis 0.2. */
void rc_pressure_defaults(struct rc_pressure_cfg *cfg);

/* Parses "on" or a comma list of key=value (source=auto|cgroup|psi|meminfo,
 * poll=SECONDS, gap=SECONDS, usage=L/M/H, psi=L/M/H, hysteresis=PERCENT).
 * Returns 0, or -1 with a reason in @err. */
int rc_pressure_parse(const char *spec, struct rc_pressure_cfg *cfg, char *err, size_t errlen);

/* Finds the files under @root ("" for the real /): the cgroup of
 * /proc/self/cgroup (or @cgroup_file when given). */
void rc_pressure_discover(const char *root, const char *cgroup_file,
			  enum rc_pressure_source source, struct rc_pressure_files *f);

/* Reads the measures.  False if nothing could be read. */
bool rc_pressure_read(const struct rc_pressure_files *f, struct rc_pressure_reading *r);

/* Feeds one reading.  Returns the priority to run a live cleanup at, or
 * -1 for none. */
int rc_pressure_step(struct rc_pressure_state *st, const struct rc_pressure_cfg *cfg,
		     const struct rc_pressure_reading *r, uint64_t now_ms);

void rc_pressure_state_init(struct rc_pressure_state *st);
