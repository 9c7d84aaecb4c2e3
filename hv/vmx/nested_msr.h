/* L1's MSR lists for L2's entries and exits (nested_msr.c). */
#ifndef HV_VMX_NESTED_MSR_H
#define HV_VMX_NESTED_MSR_H

#include "hv/types.h"

struct vcpu;

/* 0 if every entry may be loaded, else the 1-based index of the first that fails (exit 34's qualification). */
uint32_t nested_check_entry_msr_list(uint64_t area, uint32_t count);
void nested_load_entry_msr_list(uint64_t area, uint32_t count);
void nested_store_exit_msr_list(struct vcpu *v, uint64_t area, uint32_t count, uint64_t l1_tsc_offset);
void nested_load_exit_msr_list(struct vcpu *v, uint64_t area, uint32_t count);

#endif
