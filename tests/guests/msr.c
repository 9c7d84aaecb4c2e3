/* RDMSR/WRMSR as L1 sees them: architectural values must match bare, a few may legitimately differ. */
#include "guest.h"

const char guest_name[] = "msr";

struct msr_desc {
	uint32_t index;
	const char *name;
	bool may_differ; /* printed on a "~" line */
};

static const struct msr_desc msrs[] = {
	{ 0x0000001b, "IA32_APIC_BASE", false },
	{ 0x00000277, "IA32_PAT", false },
	{ 0xc0000080, "IA32_EFER", false },
	{ 0x000001a0, "IA32_MISC_ENABLE", false },
	{ 0x000000fe, "IA32_MTRRCAP", false },
	{ 0x000002ff, "IA32_MTRR_DEF_TYPE", false },
	{ 0x00000174, "IA32_SYSENTER_CS", false },
	/* VMX capability MSRs: a nested hypervisor may hide or adjust them. */
	{ 0x0000003a, "IA32_FEATURE_CONTROL", true },
	{ 0x00000480, "IA32_VMX_BASIC", true },
	{ 0x12345678, "bogus", false },
};

static void print_msr(const struct msr_desc *d)
{
	uint64_t v;
	const char *tilde = d->may_differ ? "~" : "";
	if (rdmsr_safe(d->index, &v))
		printf("%srdmsr %08x %s = 0x%016llx\n", tilde, d->index, d->name, v);
	else
		printf("%srdmsr %08x %s faulted: vector=%u err=0x%x\n", tilde, d->index, d->name,
		       last_fault.vector, last_fault.error);
}

/* Two reads in a row must increase; the values themselves always differ. */
static void check_tsc(void)
{
	uint64_t a, b;
	rdmsr_safe(0x10, &a);
	b = rdtsc();
	printf("~tsc: msr 0x%016llx rdtsc 0x%016llx\n", a, b);
	printf("tsc increases: %s\n", b > a ? "yes" : "no");
}

/* A read-write MSR without side effects: the write must stick and be restorable. */
static void check_write(void)
{
	uint64_t old = 0, got = 0;
	rdmsr_safe(0x174, &old);
	bool w = wrmsr_safe(0x174, 0x1234);
	rdmsr_safe(0x174, &got);
	printf("wrmsr IA32_SYSENTER_CS 0x1234: %s, read back 0x%llx\n", w ? "ok" : "faulted", got);
	wrmsr_safe(0x174, old);
	w = wrmsr_safe(0x12345678, 1);
	printf("wrmsr bogus: %s vector=%u\n", w ? "ok" : "faulted", w ? 0 : last_fault.vector);
	/* The PAT rejects reserved memory types (2, 3) with #GP. */
	w = wrmsr_safe(0x277, 0x0007040600070402ULL);
	printf("wrmsr IA32_PAT reserved type: %s\n", w ? "ok" : "faulted");
}

int guest_main(const struct mb_info *mbi)
{
	(void)mbi;
	for (unsigned i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++)
		print_msr(&msrs[i]);
	check_tsc();
	check_write();
	return GUEST_OK;
}
