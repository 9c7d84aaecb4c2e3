/* CPUID leaves as L1 sees them; bits a hypervisor legitimately changes are masked, and printed raw on "~" lines. */
#include "guest.h"

const char guest_name[] = "cpuid";

/* Bits allowed to differ under a hypervisor, per leaf and register (eax, ebx, ecx, edx). */
struct leaf_mask {
	uint32_t leaf;
	uint32_t mask[4];
	const char *why;
};

static const struct leaf_mask masks[] = {
	/* APIC ID; hypervisor-present bit; VMX (nested VMX may hide or show it). */
	{ 0x00000001, { 0, 0xff000000u, (1u << 31) | (1u << 5), 0 }, "apic-id, hypervisor bit, vmx" },
	/* FSRM: Bochs offers it with fast strings off in IA32_MISC_ENABLE, so the hypervisor hides it (hv/vmx/cpuid.c). */
	{ 0x00000007, { 0, 0, 0, 1u << 4 }, "fsrm" },
	/* x2APIC IDs in the topology leaves. */
	{ 0x0000000b, { 0, 0, 0, 0xffffffffu }, "x2apic-id" },
	{ 0x0000001f, { 0, 0, 0, 0xffffffffu }, "x2apic-id" },
};

static const uint32_t *mask_for(uint32_t leaf)
{
	for (unsigned i = 0; i < sizeof(masks) / sizeof(masks[0]); i++)
		if (masks[i].leaf == leaf)
			return masks[i].mask;
	return NULL;
}

static void print_leaf(uint32_t leaf, uint32_t sub)
{
	uint32_t r[4];
	const uint32_t *m = mask_for(leaf);
	cpuid(leaf, sub, r);
	if (m) {
		printf("~cpuid %08x.%u raw: %08x %08x %08x %08x\n", leaf, sub, r[0], r[1], r[2], r[3]);
		for (int i = 0; i < 4; i++)
			r[i] &= ~m[i];
	}
	printf("cpuid %08x.%u: %08x %08x %08x %08x%s\n", leaf, sub, r[0], r[1], r[2], r[3], m ? " (masked)" : "");
}

/* The hypervisor range 0x40000000+ exists only under a hypervisor (bare it echoes the top basic leaf). */
static void print_hypervisor_leaf(void)
{
	uint32_t r[4];
	cpuid(0x40000000, 0, r);
	printf("~cpuid 40000000.0: %08x %08x %08x %08x\n", r[0], r[1], r[2], r[3]);
}

int guest_main(const struct mb_info *mbi)
{
	static const uint32_t basic[] = { 0, 1, 2, 6, 0xa, 0x16 };
	uint32_t r[4];
	(void)mbi;
	for (unsigned i = 0; i < sizeof(basic) / sizeof(basic[0]); i++)
		print_leaf(basic[i], 0);
	for (uint32_t sub = 0; sub < 4; sub++)
		print_leaf(4, sub);
	for (uint32_t sub = 0; sub < 2; sub++)
		print_leaf(7, sub);
	for (uint32_t sub = 0; sub < 2; sub++)
		print_leaf(0xb, sub);
	for (uint32_t sub = 0; sub < 2; sub++)
		print_leaf(0xd, sub);
	cpuid(0x80000000, 0, r);
	for (uint32_t leaf = 0x80000000; leaf <= 0x80000008 && leaf <= r[0]; leaf++)
		print_leaf(leaf, 0);
	print_hypervisor_leaf();
	return GUEST_OK;
}
