/* Reads and writes the top 48 MiB of RAM below 4 GiB, where the hypervisor lives: fine bare, must be stopped by EPT under the hypervisor. */
#include "guest.h"

const char guest_name[] = "hvmem";

#define PROBE_SPAN (48u << 20) /* more than the hypervisor's image and its default 32 MiB pool */
#define PATTERN 0x5aa5c33cu

/* Reads one word, then writes a pattern, checks it and restores the old value. */
static bool poke(uint32_t addr)
{
	volatile uint32_t *p = (volatile uint32_t *)addr;
	uint32_t old = *p;
	*p = PATTERN;
	uint32_t got = *p;
	*p = old;
	printf("~probe: 0x%08x read 0x%08x, wrote and read back 0x%08x\n", addr, old, got);
	return got == PATTERN;
}

static void highest_usable(const struct mb_mmap_entry *e, void *arg)
{
	uint32_t *top = arg;

	if (e->type == 1 && e->base < 0x100000000ull && e->base + e->len > *top)
		*top = e->base + e->len > 0xfffff000ull ? 0xfffff000u : (uint32_t)(e->base + e->len);
}

int guest_main(const struct mb_info *mbi)
{
	uint32_t top = 0, start;
	unsigned bad = 0;

	mbi_mmap_walk(mbi, highest_usable, &top);
	top &= ~0xfffffu;
	start = top - PROBE_SPAN;
	/* The same addresses bare and as L1: the top of usable RAM does not move, the hypervisor is below it. */
	printf("~probe: touching 0x%x-0x%x\n", start, top - 1);
	/* First and last word of every MiB, so a map that protects only part of the range is caught too. */
	for (uint32_t a = start; a < top; a += 0x100000) {
		bad += !poke(a);
		bad += !poke(a + 0x100000 - 4);
	}
	printf("probe: all accesses completed, %u mismatches\n", bad);
	return bad ? GUEST_FAIL : GUEST_OK;
}
