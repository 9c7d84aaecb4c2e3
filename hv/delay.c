/* Microsecond delays from PIT channel 2 in one-shot mode (the INIT-SIPI-SIPI sequence needs real time, not a TSC guess). */
#include "hv/delay.h"
#include "hv/x86.h"

#define PIT_HZ          1193182u
#define PIT_CH2_DATA    0x42
#define PIT_MODE_CMD    0x43
#define PIT_CH2_ONESHOT 0xb0 /* channel 2, lobyte/hibyte, mode 0, binary */
#define SYS_CTRL_PORT_B 0x61
#define PORTB_GATE2     BIT(0)
#define PORTB_SPEAKER   BIT(1)
#define PORTB_OUT2      BIT(5)
#define MAX_CHUNK_US    50000u    /* 16-bit counter: at most ~54.9 ms per shot */
#define POLL_LIMIT      50000000u /* a missing PIT must not hang us */

static void pit_oneshot(uint32_t us)
{
	uint32_t count = (uint32_t)(((uint64_t)us * PIT_HZ + 999999) / 1000000);
	uint8_t portb = inb(SYS_CTRL_PORT_B);

	if (count < 2)
		count = 2;
	outb(SYS_CTRL_PORT_B, (uint8_t)((portb & ~PORTB_SPEAKER) & ~PORTB_GATE2));
	outb(PIT_MODE_CMD, PIT_CH2_ONESHOT);
	outb(PIT_CH2_DATA, count & 0xff);
	outb(PIT_CH2_DATA, (count >> 8) & 0xff);
	/* A rising gate starts mode 0; OUT2 goes high at terminal count (8254 datasheet). */
	outb(SYS_CTRL_PORT_B, (uint8_t)((portb & ~PORTB_SPEAKER) | PORTB_GATE2));
	for (uint32_t i = 0; i < POLL_LIMIT; i++)
		if (inb(SYS_CTRL_PORT_B) & PORTB_OUT2)
			break;
	outb(SYS_CTRL_PORT_B, portb);
}

void udelay(uint32_t us)
{
	while (us) {
		uint32_t chunk = us > MAX_CHUNK_US ? MAX_CHUNK_US : us;

		pit_oneshot(chunk);
		us -= chunk;
	}
}
