/* Reads and writes the hypervisor's physical memory (2-8 MiB): fine bare, must be stopped by EPT under the hypervisor. */
#include "guest.h"

const char guest_name[] = "hvmem";

#define HV_START 0x200000u
#define HV_END 0x800000u
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

int guest_main(const struct mb_info *mbi)
{
	unsigned bad = 0;
	(void)mbi;
	printf("probe: touching 0x%x-0x%x\n", HV_START, HV_END - 1);
	/* First and last word of every MiB, so a map that protects only part of the range is caught too. */
	for (uint32_t a = HV_START; a < HV_END; a += 0x100000) {
		bad += !poke(a);
		bad += !poke(a + 0x100000 - 4);
	}
	printf("probe: all accesses completed, %u mismatches\n", bad);
	return bad ? GUEST_FAIL : GUEST_OK;
}
