/* Which entries of L1's MSR lists the hypervisor loads or stores on the hardware for it (SDM 26.4, 27.4, 27.6). */
#include "hv/nested/msr_lists.h"
#include "hv/x86.h"

#define MSR_TSC            0x10u
#define MSR_BIOS_UPDT_TRIG 0x79u
#define MSR_SMM_MONITOR    0x9bu
#define MSR_SMBASE         0x9eu
#define MSR_SYSENTER_CS    0x174u
#define MSR_SYSENTER_ESP   0x175u
#define MSR_SYSENTER_EIP   0x176u
#define MSR_PAT            0x277u
#define MSR_EFER           0xc0000080u
#define MSR_STAR           0xc0000081u
#define MSR_LSTAR          0xc0000082u
#define MSR_CSTAR          0xc0000083u
#define MSR_FMASK          0xc0000084u
#define MSR_FS_BASE        0xc0000100u
#define MSR_GS_BASE        0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define MSR_TSC_AUX        0xc0000103u

/* SDM 26.4: entries no VM entry or exit may load, whatever the value. */
static bool never_loadable(uint32_t index)
{
	return index == MSR_FS_BASE || index == MSR_GS_BASE || (index >> 8) == 0x8 || index == MSR_SMM_MONITOR ||
	       index == MSR_SMBASE || index == MSR_BIOS_UPDT_TRIG;
}

enum nested_msr_verdict nested_msr_load_verdict(const struct vmx_msr_entry *e, uint64_t efer_supported)
{
	uint64_t v = e->value;

	if (e->reserved || never_loadable(e->index))
		return NESTED_MSR_FAILS;
	switch (e->index) {
	case MSR_EFER:
		return (v & ~efer_supported) ? NESTED_MSR_FAILS : NESTED_MSR_OK;
	case MSR_PAT:
		return x86_pat_valid(v) ? NESTED_MSR_OK : NESTED_MSR_FAILS;
	case MSR_SYSENTER_CS: case MSR_STAR: case MSR_FMASK:
		return NESTED_MSR_OK;
	case MSR_SYSENTER_ESP: case MSR_SYSENTER_EIP: case MSR_LSTAR: case MSR_CSTAR: case MSR_KERNEL_GS_BASE:
		return x86_canonical(v) ? NESTED_MSR_OK : NESTED_MSR_FAILS;
	case MSR_TSC_AUX:
		return (v >> 32) ? NESTED_MSR_FAILS : NESTED_MSR_OK;
	default:
		return NESTED_MSR_NOT_EMULATED;
	}
}

/* The MSRs whose load the hypervisor can check completely (nested_msr_load_verdict's switch). */
static bool replayable(uint32_t index)
{
	switch (index) {
	case MSR_EFER: case MSR_PAT: case MSR_SYSENTER_CS: case MSR_STAR: case MSR_FMASK:
	case MSR_SYSENTER_ESP: case MSR_SYSENTER_EIP: case MSR_LSTAR: case MSR_CSTAR: case MSR_KERNEL_GS_BASE:
	case MSR_TSC_AUX:
		return true;
	default:
		return false;
	}
}

/* SDM 27.4: bits 63:32 set, an x2APIC MSR or IA32_SMBASE make the store abort. */
enum nested_msr_verdict nested_msr_store_verdict(const struct vmx_msr_entry *e)
{
	if (e->reserved || (e->index >> 8) == 0x8 || e->index == MSR_SMBASE)
		return NESTED_MSR_FAILS;
	if (e->index == MSR_TSC || e->index == MSR_FS_BASE || e->index == MSR_GS_BASE || replayable(e->index))
		return NESTED_MSR_OK;
	return NESTED_MSR_NOT_EMULATED;
}
