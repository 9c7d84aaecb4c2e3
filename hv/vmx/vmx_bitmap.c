/* Filling the I/O and MSR bitmaps that decide which guest port and MSR accesses exit (pure). */
#include "hv/vmx/vmx_internal.h"

/* SDM 25.6.4: bitmap A covers ports 0x0000-0x7fff, B 0x8000-0xffff, one bit per port. */
void io_bitmap_intercept(uint8_t *bitmap_a, uint8_t *bitmap_b, uint16_t port)
{
	uint8_t *bm = port < 0x8000 ? bitmap_a : bitmap_b;
	uint16_t bit = port & 0x7fff;

	bm[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

/* SDM 25.6.9: read-low, read-high, write-low, write-high, 1 KiB each; MSRs outside both ranges always exit. */
bool msr_bitmap_covers(uint32_t msr)
{
	return msr <= 0x1fff || (msr >= 0xc0000000u && msr <= 0xc0001fffu);
}

void msr_bitmap_intercept(uint8_t *bitmap, uint32_t msr, bool read, bool write)
{
	uint32_t base = msr <= 0x1fff ? 0 : 1024;
	uint32_t bit = msr & 0x1fff;

	if (!msr_bitmap_covers(msr))
		return;
	if (read)
		bitmap[base + bit / 8] |= (uint8_t)(1u << (bit % 8));
	if (write)
		bitmap[2048 + base + bit / 8] |= (uint8_t)(1u << (bit % 8));
}
