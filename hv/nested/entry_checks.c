/* The VM-entry consistency checks on vmcs12, one table in the SDM's order (SDM 26.2.1-26.2.4, 26.3.1). */
#include "hv/nested/entry_checks.h"
#include "hv/nested/events.h"
#include "hv/nested/inv_insn.h"
#include "hv/string.h"
#include "hv/x86.h"

/* ---- helpers -------------------------------------------------------------------------- */

static bool fits_controls(uint32_t val, uint32_t allowed0, uint32_t allowed1)
{
	return (val & allowed0) == allowed0 && (val & ~allowed1) == 0;
}

static bool phys_ok(const struct nested_entry_ctx *c, uint64_t pa)
{
	return c->caps->maxphyaddr >= 64 || (pa >> c->caps->maxphyaddr) == 0;
}

/* A 4-KiB-aligned physical address within L1's width (SDM 26.2.1.1: bitmaps). */
static bool page_ok(const struct nested_entry_ctx *c, uint64_t pa)
{
	return (pa & 0xfff) == 0 && phys_ok(c, pa);
}

/* An MSR area: 16-byte aligned, its last byte within L1's width (SDM 26.2.1.2, 26.2.1.3). */
static bool msr_area_ok(const struct nested_entry_ctx *c, uint64_t pa, uint32_t count)
{
	return (pa & 0xf) == 0 && phys_ok(c, pa) && phys_ok(c, pa + (uint64_t)count * 16 - 1);
}

static bool proc(const struct vmcs12 *v, uint32_t bit)
{
	return v->cpu_based_vm_exec_control & bit;
}

static bool host64(const struct vmcs12 *v)
{
	return v->vm_exit_controls & VM_EXIT_HOST_ADDR_SPACE_SIZE;
}

#define EFER_RESERVED (~(uint64_t)(X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE))

/* ---- 26.2.1 VM-execution, exit and entry control fields -------------------------------- */

static bool pin_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return fits_controls(v->pin_based_vm_exec_control, c->caps->pin_allowed0, c->caps->pin_allowed1);
}

static bool proc_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return fits_controls(v->cpu_based_vm_exec_control, c->caps->proc_allowed0, c->caps->proc_allowed1);
}

static bool has_secondary(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return proc(v, CPU_BASED_ACTIVATE_SECONDARY);
}

static bool proc2_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return fits_controls(v->secondary_vm_exec_control, 0, c->caps->proc2_allowed1);
}

static bool secondary(const struct vmcs12 *v, uint32_t bit)
{
	return proc(v, CPU_BASED_ACTIVATE_SECONDARY) && (v->secondary_vm_exec_control & bit);
}

static bool uses_ept(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return secondary(v, SECONDARY_ENABLE_EPT);
}

static bool eptp_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return nested_eptp_valid(v->ept_pointer, c->caps->ept_vpid_cap, c->caps->maxphyaddr);
}

static bool uses_vpid(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return secondary(v, SECONDARY_ENABLE_VPID);
}

static bool vpid_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return v->virtual_processor_id != 0;
}

static bool uses_unrestricted(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return secondary(v, SECONDARY_UNRESTRICTED_GUEST);
}

static bool uses_apic_access(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return secondary(v, SECONDARY_VIRT_APIC_ACCESSES);
}

static bool apic_access_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return page_ok(c, v->apic_access_addr);
}

static bool uses_pml(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return secondary(v, SECONDARY_ENABLE_PML);
}

static bool pml_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return uses_ept(v, c) && page_ok(c, v->pml_address);
}

/* At most IA32_VMX_MISC[24:16] as offered (and vmcs12 has four target fields). */
static bool cr3_count_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return v->cr3_target_count <= ((c->caps->misc >> 16) & 0x1ff) && v->cr3_target_count <= 4;
}

static bool uses_io_bitmaps(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return proc(v, CPU_BASED_USE_IO_BITMAPS);
}

static bool io_bitmaps_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return page_ok(c, v->io_bitmap_a) && page_ok(c, v->io_bitmap_b);
}

static bool uses_msr_bitmap(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return proc(v, CPU_BASED_USE_MSR_BITMAPS);
}

static bool msr_bitmap_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return page_ok(c, v->msr_bitmap);
}

static bool uses_tpr_shadow(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return proc(v, CPU_BASED_TPR_SHADOW);
}

static bool virtual_apic_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return page_ok(c, v->virtual_apic_page_addr);
}

/* Without virtual-interrupt delivery (not offered) bits 31:4 of the TPR threshold are 0. */
static bool tpr_threshold_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return (v->tpr_threshold & ~0xfu) == 0;
}

/* Without virtual-interrupt delivery the TPR threshold may not exceed VTPR[7:4] (SDM 26.2.1.1). */
static bool tpr_below_vtpr(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return (v->tpr_threshold & 0xf) <= (uint32_t)(c->vtpr >> 4);
}

/* "NMI exiting" 0 requires "virtual NMIs" 0; "virtual NMIs" 0 requires "NMI-window exiting" 0. */
static bool virtual_nmis_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	uint32_t pin = v->pin_based_vm_exec_control;

	(void)c;
	if (!(pin & PIN_BASED_NMI_EXITING) && (pin & PIN_BASED_VIRTUAL_NMIS))
		return false;
	return (pin & PIN_BASED_VIRTUAL_NMIS) || !proc(v, CPU_BASED_NMI_WINDOW_EXITING);
}

static bool exit_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return fits_controls(v->vm_exit_controls, c->caps->exit_allowed0, c->caps->exit_allowed1);
}

static bool timer_save_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return !(v->vm_exit_controls & VM_EXIT_SAVE_PREEMPTION_TIMER) ||
	       (v->pin_based_vm_exec_control & PIN_BASED_PREEMPTION_TIMER);
}

static bool exit_store_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return !v->vm_exit_msr_store_count ||
	       msr_area_ok(c, v->vm_exit_msr_store_addr, v->vm_exit_msr_store_count);
}

static bool exit_load_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return !v->vm_exit_msr_load_count || msr_area_ok(c, v->vm_exit_msr_load_addr, v->vm_exit_msr_load_count);
}

static bool entry_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return fits_controls(v->vm_entry_controls, c->caps->entry_allowed0, c->caps->entry_allowed1);
}

static bool entry_event_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return nested_check_entry_event_caps(v, c->caps->misc, c->caps->inject_any_error_code) == 0;
}

static bool entry_load_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return !v->vm_entry_msr_load_count ||
	       msr_area_ok(c, v->vm_entry_msr_load_addr, v->vm_entry_msr_load_count);
}

/* Outside SMM: "entry to SMM" and "deactivate dual-monitor treatment" must be 0 (SDM 26.2.1.3). */
static bool entry_smm_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return !(v->vm_entry_controls & (VM_ENTRY_SMM | VM_ENTRY_DEACT_DUAL_MONITOR));
}

/* ---- 26.2.2-26.2.4 host state ------------------------------------------------------------ */

static bool host_cr0_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return (v->host_cr0 & c->caps->cr0_fixed0) == c->caps->cr0_fixed0 && !(v->host_cr0 & ~c->caps->cr0_fixed1);
}

static bool host_cr4_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return (v->host_cr4 & c->caps->cr4_fixed0) == c->caps->cr4_fixed0 && !(v->host_cr4 & ~c->caps->cr4_fixed1);
}

static bool host_cr3_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	return phys_ok(c, v->host_cr3);
}

static bool host_sysenter_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return x86_canonical(v->host_ia32_sysenter_esp) && x86_canonical(v->host_ia32_sysenter_eip);
}

static bool loads_host_pat(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return v->vm_exit_controls & VM_EXIT_LOAD_IA32_PAT;
}

static bool host_pat_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return x86_pat_valid(v->host_ia32_pat);
}

static bool loads_host_efer(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return v->vm_exit_controls & VM_EXIT_LOAD_IA32_EFER;
}

/* Reserved bits clear; LMA and LME equal to "host address-space size" (SDM 26.2.2). */
static bool host_efer_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	uint64_t efer = v->host_ia32_efer;

	(void)c;
	return !(efer & EFER_RESERVED) && !!(efer & X86_EFER_LMA) == host64(v) && !!(efer & X86_EFER_LME) == host64(v);
}

/* Selectors: RPL and TI 0; CS and TR not null; SS not null for a 32-bit host (SDM 26.2.3). */
static bool host_selectors_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	const uint16_t sel[7] = { v->host_es_selector, v->host_cs_selector, v->host_ss_selector, v->host_ds_selector,
				  v->host_fs_selector, v->host_gs_selector, v->host_tr_selector };

	(void)c;
	for (int i = 0; i < 7; i++)
		if (sel[i] & 7)
			return false;
	return v->host_cs_selector && v->host_tr_selector && (host64(v) || v->host_ss_selector);
}

static bool host_bases_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return x86_canonical(v->host_fs_base) && x86_canonical(v->host_gs_base) && x86_canonical(v->host_gdtr_base) &&
	       x86_canonical(v->host_idtr_base) && x86_canonical(v->host_tr_base);
}

/* SDM 26.2.4: outside IA-32e mode neither control may be 1; inside it the host must be 64-bit. */
static bool address_space_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	if (!c->l1_ia32e)
		return !host64(v) && !(v->vm_entry_controls & VM_ENTRY_IA32E_MODE);
	return host64(v);
}

static bool host32_fields_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	if (host64(v))
		return (v->host_cr4 & X86_CR4_PAE) && x86_canonical(v->host_rip);
	return !(v->vm_entry_controls & VM_ENTRY_IA32E_MODE) && !(v->host_cr4 & X86_CR4_PCIDE) &&
	       (v->host_rip >> 32) == 0;
}

/* ---- 26.3.1 guest state the hypervisor loads itself (the rest the hardware checks on vmcs02) ---- */

/* No VMCS shadowing is offered: the link pointer must be all ones (SDM 26.3.1.5, qualification 4). */
static bool link_pointer_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return v->vmcs_link_pointer == ~0ULL;
}

static bool loads_guest_efer(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return v->vm_entry_controls & VM_ENTRY_LOAD_IA32_EFER;
}

/* Reserved bits clear; LMA equals "IA-32e mode guest"; with CR0.PG, LME equals it too (SDM 26.3.1.1). */
static bool guest_efer_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	bool ia32e = v->vm_entry_controls & VM_ENTRY_IA32E_MODE;
	uint64_t efer = v->guest_ia32_efer;

	(void)c;
	if ((efer & EFER_RESERVED) || !!(efer & X86_EFER_LMA) != ia32e)
		return false;
	return !(v->guest_cr0 & X86_CR0_PG) || !!(efer & X86_EFER_LME) == ia32e;
}

static bool loads_guest_pat(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return v->vm_entry_controls & VM_ENTRY_LOAD_IA32_PAT;
}

static bool guest_pat_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return x86_pat_valid(v->guest_ia32_pat);
}

static bool loads_debug(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return v->vm_entry_controls & VM_ENTRY_LOAD_DEBUG_CONTROLS;
}

static bool guest_dr7_ok(const struct vmcs12 *v, const struct nested_entry_ctx *c)
{
	(void)c;
	return (v->guest_dr7 >> 32) == 0;
}

#define CTL ENTRY_VMFAIL_CONTROL
#define HST ENTRY_VMFAIL_HOST
#define GST ENTRY_FAIL_GUEST
#define R_CONTROLS READS_CONTROLS
#define R_EVENT READS_EVENT
#define R_HOST READS_HOST
#define R_GUEST READS_GUEST
#define R_L1_MODE READS_L1_MODE
#define R_MEMORY READS_MEMORY

const struct nested_entry_check nested_entry_checks[] = {
	{ "26.2.1.1", "pin-based controls within L1's allowed 0/1 settings", NULL, pin_ok, CTL, 0,
	  R_CONTROLS },
	{ "26.2.1.1", "primary processor-based controls within allowed settings", NULL, proc_ok, CTL, 0,
	  R_CONTROLS },
	{ "26.2.1.1", "secondary controls within allowed settings", has_secondary, proc2_ok, CTL, 0,
	  R_CONTROLS },
	{ "26.2.1.1", "EPT pointer: offered memory type and walk length, A/D only if offered, bits 11:7 and above "
		      "the address width clear", uses_ept, eptp_ok, CTL, 0, R_CONTROLS },
	{ "26.2.1.1", "APIC-access address 4-KiB aligned, within the address width", uses_apic_access,
	  apic_access_ok, CTL, 0, R_CONTROLS },
	{ "26.2.1.1", "VPID not 0000H", uses_vpid, vpid_ok, CTL, 0, R_CONTROLS },
	{ "26.2.1.1", "unrestricted guest only with EPT", uses_unrestricted, uses_ept, CTL, 0, R_CONTROLS },
	{ "26.2.1.1", "PML only with EPT; PML address 4-KiB aligned, within the address width", uses_pml, pml_ok,
	  CTL, 0, R_CONTROLS },
	{ "26.2.1.1", "CR3-target count at most 4", NULL, cr3_count_ok, CTL, 0, R_CONTROLS },
	{ "26.2.1.1", "I/O bitmap addresses 4-KiB aligned, within the address width", uses_io_bitmaps, io_bitmaps_ok,
	  CTL, 0, R_CONTROLS },
	{ "26.2.1.1", "MSR bitmap address 4-KiB aligned, within the address width", uses_msr_bitmap, msr_bitmap_ok,
	  CTL, 0, R_CONTROLS },
	{ "26.2.1.1", "virtual-APIC address 4-KiB aligned, within the address width", uses_tpr_shadow,
	  virtual_apic_ok, CTL, 0, R_CONTROLS },
	{ "26.2.1.1", "TPR threshold bits 31:4 clear", uses_tpr_shadow, tpr_threshold_ok, CTL, 0,
	  R_CONTROLS },
	{ "26.2.1.1", "TPR threshold[3:0] not above VTPR[7:4]", uses_tpr_shadow, tpr_below_vtpr, CTL, 0,
	  R_CONTROLS | R_MEMORY },
	{ "26.2.1.1", "virtual NMIs only with NMI exiting; NMI-window exiting only with virtual NMIs", NULL,
	  virtual_nmis_ok, CTL, 0, R_CONTROLS },
	{ "26.2.1.2", "VM-exit controls within allowed settings", NULL, exit_ok, CTL, 0, R_CONTROLS },
	{ "26.2.1.2", "save preemption timer only with the timer active", NULL, timer_save_ok, CTL, 0,
	  R_CONTROLS },
	{ "26.2.1.2", "VM-exit MSR-store area 16-byte aligned, within the address width", NULL, exit_store_ok, CTL, 0,
	  R_CONTROLS },
	{ "26.2.1.2", "VM-exit MSR-load area 16-byte aligned, within the address width", NULL, exit_load_ok, CTL, 0,
	  R_CONTROLS },
	{ "26.2.1.3", "VM-entry controls within allowed settings", NULL, entry_ok, CTL, 0, R_CONTROLS },
	{ "26.2.1.3", "event injection: type, vector, error code, instruction length", NULL, entry_event_ok, CTL, 0,
	  R_CONTROLS | R_EVENT | R_GUEST },
	{ "26.2.1.3", "VM-entry MSR-load area 16-byte aligned, within the address width", NULL, entry_load_ok, CTL, 0,
	  R_CONTROLS },
	{ "26.2.1.3", "no entry to SMM, no deactivation of dual-monitor treatment outside SMM", NULL, entry_smm_ok,
	  CTL, 0, R_CONTROLS },
	{ "26.2.2", "host CR0 satisfies IA32_VMX_CR0_FIXED0/1", NULL, host_cr0_ok, HST, 0, R_HOST | R_CONTROLS },
	{ "26.2.2", "host CR4 satisfies IA32_VMX_CR4_FIXED0/1", NULL, host_cr4_ok, HST, 0, R_HOST | R_CONTROLS },
	{ "26.2.2", "host CR3 within the physical-address width", NULL, host_cr3_ok, HST, 0,
	  R_HOST | R_CONTROLS },
	{ "26.2.2", "host SYSENTER_ESP/EIP canonical", NULL, host_sysenter_ok, HST, 0,
	  R_HOST | R_CONTROLS },
	{ "26.2.2", "host IA32_PAT memory types valid", loads_host_pat, host_pat_ok, HST, 0,
	  R_HOST | R_CONTROLS },
	{ "26.2.2", "host IA32_EFER reserved bits clear, LMA/LME = host address-space size", loads_host_efer,
	  host_efer_ok, HST, 0, R_HOST | R_CONTROLS },
	{ "26.2.3", "host selectors RPL/TI 0; CS, TR (and SS of a 32-bit host) not null", NULL, host_selectors_ok,
	  HST, 0, R_HOST | R_CONTROLS },
	{ "26.2.3", "host FS/GS/GDTR/IDTR/TR bases canonical", NULL, host_bases_ok, HST, 0,
	  R_HOST | R_CONTROLS },
	{ "26.2.4", "host address-space size and IA-32e mode guest match L1's IA-32e mode", NULL, address_space_ok,
	  HST, 0, R_HOST | R_CONTROLS | R_L1_MODE },
	{ "26.2.4", "64-bit host: CR4.PAE, canonical RIP; 32-bit host: no IA-32e guest, no PCIDE, RIP below 4 GiB",
	  NULL, host32_fields_ok, HST, 0, R_HOST | R_CONTROLS },
	{ "26.3.1.5", "VMCS link pointer all ones (no VMCS shadowing offered)", NULL, link_pointer_ok, GST, 4,
	  R_GUEST },
	{ "26.3.1.1", "guest IA32_EFER reserved bits clear, LMA/LME match IA-32e mode guest", loads_guest_efer,
	  guest_efer_ok, GST, 0, R_GUEST | R_CONTROLS },
	{ "26.3.1.1", "guest IA32_PAT memory types valid", loads_guest_pat, guest_pat_ok, GST, 0,
	  R_GUEST | R_CONTROLS },
	{ "26.3.1.1", "guest DR7 bits 63:32 clear", loads_debug, guest_dr7_ok, GST, 0, R_GUEST | R_CONTROLS },
};
const size_t nested_nr_entry_checks = sizeof(nested_entry_checks) / sizeof(nested_entry_checks[0]);
STATIC_ASSERT(sizeof(nested_entry_checks) / sizeof(nested_entry_checks[0]) <= 64, "rows indexed by a 64-bit mask");

/* Bit r of rows_reading[k]: row r reads input class BIT(k) (enum nested_check_reads); built once from the table. */
#define CHECK_CLASSES 6
static uint64_t rows_reading[CHECK_CLASSES];
static bool rows_ready;
STATIC_ASSERT(READS_MEMORY == BIT(CHECK_CLASSES - 1), "one mask per input class");

void nested_entry_checks_init(void)
{
	uint64_t rows[CHECK_CLASSES] = { 0 };

	for (size_t i = 0; i < nested_nr_entry_checks; i++)
		for (unsigned int k = 0; k < CHECK_CLASSES; k++)
			if (nested_entry_checks[i].reads & BIT(k))
				rows[k] |= 1ULL << i;
	memcpy(rows_reading, rows, sizeof(rows));
	__atomic_store_n(&rows_ready, true, __ATOMIC_RELEASE);
}

const struct nested_entry_check *nested_check_vmentry(const struct vmcs12 *vmcs12, const struct nested_entry_ctx *c)
{
	uint8_t changed = (uint8_t)(~c->unchanged | READS_MEMORY);
	uint64_t rows = 0;

	if (!__atomic_load_n(&rows_ready, __ATOMIC_ACQUIRE))
		nested_entry_checks_init(); /* the host tests; the hypervisor calls it once at boot */
	for (unsigned int k = 0; k < CHECK_CLASSES; k++)
		if (changed & BIT(k))
			rows |= rows_reading[k];
	/* In table order; a row none of whose inputs changed held at the last entry, on the same inputs. */
	for (; rows; rows &= rows - 1) {
		const struct nested_entry_check *row = &nested_entry_checks[__builtin_ctzll(rows)];

		if ((!row->applies || row->applies(vmcs12, c)) && !row->holds(vmcs12, c))
			return row;
	}
	return NULL;
}

uint8_t nested_check_field_class(uint32_t encoding)
{
	switch (encoding & ~1u) {
	case VM_ENTRY_INTR_INFO_FIELD: case VM_ENTRY_EXCEPTION_ERROR_CODE: case VM_ENTRY_INSTRUCTION_LEN:
		return READS_EVENT;
	default:
		break;
	}
	switch (vmcs_field_type(encoding)) {
	case VMCS_TYPE_HOST:
		return READS_HOST;
	case VMCS_TYPE_GUEST:
		return READS_GUEST;
	case VMCS_TYPE_READ_ONLY:
		return 0; /* no row reads exit information */
	default:
		return READS_CONTROLS;
	}
}
