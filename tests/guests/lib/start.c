/* The C side of guest start-up: devices, the begin marker, the test body, the exit. */
#include "guest.h"

/* Called from entry.S with the loader's EAX and EBX. */
__attribute__((noreturn)) void guest_start(uint32_t magic, const struct mb_info *mbi);

void guest_start(uint32_t magic, const struct mb_info *mbi)
{
	serial_init();
	idt_init();
	printf("TEST-BEGIN %s\n", guest_name);
	if (magic != MB1_BOOT_MAGIC) {
		printf("multiboot magic wrong: 0x%08x\n", magic);
		guest_exit(GUEST_BAD_MAGIC);
	}
	printf("multiboot magic ok\n");
	guest_exit((uint8_t)guest_main(mbi));
}
