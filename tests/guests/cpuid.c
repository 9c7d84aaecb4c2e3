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

static void write_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

#define CR4_PKE        (1u << 22)
#define CPUID7_ECX_PKU   (1u << 3)
#define CPUID7_ECX_OSPKE (1u << 4)
#define CPUID7_ECX_RDPID (1u << 22)
#define CPUID81_EDX_RDTSCP (1u << 27)

/* OSPKE reports the CR4.PKE of the code executing CPUID (SDM CPUID leaf 07H ECX[4]), L1's under a hypervisor. */
static void check_ospke(void)
{
	uint32_t r[4];
	bool set;

	cpuid(7, 0, r);
	if (!(r[2] & CPUID7_ECX_PKU)) {
		printf("ospke: no PKU\n");
		return;
	}
	set = !FAULT_PROBE("mov %[v], %%cr4", : [v] "r"(read_cr4() | CR4_PKE) : "memory");
	cpuid(7, 0, r);
	printf("ospke with cr4.pke %s: %u\n", set ? "set" : "refused (#GP)", (r[2] & CPUID7_ECX_OSPKE) ? 1 : 0);
	write_cr4(read_cr4() & ~CR4_PKE);
	cpuid(7, 0, r);
	printf("ospke with cr4.pke clear: %u\n", (r[2] & CPUID7_ECX_OSPKE) ? 1 : 0);
}

/* An instruction CPUID offers must run, one it hides must #UD: RDTSCP and RDPID share one VMX control. */
static void check_offered_runs(const char *name, bool offered, bool ran)
{
	printf("%s: cpuid %s, %s\n", name, offered ? "offers it" : "hides it", ran ? "runs" : "faults");
}

static void check_rdtscp_rdpid(void)
{
	uint32_t r[4], a = 0, d = 0, c = 0;
	bool ran;

	cpuid(0x80000001, 0, r);
	ran = !FAULT_PROBE("rdtscp", , "+a"(a), "+d"(d), "+c"(c) : : "memory");
	check_offered_runs("rdtscp", r[3] & CPUID81_EDX_RDTSCP, ran);
	cpuid(7, 0, r);
	ran = !FAULT_PROBE(".byte 0xf3, 0x0f, 0xc7, 0xf8", , "+a"(a) : : "memory"); /* rdpid %eax */
	check_offered_runs("rdpid", r[2] & CPUID7_ECX_RDPID, ran);
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
	check_ospke();
	check_rdtscp_rdpid();
	return GUEST_OK;
}
