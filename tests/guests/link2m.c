/* A kernel linked at 2 MiB that sizes its memory from mem_upper: loads and runs as L1 as it does bare. */
#include "guest.h"

const char guest_name[] = "link2m";

#define MIN_UPPER_KIB (64u << 10)
#define PATTERN 0xc33c5aa5u

/* Writes and reads back the last word of the RAM mem_upper promises, as such kernels do. */
static bool last_word_works(const struct mb_info *mbi)
{
	volatile uint32_t *p = (volatile uint32_t *)(0x100000u + (mbi->mem_upper << 10) - 4);
	uint32_t old = *p;

	*p = PATTERN;
	bool ok = *p == PATTERN;
	*p = old;
	return ok;
}

int guest_main(const struct mb_info *mbi)
{
	extern char __guest_end[];
	uint32_t here = (uint32_t)guest_main & ~0xfffffu;
	uint32_t kend = ((uint32_t)__guest_end + 0xfff) & ~0xfffu;

	printf("link2m: running in the MiB at 0x%x\n", here);
	printf("map: image 0x200000-0x%x usable: %s\n", kend,
	       mbi_range_type(mbi, 0x200000, kend - 0x200000) == 1 ? "yes" : "no");
	printf("~mem_upper: %u KiB\n", mbi->mem_upper);
	printf("mem_upper at least %u KiB: %s\n", MIN_UPPER_KIB, mbi->mem_upper >= MIN_UPPER_KIB ? "yes" : "no");
	printf("last word below 1 MiB + mem_upper works: %s\n", last_word_works(mbi) ? "yes" : "no");
	return here == 0x200000 && mbi->mem_upper >= MIN_UPPER_KIB ? GUEST_OK : GUEST_FAIL;
}
