/* The CPU's VMX capabilities (SDM Appendix A) and the control values the hypervisor derives from them. */
#ifndef HV_VMX_VMX_CAPS_H
#define HV_VMX_VMX_CAPS_H

#include "hv/types.h"

/* IA32_VMX_BASIC fields, SDM A.1. */
#define VMX_BASIC_REVISION_MASK   0x7fffffffULL
#define VMX_BASIC_REGION_SIZE(b)  (((b) >> 32) & 0x1fff)
#define VMX_BASIC_32BIT_ADDR      BIT(48)
#define VMX_BASIC_MEMTYPE(b)      (((b) >> 50) & 0xf)
#define VMX_BASIC_INOUT_INFO      BIT(54)
#define VMX_BASIC_TRUE_CTLS       BIT(55)
#define VMX_MEMTYPE_WB            6

/* IA32_VMX_EPT_VPID_CAP bits, SDM A.10. */
#define VMX_EPT_EXECUTE_ONLY      BIT(0)
#define VMX_EPT_WALK_4            BIT(6)
#define VMX_EPT_MEMTYPE_UC        BIT(8)
#define VMX_EPT_MEMTYPE_WB        BIT(14)
#define VMX_EPT_2M_PAGE           BIT(16)
#define VMX_EPT_1G_PAGE           BIT(17)
#define VMX_EPT_INVEPT            BIT(20)
#define VMX_EPT_AD                BIT(21)
#define VMX_EPT_INVEPT_SINGLE     BIT(25)
#define VMX_EPT_INVEPT_ALL        BIT(26)
#define VMX_VPID_INVVPID          BIT(32)
#define VMX_VPID_INVVPID_ADDR     BIT(40)
#define VMX_VPID_INVVPID_SINGLE   BIT(41)
#define VMX_VPID_INVVPID_ALL      BIT(42)

/* Every capability MSR, read once at start-up (SDM A.1-A.11). */
struct vmx_caps {
	uint64_t basic;
	bool true_ctls;      /* BASIC[55]: the TRUE_* MSRs exist and are used below */
	uint64_t pinbased;   /* TRUE_PINBASED_CTLS if true_ctls, else PINBASED_CTLS */
	uint64_t procbased;
	uint64_t exit;
	uint64_t entry;
	uint64_t procbased2; /* 0 when the secondary controls cannot be activated */
	uint64_t ept_vpid;   /* 0 when neither EPT nor VPID can be enabled */
	uint64_t misc;
	uint64_t cr0_fixed0, cr0_fixed1;
	uint64_t cr4_fixed0, cr4_fixed1;
	uint64_t vmcs_enum;
	uint64_t vmfunc;     /* 0 when VM functions cannot be enabled */
};

/* The control fields of L1's VMCS (vmcs01). */
struct vmx_controls {
	uint32_t pin;
	uint32_t proc;
	uint32_t proc2;
	uint32_t exit;
	uint32_t entry;
};

/*
 * A control MSR holds the allowed-0 settings in bits 31:0 (a 1 there means
 * the control must be 1) and the allowed-1 settings in bits 63:32 (a 0 there
 * means the control must be 0), SDM A.3-A.5. Returns the value with every
 * required and every available wanted bit; *missing gets the required bits
 * the CPU cannot set (0 if none).
 */
uint32_t vmx_adjust_controls(uint64_t cap_msr, uint32_t required, uint32_t wanted, uint32_t *missing);

/*
 * Computes vmcs01's controls. Returns 0, or -1 with *missing naming the
 * first required feature the CPU lacks (a static string).
 */
int vmx_compute_controls(const struct vmx_caps *caps, struct vmx_controls *out, const char **missing);

/* Forces the bits VMX operation fixes (SDM A.7, A.8): set every fixed0 bit, clear every bit not in fixed1. */
static inline uint64_t vmx_apply_fixed(uint64_t val, uint64_t fixed0, uint64_t fixed1)
{
	return (val | fixed0) & fixed1;
}

/* Does the value respect the fixed bits? */
static inline bool vmx_fixed_ok(uint64_t val, uint64_t fixed0, uint64_t fixed1)
{
	return (val & fixed0) == fixed0 && (val & ~fixed1) == 0;
}

/* Names for reports (pure). */
const char *vmx_exit_reason_name(uint32_t basic_reason);
const char *vmx_exit_reason_short(uint32_t basic_reason);
const char *vmx_instruction_error_name(uint32_t err);
const char *vmx_entry_failure_qual_name(uint32_t basic_reason, uint64_t qual);

#endif
