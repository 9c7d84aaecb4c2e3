/* The shadow EPT (EPT02) L2 runs on: L1's EPT (EPT12) composed with the hypervisor's (EPT01), built lazily on EPT violations (pure). */
#ifndef HV_NESTED_SHADOW_EPT_H
#define HV_NESTED_SHADOW_EPT_H

/*
 * L1 translates L2's guest-physical addresses (gpa2) to its own (gpa1) with
 * EPT12 (vmcs12's EPT pointer, tables in L1 memory); the hypervisor
 * translates gpa1 to host-physical (hpa) with EPT01. L2 runs on vmcs02 with
 * EPT02: hypervisor-owned tables mapping gpa2 straight to hpa. They start
 * empty and are filled one 4 KiB leaf per EPT violation of vmcs02, with
 * rights EPT12 AND EPT01 (minus write while EPT12's dirty flag is clear)
 * and EPT12's memory type. A translation L1 does not allow goes to L1 as
 * its EPT violation/misconfiguration; one EPT01 does not allow is the
 * hypervisor's. Nothing here touches hardware or L1 memory directly: EPT12
 * through ops->mem (the checked accessor), EPT01 through ops->ept01, table
 * pages through ops->alloc_table/free_table/table (a bounded pool).
 *
 * The caller (hv/vmx, one struct shadow_ept per vCPU; L1's INVEPT acts on
 * the executing processor only, SDM Vol. 3C 29.4.3 and "INVEPT", so per-vCPU
 * caches are exact):
 *
 *   Every VM entry to L2 with vmcs12's "enable EPT":
 *     pml4 = shadow_ept_root(se, vmcs12->ept_pointer, &invept)
 *       vmcs02 EPTP = ept_make_eptp(pml4, EPT_MT_WB) | (ept_pointer & EPTP_AD_ENABLE):
 *       EPTP02[6] must equal EPTP12[6] so the hardware treats L2's own page
 *       walks as writes (SDM 29.3.5) exactly when L1 expects it, and the
 *       dirty-flag faults below reach us. invept: a root was reused, execute
 *       INVEPT (all-context) before entering. 0: the pool cannot hold one
 *       root page; stop L1 with a message.
 *
 *   Exit of L2 "EPT violation" (48) on vmcs02, with q = its exit qualification:
 *     r = shadow_ept_fault(se, &(struct shadow_ept_fault){ ept_pointer, GPA,
 *             q & 7, (q & BIT(7)) && !(q & BIT(8)), PML state or NULL })
 *     if r.invept: INVEPT all-context (the pool was flushed) before the next entry.
 *     if r.pml_log: write r.pml_entry.value (8 bytes) at r.pml_entry.where in
 *       L1 memory, vmcs12's guest PML index = r.pml_entry.new_index.
 *     INSTALLED         re-enter L2; the access is retried.
 *     L1_VIOLATION      exit to L1, reason 48: qualification r.qual | q's
 *                       bits 7-8 (and 9-11 if offered) | bit 12 (NMI unblocking),
 *                       guest-physical address GPA, guest-linear from vmcs02.
 *     L1_MISCONFIG      exit to L1, reason 49, guest-physical address GPA.
 *     L1_PML_FULL       exit to L1, reason 62 (qualification: bit 12 only).
 *     L1_TABLE_NOT_RAM  EPT12 has a table at r.gpa1 outside L1 memory: the
 *                       caller's policy (a clear stop message for L1).
 *     L0_FAULT          EPT12 allows the access, but r.gpa1 is not L1's
 *                       memory or EPT01 does not allow r.access: the
 *                       hypervisor handles it as an EPT01 violation of L1
 *                       at r.gpa1 (emulated device, xAPIC trap, ...).
 *     RETRY, NO_MEMORY_FLUSHED   nothing mapped; re-enter L2, which faults
 *                       again (NO_MEMORY repeating: the pool is too small).
 *   Exit of L2 "EPT misconfiguration" (49) on vmcs02: never caused by these
 *   tables (no entry is ever misconfigured): a hypervisor bug.
 *
 *   L1's INVEPT: single-context -> shadow_ept_invept_single(se, desc.eptp),
 *   all-context -> shadow_ept_invept_all(se); EPT01 changed for L1 (its
 *   rights or frames, e.g. the xAPIC trap's read-only page) ->
 *   shadow_ept_drop_all(se) on every vCPU. After each: INVEPT all-context
 *   before this vCPU's next entry. VMXOFF / vCPU teardown -> shadow_ept_release.
 *
 * Changes L1 makes to EPT12 without INVEPT may stay unseen (the SDM lets
 * the processor cache them, 29.4), but every leaf maps only a frame
 * ops->ept01 returned for an L1 address with rights it allowed, so no
 * stale entry reaches memory that is not L1's while drop_all follows
 * every EPT01 change.
 */

#include "hv/types.h"
#include "hv/nested/ept12_walk.h"
#include "hv/nested/ept_pml.h"

/* Roots (EPT12 pointers) cached per vCPU; the least recently used is reused. */
#define SHADOW_EPT_ROOTS 4

/* What EPT01 gives L1 at one 4 KiB page. */
struct shadow_ept_l1_page {
	bool mapped;          /* false: not L1's (hypervisor memory, a hole, emulated): never mapped for L2 */
	uint64_t hpa;         /* the host frame */
	unsigned int rwx;     /* EPT_READ/WRITE/EXEC the hypervisor allows L1 there */
	unsigned int memtype; /* EPT01's memory type: UC (device memory) stays UC for L2 */
};

struct shadow_ept_ops {
	struct ept12_mem mem;                                             /* L1 memory, for EPT12 */
	void (*ept01)(void *ctx, uint64_t gpa1, struct shadow_ept_l1_page *out); /* gpa1 4 KiB aligned */
	uint64_t (*alloc_table)(void *ctx);            /* a zeroed 4 KiB page, host-physical; 0: pool at its limit */
	void (*free_table)(void *ctx, uint64_t hpa);
	uint64_t *(*table)(void *ctx, uint64_t hpa);   /* the hypervisor's pointer to a page from alloc_table */
	void *ctx;                                     /* for ept01 and the pool */
};

struct shadow_ept_root {
	bool valid;
	uint64_t eptp12;      /* the key: vmcs12's EPT pointer, all bits (A/D changes the tables) */
	uint64_t pml4;        /* host-physical, from alloc_table */
	uint64_t last_use;
};

struct shadow_ept_stats {
	uint64_t faults, installs, pool_flushes, evictions, invepts, drops;
	unsigned int pages;   /* table pages held now (roots included) */
};

struct shadow_ept {
	struct ept12_caps caps;   /* offered to L1; exec_only only where the hardware has it for EPT02 */
	const struct shadow_ept_ops *ops;
	struct shadow_ept_root root[SHADOW_EPT_ROOTS];
	uint64_t clock;
	struct shadow_ept_stats stats;
};

struct shadow_ept_fault {
	uint64_t eptp12;       /* vmcs12's EPT pointer */
	uint64_t gpa2;         /* vmcs02's guest-physical address of the violation */
	unsigned int access;   /* EPT12_ACCESS_*: bits 2:0 of vmcs02's exit qualification */
	bool paging_structure; /* bit 7 set and bit 8 clear in that qualification: L2's own page walk */
	const struct ept_pml *pml; /* vmcs12's PML state, NULL when not enabled */
};

enum shadow_ept_status {
	SHADOW_EPT_INSTALLED,
	SHADOW_EPT_L1_VIOLATION,
	SHADOW_EPT_L1_MISCONFIG,
	SHADOW_EPT_L1_PML_FULL,
	SHADOW_EPT_L1_TABLE_NOT_RAM,
	SHADOW_EPT_L0_FAULT,
	SHADOW_EPT_RETRY,
	SHADOW_EPT_NO_MEMORY_FLUSHED,
};

struct shadow_ept_result {
	enum shadow_ept_status status;
	uint32_t qual;         /* L1_VIOLATION: exit-qualification bits 5:0 */
	uint64_t gpa1;         /* L0_FAULT: L1's address of the access; L1_TABLE_NOT_RAM: the entry's */
	unsigned int access;   /* L0_FAULT: the access as EPT saw it (EPT12_ACCESS_*) */
	bool pml_log;          /* whatever the status: a dirty flag was set, log pml_entry */
	struct ept_pml_entry pml_entry;
	bool invept;           /* tables were freed: INVEPT all-context before the next entry */
};

void shadow_ept_init(struct shadow_ept *se, const struct ept12_caps *caps, const struct shadow_ept_ops *ops);

/* The PML4 of eptp12's shadow (found, or made in a free or the least recently used slot); 0: no page at all. */
uint64_t shadow_ept_root(struct shadow_ept *se, uint64_t eptp12, bool *invept);

/* One EPT violation of vmcs02: walk EPT12, set its A/D flags, compose with EPT01, install a 4 KiB leaf. */
struct shadow_ept_result shadow_ept_fault(struct shadow_ept *se, const struct shadow_ept_fault *f);

/* L1's INVEPT (SDM "INVEPT"): single-context empties the roots with that EPT12 (bits 51:12, the EP4TA); all-context every root. */
void shadow_ept_invept_single(struct shadow_ept *se, uint64_t eptp12);
void shadow_ept_invept_all(struct shadow_ept *se);

/* EPT01 changed: every root emptied (as all-context, counted apart). */
void shadow_ept_drop_all(struct shadow_ept *se);

/* Every page back to the pool (VMXOFF, vCPU teardown). */
void shadow_ept_release(struct shadow_ept *se);

/* The shadow leaf for a walk that EPT12 allowed and an L1 page EPT01 maps (pure; exposed for tests and the fuzzer). */
uint64_t shadow_ept_leaf(const struct ept12_walk *w, const struct shadow_ept_l1_page *p);

#endif
