#include "build-config.h"

#include <fcntl.h>
#include <string.h>

#include "core/log.h"
#include "core/sys.h"
#include "rcshim.h"
#include "trigger/monitor.h"

void
rc_pressure_defaults(struct rc_pressure_cfg *cfg)
{
	*cfg = (struct rc_pressure_cfg){
		.source = RC_PRESSURE_AUTO,
		.poll_ms = 1000,
		.gap_ms = 10000,
		.usage = { 70, 80, 90 },
		.psi = { 5, 10, 20 },
		.hysteresis = 0.2,
	};
}

void
rc_pressure_state_init(struct rc_pressure_state *st)
{
	st->level = -1;
	st->last_run_level = -1;
	st->last_run_ms = 0;
}

/* A non-negative decimal with up to 6 fractional digits; locale-free. */
static const char *
parse_num(const char *p, double *out)
{
	double v = 0, scale = 1;
	const char *start = p;

	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p++ - '0');
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			scale /= 10;
			v += (*p++ - '0') * scale;
		}
	}
	if (p == start || (p == start + 1 && *start == '.')) {
		return NULL;
	}
	*out = v;
	return p;
}

static bool
parse_triple(const char *v, size_t len, double out[3])
{
	const char *p = v;
	for (int i = 0; i < 3; i++) {
		if (!(p = parse_num(p, &out[i]))) {
			return false;
		}
		if (i < 2 && *p++ != '/') {
			return false;
		}
	}
	return (size_t)(p - v) == len && out[0] <= out[1] && out[1] <= out[2];
}

int
rc_pressure_parse(const char *spec, struct rc_pressure_cfg *cfg, char *err, size_t errlen)
{
	rc_pressure_defaults(cfg);
	if (!spec || !*spec || !strcasecmp(spec, "on") || !strcmp(spec, "1") ||
	    !strcasecmp(spec, "yes") || !strcasecmp(spec, "true")) {
		return 0;
	}
	const char *p = spec;
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);
		if (!eq) {
			rc_fmt(err, errlen, "'%.*s' is not key=value", (int)len, p);
			return -1;
		}
		size_t klen = (size_t)(eq - p);
		const char *v = eq + 1;
		size_t vlen = len - klen - 1;
		double d;
		const char *end;
#define KEY(k) (klen == sizeof(k) - 1 && !strncmp(p, k, klen))
		if (KEY("source")) {
			if (vlen == 4 && !strncmp(v, "auto", 4)) {
				cfg->source = RC_PRESSURE_AUTO;
			} else if (vlen == 6 && !strncmp(v, "cgroup", 6)) {
				cfg->source = RC_PRESSURE_CGROUP;
			} else if (vlen == 3 && !strncmp(v, "psi", 3)) {
				cfg->source = RC_PRESSURE_PSI;
			} else if (vlen == 7 && !strncmp(v, "meminfo", 7)) {
				cfg->source = RC_PRESSURE_MEMINFO;
			} else {
				rc_fmt(err, errlen, "source must be auto, cgroup, psi or meminfo");
				return -1;
			}
		} else if (KEY("poll") || KEY("gap")) {
			if (!(end = parse_num(v, &d)) || (size_t)(end - v) != vlen ||
			    d > 86400 || (KEY("poll") && d < 0.01)) {
				rc_fmt(err, errlen, "%.*s must be seconds (poll 0.01-86400, gap 0-86400)",
				       (int)klen, p);
				return -1;
			}
			*(KEY("poll") ? &cfg->poll_ms : &cfg->gap_ms) = (unsigned)(d * 1000 + 0.5);
		} else if (KEY("usage") || KEY("psi")) {
			double t[3];
			if (!parse_triple(v, vlen, t) || t[2] > 100) {
				rc_fmt(err, errlen, "%.*s must be LOW/MEDIUM/HIGH percents, rising, e.g. 70/80/90",
				       (int)klen, p);
				return -1;
			}
			memcpy(KEY("usage") ? cfg->usage : cfg->psi, t, sizeof(t));
		} else if (KEY("hysteresis")) {
			if (!(end = parse_num(v, &d)) || (size_t)(end - v) != vlen || d >= 100) {
				rc_fmt(err, errlen, "hysteresis must be a percent below 100");
				return -1;
			}
			cfg->hysteresis = d / 100;
		} else {
			rc_fmt(err, errlen, "unknown key '%.*s' (source, poll, gap, usage, psi, hysteresis)",
			       (int)klen, p);
			return -1;
		}
#undef KEY
		p += len;
		if (*p == ',') {
			p++;
		}
	}
	return 0;
}

/* Reads a small file whole with raw system calls (no stdio locks on the
 * worker).  Returns the length, or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t len)
{
	if (!path[0]) {
		return -1;
	}
	int fd = rc_sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		return -1;
	}
	size_t got = 0;
	ssize_t n;
	while (got + 1 < len && (n = rc_sys_read(fd, buf + got, len - 1 - got)) > 0) {
		got += (size_t)n;
	}
	rc_sys_close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

static bool
readable(const char *path)
{
	char b[8];
	return read_small(path, b, sizeof(b)) >= 0;
}

/* The cgroup2 mount point, from mountinfo: field 5 is the mount point and
 * the file-system type follows the " - " separator. */
static bool
cgroup2_mount(const char *root, char *out, size_t len)
{
	char path[512], buf[16384];
	rc_fmt(path, sizeof(path), "%s/proc/self/mountinfo", root);
	if (read_small(path, buf, sizeof(buf)) <= 0) {
		return false;
	}
	for (char *line = buf; *line;) {
		char *nl = strchr(line, '\n');
		if (nl) {
			*nl = '\0';
		}
		char *sep = strstr(line, " - ");
		if (sep && !strncmp(sep + 3, "cgroup2 ", 8)) {
			char *f = line;
			for (int i = 0; i < 4 && f; i++) {
				f = strchr(f, ' ');
				f = f ? f + 1 : NULL;
			}
			if (f) {
				size_t n = strcspn(f, " ");
				rc_fmt(out, len, "%s%.*s", root, (int)n, f);
				return true;
			}
		}
		if (!nl) {
			break;
		}
		line = nl + 1;
	}
	return false;
}

void
rc_pressure_discover(const char *root, const char *cgroup_file, enum rc_pressure_source source,
		     struct rc_pressure_files *f)
{
	char path[512], buf[4096], mnt[256];

	memset(f, 0, sizeof(*f));
	if (source == RC_PRESSURE_AUTO || source == RC_PRESSURE_CGROUP) {
		if (cgroup_file) {
			rc_fmt(path, sizeof(path), "%s", cgroup_file);
		} else {
			rc_fmt(path, sizeof(path), "%s/proc/self/cgroup", root);
		}
		if (read_small(path, buf, sizeof(buf)) > 0 && cgroup2_mount(root, mnt, sizeof(mnt))) {
			/* The v2 line is "0::/path". */
			for (char *line = buf; line && *line;) {
				char *nl = strchr(line, '\n');
				if (nl) {
					*nl = '\0';
				}
				if (!strncmp(line, "0::", 3)) {
					const char *cg = line + 3;
					if (!strcmp(cg, "/")) {
						cg = "";
					}
					rc_fmt(f->cg_pressure, sizeof(f->cg_pressure),
					       "%s%s/memory.pressure", mnt, cg);
					rc_fmt(f->cg_current, sizeof(f->cg_current),
					       "%s%s/memory.current", mnt, cg);
					rc_fmt(f->cg_max, sizeof(f->cg_max), "%s%s/memory.max", mnt, cg);
					break;
				}
				line = nl ? nl + 1 : NULL;
			}
		}
		if (!readable(f->cg_pressure)) {
			f->cg_pressure[0] = '\0';
		}
		if (!readable(f->cg_current) || !readable(f->cg_max)) {
			f->cg_current[0] = f->cg_max[0] = '\0';
		}
		if (f->cg_pressure[0] || f->cg_current[0] || source == RC_PRESSURE_CGROUP) {
			return;
		}
	}
	if (source == RC_PRESSURE_AUTO || source == RC_PRESSURE_PSI) {
		rc_fmt(f->psi, sizeof(f->psi), "%s/proc/pressure/memory", root);
		if (readable(f->psi) || source == RC_PRESSURE_PSI) {
			return;
		}
		f->psi[0] = '\0';
	}
	rc_fmt(f->meminfo, sizeof(f->meminfo), "%s/proc/meminfo", root);
}

static bool
psi_some_avg10(const char *text, double *out)
{
	const char *p = strstr(text, "some ");
	if (!p || !(p = strstr(p, "avg10="))) {
		return false;
	}
	return parse_num(p + 6, out) != NULL;
}

static bool
read_u64(const char *path, uint64_t *v, bool *unlimited)
{
	char buf[64];
	if (read_small(path, buf, sizeof(buf)) <= 0) {
		return false;
	}
	*unlimited = !strncmp(buf, "max", 3);
	*v = 0;
	for (const char *p = buf; *p >= '0' && *p <= '9'; p++) {
		*v = *v * 10 + (uint64_t)(*p - '0');
	}
	return true;
}

static bool
meminfo_field(const char *text, const char *name, uint64_t *kb)
{
	const char *p = strstr(text, name);
	if (!p) {
		return false;
	}
	p += strlen(name);
	while (*p == ' ' || *p == ':') {
		p++;
	}
	*kb = 0;
	while (*p >= '0' && *p <= '9') {
		*kb = *kb * 10 + (uint64_t)(*p++ - '0');
	}
	return true;
}

bool
rc_pressure_read(const struct rc_pressure_files *f, struct rc_pressure_reading *r)
{
	char buf[8192];
	memset(r, 0, sizeof(*r));

	if (f->cg_pressure[0] && read_small(f->cg_pressure, buf, sizeof(buf)) > 0) {
		r->has_psi = psi_some_avg10(buf, &r->psi);
	}
	if (f->cg_current[0]) {
		uint64_t cur, max;
		bool unl_cur, unl_max;
		if (read_u64(f->cg_current, &cur, &unl_cur) && read_u64(f->cg_max, &max, &unl_max) &&
		    !unl_max && max > 0) {
			r->has_usage = true;
			r->usage = 100.0 * (double)cur / (double)max;
		}
	}
	if (f->psi[0] && read_small(f->psi, buf, sizeof(buf)) > 0) {
		r->has_psi = psi_some_avg10(buf, &r->psi);
	}
	if (f->meminfo[0] && read_small(f->meminfo, buf, sizeof(buf)) > 0) {
		uint64_t total, avail;
		if (meminfo_field(buf, "MemTotal", &total) &&
		    meminfo_field(buf, "MemAvailable", &avail) && total > 0) {
			r->has_usage = true;
			r->usage = 100.0 * (double)(total - (avail < total ? avail : total)) /
				   (double)total;
		}
	}
	return r->has_usage || r->has_psi;
}

/* The level one measure asks for, given the current level (hysteresis
 * holds a level until the measure falls clearly below its threshold). */
static int
level_of(double v, const double th[3], double hyst, int current)
{
	int up = -1;
	for (int l = 0; l < 3; l++) {
		if (v >= th[l]) {
			up = l;
		}
	}
	if (up >= current) {
		return up;
	}
	/* Below the current level's threshold: step down only past the
	 * hysteresis band of each level on the way. */
	int l = current;
	while (l >= 0 && v < th[l] * (1 - hyst)) {
		l--;
	}
	return l;
}

int
rc_pressure_step(struct rc_pressure_state *st, const struct rc_pressure_cfg *cfg,
		 const struct rc_pressure_reading *r, uint64_t now_ms)
{
	int lu = r->has_usage ? level_of(r->usage, cfg->usage, cfg->hysteresis, st->level) : -1;
	int lp = r->has_psi ? level_of(r->psi, cfg->psi, cfg->hysteresis, st->level) : -1;
	int level = lu > lp ? lu : lp;

	st->level = level;
	if (level < st->last_run_level) {
		/* Calmer now: a rise back up runs at once. */
		st->last_run_level = level;
	}
	if (level < 0) {
		return -1;
	}
	if (level > st->last_run_level || now_ms - st->last_run_ms >= cfg->gap_ms) {
		st->last_run_level = level;
		st->last_run_ms = now_ms;
		return RCSHIM_LOW + level;
	}
	return -1;
}
