#include "build-config.h"

#include <string.h>

#include "clean/render.h"
#include "core/config.h"
#include "core/log.h"

static const char *const status_names[] = {
	[RCSHIM_OK] = "ok",
	[RCSHIM_PARTIAL] = "partial",
	[RCSHIM_BUSY] = "busy",
	[RCSHIM_INVALID] = "invalid",
	[RCSHIM_DISABLED] = "disabled",
};

const char *
rc_status_name(int status)
{
	return status >= 0 && (size_t)status < sizeof(status_names) / sizeof(*status_names)
		       ? status_names[status] : "unknown";
}

/* An snprintf-like sink: counts everything, stores what fits. */
struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void
put(struct out *o, const char *s)
{
	size_t n = strlen(s);
	if (o->len + 1 < o->size) {
		size_t room = o->size - 1 - o->len;
		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void
put_u(struct out *o, uint64_t v)
{
	char num[24];
	rc_fmt(num, sizeof(num), "%llu", (unsigned long long)v);
	put(o, num);
}

static void
counts(struct out *o, bool json, uint64_t cleaned, uint64_t failed, uint64_t skipped,
       uint64_t bytes)
{
	static const char *const text[] = { "cleaned ", ", failed ", ", skipped ", ", bytes " };
	static const char *const js[] = { "\"cleaned\":", ",\"failed\":", ",\"skipped\":",
					  ",\"bytes\":" };
	const uint64_t v[] = { cleaned, failed, skipped, bytes };
	for (int i = 0; i < 4; i++) {
		put(o, json ? js[i] : text[i]);
		put_u(o, v[i]);
	}
}

static bool
any(const struct rcshim_kind_result *k)
{
	return k->cleaned || k->failed || k->skipped || k->bytes;
}

size_t
rc_result_render(const struct rcshim_result *res, rcshim_format format, char *buf, size_t size)
{
	struct out o = { buf, size, 0 };
	bool json = format == RCSHIM_FORMAT_JSON;

	if (!res) {
		put(&o, json ? "null" : "no result\n");
	} else if (json) {
		put(&o, "{\"status\":\"");
		put(&o, rc_status_name(res->status));
		put(&o, "\",");
		counts(&o, true, res->cleaned, res->failed, res->skipped, res->bytes);
		put(&o, ",\"kinds\":{");
		for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
			const struct rcshim_kind_result *r = &res->kind[k];
			put(&o, k ? ",\"" : "\"");
			put(&o, rc_kind_name(k));
			put(&o, "\":{");
			counts(&o, true, r->cleaned, r->failed, r->skipped, r->bytes);
			put(&o, "}");
		}
		put(&o, "}}");
	} else {
		put(&o, rc_status_name(res->status));
		put(&o, ": ");
		counts(&o, false, res->cleaned, res->failed, res->skipped, res->bytes);
		put(&o, "\n");
		for (int k = 0; k < RCSHIM_KIND_COUNT; k++) {
			const struct rcshim_kind_result *r = &res->kind[k];
			if (!any(r)) {
				continue;
			}
			put(&o, "  ");
			put(&o, rc_kind_name(k));
			put(&o, ": ");
			counts(&o, false, r->cleaned, r->failed, r->skipped, r->bytes);
			put(&o, "\n");
		}
	}
	if (size) {
		buf[o.len < size ? o.len : size - 1] = '\0';
	}
	return o.len;
}
