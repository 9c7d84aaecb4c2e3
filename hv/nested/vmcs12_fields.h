/* The one list of vmcs12 fields (SDM Appendix B): C type, encoding, member name, feature that makes it exist. */
#ifndef HV_NESTED_VMCS12_FIELDS_H
#define HV_NESTED_VMCS12_FIELDS_H

/*
 * X(ctype, ENCODING, member, feature). Everything else about a field (width,
 * read-only, guest/host/control) is derived from its encoding (SDM 24.11.2),
 * so this list is the only place a field is described. Feature 0 means the
 * field exists on every VMX implementation.
 */
#define VMCS12_FIELD_LIST(X) \
	/* 16-bit control (B.1.1) */ \
	X(uint16_t, VIRTUAL_PROCESSOR_ID, virtual_processor_id, VMCS12_F_VPID) \
	X(uint16_t, POSTED_INTR_NOTIFICATION_VECTOR, posted_intr_nv, VMCS12_F_POSTED_INTR) \
	X(uint16_t, EPTP_INDEX, eptp_index, VMCS12_F_EPT_VE) \
	/* 16-bit guest state (B.1.2) */ \
	X(uint16_t, GUEST_ES_SELECTOR, guest_es_selector, 0) \
	X(uint16_t, GUEST_CS_SELECTOR, guest_cs_selector, 0) \
	X(uint16_t, GUEST_SS_SELECTOR, guest_ss_selector, 0) \
	X(uint16_t, GUEST_DS_SELECTOR, guest_ds_selector, 0) \
	X(uint16_t, GUEST_FS_SELECTOR, guest_fs_selector, 0) \
	X(uint16_t, GUEST_GS_SELECTOR, guest_gs_selector, 0) \
	X(uint16_t, GUEST_LDTR_SELECTOR, guest_ldtr_selector, 0) \
	X(uint16_t, GUEST_TR_SELECTOR, guest_tr_selector, 0) \
	X(uint16_t, GUEST_INTR_STATUS, guest_intr_status, VMCS12_F_VIRT_INTR_DELIVERY) \
	X(uint16_t, GUEST_PML_INDEX, guest_pml_index, VMCS12_F_PML) \
	/* 16-bit host state (B.1.3) */ \
	X(uint16_t, HOST_ES_SELECTOR, host_es_selector, 0) \
	X(uint16_t, HOST_CS_SELECTOR, host_cs_selector, 0) \
	X(uint16_t, HOST_SS_SELECTOR, host_ss_selector, 0) \
	X(uint16_t, HOST_DS_SELECTOR, host_ds_selector, 0) \
	X(uint16_t, HOST_FS_SELECTOR, host_fs_selector, 0) \
	X(uint16_t, HOST_GS_SELECTOR, host_gs_selector, 0) \
	X(uint16_t, HOST_TR_SELECTOR, host_tr_selector, 0) \
	/* 64-bit control (B.2.1) */ \
	X(uint64_t, IO_BITMAP_A, io_bitmap_a, 0) \
	X(uint64_t, IO_BITMAP_B, io_bitmap_b, 0) \
	X(uint64_t, MSR_BITMAP, msr_bitmap, 0) \
	X(uint64_t, VM_EXIT_MSR_STORE_ADDR, vm_exit_msr_store_addr, 0) \
	X(uint64_t, VM_EXIT_MSR_LOAD_ADDR, vm_exit_msr_load_addr, 0) \
	X(uint64_t, VM_ENTRY_MSR_LOAD_ADDR, vm_entry_msr_load_addr, 0) \
	X(uint64_t, EXECUTIVE_VMCS_POINTER, executive_vmcs_pointer, 0) \
	X(uint64_t, PML_ADDRESS, pml_address, VMCS12_F_PML) \
	X(uint64_t, TSC_OFFSET, tsc_offset, 0) \
	X(uint64_t, VIRTUAL_APIC_PAGE_ADDR, virtual_apic_page_addr, VMCS12_F_TPR_SHADOW) \
	X(uint64_t, APIC_ACCESS_ADDR, apic_access_addr, VMCS12_F_APIC_ACCESS) \
	X(uint64_t, POSTED_INTR_DESC_ADDR, posted_intr_desc_addr, VMCS12_F_POSTED_INTR) \
	X(uint64_t, VM_FUNCTION_CONTROL, vm_function_control, VMCS12_F_VMFUNC) \
	X(uint64_t, EPT_POINTER, ept_pointer, VMCS12_F_EPT) \
	X(uint64_t, EOI_EXIT_BITMAP0, eoi_exit_bitmap0, VMCS12_F_VIRT_INTR_DELIVERY) \
	X(uint64_t, EOI_EXIT_BITMAP1, eoi_exit_bitmap1, VMCS12_F_VIRT_INTR_DELIVERY) \
	X(uint64_t, EOI_EXIT_BITMAP2, eoi_exit_bitmap2, VMCS12_F_VIRT_INTR_DELIVERY) \
	X(uint64_t, EOI_EXIT_BITMAP3, eoi_exit_bitmap3, VMCS12_F_VIRT_INTR_DELIVERY) \
	X(uint64_t, EPTP_LIST_ADDRESS, eptp_list_address, VMCS12_F_VMFUNC) \
	X(uint64_t, VMREAD_BITMAP, vmread_bitmap, VMCS12_F_VMCS_SHADOWING) \
	X(uint64_t, VMWRITE_BITMAP, vmwrite_bitmap, VMCS12_F_VMCS_SHADOWING) \
	X(uint64_t, VE_INFORMATION_ADDRESS, ve_information_address, VMCS12_F_EPT_VE) \
	X(uint64_t, XSS_EXIT_BITMAP, xss_exit_bitmap, VMCS12_F_XSAVES) \
	X(uint64_t, ENCLS_EXITING_BITMAP, encls_exiting_bitmap, VMCS12_F_ENCLS) \
	X(uint64_t, TSC_MULTIPLIER, tsc_multiplier, VMCS12_F_TSC_SCALING) \
	/* 64-bit read-only data (B.2.2) */ \
	X(uint64_t, GUEST_PHYSICAL_ADDRESS, guest_physical_address, VMCS12_F_EPT) \
	/* 64-bit guest state (B.2.3) */ \
	X(uint64_t, VMCS_LINK_POINTER, vmcs_link_pointer, 0) \
	X(uint64_t, GUEST_IA32_DEBUGCTL, guest_ia32_debugctl, 0) \
	X(uint64_t, GUEST_IA32_PAT, guest_ia32_pat, VMCS12_F_PAT) \
	X(uint64_t, GUEST_IA32_EFER, guest_ia32_efer, VMCS12_F_EFER) \
	X(uint64_t, GUEST_IA32_PERF_GLOBAL_CTRL, guest_ia32_perf_global_ctrl, VMCS12_F_PERF_GLOBAL) \
	X(uint64_t, GUEST_PDPTE0, guest_pdpte0, VMCS12_F_EPT) \
	X(uint64_t, GUEST_PDPTE1, guest_pdpte1, VMCS12_F_EPT) \
	X(uint64_t, GUEST_PDPTE2, guest_pdpte2, VMCS12_F_EPT) \
	X(uint64_t, GUEST_PDPTE3, guest_pdpte3, VMCS12_F_EPT) \
	X(uint64_t, GUEST_IA32_BNDCFGS, guest_ia32_bndcfgs, VMCS12_F_BNDCFGS) \
	/* 64-bit host state (B.2.4) */ \
	X(uint64_t, HOST_IA32_PAT, host_ia32_pat, VMCS12_F_PAT) \
	X(uint64_t, HOST_IA32_EFER, host_ia32_efer, VMCS12_F_EFER) \
	X(uint64_t, HOST_IA32_PERF_GLOBAL_CTRL, host_ia32_perf_global_ctrl, VMCS12_F_PERF_GLOBAL) \
	/* 32-bit control (B.3.1) */ \
	X(uint32_t, PIN_BASED_VM_EXEC_CONTROL, pin_based_vm_exec_control, 0) \
	X(uint32_t, CPU_BASED_VM_EXEC_CONTROL, cpu_based_vm_exec_control, 0) \
	X(uint32_t, EXCEPTION_BITMAP, exception_bitmap, 0) \
	X(uint32_t, PAGE_FAULT_ERROR_CODE_MASK, page_fault_error_code_mask, 0) \
	X(uint32_t, PAGE_FAULT_ERROR_CODE_MATCH, page_fault_error_code_match, 0) \
	X(uint32_t, CR3_TARGET_COUNT, cr3_target_count, 0) \
	X(uint32_t, VM_EXIT_CONTROLS, vm_exit_controls, 0) \
	X(uint32_t, VM_EXIT_MSR_STORE_COUNT, vm_exit_msr_store_count, 0) \
	X(uint32_t, VM_EXIT_MSR_LOAD_COUNT, vm_exit_msr_load_count, 0) \
	X(uint32_t, VM_ENTRY_CONTROLS, vm_entry_controls, 0) \
	X(uint32_t, VM_ENTRY_MSR_LOAD_COUNT, vm_entry_msr_load_count, 0) \
	X(uint32_t, VM_ENTRY_INTR_INFO_FIELD, vm_entry_intr_info_field, 0) \
	X(uint32_t, VM_ENTRY_EXCEPTION_ERROR_CODE, vm_entry_exception_error_code, 0) \
	X(uint32_t, VM_ENTRY_INSTRUCTION_LEN, vm_entry_instruction_len, 0) \
	X(uint32_t, TPR_THRESHOLD, tpr_threshold, VMCS12_F_TPR_SHADOW) \
	X(uint32_t, SECONDARY_VM_EXEC_CONTROL, secondary_vm_exec_control, VMCS12_F_SECONDARY) \
	X(uint32_t, PLE_GAP, ple_gap, VMCS12_F_PLE) \
	X(uint32_t, PLE_WINDOW, ple_window, VMCS12_F_PLE) \
	/* 32-bit read-only data (B.3.2) */ \
	X(uint32_t, VM_INSTRUCTION_ERROR, vm_instruction_error, 0) \
	X(uint32_t, VM_EXIT_REASON, vm_exit_reason, 0) \
	X(uint32_t, VM_EXIT_INTR_INFO, vm_exit_intr_info, 0) \
	X(uint32_t, VM_EXIT_INTR_ERROR_CODE, vm_exit_intr_error_code, 0) \
	X(uint32_t, IDT_VECTORING_INFO_FIELD, idt_vectoring_info_field, 0) \
	X(uint32_t, IDT_VECTORING_ERROR_CODE, idt_vectoring_error_code, 0) \
	X(uint32_t, VM_EXIT_INSTRUCTION_LEN, vm_exit_instruction_len, 0) \
	X(uint32_t, VMX_INSTRUCTION_INFO, vmx_instruction_info, 0) \
	/* 32-bit guest state (B.3.3) */ \
	X(uint32_t, GUEST_ES_LIMIT, guest_es_limit, 0) \
	X(uint32_t, GUEST_CS_LIMIT, guest_cs_limit, 0) \
	X(uint32_t, GUEST_SS_LIMIT, guest_ss_limit, 0) \
	X(uint32_t, GUEST_DS_LIMIT, guest_ds_limit, 0) \
	X(uint32_t, GUEST_FS_LIMIT, guest_fs_limit, 0) \
	X(uint32_t, GUEST_GS_LIMIT, guest_gs_limit, 0) \
	X(uint32_t, GUEST_LDTR_LIMIT, guest_ldtr_limit, 0) \
	X(uint32_t, GUEST_TR_LIMIT, guest_tr_limit, 0) \
	X(uint32_t, GUEST_GDTR_LIMIT, guest_gdtr_limit, 0) \
	X(uint32_t, GUEST_IDTR_LIMIT, guest_idtr_limit, 0) \
	X(uint32_t, GUEST_ES_AR_BYTES, guest_es_ar_bytes, 0) \
	X(uint32_t, GUEST_CS_AR_BYTES, guest_cs_ar_bytes, 0) \
	X(uint32_t, GUEST_SS_AR_BYTES, guest_ss_ar_bytes, 0) \
	X(uint32_t, GUEST_DS_AR_BYTES, guest_ds_ar_bytes, 0) \
	X(uint32_t, GUEST_FS_AR_BYTES, guest_fs_ar_bytes, 0) \
	X(uint32_t, GUEST_GS_AR_BYTES, guest_gs_ar_bytes, 0) \
	X(uint32_t, GUEST_LDTR_AR_BYTES, guest_ldtr_ar_bytes, 0) \
	X(uint32_t, GUEST_TR_AR_BYTES, guest_tr_ar_bytes, 0) \
	X(uint32_t, GUEST_INTERRUPTIBILITY_INFO, guest_interruptibility_info, 0) \
	X(uint32_t, GUEST_ACTIVITY_STATE, guest_activity_state, 0) \
	X(uint32_t, GUEST_SMBASE, guest_smbase, 0) \
	X(uint32_t, GUEST_SYSENTER_CS, guest_sysenter_cs, 0) \
	X(uint32_t, VMX_PREEMPTION_TIMER_VALUE, vmx_preemption_timer_value, VMCS12_F_PREEMPTION_TIMER) \
	/* 32-bit host state (B.3.4) */ \
	X(uint32_t, HOST_IA32_SYSENTER_CS, host_ia32_sysenter_cs, 0) \
	/* natural-width control (B.4.1) */ \
	X(uint64_t, CR0_GUEST_HOST_MASK, cr0_guest_host_mask, 0) \
	X(uint64_t, CR4_GUEST_HOST_MASK, cr4_guest_host_mask, 0) \
	X(uint64_t, CR0_READ_SHADOW, cr0_read_shadow, 0) \
	X(uint64_t, CR4_READ_SHADOW, cr4_read_shadow, 0) \
	X(uint64_t, CR3_TARGET_VALUE0, cr3_target_value0, 0) \
	X(uint64_t, CR3_TARGET_VALUE1, cr3_target_value1, 0) \
	X(uint64_t, CR3_TARGET_VALUE2, cr3_target_value2, 0) \
	X(uint64_t, CR3_TARGET_VALUE3, cr3_target_value3, 0) \
	/* natural-width read-only data (B.4.2) */ \
	X(uint64_t, EXIT_QUALIFICATION, exit_qualification, 0) \
	X(uint64_t, EXIT_IO_RCX, exit_io_rcx, 0) \
	X(uint64_t, EXIT_IO_RSI, exit_io_rsi, 0) \
	X(uint64_t, EXIT_IO_RDI, exit_io_rdi, 0) \
	X(uint64_t, EXIT_IO_RIP, exit_io_rip, 0) \
	X(uint64_t, GUEST_LINEAR_ADDRESS, guest_linear_address, 0) \
	/* natural-width guest state (B.4.3) */ \
	X(uint64_t, GUEST_CR0, guest_cr0, 0) \
	X(uint64_t, GUEST_CR3, guest_cr3, 0) \
	X(uint64_t, GUEST_CR4, guest_cr4, 0) \
	X(uint64_t, GUEST_ES_BASE, guest_es_base, 0) \
	X(uint64_t, GUEST_CS_BASE, guest_cs_base, 0) \
	X(uint64_t, GUEST_SS_BASE, guest_ss_base, 0) \
	X(uint64_t, GUEST_DS_BASE, guest_ds_base, 0) \
	X(uint64_t, GUEST_FS_BASE, guest_fs_base, 0) \
	X(uint64_t, GUEST_GS_BASE, guest_gs_base, 0) \
	X(uint64_t, GUEST_LDTR_BASE, guest_ldtr_base, 0) \
	X(uint64_t, GUEST_TR_BASE, guest_tr_base, 0) \
	X(uint64_t, GUEST_GDTR_BASE, guest_gdtr_base, 0) \
	X(uint64_t, GUEST_IDTR_BASE, guest_idtr_base, 0) \
	X(uint64_t, GUEST_DR7, guest_dr7, 0) \
	X(uint64_t, GUEST_RSP, guest_rsp, 0) \
	X(uint64_t, GUEST_RIP, guest_rip, 0) \
	X(uint64_t, GUEST_RFLAGS, guest_rflags, 0) \
	X(uint64_t, GUEST_PENDING_DBG_EXCEPTIONS, guest_pending_dbg_exceptions, 0) \
	X(uint64_t, GUEST_SYSENTER_ESP, guest_sysenter_esp, 0) \
	X(uint64_t, GUEST_SYSENTER_EIP, guest_sysenter_eip, 0) \
	/* natural-width host state (B.4.4) */ \
	X(uint64_t, HOST_CR0, host_cr0, 0) \
	X(uint64_t, HOST_CR3, host_cr3, 0) \
	X(uint64_t, HOST_CR4, host_cr4, 0) \
	X(uint64_t, HOST_FS_BASE, host_fs_base, 0) \
	X(uint64_t, HOST_GS_BASE, host_gs_base, 0) \
	X(uint64_t, HOST_TR_BASE, host_tr_base, 0) \
	X(uint64_t, HOST_GDTR_BASE, host_gdtr_base, 0) \
	X(uint64_t, HOST_IDTR_BASE, host_idtr_base, 0) \
	X(uint64_t, HOST_IA32_SYSENTER_ESP, host_ia32_sysenter_esp, 0) \
	X(uint64_t, HOST_IA32_SYSENTER_EIP, host_ia32_sysenter_eip, 0) \
	X(uint64_t, HOST_RSP, host_rsp, 0) \
	X(uint64_t, HOST_RIP, host_rip, 0)

/*
 * Two properties of a field that its encoding cannot give, as lists; the
 * table's entries take them as columns (vmcs12.c). X(arg, ENCODING).
 *
 * The round trip's fields: what an L1 hypervisor writes at nearly every L2
 * exit (L2's registers, event injection, the controls it toggles for
 * interrupt windows, its own RSP, CR3 and FS/GS as they change; KVM's
 * choice of shadow fields, with the host RSP and CR3 that KVM and small
 * hypervisors rewrite before an entry). With VMCS shadowing L1 writes them without exits, and
 * every entry copies them from the shadow VMCS into vmcs12, so the list is
 * kept short: a field outside it costs an exit when L1 writes it.
 */
#define VMCS12_ROUND_TRIP_LIST(X, a) \
	X(a, GUEST_RIP) X(a, GUEST_RSP) X(a, GUEST_RFLAGS) X(a, GUEST_CR0) X(a, GUEST_CR3) X(a, GUEST_CR4) \
	X(a, GUEST_INTERRUPTIBILITY_INFO) X(a, GUEST_ACTIVITY_STATE) X(a, GUEST_PENDING_DBG_EXCEPTIONS) \
	X(a, VMX_PREEMPTION_TIMER_VALUE) X(a, GUEST_PDPTE0) X(a, GUEST_PDPTE1) X(a, GUEST_PDPTE2) \
	X(a, GUEST_PDPTE3) X(a, GUEST_PML_INDEX) X(a, GUEST_INTR_STATUS) \
	X(a, PIN_BASED_VM_EXEC_CONTROL) X(a, CPU_BASED_VM_EXEC_CONTROL) X(a, EXCEPTION_BITMAP) \
	X(a, VM_ENTRY_INTR_INFO_FIELD) X(a, VM_ENTRY_EXCEPTION_ERROR_CODE) X(a, VM_ENTRY_INSTRUCTION_LEN) \
	X(a, TPR_THRESHOLD) X(a, CR0_GUEST_HOST_MASK) X(a, CR4_GUEST_HOST_MASK) X(a, CR0_READ_SHADOW) \
	X(a, CR4_READ_SHADOW) X(a, TSC_OFFSET) \
	X(a, HOST_FS_SELECTOR) X(a, HOST_GS_SELECTOR) X(a, HOST_FS_BASE) X(a, HOST_GS_BASE) X(a, HOST_RSP) \
	X(a, HOST_CR3)

/*
 * L2's rare state: guest-state fields an exit saves that L1 seldom looks at
 * (segments but CS/SS access rights, descriptor tables, SYSENTER, SMBASE).
 * A synthesized exit leaves them in vmcs02, which the next entry reuses as
 * it is; they are copied into vmcs12 only when L1 reads or writes one, or
 * vmcs12 is flushed or left (nested_capture_rare). Never shadowed. No entry
 * check of entry_checks.c reads them: the hardware checks them on vmcs02.
 */
#define VMCS12_RARE_LIST(X, a) \
	X(a, GUEST_ES_SELECTOR) X(a, GUEST_CS_SELECTOR) X(a, GUEST_SS_SELECTOR) X(a, GUEST_DS_SELECTOR) \
	X(a, GUEST_FS_SELECTOR) X(a, GUEST_GS_SELECTOR) X(a, GUEST_LDTR_SELECTOR) X(a, GUEST_TR_SELECTOR) \
	X(a, GUEST_ES_LIMIT) X(a, GUEST_CS_LIMIT) X(a, GUEST_SS_LIMIT) X(a, GUEST_DS_LIMIT) X(a, GUEST_FS_LIMIT) \
	X(a, GUEST_GS_LIMIT) X(a, GUEST_LDTR_LIMIT) X(a, GUEST_TR_LIMIT) X(a, GUEST_GDTR_LIMIT) \
	X(a, GUEST_IDTR_LIMIT) X(a, GUEST_ES_AR_BYTES) X(a, GUEST_DS_AR_BYTES) X(a, GUEST_FS_AR_BYTES) \
	X(a, GUEST_GS_AR_BYTES) X(a, GUEST_LDTR_AR_BYTES) X(a, GUEST_TR_AR_BYTES) X(a, GUEST_SMBASE) \
	X(a, GUEST_SYSENTER_CS) X(a, GUEST_ES_BASE) X(a, GUEST_CS_BASE) X(a, GUEST_SS_BASE) X(a, GUEST_DS_BASE) \
	X(a, GUEST_FS_BASE) X(a, GUEST_GS_BASE) X(a, GUEST_LDTR_BASE) X(a, GUEST_TR_BASE) X(a, GUEST_GDTR_BASE) \
	X(a, GUEST_IDTR_BASE) X(a, GUEST_SYSENTER_ESP) X(a, GUEST_SYSENTER_EIP)

#endif
