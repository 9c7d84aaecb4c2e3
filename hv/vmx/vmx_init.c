/* VT-x bring-up on each CPU: feature checks, the capability MSRs, CR0/CR4 fixed bits and VMXON. */
#include "hv/vmx/vmx.h"
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/vmx_asm.h"
#include "hv/console.h"
#include "hv/mm.h"
#include "hv/percpu.h"
#include "hv/x86.h"

#define CPUID1_ECX_XSAVE BIT(26)

struct vmx_caps vmx_caps;
struct vmx_controls vmx_base_controls;
static bool vmx_caps_ready;

/* SDM 24.7, A.1-A.11: the TRUE_* MSRs replace the legacy ones when IA32_VMX_BASIC[55] is set. */
static void read_caps(struct vmx_caps *c)
{
	c->basic = rdmsr(MSR_IA32_VMX_BASIC);
	c->true_ctls = c->basic & VMX_BASIC_TRUE_CTLS;
	c->pinbased = rdmsr(c->true_ctls ? MSR_IA32_VMX_TRUE_PINBASED_CTLS : MSR_IA32_VMX_PINBASED_CTLS);
	c->procbased = rdmsr(c->true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS : MSR_IA32_VMX_PROCBASED_CTLS);
	c->exit = rdmsr(c->true_ctls ? MSR_IA32_VMX_TRUE_EXIT_CTLS : MSR_IA32_VMX_EXIT_CTLS);
	c->entry = rdmsr(c->true_ctls ? MSR_IA32_VMX_TRUE_ENTRY_CTLS : MSR_IA32_VMX_ENTRY_CTLS);
	c->misc = rdmsr(MSR_IA32_VMX_MISC);
	c->cr0_fixed0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0);
	c->cr0_fixed1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
	c->cr4_fixed0 = rdmsr(MSR_IA32_VMX_CR4_FIXED0);
	c->cr4_fixed1 = rdmsr(MSR_IA32_VMX_CR4_FIXED1);
	c->vmcs_enum = rdmsr(MSR_IA32_VMX_VMCS_ENUM);
	/* These three MSRs exist only when the controls that need them can be 1 (SDM A.3.3, A.10, A.11). */
	c->procbased2 = (c->procbased >> 32) & CPU_BASED_ACTIVATE_SECONDARY ? rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2) : 0;
	c->ept_vpid = (c->procbased2 >> 32) & (SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID)
		      ? rdmsr(MSR_IA32_VMX_EPT_VPID_CAP) : 0;
	c->vmfunc = (c->procbased2 >> 32) & SECONDARY_ENABLE_VMFUNC ? rdmsr(MSR_IA32_VMX_VMFUNC) : 0;
}

/* SDM 24.7: firmware decides through IA32_FEATURE_CONTROL; we read it and never write it. */
static int check_feature_control(void)
{
	uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);

	if (!(fc & FEATURE_CONTROL_LOCKED)) {
		printk("hv: VT-x is not enabled: IA32_FEATURE_CONTROL=%#llx is unlocked, so the firmware never configured VMX; "
		       "the hypervisor leaves that MSR to the firmware: enable Intel VT in its setup\n",
		       (unsigned long long)fc);
		return -1;
	}
	if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
		printk("hv: VT-x is disabled by the firmware: IA32_FEATURE_CONTROL=%#llx is locked with VMX outside SMX "
		       "(bit 2) off; enable Intel VT in the firmware setup\n", (unsigned long long)fc);
		return -1;
	}
	return 0;
}

/* SDM 24.8: VMXON needs CR0/CR4 to respect the fixed bits (CR4.VMXE among them). */
static int apply_fixed_bits(void)
{
	uint32_t a, b, c, d;
	/*
	 * VM entries and exits leave CR0.CD/NW alone (SDM 26.3.2.1, 27.5.1), so L1
	 * starts with the host's: caches on, whatever firmware left (Bochs resets
	 * to CD=NW=1, and Linux then writes CR0 with NW but not CD, a #GP).
	 */
	uint64_t cr0 = vmx_apply_fixed(read_cr0() & ~(X86_CR0_CD | X86_CR0_NW), vmx_caps.cr0_fixed0,
				       vmx_caps.cr0_fixed1);
	uint64_t cr4 = read_cr4() | X86_CR4_VMXE;

	/* OSXSAVE lets the host execute XSETBV on L1's behalf (exit_cr.c). */
	cpuid(1, 0, &a, &b, &c, &d);
	if (c & CPUID1_ECX_XSAVE)
		cr4 |= X86_CR4_OSXSAVE;
	cr4 = vmx_apply_fixed(cr4, vmx_caps.cr4_fixed0, vmx_caps.cr4_fixed1);
	if (!(cr0 & X86_CR0_PG) || !(cr4 & X86_CR4_VMXE)) {
		printk("hv: the VMX fixed bits (CR0 %#llx/%#llx, CR4 %#llx/%#llx) clash with long mode or forbid CR4.VMXE\n",
		       (unsigned long long)vmx_caps.cr0_fixed0, (unsigned long long)vmx_caps.cr0_fixed1,
		       (unsigned long long)vmx_caps.cr4_fixed0, (unsigned long long)vmx_caps.cr4_fixed1);
		return -1;
	}
	write_cr0(cr0);
	write_cr4(cr4);
	return 0;
}

static void print_caps(void)
{
	const struct vmx_controls *ctl = &vmx_base_controls;

	printk("hv: VT-x: VMCS revision %llu, %s controls, EPT 4-level%s%s, VPID %s, unrestricted guest, HLT exits %s\n",
	       (unsigned long long)(vmx_caps.basic & VMX_BASIC_REVISION_MASK), vmx_caps.true_ctls ? "true" : "legacy",
	       vmx_caps.ept_vpid & VMX_EPT_2M_PAGE ? " 2M" : "", vmx_caps.ept_vpid & VMX_EPT_1G_PAGE ? " 1G" : "",
	       ctl->proc2 & SECONDARY_ENABLE_VPID ? "on" : "off", ctl->proc & CPU_BASED_HLT_EXITING ? "on" : "off");
	pr_debug("hv: VT-x controls: pin %#x proc %#x proc2 %#x exit %#x entry %#x\n",
		 ctl->pin, ctl->proc, ctl->proc2, ctl->exit, ctl->entry);
}

/* The first CPU (the boot CPU) decides; the others must pass the same checks and reuse its result. */
static int check_caps(void)
{
	struct vmx_caps caps;
	struct vmx_controls ctl;
	const char *missing;

	read_caps(&caps);
	if (vmx_compute_controls(&caps, &ctl, &missing) < 0) {
		printk("hv: this CPU's VT-x lacks %s, which the hypervisor requires\n", missing);
		return -1;
	}
	if (!vmx_caps_ready) {
		vmx_caps = caps;
		vmx_base_controls = ctl;
		vmx_caps_ready = true;
		print_caps();
	}
	return 0;
}

static int enter_vmx_root(struct percpu *cpu)
{
	paddr_t region = frame_alloc();

	if (!region) {
		printk("hv: out of hypervisor frames for the VMXON region\n");
		return -1;
	}
	if (VMX_BASIC_REGION_SIZE(vmx_caps.basic) > PAGE_SIZE ||
	    ((vmx_caps.basic & VMX_BASIC_32BIT_ADDR) && region >= GiB(4))) {
		printk("hv: the VMXON region at %#llx does not fit IA32_VMX_BASIC=%#llx\n", (unsigned long long)region,
		       (unsigned long long)vmx_caps.basic);
		return -1;
	}
	*(uint32_t *)phys_to_virt(region) = (uint32_t)(vmx_caps.basic & VMX_BASIC_REVISION_MASK); /* SDM 25.11.5 */
	if (apply_fixed_bits() < 0)
		return -1;
	if (vmxon(region) < 0) {
		printk("hv: VMXON failed on CPU %u (region %#llx, CR0 %#llx, CR4 %#llx)\n", cpu->cpu_id,
		       (unsigned long long)region, (unsigned long long)read_cr0(), (unsigned long long)read_cr4());
		return -1;
	}
	cpu->vmxon_region = region;
	cpu->vmx_on = true;
	return 0;
}

int vmx_cpu_init(void)
{
	struct percpu *cpu = this_cpu();
	uint32_t a, b, c, d;

	if (cpu->vmx_on)
		return 0;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & CPUID1_ECX_VMX)) {
		printk("hv: VT-x is not available: CPUID.1:ECX.VMX[bit 5] = 0\n");
		return -1;
	}
	if (check_feature_control() < 0 || check_caps() < 0 || enter_vmx_root(cpu) < 0)
		return -1;
	return 0;
}
