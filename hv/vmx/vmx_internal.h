/* What the files of VMX root share among themselves (not a contract for the rest of the hypervisor). */
#ifndef HV_VMX_VMX_INTERNAL_H
#define HV_VMX_VMX_INTERNAL_H

#include "hv/types.h"
#include "hv/vmx/vcpu.h"
#include "hv/loader/guest_boot.h"
#include "hv/vmx/vmcs_fields.h"
#ifndef HV_HOST_TEST
#include "hv/vmx/vmx_asm.h"
#include "hv/x86.h"
#endif

/* Read once by the boot CPU in vmx_cpu_init(). */
extern struct vmx_caps vmx_caps;
extern struct vmx_controls vmx_base_controls;

/* I/O and MSR bitmaps (pure; SDM 25.6.4 and 25.6.9). */
void io_bitmap_intercept(uint8_t *bitmap_a, uint8_t *bitmap_b, uint16_t port);
void msr_bitmap_intercept(uint8_t *bitmap, uint32_t msr, bool read, bool write);
bool msr_bitmap_covers(uint32_t msr);

/* CPUID as L1 sees it (pure). */
struct cpuid_policy {
	bool hypervisor_bit;  /* CPUID.1:ECX[31] and the 0x40000000 leaves */
	bool vmx;             /* CPUID.1:ECX[5]: nested VMX offered (hv/nested/vmx_policy.c) */
	bool hide_rdtscp, hide_invpcid, hide_xsaves, hide_waitpkg; /* their enable controls are off */
};
#define CPUID_HV_LEAF_BASE 0x40000000u
/* What CPUID's answer depends on besides the leaf: the executing guest's state. */
struct cpuid_guest_view {
	uint64_t cr4;       /* guest CR4 (OSXSAVE, PKE) */
	bool in_64bit_mode; /* CS.L with EFER.LMA */
};
void cpuid_apply_policy(const struct cpuid_policy *p, uint32_t leaf, uint32_t subleaf,
			const struct cpuid_guest_view *g, uint32_t regs[4]);

/* The leaves cpuid_apply_policy() may change; every other leaf passes through untouched. */
static inline bool cpuid_policy_applies(uint32_t leaf)
{
	return leaf == 1 || leaf == 7 || leaf == 0xd || leaf == 0x80000001 || (leaf >> 8) == (CPUID_HV_LEAF_BASE >> 8);
}

/* emulate.c (pure) */
bool emulate_cr0_write(uint64_t old_cr0, uint64_t val, uint64_t cr4, bool cs_long, uint64_t *efer);
bool emulate_cr4_write(uint64_t val, uint64_t efer, uint64_t cr4_fixed1, bool vmxe_allowed, bool in_vmx_operation);
bool emulate_pae_paging(uint64_t cr0, uint64_t cr4, uint64_t efer);
bool emulate_xcr0_valid(uint64_t val, uint64_t supported);
bool emulate_pdpte_load(uint64_t old_cr0, uint64_t cr0, uint64_t old_cr4, uint64_t cr4, uint64_t efer);
bool emulate_pdptes_valid(const uint64_t pdpte[4], unsigned int maxphyaddr);
bool emulate_single_step_due(uint64_t rflags, uint64_t debugctl, bool branch);
bool emulate_xsetbv_ok(unsigned int cpl, uint32_t ecx, uint64_t val, uint64_t supported);
bool emulate_cr8_write_ok(uint64_t val);
bool emulate_apic_base_write_ok(uint64_t old, uint64_t val, unsigned int maxphyaddr, bool x2apic_supported);
bool emulate_x2apic_icr_write_ok(uint64_t val);
uint64_t emulate_cr0_after_init(uint64_t cr0_before);
uint64_t emulate_in_result(uint64_t rax, unsigned int size, uint32_t val);
bool emulate_exception_is_fault(unsigned int vector);

/* apic_access.c: L1's INIT/SIPI through its xAPIC page or x2APIC ICR (SDM 11.6.1) */
void vmx_virtualize_icr(struct vcpu *bsp);
bool vmx_apic_page_write(struct vcpu *v, struct guest_regs *r, uint64_t gpa);
bool vmx_x2apic_icr_write(uint64_t value);
void vmx_apic_trap_update(struct vcpu *v);
void vmx_apic_trap_sync(struct vcpu *v);
extern uint32_t vmx_apic_trap_gen;

/*
 * Another CPU changed the xAPIC trap: drop this CPU's older EPT translations.
 * Checked at HLT and EPT-violation exits (every idle vCPU halts), not on the
 * CPUID/I/O fast paths.
 */
static inline void vmx_apic_trap_check(struct vcpu *v)
{
	if (unlikely(v->ept_gen != __atomic_load_n(&vmx_apic_trap_gen, __ATOMIC_ACQUIRE)))
		vmx_apic_trap_sync(v);
}
bool vmx_apic_page_is(uint64_t gpa);
void vmx_apic_store(uint32_t off, unsigned int size, uint64_t val);
uint64_t vmx_apic_load(uint32_t off, unsigned int size);

/* apic_emulate.c: one trapped write to the xAPIC page, any instruction form (SDM 11.4.1) */
bool vmx_apic_emulate_write(struct vcpu *v, struct guest_regs *r, uint64_t gpa);

/* vcpu_reset.c: INIT and SIPI for L1's vCPUs (SDM 10.1, 10.4.4) */
void vmx_vcpu_load_init_state(struct vcpu *v, bool power_up);
void vmx_vcpu_start_at_sipi(struct vcpu *v, uint8_t vector);
void vmx_vcpu_fix_sipi_blocking(void);

/* exit_nmi.c: NMI exiting and virtual NMIs (SDM 24.6.1, 25.3, 26.6) */
void vmx_handle_nmi_exit(struct vcpu *v, struct guest_regs *r);
void vmx_handle_nmi_window(struct vcpu *v, struct guest_regs *r);
void vmx_sipi_exit_check_stop(void);
void vmx_deliver_pending_nmi(void);
bool vmx_nmi_stop_pending(void);
extern int64_t vmx_debug_panic_post; /* debug_panic_post=N: the vCPU writing N to port 0x80 panics; -1 off */

/* vmcs.c */
void vmcs_write_guest_segment(enum vmcs_field sel, uint16_t selector, uint64_t base, uint32_t limit, uint32_t ar);
int vmcs01_setup(struct vcpu *v, const struct guest_boot_state *gs);

/* exit.c */
void vmx_exit_handlers_init(void);
void vmx_handle_exit(struct guest_regs *regs, struct vcpu *v);
void vmx_handle_exit_ap(struct guest_regs *regs, struct vcpu *v);
void vmx_handle_exit_l2(struct guest_regs *regs, struct vcpu *v);
__noreturn void vmx_resume_failed(struct guest_regs *regs, struct vcpu *v);
__noreturn void vmx_launch_failed(struct vcpu *v);

#ifndef HV_HOST_TEST
void vmx_pending_debug_trap(uint64_t bits);
void vmx_single_step_trap(void);

/*
 * An emulated instruction completes as the CPU would have completed it:
 * RIP moves past it, STI/MOV-SS blocking ends (SDM 25.4.2), and with
 * RFLAGS.TF set the single-step #DB is still owed (SDM 17.3.1.4). A REP
 * string instruction with iterations left passes len 0: it stays at RIP.
 */
static inline void vmx_advance_rip(uint64_t len)
{
	uint64_t intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);

	vmcs_write(GUEST_RIP, vmcs_read(GUEST_RIP) + len);
	if (unlikely(intr & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)))
		vmcs_write(GUEST_INTERRUPTIBILITY_INFO, intr & ~(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS));
	if (unlikely(vmcs_read(GUEST_RFLAGS) & X86_RFLAGS_TF))
		vmx_single_step_trap();
}

/* MAXPHYADDR, CPUID.80000008H:EAX[7:0] (36 where the leaf is missing, SDM 4.1.4). */
static inline unsigned int vmx_max_phys_addr_bits(void)
{
	uint32_t a, b, c, d;

	cpuid(0x80000000, 0, &a, &b, &c, &d);
	if (a < 0x80000008)
		return 36;
	cpuid(0x80000008, 0, &a, &b, &c, &d);
	return a & 0xff;
}

/* The CR value the guest believes in: host-owned bits (mask) from the read shadow, the rest from the real register. */
static inline uint64_t vmx_guest_cr(enum vmcs_field real, enum vmcs_field shadow, uint64_t mask)
{
	return (vmcs_read(real) & ~mask) | (vmcs_read(shadow) & mask);
}

/* For exits that report the instruction's length (SDM 28.2.5). */
static inline void vmx_skip_instruction(void)
{
	vmx_advance_rip(vmcs_read(VM_EXIT_INSTRUCTION_LEN));
}

/* A general register of the guest by its encoding (exit qualifications, instruction information): RSP is in the VMCS. */
static inline uint64_t vmx_guest_gpr(const struct guest_regs *r, unsigned int n)
{
	return (n & 15) == 4 ? vmcs_read(GUEST_RSP) : ((const uint64_t *)r)[n & 15];
}

static inline void vmx_set_guest_gpr(struct guest_regs *r, unsigned int n, uint64_t val)
{
	if ((n & 15) == 4)
		vmcs_write(GUEST_RSP, val);
	else
		((uint64_t *)r)[n & 15] = val;
}
#endif
void vmx_inject_hw_exception(unsigned int vector, bool has_error_code, uint32_t error_code);
void vmx_print_exit_counters(void);
__noreturn void vmx_stop_guest(struct vcpu *v, struct guest_regs *regs, uint8_t status);
extern struct cpuid_policy vmx_cpuid_policy;

/* exit_io.c */
void handle_io(struct vcpu *v, struct guest_regs *regs);

/* exit_cr.c */
void handle_cr_access(struct vcpu *v, struct guest_regs *regs);
void handle_xsetbv(struct vcpu *v, struct guest_regs *regs);
void vmx_flush_guest_tlb(const struct vcpu *v);

/* exit_dr.c */
void handle_dr_access(struct vcpu *v, struct guest_regs *regs);

/* exit_task_switch.c */
void handle_task_switch(struct vcpu *v, struct guest_regs *regs);

/* vmx_entry.S */
int vmx_launch(struct guest_regs *regs);
int vmx_resume_regs(struct guest_regs *regs);
void vmx_exit_stub(void);
void vmx_exit_stub_ap(void);
void vmx_exit_stub_l2(void);

#endif
