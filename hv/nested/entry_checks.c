/* The table of VM-entry consistency checks on vmcs12 (SDM 26.2-26.3); this issue: the control-field rows of 26.2.1. */
#include "hv/nested/entry_checks.h"
#include "hv/nested/events.h"
#include "hv/x86.h"

static uint32_t pin(const struct entry_check_ctx *c) { return c->vmcs12->pin_based_vm_exec_control; }
static uint32_t proc(const struct entry_check_ctx *c) { return c->vmcs12->cpu_based_vm_exec_control; }
static uint32_t exit_ctl(const struct entry_check_ctx *c) { return c->vmcs12->vm_exit_controls; }
static uint32_t entry_ctl(const struct entry_check_ctx *c) { return c->vmcs12->vm_entry_controls; }

/* The secondary controls count as 0 unless "activate secondary controls" is 1 (SDM 25.6.2). */
static uint32_t proc2(const struct entry_check_ctx *c)
{
	return (proc(c) & CPU_BASED_ACTIVATE_SECONDARY) ? c->vmcs12->secondary_vm_exec_control : 0;
}

/* A control value against its capability MSR: every allowed-0 bit set, nothing outside allowed-1 (SDM A.3-A.5). */
static bool ctl_ok(uint32_t val, const struct entry_check_ctx *c, uint32_t msr)
{
	uint64_t cap = vmx_offer_msr(c->offer, msr);

	return (val & (uint32_t)cap) == (uint32_t)cap && !(val & ~(uint32_t)(cap >> 32));
}

/* Aligned and no bit beyond the physical-address width. */
static bool addr_ok(const struct entry_check_ctx *c, uint64_t addr, uint64_t align)
{
	return !(addr & (align - 1)) && !(addr >> c->maxphyaddr);
}

/* An MSR list: 16-byte aligned, first and last byte within the width (SDM 26.2.1.2, 26.2.1.3). */
static bool msr_list_ok(const struct entry_check_ctx *c, uint64_t addr, uint32_t count)
{
	return addr_ok(c, addr, 16) && !((addr + (uint64_t)count * 16 - 1) >> c->maxphyaddr);
}

/* ---- 26.2.1.1 VM-execution control fields ---- */
static bool pin_ok(const struct entry_check_ctx *c) { return ctl_ok(pin(c), c, MSR_IA32_VMX_TRUE_PINBASED_CTLS); }
static bool proc_ok(const struct entry_check_ctx *c) { return ctl_ok(proc(c), c, MSR_IA32_VMX_TRUE_PROCBASED_CTLS); }
static bool has_proc2(const struct entry_check_ctx *c) { return proc(c) & CPU_BASED_ACTIVATE_SECONDARY; }
static bool proc2_ok(const struct entry_check_ctx *c) { return ctl_ok(proc2(c), c, MSR_IA32_VMX_PROCBASED_CTLS2); }

static bool cr3_targets_ok(const struct entry_check_ctx *c)
{
	return c->vmcs12->cr3_target_count <= ((vmx_offer_msr(c->offer, MSR_IA32_VMX_MISC) >> 16) & 0x1ff);
}

static bool io_bitmaps(const struct entry_check_ctx *c) { return proc(c) & CPU_BASED_USE_IO_BITMAPS; }
static bool io_a_ok(const struct entry_check_ctx *c) { return addr_ok(c, c->vmcs12->io_bitmap_a, PAGE_SIZE); }
static bool io_b_ok(const struct entry_check_ctx *c) { return addr_ok(c, c->vmcs12->io_bitmap_b, PAGE_SIZE); }
static bool msr_bitmap(const struct entry_check_ctx *c) { return proc(c) & CPU_BASED_USE_MSR_BITMAPS; }
static bool msr_bitmap_ok(const struct entry_check_ctx *c) { return addr_ok(c, c->vmcs12->msr_bitmap, PAGE_SIZE); }
static bool tpr_shadow(const struct entry_check_ctx *c) { return proc(c) & CPU_BASED_TPR_SHADOW; }

static bool vapic_ok(const struct entry_check_ctx *c)
{
	return addr_ok(c, c->vmcs12->virtual_apic_page_addr, PAGE_SIZE);
}

static bool tpr_shadow_no_vid(const struct entry_check_ctx *c)
{
	return tpr_shadow(c) && !(proc2(c) & SECONDARY_VIRT_INTR_DELIVERY);
}

static bool tpr_threshold_ok(const struct entry_check_ctx *c) { return !(c->vmcs12->tpr_threshold & ~0xfu); }

static bool tpr_vs_vtpr_applies(const struct entry_check_ctx *c)
{
	return tpr_shadow_no_vid(c) && !(proc2(c) & SECONDARY_VIRT_APIC_ACCESSES);
}

static bool tpr_vs_vtpr_ok(const struct entry_check_ctx *c)
{
	return (c->vmcs12->tpr_threshold & 0xf) <= (uint32_t)(c->vtpr >> 4);
}

static bool no_nmi_exiting(const struct entry_check_ctx *c) { return !(pin(c) & PIN_BASED_NMI_EXITING); }
static bool no_virtual_nmis(const struct entry_check_ctx *c) { return !(pin(c) & PIN_BASED_VIRTUAL_NMIS); }
static bool no_nmi_window_ok(const struct entry_check_ctx *c) { return !(proc(c) & CPU_BASED_NMI_WINDOW_EXITING); }

/* ---- 26.2.1.2 VM-exit control fields ---- */
static bool exit_ok(const struct entry_check_ctx *c) { return ctl_ok(exit_ctl(c), c, MSR_IA32_VMX_TRUE_EXIT_CTLS); }
static bool no_timer(const struct entry_check_ctx *c) { return !(pin(c) & PIN_BASED_PREEMPTION_TIMER); }
static bool no_timer_save_ok(const struct entry_check_ctx *c) { return !(exit_ctl(c) & VM_EXIT_SAVE_PREEMPTION_TIMER); }
static bool exit_store(const struct entry_check_ctx *c) { return c->vmcs12->vm_exit_msr_store_count; }
static bool exit_load(const struct entry_check_ctx *c) { return c->vmcs12->vm_exit_msr_load_count; }

static bool exit_store_ok(const struct entry_check_ctx *c)
{
	return msr_list_ok(c, c->vmcs12->vm_exit_msr_store_addr, c->vmcs12->vm_exit_msr_store_count);
}

static bool exit_load_ok(const struct entry_check_ctx *c)
{
	return msr_list_ok(c, c->vmcs12->vm_exit_msr_load_addr, c->vmcs12->vm_exit_msr_load_count);
}

/* ---- 26.2.1.3 VM-entry control fields ---- */
static bool entry_ok(const struct entry_check_ctx *c) { return ctl_ok(entry_ctl(c), c, MSR_IA32_VMX_TRUE_ENTRY_CTLS); }
static bool injects(const struct entry_check_ctx *c) { return c->vmcs12->vm_entry_intr_info_field & INTR_INFO_VALID; }

static bool injection_ok(const struct entry_check_ctx *c)
{
	return nested_check_entry_event(c->vmcs12, vmx_offer_msr(c->offer, MSR_IA32_VMX_MISC)) == 0;
}

static bool entry_load(const struct entry_check_ctx *c) { return c->vmcs12->vm_entry_msr_load_count; }

static bool entry_load_ok(const struct entry_check_ctx *c)
{
	return msr_list_ok(c, c->vmcs12->vm_entry_msr_load_addr, c->vmcs12->vm_entry_msr_load_count);
}

static bool not_smm_ok(const struct entry_check_ctx *c)
{
	return !(entry_ctl(c) & (VM_ENTRY_SMM | VM_ENTRY_DEACT_DUAL_MONITOR));
}

#define CTL ENTRY_FAIL_CONTROL

/*
 * The rows. Controls not offered in this issue (EPT, VPID, unrestricted
 * guest, APIC virtualization, posted interrupts, PML, VM functions, VMCS
 * shadowing, #VE) cannot be set past the first three rows; their own rows
 * come with the features.
 */
const struct entry_check nested_entry_checks[] = {
	{ "26.2.1.1", "pin-based controls within IA32_VMX_TRUE_PINBASED_CTLS", NULL, pin_ok, CTL, 0 },
	{ "26.2.1.1", "processor-based controls within IA32_VMX_TRUE_PROCBASED_CTLS", NULL, proc_ok, CTL, 0 },
	{ "26.2.1.1", "secondary controls within IA32_VMX_PROCBASED_CTLS2", has_proc2, proc2_ok, CTL, 0 },
	{ "26.2.1.1", "CR3-target count at most IA32_VMX_MISC[24:16]", NULL, cr3_targets_ok, CTL, 0 },
	{ "26.2.1.1", "I/O bitmap A 4-KiB aligned, within the physical-address width", io_bitmaps, io_a_ok, CTL, 0 },
	{ "26.2.1.1", "I/O bitmap B 4-KiB aligned, within the physical-address width", io_bitmaps, io_b_ok, CTL, 0 },
	{ "26.2.1.1", "MSR bitmap 4-KiB aligned, within the physical-address width", msr_bitmap, msr_bitmap_ok,
	  CTL, 0 },
	{ "26.2.1.1", "virtual-APIC address 4-KiB aligned, within the physical-address width", tpr_shadow,
	  vapic_ok, CTL, 0 },
	{ "26.2.1.1", "TPR threshold bits 31:4 are 0", tpr_shadow_no_vid, tpr_threshold_ok, CTL, 0 },
	{ "26.2.1.1", "TPR threshold[3:0] not above VTPR[7:4]", tpr_vs_vtpr_applies, tpr_vs_vtpr_ok, CTL, 0 },
	{ "26.2.1.1", "virtual NMIs only with NMI exiting", no_nmi_exiting, no_virtual_nmis, CTL, 0 },
	{ "26.2.1.1", "NMI-window exiting only with virtual NMIs", no_virtual_nmis, no_nmi_window_ok, CTL, 0 },
	{ "26.2.1.2", "VM-exit controls within IA32_VMX_TRUE_EXIT_CTLS", NULL, exit_ok, CTL, 0 },
	{ "26.2.1.2", "save VMX-preemption timer value only with the timer", no_timer, no_timer_save_ok, CTL, 0 },
	{ "26.2.1.2", "VM-exit MSR-store list 16-byte aligned, within the width", exit_store, exit_store_ok,
	  CTL, 0 },
	{ "26.2.1.2", "VM-exit MSR-load list 16-byte aligned, within the width", exit_load, exit_load_ok,
	  CTL, 0 },
	{ "26.2.1.3", "VM-entry controls within IA32_VMX_TRUE_ENTRY_CTLS", NULL, entry_ok, CTL, 0 },
	{ "26.2.1.3", "event injection: type, vector, error code, reserved bits, length", injects,
	  injection_ok, CTL, 0 },
	{ "26.2.1.3", "VM-entry MSR-load list 16-byte aligned, within the width", entry_load, entry_load_ok,
	  CTL, 0 },
	{ "26.2.1.3", "entry to SMM and deactivate dual-monitor treatment are 0 outside SMM", NULL, not_smm_ok,
	  CTL, 0 },
};
const size_t nested_entry_checks_count = ARRAY_SIZE(nested_entry_checks);

const struct entry_check *nested_entry_check_first_failure(const struct entry_check_ctx *c)
{
	for (size_t i = 0; i < nested_entry_checks_count; i++) {
		const struct entry_check *row = &nested_entry_checks[i];

		if ((!row->applies || row->applies(c)) && !row->ok(c))
			return row;
	}
	return NULL;
}
