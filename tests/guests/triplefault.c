/* A guest that triple-faults on purpose: an empty IDT turns the first exception into a shutdown. */
#include "guest.h"

const char guest_name[] = "triplefault";

int guest_main(const struct mb_info *mbi)
{
	static const struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) empty_idt = { 0, 0 };
	(void)mbi;
	printf("triplefault: loading an empty IDT and raising #UD\n");
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty_idt));
	printf("triplefault: still alive, which must not happen\n");
	return GUEST_FAIL;
}
