/* The shim's own stack walker (see core/unwind.h): .eh_frame's call frame
 * information, read in place.  Formats: the System V x86-64 psABI and
 * LSB's .eh_frame / .eh_frame_hdr (DWARF 4 §6.4 for the instructions).
 * Nothing here allocates or locks; the one system call is a getrlimit,
 * once per process. */
#include "build-config.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "core/state.h"
#include "core/sys.h"
#include "core/unwind.h"

#if RC_UNW_AVAILABLE && defined(DLFO_EH_SEGMENT_TYPE)

/* ld.so's: the main thread's stack pointer at the program's entry. */
extern void *__libc_stack_end;

/* A main thread's stack limit above this is taken for none (libunwind
 * walks such a stack). */
#define STACK_SPAN ((uintptr_t)256 << 20)
/* DW_CFA_remember_state nesting. */
#define STATE_DEPTH 4
/* DWARF expression stack. */
#define EXPR_DEPTH 16

/* Pointer encodings (DW_EH_PE_*). */
enum {
	PE_ABSPTR = 0x00,
	PE_ULEB128 = 0x01,
	PE_UDATA2 = 0x02,
	PE_UDATA4 = 0x03,
	PE_UDATA8 = 0x04,
	PE_SLEB128 = 0x09,
	PE_SDATA2 = 0x0a,
	PE_SDATA4 = 0x0b,
	PE_SDATA8 = 0x0c,
	PE_PCREL = 0x10,
	PE_DATAREL = 0x30,
	PE_INDIRECT = 0x80,
	PE_OMIT = 0xff,
};

enum how {
	UNSPECIFIED, /* callee-saved registers keep their value */
	UNDEFINED,
	OFFSET,      /* saved at CFA + off */
	VAL_OFFSET,  /* is CFA + off */
	REGISTER,    /* in register off */
	EXPRESSION,  /* saved at the expression's value */
	VAL_EXPRESSION,
};

struct rule {
	uint8_t how;
	union {
		int64_t off;	     /* OFFSET, VAL_OFFSET; REGISTER: its number */
		const uint8_t *expr; /* an expression: its length first (ULEB128) */
	};
};

struct row {
	bool cfa_is_expr;
	uint8_t cfa_reg;
	int64_t cfa_off;
	const uint8_t *cfa_expr;
	struct rule reg[RC_UNW_NREGS];
};

struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra;
	uint8_t fde_enc;
	bool has_data; /* 'z': FDEs carry augmentation data */
	bool signal_frame;
	const uint8_t *insns, *end;
};

/* A cursor over mapped call frame information; any read past @end sets
 * @bad and reads zeros from then on. */
struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static inline bool
cfi_take(struct rd *r, void *out, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		memset(out, 0, n);
		return false;
	}
	memcpy(out, r->p, n);
	r->p += n;
	return true;
}

static inline uint8_t
cfi_u8(struct rd *r)
{
	uint8_t v;
	cfi_take(r, &v, 1);
	return v;
}

static uint64_t
cfi_uleb(struct rd *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint8_t b = cfi_u8(r);
		if (shift < 64) {
			v |= (uint64_t)(b & 0x7f) << shift;
		}
		if (!(b & 0x80) || r->bad) {
			return v;
		}
	}
}

static int64_t
cfi_sleb(struct rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b;
	do {
		b = cfi_u8(r);
		if (shift < 64) {
			v |= (uint64_t)(b & 0x7f) << shift;
		}
		shift += 7;
	} while ((b & 0x80) && !r->bad);
	if (shift < 64 && (b & 0x40)) {
		v |= ~(uint64_t)0 << shift;
	}
	return (int64_t)v;
}

/* A little-endian number of @size bytes, sign-extended if @sign. */
static uint64_t
cfi_fixed(struct rd *r, unsigned size, bool sign)
{
	uint64_t v = 0;
	cfi_take(r, &v, size);
	if (sign && size < 8) {
		unsigned shift = 64 - 8 * size;
		v = (uint64_t)((int64_t)(v << shift) >> shift);
	}
	return v;
}

/* A pointer in encoding @enc; @dbase for DW_EH_PE_datarel.  *@ok false
 * for an encoding this does not read. */
static uintptr_t
cfi_encoded(struct rd *r, uint8_t enc, uintptr_t dbase, bool *ok)
{
	uintptr_t at = (uintptr_t)r->p, base;
	uint64_t v;
	switch (enc & 0x70) {
	case 0:
		base = 0;
		break;
	case PE_PCREL:
		base = at;
		break;
	case PE_DATAREL:
		base = dbase;
		break;
	default:
		*ok = false;
		return 0;
	}
	switch (enc & 0x0f) {
	case PE_ABSPTR:
	case PE_UDATA8:
	case PE_SDATA8:
		v = cfi_fixed(r, 8, false);
		break;
	case PE_ULEB128:
		v = cfi_uleb(r);
		break;
	case PE_UDATA2:
	case PE_SDATA2:
		v = cfi_fixed(r, 2, enc & 0x08);
		break;
	case PE_UDATA4:
	case PE_SDATA4:
		v = cfi_fixed(r, 4, enc & 0x08);
		break;
	case PE_SLEB128:
		v = (uint64_t)cfi_sleb(r);
		break;
	default:
		*ok = false;
		return 0;
	}
	v += base;
	if ((enc & PE_INDIRECT) && !r->bad) {
		if (!v) {
			*ok = false;
			return 0;
		}
		memcpy(&v, (const void *)(uintptr_t)v, sizeof(v));
	}
	if (r->bad) {
		*ok = false;
	}
	return (uintptr_t)v;
}

/* One record of .eh_frame at @p: its content [*@body, *@end); false for a
 * terminator or a length that does not fit. */
static bool
cfi_record(const uint8_t *p, const uint8_t **body, const uint8_t **end)
{
	uint32_t len32;
	memcpy(&len32, p, 4);
	p += 4;
	uint64_t len = len32;
	if (len32 == 0xffffffffu) {
		memcpy(&len, p, 8);
		p += 8;
	}
	if (len == 0 || len > ((uint64_t)1 << 30)) {
		return false;
	}
	*body = p;
	*end = p + len;
	return true;
}

static bool
cfi_parse_cie(const uint8_t *p, struct cie *c)
{
	const uint8_t *body, *end;
	if (!cfi_record(p, &body, &end)) {
		return false;
	}
	struct rd r = { body, end, false };
	uint32_t id;
	cfi_take(&r, &id, 4);
	if (id != 0) {
		return false;
	}
	uint8_t version = cfi_u8(&r);
	if (version != 1 && version != 3 && version != 4) {
		return false;
	}
	const char *aug = (const char *)r.p;
	size_t alen = strnlen(aug, (size_t)(r.end - r.p));
	if (alen == (size_t)(r.end - r.p)) {
		return false;
	}
	r.p += alen + 1;
	if (version == 4 && (cfi_u8(&r) != sizeof(void *) || cfi_u8(&r) != 0)) {
		return false; /* address size, segment selector size */
	}
	c->code_align = cfi_uleb(&r);
	c->data_align = cfi_sleb(&r);
	c->ra = version == 1 ? cfi_u8(&r) : cfi_uleb(&r);
	c->fde_enc = PE_ABSPTR;
	c->signal_frame = false;
	c->has_data = aug[0] == 'z';
	if (c->has_data) {
		uint64_t n = cfi_uleb(&r);
		if (r.bad || n > (uint64_t)(r.end - r.p)) {
			return false;
		}
		struct rd a = { r.p, r.p + n, false };
		r.p += n;
		bool ok = true, rest_skipped = false;
		for (const char *s = aug + 1; *s && ok && !a.bad && !rest_skipped; s++) {
			switch (*s) {
			case 'R':
				c->fde_enc = cfi_u8(&a);
				break;
			case 'L':
				cfi_u8(&a);
				break;
			case 'P': {
				uint8_t penc = cfi_u8(&a);
				/* Skipped, not followed: read without the
				 * indirection. */
				cfi_encoded(&a, penc & (uint8_t)~PE_INDIRECT, 0, &ok);
				break;
			}
			case 'S':
				c->signal_frame = true;
				break;
			default:
				/* Unknown: the rest of the data is skipped,
				 * which 'z' allows, but an 'R' after it would
				 * be missed. */
				ok = strchr(s, 'R') == NULL;
				rest_skipped = true;
				break;
			}
		}
		if (!ok || a.bad) {
			return false;
		}
	} else if (aug[0] != '\0') {
		return false;
	}
	c->insns = r.p;
	c->end = end;
	return !r.bad && c->ra < RC_UNW_NREGS;
}

/* The FDE covering @pc, through .eh_frame_hdr's sorted table at @hdr;
 * fills @c and the FDE's instructions and start. */
static bool
cfi_find_fde(const uint8_t *hdr, uintptr_t pc, struct cie *c, const uint8_t **insns,
	 const uint8_t **end, uintptr_t *start)
{
	if (hdr[0] != 1 || hdr[3] != (PE_DATAREL | PE_SDATA4)) {
		return false;
	}
	bool ok = true;
	struct rd r = { hdr + 4, hdr + 4 + 16, false };
	cfi_encoded(&r, hdr[1], (uintptr_t)hdr, &ok); /* eh_frame_ptr */
	uintptr_t count = hdr[2] == PE_OMIT ? 0 : cfi_encoded(&r, hdr[2], (uintptr_t)hdr, &ok);
	if (!ok || count == 0 || count > ((uintptr_t)1 << 28)) {
		return false;
	}
	const uint8_t *table = r.p;
	/* The last entry whose start is at or below @pc. */
	uintptr_t lo = 0, hi = count;
	while (hi - lo > 1) {
		uintptr_t mid = lo + (hi - lo) / 2;
		int32_t loc;
		memcpy(&loc, table + mid * 8, 4);
		if ((uintptr_t)hdr + (intptr_t)loc <= pc) {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	int32_t loc, off;
	memcpy(&loc, table + lo * 8, 4);
	memcpy(&off, table + lo * 8 + 4, 4);
	if ((uintptr_t)hdr + (intptr_t)loc > pc) {
		return false;
	}
	const uint8_t *fde = hdr + off, *body, *fend;
	if (!cfi_record(fde, &body, &fend)) {
		return false;
	}
	uint32_t cie_off;
	memcpy(&cie_off, body, 4);
	if (cie_off == 0 || !cfi_parse_cie(body - cie_off, c)) {
		return false;
	}
	r = (struct rd){ body + 4, fend, false };
	uintptr_t begin = cfi_encoded(&r, c->fde_enc, 0, &ok);
	uintptr_t range = cfi_encoded(&r, c->fde_enc & 0x0f, 0, &ok);
	if (!ok || pc < begin || pc - begin >= range) {
		return false;
	}
	if (c->has_data) {
		uint64_t n = cfi_uleb(&r);
		if (r.bad || n > (uint64_t)(r.end - r.p)) {
			return false;
		}
		r.p += n;
	}
	*insns = r.p;
	*end = fend;
	*start = begin;
	return true;
}

/* Runs call frame instructions [@p, @end) for @pc, from @row (the CIE's
 * initial rules in @init, for DW_CFA_restore).  @loc is the address the
 * rules apply from; the run stops before the first advance past @pc. */
static bool
cfi_run(const uint8_t *p, const uint8_t *end, const struct cie *c, struct row *row,
    const struct row *init, uintptr_t loc, uintptr_t pc)
{
	struct row saved[STATE_DEPTH];
	unsigned nsaved = 0;
	struct rd r = { p, end, false };
	bool ok = true;

	while (r.p < r.end && !r.bad) {
		uint8_t op = cfi_u8(&r);
		uint64_t reg = op & 0x3f, delta = 0;
		int64_t off = 0;
		switch (op >> 6) {
		case 1: /* DW_CFA_advance_loc */
			delta = reg;
			goto advance;
		case 2: /* DW_CFA_offset */
			off = (int64_t)cfi_uleb(&r) * c->data_align;
			goto offset;
		case 3: /* DW_CFA_restore */
			goto restore;
		default:
			break;
		}
		switch (op) {
		case 0x00: /* nop */
			continue;
		case 0x01: { /* set_loc */
			uintptr_t to = cfi_encoded(&r, c->fde_enc, 0, &ok);
			if (!ok) {
				return false;
			}
			if (to > pc) {
				return true;
			}
			loc = to;
			continue;
		}
		case 0x02: {
			delta = cfi_u8(&r);
			goto advance;
		}
		case 0x03: {
			uint16_t d;
			cfi_take(&r, &d, 2);
			delta = d;
			goto advance;
		}
		case 0x04: {
			uint32_t d;
			cfi_take(&r, &d, 4);
			delta = d;
			goto advance;
		}
		case 0x05: /* offset_extended */
			reg = cfi_uleb(&r);
			off = (int64_t)cfi_uleb(&r) * c->data_align;
			goto offset;
		case 0x06: /* restore_extended */
			reg = cfi_uleb(&r);
			goto restore;
		case 0x07: /* undefined */
			reg = cfi_uleb(&r);
			if (reg < RC_UNW_NREGS) {
				row->reg[reg] = (struct rule){ .how = UNDEFINED };
			}
			continue;
		case 0x08: /* same_value */
			reg = cfi_uleb(&r);
			if (reg < RC_UNW_NREGS) {
				row->reg[reg] = (struct rule){ .how = UNSPECIFIED };
			}
			continue;
		case 0x09: { /* register */
			reg = cfi_uleb(&r);
			uint64_t from = cfi_uleb(&r);
			if (reg < RC_UNW_NREGS) {
				if (from >= RC_UNW_NREGS) {
					row->reg[reg] = (struct rule){ .how = UNDEFINED };
				} else {
					row->reg[reg] = (struct rule){ .how = REGISTER, .off = (int64_t)from };
				}
			}
			continue;
		}
		case 0x0a: /* remember_state */
			if (nsaved == STATE_DEPTH) {
				return false;
			}
			saved[nsaved++] = *row;
			continue;
		case 0x0b: /* restore_state: the CFA's rule too, as GCC's
			    * epilogues expect (and libgcc and libunwind do) */
			if (nsaved == 0) {
				return false;
			}
			*row = saved[--nsaved];
			continue;
		case 0x0c: /* def_cfa */
			reg = cfi_uleb(&r);
			row->cfa_off = (int64_t)cfi_uleb(&r);
			goto cfa_reg;
		case 0x0d: /* def_cfa_register */
			reg = cfi_uleb(&r);
			goto cfa_reg;
		case 0x0e: /* def_cfa_offset */
			row->cfa_off = (int64_t)cfi_uleb(&r);
			continue;
		case 0x0f: { /* def_cfa_expression */
			const uint8_t *e = r.p;
			uint64_t n = cfi_uleb(&r);
			if (r.bad || n > (uint64_t)(r.end - r.p)) {
				return false;
			}
			r.p += n;
			row->cfa_is_expr = true;
			row->cfa_expr = e;
			continue;
		}
		case 0x10: /* expression */
		case 0x16: { /* val_expression */
			reg = cfi_uleb(&r);
			const uint8_t *e = r.p;
			uint64_t n = cfi_uleb(&r);
			if (r.bad || n > (uint64_t)(r.end - r.p)) {
				return false;
			}
			r.p += n;
			if (reg < RC_UNW_NREGS) {
				row->reg[reg] = (struct rule){ .how = op == 0x10 ? EXPRESSION : VAL_EXPRESSION,
							       .expr = e };
			}
			continue;
		}
		case 0x11: /* offset_extended_sf */
			reg = cfi_uleb(&r);
			off = cfi_sleb(&r) * c->data_align;
			goto offset;
		case 0x12: /* def_cfa_sf */
			reg = cfi_uleb(&r);
			row->cfa_off = cfi_sleb(&r) * c->data_align;
			goto cfa_reg;
		case 0x13: /* def_cfa_offset_sf */
			row->cfa_off = cfi_sleb(&r) * c->data_align;
			continue;
		case 0x14: /* val_offset */
		case 0x15: /* val_offset_sf */
			reg = cfi_uleb(&r);
			off = (op == 0x14 ? (int64_t)cfi_uleb(&r) : cfi_sleb(&r)) * c->data_align;
			if (reg < RC_UNW_NREGS) {
				row->reg[reg] = (struct rule){ .how = VAL_OFFSET, .off = off };
			}
			continue;
		case 0x2e: /* GNU_args_size */
			cfi_uleb(&r);
			continue;
		case 0x2f: /* GNU_negative_offset_extended */
			reg = cfi_uleb(&r);
			off = -(int64_t)cfi_uleb(&r) * c->data_align;
			goto offset;
		default:
			return false;
		}
	advance:
		if (delta * c->code_align > pc - loc) {
			return !r.bad;
		}
		loc += delta * c->code_align;
		continue;
	offset:
		if (reg < RC_UNW_NREGS) {
			row->reg[reg] = (struct rule){ .how = OFFSET, .off = off };
		}
		continue;
	restore:
		if (reg < RC_UNW_NREGS) {
			row->reg[reg] = init ? init->reg[reg] : (struct rule){ .how = UNSPECIFIED };
		}
		continue;
	cfa_reg:
		if (reg >= RC_UNW_NREGS) {
			return false;
		}
		row->cfa_is_expr = false;
		row->cfa_reg = (uint8_t)reg;
		continue;
	}
	return !r.bad;
}

/* The walk's view of the stack: [lo, hi). */
struct walk {
	struct rc_unw_regs *regs;
	uintptr_t lo, hi;
};

__attribute__((no_sanitize("address"))) static bool
cfi_read_stack(const struct walk *w, uintptr_t addr, uintptr_t *v)
{
	if (addr < w->lo || addr > w->hi - sizeof(*v) || (addr & (sizeof(*v) - 1))) {
		return false;
	}
	*v = *(const uintptr_t *)addr;
	return true;
}

/* A DWARF expression (its length first), @push on the stack if @with;
 * false where it reads outside the stack or uses what this does not
 * evaluate. */
static bool
cfi_eval(const struct walk *w, const uint8_t *e, uintptr_t push, bool with, uintptr_t *out)
{
	uintptr_t st[EXPR_DEPTH];
	unsigned n = 0;
	struct rd r = { e, e + 10, false };
	uint64_t len = cfi_uleb(&r);
	r.end = r.p + len;
	if (with) {
		st[n++] = push;
	}
	while (r.p < r.end && !r.bad) {
		uint8_t op = cfi_u8(&r);
		uintptr_t a, b;
		if (op >= 0x30 && op <= 0x4f) { /* lit0..31 */
			if (n == EXPR_DEPTH) {
				return false;
			}
			st[n++] = op - 0x30u;
			continue;
		}
		if ((op >= 0x70 && op <= 0x8f) || op == 0x92) { /* breg0..31, bregx */
			uint64_t reg = op == 0x92 ? cfi_uleb(&r) : op - 0x70u;
			int64_t off = cfi_sleb(&r);
			if (reg >= RC_UNW_NREGS || !(w->regs->known & (1u << reg)) ||
			    n == EXPR_DEPTH) {
				return false;
			}
			st[n++] = w->regs->r[reg] + (uintptr_t)off;
			continue;
		}
		switch (op) {
		case 0x06: /* deref */
			if (n < 1 || !cfi_read_stack(w, st[n - 1], &st[n - 1])) {
				return false;
			}
			continue;
		case 0x08: /* const1u, const1s, ... const8s */
		case 0x09:
		case 0x0a:
		case 0x0b:
		case 0x0c:
		case 0x0d:
		case 0x0e:
		case 0x0f:
			a = (uintptr_t)cfi_fixed(&r, 1u << ((op - 0x08) >> 1), op & 1);
			goto push;
		case 0x10:
			a = (uintptr_t)cfi_uleb(&r);
			goto push;
		case 0x11:
			a = (uintptr_t)cfi_sleb(&r);
			goto push;
		case 0x12: /* dup */
			if (n < 1) {
				return false;
			}
			a = st[n - 1];
			goto push;
		case 0x13: /* drop */
			if (n < 1) {
				return false;
			}
			n--;
			continue;
		case 0x14: /* over */
			if (n < 2) {
				return false;
			}
			a = st[n - 2];
			goto push;
		case 0x16: /* swap */
			if (n < 2) {
				return false;
			}
			a = st[n - 1];
			st[n - 1] = st[n - 2];
			st[n - 2] = a;
			continue;
		case 0x23: /* plus_uconst */
			if (n < 1) {
				return false;
			}
			st[n - 1] += (uintptr_t)cfi_uleb(&r);
			continue;
		case 0x96: /* nop */
			continue;
		default:
			break;
		}
		/* Binary operators. */
		if (n < 2) {
			return false;
		}
		b = st[--n];
		a = st[n - 1];
		switch (op) {
		case 0x1a: a &= b; break;
		case 0x1c: a -= b; break;
		case 0x1e: a *= b; break;
		case 0x21: a |= b; break;
		case 0x22: a += b; break;
		case 0x24: a = b < 64 ? a << b : 0; break;
		case 0x25: a = b < 64 ? a >> b : 0; break;
		case 0x27: a ^= b; break;
		case 0x29: a = (intptr_t)a == (intptr_t)b; break;
		case 0x2a: a = (intptr_t)a >= (intptr_t)b; break;
		case 0x2b: a = (intptr_t)a > (intptr_t)b; break;
		case 0x2c: a = (intptr_t)a <= (intptr_t)b; break;
		case 0x2d: a = (intptr_t)a < (intptr_t)b; break;
		case 0x2e: a = (intptr_t)a != (intptr_t)b; break;
		default:
			return false;
		}
		st[n - 1] = a;
		continue;
	push:
		if (n == EXPR_DEPTH) {
			return false;
		}
		st[n++] = a;
	}
	if (r.bad || n == 0) {
		return false;
	}
	*out = st[n - 1];
	return true;
}

/* The main thread's stack limit, read once (0: not read yet; 1: none). */
static _Atomic uintptr_t main_limit RC_HOT;

/* The stack a walk from @sp may read, into @w; false where it is not the
 * main thread's.  That one is a single mapping from its lowest page to
 * its top, where ld.so found argc, and the kernel keeps its limit's room
 * below the top for it alone: every address between the stack pointer
 * and the top is mapped, and a walk reads without checking.  Any other
 * stack (a thread's, an alternate signal stack, a coroutine's) is left to
 * libunwind, as before the own walker: knowing where it ends would take a
 * system call per page (mincore, as libunwind's checks do), which a
 * thread under a seccomp filter may not be allowed. */
static bool
cfi_stack(struct walk *w, uintptr_t sp)
{
	uintptr_t top = (uintptr_t)__libc_stack_end;
	uintptr_t limit = atomic_load_explicit(&main_limit, memory_order_relaxed);
	if (!limit) {
		struct rlimit rl;
		limit = rc_sys(SYS_getrlimit, RLIMIT_STACK, &rl, 0, 0, 0, 0) == 0 &&
					rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < STACK_SPAN
				? (uintptr_t)rl.rlim_cur
				: 1;
		atomic_store_explicit(&main_limit, limit, memory_order_relaxed);
	}
	if (!top || sp >= top || top - sp >= limit) {
		return false;
	}
	w->lo = sp;
	w->hi = top + sizeof(uintptr_t);
	return true;
}

/* Callee-saved registers: kept across a call unless the frame says. */
#define CALLEE_SAVED                                                                 \
	(1u << RC_UNW_RBX | 1u << RC_UNW_RBP | 1u << RC_UNW_R12 | 1u << RC_UNW_R13 |  \
	 1u << RC_UNW_R14 | 1u << RC_UNW_R15)

/* One frame up: false where the walk cannot go on; *@outermost when the
 * frame has no caller. */
static bool
cfi_step(const struct walk *w, bool exact_pc, bool *outermost, bool *signal_frame)
{
	struct rc_unw_regs *g = w->regs;
	uintptr_t pc = g->r[RC_UNW_RIP];
	/* A return address is the instruction after the call: the call's
	 * own rules are those of the address before. */
	uintptr_t at = exact_pc ? pc : pc - 1;
	struct dl_find_object obj;
	if (_dl_find_object((void *)at, &obj) != 0 || !obj.dlfo_eh_frame) {
		return false;
	}
	struct cie c;
	const uint8_t *insns, *end;
	uintptr_t start;
	if (!cfi_find_fde(obj.dlfo_eh_frame, at, &c, &insns, &end, &start)) {
		return false;
	}
	struct row init = { 0 }, row;
	if (!cfi_run(c.insns, c.end, &c, &init, NULL, 0, UINTPTR_MAX)) {
		return false;
	}
	row = init;
	if (!cfi_run(insns, end, &c, &row, &init, start, at)) {
		return false;
	}
	*signal_frame = c.signal_frame;

	uintptr_t cfa;
	if (row.cfa_is_expr) {
		if (!cfi_eval(w, row.cfa_expr, 0, false, &cfa)) {
			return false;
		}
	} else {
		if (!(g->known & (1u << row.cfa_reg))) {
			return false;
		}
		cfa = g->r[row.cfa_reg] + (uintptr_t)row.cfa_off;
	}
	/* The stack grows down: each caller's frame is above. */
	if (cfa <= g->r[RC_UNW_RSP] || cfa > w->hi) {
		return false;
	}

	struct rc_unw_regs up = { .known = 0 };
	for (unsigned i = 0; i < RC_UNW_NREGS; i++) {
		const struct rule *ru = &row.reg[i];
		uintptr_t v = 0;
		bool known = false;
		switch (ru->how) {
		case UNSPECIFIED:
			known = (CALLEE_SAVED & (1u << i)) && (g->known & (1u << i));
			v = g->r[i];
			break;
		case UNDEFINED:
			break;
		case OFFSET:
			known = cfi_read_stack(w, cfa + (uintptr_t)ru->off, &v);
			if (!known) {
				return false;
			}
			break;
		case VAL_OFFSET:
			v = cfa + (uintptr_t)ru->off;
			known = true;
			break;
		case REGISTER:
			known = (g->known & (1u << ru->off)) != 0;
			v = g->r[ru->off];
			break;
		case EXPRESSION:
			if (!cfi_eval(w, ru->expr, cfa, true, &v) || !cfi_read_stack(w, v, &v)) {
				return false;
			}
			known = true;
			break;
		case VAL_EXPRESSION:
			if (!cfi_eval(w, ru->expr, cfa, true, &v)) {
				return false;
			}
			known = true;
			break;
		}
		up.r[i] = v;
		if (known) {
			up.known |= 1u << i;
		}
	}
	/* The return address column is the caller's pc. */
	if (row.reg[c.ra].how == UNDEFINED) {
		*outermost = true;
		return true;
	}
	if (!(up.known & (1u << c.ra))) {
		return false;
	}
	uintptr_t ra = up.r[c.ra];
	if (row.reg[RC_UNW_RSP].how == UNSPECIFIED) {
		up.r[RC_UNW_RSP] = cfa;
		up.known |= 1u << RC_UNW_RSP;
	}
	up.r[RC_UNW_RIP] = ra;
	up.known |= 1u << RC_UNW_RIP;
	if (ra == 0) {
		*outermost = true;
		return true;
	}
	*g = up;
	return true;
}

int
rc_unwind(struct rc_unw_regs *regs, uintptr_t *pc, int max, bool *complete)
{
	*complete = false;
	if (max <= 0) {
		*complete = true;
		return 0;
	}
	if (!(regs->known & (1u << RC_UNW_RIP)) || !(regs->known & (1u << RC_UNW_RSP))) {
		return 0;
	}
	struct walk w = { .regs = regs };
	if (!cfi_stack(&w, regs->r[RC_UNW_RSP])) {
		return 0;
	}
	int n = 0;
	bool exact = true; /* the first pc is not a return address */
	pc[n++] = regs->r[RC_UNW_RIP];
	while (n < max) {
		bool outermost = false, signal_frame = false;
		if (!cfi_step(&w, exact, &outermost, &signal_frame)) {
			return n;
		}
		if (outermost) {
			*complete = true;
			return n;
		}
		/* After a signal frame the pc is where the signal came:
		 * exact, not a return address. */
		exact = signal_frame;
		pc[n++] = regs->r[RC_UNW_RIP];
	}
	*complete = true;
	return n;
}

#else

int
rc_unwind(struct rc_unw_regs *regs, uintptr_t *pc, int max, bool *complete)
{
	(void)regs;
	(void)pc;
	(void)max;
	*complete = false;
	return 0;
}

#endif
