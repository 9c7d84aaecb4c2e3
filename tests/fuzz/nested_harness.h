/* A fake vmcs02 and L2 (a second vmcs12 as backing store) for the nested event core's unit tests and fuzzer. */
#ifndef TESTS_FUZZ_NESTED_HARNESS_H
#define TESTS_FUZZ_NESTED_HARNESS_H

#include "hv/nested/events.h"

struct fake_l2 {
	struct vmcs12 vmcs02;      /* what the hardware would hold */
	uint64_t dr6;
	uint64_t cr2;
	unsigned injections;       /* events written to VM_ENTRY_INTR_INFO for the coming entry */
	unsigned max_injections;   /* largest count seen at an entry */
	struct vmcs12 l1_vmcs12;   /* storage for nv->vmcs12 */
	struct nested_vcpu nv;
};

void fake_l2_init(struct fake_l2 *f);
/* Puts L2 into guest mode directly, as after an earlier completed VM-entry. */
void fake_l2_running(struct fake_l2 *f);
/* The hardware: run vmcs02 and exit; if cut_short, the injected event's delivery is interrupted. */
void fake_l2_run(struct fake_l2 *f, bool cut_short);

struct nested_exception fake_exception(uint8_t vector, uint32_t error_code, uint64_t payload,
				       bool has_payload);
struct nested_exception fake_db(uint64_t dr6_bits);

#endif
