#include "build-config.h"

#include <link.h>
#include <string.h>

#include "core/objects.h"

struct at {
	uintptr_t addr;
	const char *name;
	uintptr_t base, lo, hi;
};

static int
find_at(struct dl_phdr_info *info, size_t size, void *ctx)
{
	struct at *a = ctx;
	bool inside = false;
	uintptr_t lo = 0, hi = 0;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD) {
			continue;
		}
		uintptr_t s = info->dlpi_addr + ph->p_vaddr;
		if (a->addr >= s && a->addr < s + ph->p_memsz) {
			inside = true;
		}
		if ((ph->p_flags & PF_X) && !hi) {
			lo = s;
			hi = s + ph->p_memsz;
		}
	}
	if (!inside) {
		return 0;
	}
	a->name = info->dlpi_name ? info->dlpi_name : "";
	a->base = info->dlpi_addr;
	a->lo = lo;
	a->hi = hi;
	return 1;
}

bool
rc_object_at(const void *addr, const char **name, uintptr_t *base, uintptr_t *text_lo,
	     uintptr_t *text_hi)
{
	struct at a = { (uintptr_t)addr, NULL, 0, 0, 0 };
	if (!addr || !dl_iterate_phdr(find_at, &a)) {
		return false;
	}
	if (name) {
		*name = a.name;
	}
	if (base) {
		*base = a.base;
	}
	if (text_lo) {
		*text_lo = a.lo;
	}
	if (text_hi) {
		*text_hi = a.hi;
	}
	return true;
}

static int
find_name(struct dl_phdr_info *info, size_t size, void *ctx)
{
	const char *prefix = ctx;
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	const char *base = strrchr(name, '/');
	(void)size;
	base = base ? base + 1 : name;
	return strncmp(base, prefix, strlen(prefix)) == 0;
}

bool
rc_object_loaded(const char *prefix)
{
	return dl_iterate_phdr(find_name, (void *)prefix) != 0;
}
