/* The shim's own code mapped in one system call (see core/prefault.h). */
#include "build-config.h"

#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <sys/mman.h>

#include "core/prefault.h"
#include "core/sys.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE 4096u
/* The small .bss (the large arrays are in .lbss, after it: core/state.h,
 * RC_COLD_BSS) is under this; what lies beyond is left to fault. */
#define SMALL_BSS (16u * 1024)

/* This object's ELF header as mapped, and the start of its .bss (both
 * defined by the linker; hidden: this object's own, not the program's). */
extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));
extern char __bss_start[] __attribute__((visibility("hidden")));

static int unsupported; /* the kernel said EINVAL once (before 5.14) */

static void
populate(uintptr_t lo, uintptr_t hi, int advice)
{
	lo &= ~(uintptr_t)(PAGE - 1);
	hi = (hi + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	if (unsupported || hi <= lo) {
		return;
	}
	if (rc_sys(SYS_madvise, lo, hi - lo, advice, 0, 0, 0) == -EINVAL &&
	    advice == MADV_POPULATE_READ) {
		unsupported = 1;
	}
}

/* The end of this object's RELRO part (read-only once relocated), 0 if
 * none. */
static uintptr_t
relro_end(void)
{
	const char *base = (const char *)&__ehdr_start;
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(base + __ehdr_start.e_phoff);
	for (unsigned i = 0; i < __ehdr_start.e_phnum; i++) {
		if (ph[i].p_type == PT_GNU_RELRO) {
			return (uintptr_t)base + ph[i].p_vaddr + ph[i].p_memsz;
		}
	}
	return 0;
}

/* Each PT_LOAD segment with @flags set, to @fn. */
static void
segments(unsigned flags, void (*fn)(uintptr_t lo, uintptr_t hi))
{
	const char *base = (const char *)&__ehdr_start;
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(base + __ehdr_start.e_phoff);
	for (unsigned i = 0; i < __ehdr_start.e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & flags) == flags) {
			uintptr_t lo = (uintptr_t)base + ph[i].p_vaddr;
			fn(lo, lo + ph[i].p_memsz);
		}
	}
}

static void
text(uintptr_t lo, uintptr_t hi)
{
	populate(lo, hi, MADV_POPULATE_READ);
}

static void
data(uintptr_t lo, uintptr_t hi)
{
	/* After the RELRO part: read-only by now, and written already. */
	uintptr_t relro = (relro_end() + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	uintptr_t end = (uintptr_t)__bss_start + SMALL_BSS;
	populate(relro > lo ? relro : lo, end < hi ? end : hi, MADV_POPULATE_WRITE);
}

void
rc_prefault_text(void)
{
	segments(PF_X, text);
}

void
rc_prefault_start(void)
{
	segments(PF_X, text);
	segments(PF_W, data);
}
