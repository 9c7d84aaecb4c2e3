/* Names of VMX exit reasons, VM-instruction errors and failed-entry qualifications, for reports (pure). */
#include "hv/vmx/vmx_caps.h"
#include "hv/vmx/vmx_defs.h"

struct exit_name {
	const char *name;  /* SDM Appendix C wording */
	const char *short_name; /* the exit-counter line */
};

static const struct exit_name exit_names[EXIT_REASON_MAX] = {
	[EXIT_REASON_EXCEPTION_NMI]       = { "exception or NMI", "EXC_NMI" },
	[EXIT_REASON_EXTERNAL_INTERRUPT]  = { "external interrupt", "EXTINT" },
	[EXIT_REASON_TRIPLE_FAULT]        = { "triple fault", "TRIPLE_FAULT" },
	[EXIT_REASON_INIT_SIGNAL]         = { "INIT signal", "INIT" },
	[EXIT_REASON_SIPI]                = { "start-up IPI", "SIPI" },
	[EXIT_REASON_IO_SMI]              = { "I/O SMI", "IO_SMI" },
	[EXIT_REASON_OTHER_SMI]           = { "other SMI", "OTHER_SMI" },
	[EXIT_REASON_INTERRUPT_WINDOW]    = { "interrupt window", "INTR_WINDOW" },
	[EXIT_REASON_NMI_WINDOW]          = { "NMI window", "NMI_WINDOW" },
	[EXIT_REASON_TASK_SWITCH]         = { "task switch", "TASK_SWITCH" },
	[EXIT_REASON_CPUID]               = { "CPUID", "CPUID" },
	[EXIT_REASON_GETSEC]              = { "GETSEC", "GETSEC" },
	[EXIT_REASON_HLT]                 = { "HLT", "HLT" },
	[EXIT_REASON_INVD]                = { "INVD", "INVD" },
	[EXIT_REASON_INVLPG]              = { "INVLPG", "INVLPG" },
	[EXIT_REASON_RDPMC]               = { "RDPMC", "RDPMC" },
	[EXIT_REASON_RDTSC]               = { "RDTSC", "RDTSC" },
	[EXIT_REASON_RSM]                 = { "RSM", "RSM" },
	[EXIT_REASON_VMCALL]              = { "VMCALL", "VMCALL" },
	[EXIT_REASON_VMCLEAR]             = { "VMCLEAR", "VMCLEAR" },
	[EXIT_REASON_VMLAUNCH]            = { "VMLAUNCH", "VMLAUNCH" },
	[EXIT_REASON_VMPTRLD]             = { "VMPTRLD", "VMPTRLD" },
	[EXIT_REASON_VMPTRST]             = { "VMPTRST", "VMPTRST" },
	[EXIT_REASON_VMREAD]              = { "VMREAD", "VMREAD" },
	[EXIT_REASON_VMRESUME]            = { "VMRESUME", "VMRESUME" },
	[EXIT_REASON_VMWRITE]             = { "VMWRITE", "VMWRITE" },
	[EXIT_REASON_VMOFF]               = { "VMXOFF", "VMXOFF" },
	[EXIT_REASON_VMON]                = { "VMXON", "VMXON" },
	[EXIT_REASON_CR_ACCESS]           = { "control-register access", "CR" },
	[EXIT_REASON_DR_ACCESS]           = { "MOV DR", "DR" },
	[EXIT_REASON_IO_INSTRUCTION]      = { "I/O instruction", "IO" },
	[EXIT_REASON_MSR_READ]            = { "RDMSR", "RDMSR" },
	[EXIT_REASON_MSR_WRITE]           = { "WRMSR", "WRMSR" },
	[EXIT_REASON_INVALID_GUEST_STATE] = { "VM-entry failure due to invalid guest state", "BAD_GUEST_STATE" },
	[EXIT_REASON_MSR_LOAD_FAIL]       = { "VM-entry failure due to MSR loading", "MSR_LOAD_FAIL" },
	[EXIT_REASON_MWAIT]               = { "MWAIT", "MWAIT" },
	[EXIT_REASON_MONITOR_TRAP_FLAG]   = { "monitor trap flag", "MTF" },
	[EXIT_REASON_MONITOR]             = { "MONITOR", "MONITOR" },
	[EXIT_REASON_PAUSE]               = { "PAUSE", "PAUSE" },
	[EXIT_REASON_MCE_DURING_VMENTRY]  = { "VM-entry failure due to machine-check event", "MCE_ENTRY" },
	[EXIT_REASON_TPR_BELOW_THRESHOLD] = { "TPR below threshold", "TPR" },
	[EXIT_REASON_APIC_ACCESS]         = { "APIC access", "APIC_ACCESS" },
	[EXIT_REASON_EOI_INDUCED]         = { "virtualized EOI", "EOI" },
	[EXIT_REASON_GDTR_IDTR]           = { "access to GDTR or IDTR", "GDTR_IDTR" },
	[EXIT_REASON_LDTR_TR]             = { "access to LDTR or TR", "LDTR_TR" },
	[EXIT_REASON_EPT_VIOLATION]       = { "EPT violation", "EPT_VIOLATION" },
	[EXIT_REASON_EPT_MISCONFIG]       = { "EPT misconfiguration", "EPT_MISCONFIG" },
	[EXIT_REASON_INVEPT]              = { "INVEPT", "INVEPT" },
	[EXIT_REASON_RDTSCP]              = { "RDTSCP", "RDTSCP" },
	[EXIT_REASON_PREEMPTION_TIMER]    = { "VMX-preemption timer expired", "PREEMPT_TIMER" },
	[EXIT_REASON_INVVPID]             = { "INVVPID", "INVVPID" },
	[EXIT_REASON_WBINVD]              = { "WBINVD", "WBINVD" },
	[EXIT_REASON_XSETBV]              = { "XSETBV", "XSETBV" },
	[EXIT_REASON_APIC_WRITE]          = { "APIC write", "APIC_WRITE" },
	[EXIT_REASON_RDRAND]              = { "RDRAND", "RDRAND" },
	[EXIT_REASON_INVPCID]             = { "INVPCID", "INVPCID" },
	[EXIT_REASON_VMFUNC]              = { "VMFUNC", "VMFUNC" },
	[EXIT_REASON_ENCLS]               = { "ENCLS", "ENCLS" },
	[EXIT_REASON_RDSEED]              = { "RDSEED", "RDSEED" },
	[EXIT_REASON_PML_FULL]            = { "page-modification log full", "PML_FULL" },
	[EXIT_REASON_XSAVES]              = { "XSAVES", "XSAVES" },
	[EXIT_REASON_XRSTORS]             = { "XRSTORS", "XRSTORS" },
	[EXIT_REASON_UMWAIT]              = { "UMWAIT", "UMWAIT" },
	[EXIT_REASON_TPAUSE]              = { "TPAUSE", "TPAUSE" },
};

const char *vmx_exit_reason_name(uint32_t basic_reason)
{
	if (basic_reason < EXIT_REASON_MAX && exit_names[basic_reason].name)
		return exit_names[basic_reason].name;
	return "unknown exit reason";
}

const char *vmx_exit_reason_short(uint32_t basic_reason)
{
	if (basic_reason < EXIT_REASON_MAX && exit_names[basic_reason].short_name)
		return exit_names[basic_reason].short_name;
	return "UNKNOWN";
}

/* SDM 31.4, Table 31-1. */
static const char *const vm_instruction_errors[] = {
	[VMXERR_VMCALL_IN_ROOT]                 = "VMCALL executed in VMX root operation",
	[VMXERR_VMCLEAR_INVALID_ADDR]           = "VMCLEAR with invalid physical address",
	[VMXERR_VMCLEAR_VMXON_PTR]              = "VMCLEAR with VMXON pointer",
	[VMXERR_VMLAUNCH_NONCLEAR_VMCS]         = "VMLAUNCH with non-clear VMCS",
	[VMXERR_VMRESUME_NONLAUNCHED_VMCS]      = "VMRESUME with non-launched VMCS",
	[VMXERR_VMRESUME_AFTER_VMXOFF]          = "VMRESUME after VMXOFF",
	[VMXERR_ENTRY_INVALID_CONTROL_FIELD]    = "VM entry with invalid control field(s)",
	[VMXERR_ENTRY_INVALID_HOST_STATE_FIELD] = "VM entry with invalid host-state field(s)",
	[VMXERR_VMPTRLD_INVALID_ADDR]           = "VMPTRLD with invalid physical address",
	[VMXERR_VMPTRLD_VMXON_PTR]              = "VMPTRLD with VMXON pointer",
	[VMXERR_VMPTRLD_INCORRECT_REVISION]     = "VMPTRLD with incorrect VMCS revision identifier",
	[VMXERR_UNSUPPORTED_VMCS_COMPONENT]     = "VMREAD/VMWRITE from/to unsupported VMCS component",
	[VMXERR_VMWRITE_READ_ONLY_COMPONENT]    = "VMWRITE to read-only VMCS component",
	[VMXERR_VMXON_IN_ROOT]                  = "VMXON executed in VMX root operation",
	[VMXERR_ENTRY_INVALID_EXECUTIVE_VMCS]   = "VM entry with invalid executive-VMCS pointer",
	[VMXERR_ENTRY_NONLAUNCHED_EXECUTIVE_VMCS] = "VM entry with non-launched executive VMCS",
	[VMXERR_ENTRY_EXECUTIVE_VMCS_NOT_VMXON] = "VM entry with executive-VMCS pointer not VMXON pointer",
	[VMXERR_VMCALL_NONCLEAR_VMCS]           = "VMCALL with non-clear VMCS",
	[VMXERR_VMCALL_INVALID_EXIT_CONTROLS]   = "VMCALL with invalid VM-exit control fields",
	[VMXERR_VMCALL_INCORRECT_MSEG_REVISION] = "VMCALL with incorrect MSEG revision identifier",
	[VMXERR_VMXOFF_UNDER_DUAL_MONITOR]      = "VMXOFF under dual-monitor treatment of SMIs and SMM",
	[VMXERR_VMCALL_INVALID_SMM_FEATURES]    = "VMCALL with invalid SMM-monitor features",
	[VMXERR_ENTRY_INVALID_EXEC_CONTROLS_EXECUTIVE] = "VM entry with invalid VM-execution control fields in executive VMCS",
	[VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS] = "VM entry with events blocked by MOV SS",
	[VMXERR_INVALID_OPERAND_INVEPT_INVVPID] = "invalid operand to INVEPT/INVVPID",
};

const char *vmx_instruction_error_name(uint32_t err)
{
	if (err < ARRAY_SIZE(vm_instruction_errors) && vm_instruction_errors[err])
		return vm_instruction_errors[err];
	return "unknown VM-instruction error";
}

/* Exit qualification of a failed VM entry, SDM 27.8 (basic reasons 33 and 34). */
const char *vmx_entry_failure_qual_name(uint32_t basic_reason, uint64_t qual)
{
	if (basic_reason == EXIT_REASON_MSR_LOAD_FAIL)
		return "index (from 1) of the VM-entry MSR-load entry that failed";
	if (basic_reason != EXIT_REASON_INVALID_GUEST_STATE)
		return "";
	switch (qual) {
	case 0: return "a guest-state check failed (SDM 26.3.1)";
	case 2: return "loading the PDPTEs failed (SDM 26.3.1.6)";
	case 3: return "NMI injection while NMIs are blocked";
	case 4: return "invalid VMCS link pointer";
	default: return "reserved qualification";
	}
}
