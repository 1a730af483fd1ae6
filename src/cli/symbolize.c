/* Names for the frames the processes of a run left unnamed.
 *
 * Under the launcher a process writes its report without naming its
 * frames (RCSHIM_INTERNAL_GATHER=1, report/symbol.h): a frame is its
 * object, the object's build id and the return address in the object's
 * own addresses.  The launcher names them here, once per run, from the
 * object files (libdw, a module opened once for all the processes that
 * mapped it) — heaptrack's split between a cheap recorder and an
 * interpreter out of process.  An object that is gone, or was rebuilt
 * since (another build id), keeps the address in the object.
 *
 * Text frame, deferred:   "      #N  0xPC ?+0xADDR in OBJECT [unsymbolized ID]"
 *                 named:  "      #N  0xPC FUNCTION+0xOFF in OBJECT at FILE:LINE"
 * JSON frame, deferred:   {"pc":..,"object":..,"function":null,"offset":ADDR,
 *                          "file":null,"line":null,"unsymbolized":"ID"}
 *                 named:  the same members as a frame the process named itself.
 */
#include "build-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/escape.h"
#include "report/symbol.h"

struct buf {
	char *p;
	size_t len, cap;
};

static void
put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			abort();
		}
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Text: the escapes of core/escape.h undone (\\ \n \t \r \xNN). */
static size_t
unescape_text(const char *s, size_t n, char *out, size_t cap)
{
	size_t w = 0;
	for (size_t i = 0; i < n && w + 1 < cap; i++) {
		if (s[i] != '\\' || i + 1 >= n) {
			out[w++] = s[i];
			continue;
		}
		char c = s[++i];
		if (c == 'n') {
			out[w++] = '\n';
		} else if (c == 't') {
			out[w++] = '\t';
		} else if (c == 'r') {
			out[w++] = '\r';
		} else if (c == 'x' && i + 2 < n) {
			unsigned v = 0;
			sscanf(s + i + 1, "%2x", &v);
			out[w++] = (char)v;
			i += 2;
		} else {
			out[w++] = c;
		}
	}
	out[w] = '\0';
	return w;
}

static void
put_text(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	char *e = malloc(n * 4 + 1);
	if (!e) {
		abort();
	}
	rc_esc_text(e, n * 4 + 1, s, n);
	puts_(b, e);
	free(e);
}

/* Names @addr in @object from the cache, else from the object file (libdw
 * opened now, at the first miss), and then keeps it in the cache. */
static bool
lookup_once(struct cli_sym *s, const char *object, const char *id, uintptr_t addr,
	    struct rc_frame_info *f)
{
	if (!s->cache_tried) {
		s->cache_tried = true;
		s->cache = cli_symcache_open();
	}
	if (id[0] && cli_symcache_get(s->cache, id, addr, f)) {
		return true;
	}
	if (!s->off) {
		s->off = rc_sym_offline_begin();
	}
	if (!rc_sym_offline_lookup(s->off, object, id, addr, f)) {
		return false;
	}
	if (id[0]) {
		cli_symcache_put(s->cache, id, addr, f);
	}
	return true;
}

/* The frames named this run, by object, build id and address, found or
 * not: the processes of a build share most of their frames, and naming
 * one in a large object (a compiler's) costs a pass over its symbols. */
struct cli_sym_memo {
	char *object, *id, *function, *file;
	uintptr_t addr, offset;
	uint64_t hash;
	int line;
	bool ok;
};

static uint64_t
memo_hash(const char *object, const char *id, uintptr_t addr)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const char *p = object; *p; p++) {
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	}
	h = (h ^ 0xff) * 1099511628211ull;
	for (const char *p = id; *p; p++) {
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	}
	for (size_t i = 0; i < sizeof(addr); i++) {
		h = (h ^ ((addr >> (8 * i)) & 0xff)) * 1099511628211ull;
	}
	return h;
}

/* The slot of (@object, @id, @addr): its entry, or the empty slot where
 * it goes.  The table is never full (memo_add keeps it under half). */
static struct cli_sym_memo *
memo_slot(const struct cli_sym *s, uint64_t h, const char *object, const char *id,
	  uintptr_t addr)
{
	for (size_t i = h & (s->memo_cap - 1);; i = (i + 1) & (s->memo_cap - 1)) {
		struct cli_sym_memo *e = &s->memo[i];
		if (!e->object || (e->hash == h && e->addr == addr && !strcmp(e->object, object) &&
				   !strcmp(e->id, id))) {
			return e;
		}
	}
}

static void
memo_add(struct cli_sym *s, uint64_t h, const char *object, const char *id, uintptr_t addr,
	 bool ok, const struct rc_frame_info *f)
{
	if (2 * (s->memo_n + 1) > s->memo_cap) {
		size_t cap = s->memo_cap ? 2 * s->memo_cap : 1024;
		struct cli_sym_memo *old = s->memo;
		size_t oldcap = s->memo_cap;
		s->memo = calloc(cap, sizeof(*s->memo));
		if (!s->memo) {
			abort();
		}
		s->memo_cap = cap;
		for (size_t i = 0; i < oldcap; i++) {
			if (old[i].object) {
				*memo_slot(s, old[i].hash, old[i].object, old[i].id, old[i].addr) =
					old[i];
			}
		}
		free(old);
	}
	const char *fn = ok ? f->function : "", *fl = ok ? f->file : "";
	struct cli_sym_memo *e = memo_slot(s, h, object, id, addr);
	*e = (struct cli_sym_memo){
		.object = cli_xstrndup(object, strlen(object)),
		.id = cli_xstrndup(id, strlen(id)),
		.function = cli_xstrndup(fn, strlen(fn)),
		.file = cli_xstrndup(fl, strlen(fl)),
		.addr = addr,
		.offset = ok ? f->offset : 0,
		.hash = h,
		.line = ok ? f->line : 0,
		.ok = ok,
	};
	s->memo_n++;
}

/* Names @addr in @object (@id: its build id in hex, "" if none): from this
 * run's names, else from the cache, else from the object file (libdw
 * opened now, at the first miss), and then kept in the cache. */
static bool
lookup(struct cli_sym *s, const char *object, const char *id, uintptr_t addr,
       struct rc_frame_info *f)
{
	uint64_t h = memo_hash(object, id, addr);
	const struct cli_sym_memo *e = s->memo_cap ? memo_slot(s, h, object, id, addr) : NULL;
	if (e && e->object) {
		if (e->ok) {
			snprintf(f->function, sizeof(f->function), "%s", e->function);
			snprintf(f->file, sizeof(f->file), "%s", e->file);
			f->offset = e->offset;
			f->line = e->line;
			f->deferred = false;
		}
		return e->ok;
	}
	bool ok = lookup_once(s, object, id, addr, f);
	memo_add(s, h, object, id, addr, ok, f);
	return ok;
}

void
cli_sym_end(struct cli_sym *s)
{
	for (size_t i = 0; i < s->memo_cap; i++) {
		struct cli_sym_memo *e = &s->memo[i];
		if (e->object) {
			free(e->object);
			free(e->id);
			free(e->function);
			free(e->file);
		}
	}
	free(s->memo);
	rc_sym_offline_end(s->off);
	cli_symcache_close(s->cache);
	memset(s, 0, sizeof(*s));
}

/* One text line: named, or as it was with its marker dropped. */
static void
text_line(struct buf *b, const char *line, size_t n, struct cli_sym *sym)
{
	static const char mark[] = " [unsymbolized ";
	const char *m = NULL;
	for (const char *p = line; p + sizeof(mark) - 1 <= line + n; p++) {
		if (!memcmp(p, mark, sizeof(mark) - 1)) {
			m = p; /* the last one: an object's name may hold the words */
		}
	}
	const char *q = m ? strstr(line, " ?+0x") : NULL;
	if (!m || !q || q > m || line[n - 1] != ']') {
		put(b, line, n);
		return;
	}
	const char *in = strstr(q, " in ");
	if (!in || in + 4 > m) { /* an object's name ends at the marker */
		put(b, line, n);
		return;
	}
	char id[64] = "", object[4096];
	size_t idlen = (size_t)(line + n - 1 - (m + sizeof(mark) - 1));
	if (idlen < sizeof(id)) {
		memcpy(id, m + sizeof(mark) - 1, idlen);
		id[idlen] = '\0';
	}
	unsigned long addr = strtoul(q + 5, NULL, 16);
	unescape_text(in + 4, (size_t)(m - (in + 4)), object, sizeof(object));
	struct rc_frame_info f;
	memset(&f, 0, sizeof(f));
	if (!lookup(sym, object, strcmp(id, "-") ? id : "", addr, &f)) {
		put(b, line, (size_t)(m - line)); /* the address in the object */
		return;
	}
	put(b, line, (size_t)(q + 1 - line));
	put_text(b, f.function);
	char off[32];
	snprintf(off, sizeof(off), "+0x%lx", (unsigned long)f.offset);
	puts_(b, off);
	put(b, in, (size_t)(m - in));
	if (f.file[0]) {
		puts_(b, " at ");
		put_text(b, f.file);
		char ln[32];
		snprintf(ln, sizeof(ln), ":%d", f.line);
		puts_(b, ln);
	}
}

/* JSON: the string at @p (after its opening quote) decoded into @out;
 * returns the position after the closing quote, NULL if malformed.  \u
 * escapes below 0x100 are the bytes the writer gave them for
 * (report/emit.c); others are kept as UTF-8. */
static const char *
json_str(const char *p, const char *end, char *out, size_t cap)
{
	size_t w = 0;
	while (p < end && *p != '"') {
		char c = *p++;
		if (c == '\\' && p < end) {
			c = *p++;
			unsigned v = 0;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				if (end - p < 4 || sscanf(p, "%4x", &v) != 1) {
					return NULL;
				}
				p += 4;
				if (v < 0x100) {
					c = (char)v;
				} else {
					/* Three bytes at most here (no surrogates
					 * are written). */
					if (w + 3 < cap) {
						out[w++] = (char)(0xe0 | (v >> 12));
						out[w++] = (char)(0x80 | ((v >> 6) & 0x3f));
						out[w++] = (char)(0x80 | (v & 0x3f));
					}
					continue;
				}
				break;
			default:
				break; /* \" \\ \/ */
			}
		}
		if (w + 1 < cap) {
			out[w++] = c;
		}
	}
	out[w] = '\0';
	return p < end ? p + 1 : NULL;
}

static void
json_member(struct buf *b, const char *key, const char *value)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	if (!f) {
		abort();
	}
	fprintf(f, "\"%s\":", key);
	cli_json_string(f, value);
	if (cli_json_needs_hex(value)) {
		fprintf(f, ",\"%s_hex\":", key);
		cli_json_hex(f, value);
	}
	fclose(f);
	put(b, s, n);
	free(s);
}

/* One frame object [p, end) (from '{' to '}' included): named, or as it
 * was with its marker dropped. */
static void
json_frame(struct buf *b, const char *p, const char *end, struct cli_sym *sym)
{
	static const char mark[] = ",\"unsymbolized\":\"";
	const char *m = NULL;
	for (const char *s = p; s + sizeof(mark) - 1 <= end; s++) {
		if (!memcmp(s, mark, sizeof(mark) - 1)) {
			m = s;
		}
	}
	const char *obj = strstr(p, "\"object\":\"");
	const char *fn = strstr(p, ",\"function\":null,\"offset\":");
	if (!m || !obj || !fn || obj > m || fn > m) {
		put(b, p, (size_t)(end - p));
		return;
	}
	char object[4096], id[64];
	const char *after = json_str(obj + 10, end, object, sizeof(object));
	const char *hex = after && !strncmp(after, ",\"object_hex\":\"", 15) ? after + 15 : NULL;
	if (hex) {
		/* The exact bytes, where the string alone cannot give them. */
		size_t w = 0;
		unsigned v;
		while (hex + 1 < end && *hex != '"' && w + 1 < sizeof(object) &&
		       sscanf(hex, "%2x", &v) == 1) {
			object[w++] = (char)v;
			hex += 2;
		}
		object[w] = '\0';
	}
	if (!json_str(m + sizeof(mark) - 1, end, id, sizeof(id))) {
		put(b, p, (size_t)(end - p));
		return;
	}
	unsigned long addr = strtoul(fn + 26, NULL, 10);
	struct rc_frame_info f;
	memset(&f, 0, sizeof(f));
	if (!lookup(sym, object, id, addr, &f)) {
		put(b, p, (size_t)(m - p));
		puts_(b, "}");
		return;
	}
	/* {"pc":..,"object":..[,"object_hex":..] kept as written. */
	put(b, p, (size_t)(fn - p));
	puts_(b, ",");
	json_member(b, "function", f.function);
	char off[48];
	snprintf(off, sizeof(off), ",\"offset\":%lu,", (unsigned long)f.offset);
	puts_(b, off);
	if (f.file[0]) {
		json_member(b, "file", f.file);
		char ln[32];
		snprintf(ln, sizeof(ln), ",\"line\":%d}", f.line);
		puts_(b, ln);
	} else {
		puts_(b, "\"file\":null,\"line\":null}");
	}
}

/* The '}' that closes the JSON object opening at @p, NULL if none. */
static const char *
json_close(const char *p, const char *end)
{
	bool in_str = false;
	int depth = 0;
	for (; p < end; p++) {
		if (in_str) {
			if (*p == '\\') {
				p++;
			} else if (*p == '"') {
				in_str = false;
			}
		} else if (*p == '"') {
			in_str = true;
		} else if (*p == '{') {
			depth++;
		} else if (*p == '}' && --depth == 0) {
			return p;
		}
	}
	return NULL;
}

static bool
has_deferred(const char *text, size_t len)
{
	static const char t[] = " [unsymbolized ", j[] = "\"unsymbolized\":\"";
	return memmem(text, len, t, sizeof(t) - 1) || memmem(text, len, j, sizeof(j) - 1);
}

char *
cli_symbolize(char *text, size_t *len, struct cli_sym *sym)
{
	if (!text || !has_deferred(text, *len)) {
		return text;
	}
	struct buf b = { 0 };
	put(&b, "", 0);
	const char *p = text, *end = text + *len;
	while (p < end) {
		/* A JSON frame object. */
		const char *jf = memmem(p, (size_t)(end - p), "{\"pc\":\"0x", 9);
		/* A text line. */
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (jf && jf < le) {
			const char *close = json_close(jf, end);
			if (!close) {
				put(&b, p, (size_t)(end - p));
				break;
			}
			put(&b, p, (size_t)(jf - p));
			json_frame(&b, jf, close + 1, sym);
			p = close + 1;
			continue;
		}
		text_line(&b, p, (size_t)(le - p), sym);
		if (nl) {
			put(&b, "\n", 1);
		}
		p = nl ? nl + 1 : end;
	}
	free(text);
	*len = b.len;
	return b.p;
}
