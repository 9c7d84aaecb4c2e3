/* The demo guest for `make run`: a banner, the CPU, the memory it was given, then a clean exit. */
#include "guest.h"

const char guest_name[] = "hello";

static void print_vendor(void)
{
	uint32_t r[4];
	char vendor[13];
	cpuid(0, 0, r);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	printf("cpu vendor: %s\n", vendor);
}

static void print_brand(void)
{
	uint32_t r[4], brand[13];
	cpuid(0x80000000, 0, r);
	if (r[0] < 0x80000004) {
		printf("cpu brand: (none)\n");
		return;
	}
	for (uint32_t i = 0; i < 3; i++)
		cpuid(0x80000002 + i, 0, &brand[i * 4]);
	brand[12] = 0;
	const char *s = (const char *)brand;
	while (*s == ' ')
		s++;
	printf("cpu brand: %s\n", s);
}

/* CPUID.1:ECX[31] is set by hypervisors for their guests; leaf 0x40000000 then names the hypervisor. */
static void print_hypervisor(void)
{
	uint32_t r[4];
	char sig[13];
	cpuid(1, 0, r);
	if (!(r[2] & (1u << 31))) {
		printf("~hypervisor: none (running on bare hardware)\n");
		return;
	}
	cpuid(0x40000000, 0, r);
	memcpy(sig, &r[1], 4);
	memcpy(sig + 4, &r[2], 4);
	memcpy(sig + 8, &r[3], 4);
	sig[12] = 0;
	printf("~hypervisor: present, signature \"%s\"\n", sig);
}

int guest_main(const struct mb_info *mbi)
{
	printf("Hello from the demo guest, a Multiboot v1 kernel in 32-bit protected mode.\n");
	print_vendor();
	print_brand();
	print_hypervisor();
	printf("command line: \"%s\"\n", mbi_cmdline(mbi));
	printf("~memory: lower %u KiB, upper %u KiB, usable in map %llu KiB\n",
	       mbi->mem_lower, mbi->mem_upper, mbi_usable_bytes(mbi) >> 10);
	printf("Goodbye.\n");
	return GUEST_OK;
}
