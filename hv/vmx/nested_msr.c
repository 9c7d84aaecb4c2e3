/* L1's VM-entry MSR-load, VM-exit MSR-store and MSR-load lists, replayed for L2 after nested/msr_lists.c says yes. */
#include "hv/vmx/nested.h"
#include "hv/vmx/nested_msr.h"
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/l1_mem.h"
#include "hv/nested/msr_lists.h"
#include "hv/console.h"
#include "hv/panic.h"
#include "hv/x86.h"

/* The MISC-reported limit is 512 entries per list (IA32_VMX_MISC[27:25] = 0, SDM A.6). */
#define MSR_LIST_MAX 512u

/* The MSRs vmcs02 (or vmcs01) itself loads: an entry for them goes to the VMCS field, not WRMSR. */
static int vmcs_field_of(uint32_t msr)
{
	switch (msr) {
	case 0xc0000080u: return GUEST_IA32_EFER;
	case 0x277u: return GUEST_IA32_PAT;
	case 0x174u: return GUEST_SYSENTER_CS;
	case 0x175u: return GUEST_SYSENTER_ESP;
	case 0x176u: return GUEST_SYSENTER_EIP;
	default: return -1;
	}
}

static uint64_t efer_supported(void)
{
	uint32_t a, b, c, d;

	cpuid(0x80000001, 0, &a, &b, &c, &d);
	return X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | ((d & BIT(20)) ? X86_EFER_NXE : 0);
}

static bool read_entry(uint64_t area, uint32_t i, struct vmx_msr_entry *e)
{
	return l1_read_phys(area + 16ULL * i, e, sizeof(*e)) == L1_MEM_OK;
}

uint32_t nested_check_entry_msr_list(uint64_t area, uint32_t count)
{
	struct vmx_msr_entry e = { 0 };
	uint64_t efer = efer_supported();

	for (uint32_t i = 0; i < count; i++) {
		enum nested_msr_verdict verdict;

		if (i >= MSR_LIST_MAX || !read_entry(area, i, &e))
			return i + 1;
		verdict = nested_msr_load_verdict(&e, efer);
		if (verdict == NESTED_MSR_NOT_EMULATED)
			printk("hv: L1's VM-entry MSR-load list entry %u loads MSR %#x, which the hypervisor does not "
			       "replay for L2; the VM entry fails there\n", i + 1, e.index);
		if (verdict != NESTED_MSR_OK)
			return i + 1;
	}
	return 0;
}

/* Loads the (checked) entries: the VMCS-switched MSRs into the current VMCS, the rest with WRMSR. */
static void load_list(uint64_t area, uint32_t count)
{
	struct vmx_msr_entry e = { 0 };

	for (uint32_t i = 0; i < count && read_entry(area, i, &e); i++) {
		int field = vmcs_field_of(e.index);

		if (field >= 0)
			vmcs_write((enum vmcs_field)field, e.value);
		else
			wrmsr(e.index, e.value);
	}
}

void nested_load_entry_msr_list(uint64_t area, uint32_t count)
{
	load_list(area, count);
}

/* SDM 27.7: a VM-exit MSR problem is a VMX abort: the indicator goes into the vmcs12 region and L1 is shut down. */
__noreturn static void vmx_abort(struct vcpu *v, uint32_t indicator, uint32_t entry, uint32_t msr)
{
	struct vmx_nested *n = v->nested;

	n->vmx.vmcs12.abort_indicator = indicator;
	vmx_nested_capture_rare(v); /* the region gets L2's whole state, as without the lazy copy */
	nested_vmcs12_flush(&n->vmx);
	printk("hv: VMX abort of L1 (indicator %u): VM-exit MSR list entry %u, MSR %#x; L1 is shut down\n",
	       indicator, entry, msr);
	vmx_stop_guest(v, NULL, HV_EXIT_GUEST_DIED);
}

/* SDM 27.4: L2's MSR values into L1's store area; call while vmcs02 is current (EFER, PAT, SYSENTER from it). */
void nested_store_exit_msr_list(struct vcpu *v, uint64_t area, uint32_t count, uint64_t l1_tsc_offset)
{
	struct vmx_msr_entry e = { 0 };

	for (uint32_t i = 0; i < count; i++) {
		int field;

		if (i >= MSR_LIST_MAX || !read_entry(area, i, &e) || nested_msr_store_verdict(&e) != NESTED_MSR_OK)
			vmx_abort(v, 1, i + 1, e.index); /* 1: saving guest MSRs failed */
		field = vmcs_field_of(e.index);
		if (e.index == 0x10)
			e.value = rdtsc() + l1_tsc_offset;
		else
			e.value = field >= 0 ? vmcs_read((enum vmcs_field)field) : rdmsr(e.index);
		if (l1_write_phys(area + 16ULL * i + 8, &e.value, 8) != L1_MEM_OK)
			vmx_abort(v, 1, i + 1, e.index);
	}
}

/* SDM 27.6: L1's exit MSR-load list, after its host state; call while vmcs01 is current. */
void nested_load_exit_msr_list(struct vcpu *v, uint64_t area, uint32_t count)
{
	struct vmx_msr_entry e = { 0 };
	uint64_t efer = efer_supported();

	for (uint32_t i = 0; i < count; i++)
		if (i >= MSR_LIST_MAX || !read_entry(area, i, &e) || nested_msr_load_verdict(&e, efer) != NESTED_MSR_OK)
			vmx_abort(v, 4, i + 1, e.index); /* 4: loading host MSRs failed */
	load_list(area, count);
}
