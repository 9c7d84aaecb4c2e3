/* Task switches L1 attempts (VM exit 9): the SDM 7.3 emulation on a plain copy of the guest state (pure; memory through callbacks). */
#ifndef HV_VMX_TASK_SWITCH_H
#define HV_VMX_TASK_SWITCH_H

#include "hv/types.h"
#include "hv/vmx/guest_walk.h"
#include "hv/vmx/l1_mem.h"

/* Exit qualification bits 31:30 (SDM 28.2.1, Table 28-2). */
enum ts_source { TS_FROM_CALL = 0, TS_FROM_IRET = 1, TS_FROM_JMP = 2, TS_FROM_IDT = 3 };

/* The segment registers in VMCS field order (SDM B.1.2), so index i is GUEST_ES_SELECTOR + 2*i. */
enum ts_sreg { TS_ES, TS_CS, TS_SS, TS_DS, TS_FS, TS_GS, TS_LDTR, TS_TR, TS_NSREG };

/* Access rights in the VMCS format (SDM 25.4.1): descriptor bits 47:40 and 55:52, bit 16 "unusable". */
#define TS_AR_UNUSABLE BIT(16)

struct ts_seg {
	uint16_t sel;
	uint32_t base, limit; /* limit in bytes (scaled by G) */
	uint32_t ar;
};

/* What a task switch reads and changes (32-bit values: task switches exist outside IA-32e mode only). */
struct ts_state {
	uint32_t gpr[8]; /* EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI (SDM Table 3-1 order) */
	uint32_t eip, eflags;
	struct ts_seg seg[TS_NSREG];
	uint32_t gdtr_base, gdtr_limit;
	uint64_t cr0, cr3, cr4, efer, dr7;
	uint64_t pdpte[4];       /* out: the PDPTEs CR3 loaded in PAE mode */
	unsigned int maxphyaddr; /* for PDPTE reserved bits; 0: 52 */
};

/* The event whose delivery met a task gate (IDT-vectoring information, SDM 25.9.3). */
struct ts_event {
	bool valid;
	uint8_t vector, type; /* INTR_TYPE_* */
	bool has_error_code;
	uint32_t error_code;
};

struct ts_request {
	uint16_t selector;    /* the new TSS (exit qualification bits 15:0) */
	enum ts_source source;
	uint32_t insn_len;    /* VM-exit instruction length (SDM 25.9.4) */
	struct ts_event event;
};

/* L1 memory as the checked accessor (l1_mem.h) gives it; task switches make implicit supervisor accesses. */
struct ts_mem {
	int (*read)(const struct guest_paging *p, uint64_t lin, void *buf, size_t len, unsigned int access,
		    struct l1_fault *f);
	int (*write)(const struct guest_paging *p, uint64_t lin, const void *buf, size_t len, unsigned int access,
		     struct l1_fault *f);
	int (*read_phys)(uint64_t gpa, void *buf, size_t len);
};

enum ts_outcome {
	TS_DONE,     /* the new task runs */
	TS_FAULT,    /* deliver vector/error_code (cr2 for #PF) in the state *s now holds */
	TS_SHUTDOWN, /* a fault while delivering #DF: triple fault */
	TS_NOT_RAM,  /* a TSS, descriptor or page table outside L1 RAM: bad_gpa */
};

struct ts_result {
	enum ts_outcome outcome;
	uint8_t vector;
	bool has_error_code;
	uint32_t error_code;
	uint64_t cr2, bad_gpa;
	bool committed;   /* *s is the new task's (possibly with a fault to deliver in it) */
	bool cr3_loaded;  /* CR3 changed; pdpte[] valid when pae */
	bool pae;
	bool debug_trap;  /* the new TSS's T flag: #DB with DR6.BT before its first instruction (SDM 7.2.1) */
};

/*
 * Performs the task switch of SDM 7.3 after the checks the CPU makes before
 * the exit (SDM 26.4.2: gate, TSS descriptor type, P and limit): old TSS
 * limit, the TSS and descriptor accesses, busy flags, back link, NT, the
 * old state saved, then (the commit point) TR, CR0.TS, DR7, the new state,
 * CR3, LDTR and the segment loads with their checks, and the error code of
 * an exception delivered through a task gate. *s is the state at the exit
 * and becomes the state to resume L1 in.
 */
void task_switch(struct ts_state *s, const struct ts_request *req, const struct ts_mem *mem, struct ts_result *res);

#endif
