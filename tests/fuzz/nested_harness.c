/* A fake vmcs02 and L2 for the nested event core's host tests: vmcs02 is a struct vmcs12, the hardware a few lines. */
#include "tests/fuzz/nested_harness.h"
#include "hv/string.h"
#include "hv/x86.h"

static uint64_t fake_read(void *ctx, uint32_t field)
{
	struct fake_l2 *f = ctx;

	return vmcs12_read(&f->vmcs02, field);
}

static void fake_write(void *ctx, uint32_t field, uint64_t val)
{
	struct fake_l2 *f = ctx;

	/* Counts events set up for the coming entry; writing an invalid one withdraws them. */
	if (field == VM_ENTRY_INTR_INFO_FIELD)
		f->injections = (val & INTR_INFO_VALID) ? f->injections + 1 : 0;
	vmcs12_write(&f->vmcs02, field, val);
}

static uint64_t fake_read_dr6(void *ctx)
{
	return ((struct fake_l2 *)ctx)->dr6;
}

static void fake_write_dr6(void *ctx, uint64_t dr6)
{
	((struct fake_l2 *)ctx)->dr6 = dr6;
}

static void fake_write_cr2(void *ctx, uint64_t cr2)
{
	((struct fake_l2 *)ctx)->cr2 = cr2;
}

static uint64_t fake_read_cr2(void *ctx)
{
	return ((struct fake_l2 *)ctx)->cr2;
}

void fake_l2_init(struct fake_l2 *f)
{
	memset(f, 0, sizeof(*f));
	f->dr6 = DR6_FIXED_1 | DR6_RTM;
	f->vmcs02.guest_rflags = X86_RFLAGS_FIXED | X86_RFLAGS_IF;
	f->nv.vmcs12 = &f->l1_vmcs12;
	f->nv.vmcs12_features = VMCS12_F_ALL;
	f->nv.vmx_misc = VMX_MISC_ZERO_LEN_INJECTION;
	f->nv.l2 = (struct nested_l2_ops){
		.vmcs02_read = fake_read, .vmcs02_write = fake_write,
		.read_dr6 = fake_read_dr6, .write_dr6 = fake_write_dr6,
		.write_cr2 = fake_write_cr2, .read_cr2 = fake_read_cr2, .ctx = f,
	};
}

void fake_l2_running(struct fake_l2 *f)
{
	f->nv.ev.guest_mode = true;
}

/* SDM 27.2: a VM-exit clears the valid bit of the VM-entry interruption information. */
void fake_l2_run(struct fake_l2 *f, bool cut_short)
{
	uint32_t info = f->vmcs02.vm_entry_intr_info_field;

	if (f->injections > f->max_injections)
		f->max_injections = f->injections;
	f->injections = 0;
	f->vmcs02.idt_vectoring_info_field = 0;
	if (cut_short && (info & INTR_INFO_VALID)) {
		f->vmcs02.idt_vectoring_info_field = info & ~(uint32_t)INTR_INFO_NMI_UNBLOCK_IRET;
		f->vmcs02.idt_vectoring_error_code = f->vmcs02.vm_entry_exception_error_code;
		f->vmcs02.vm_exit_instruction_len = f->vmcs02.vm_entry_instruction_len;
	}
	f->vmcs02.vm_entry_intr_info_field = info & ~(uint32_t)INTR_INFO_VALID;
	nested_l2_exited(&f->nv);
}

/* A fault of the instruction at RIP, raised before it had any effect (restartable, see events.h). */
struct nested_exception fake_exception(uint8_t vector, uint32_t error_code, uint64_t payload,
				       bool has_payload)
{
	return (struct nested_exception){
		.ev = { .valid = true, .type = INTR_TYPE_HW_EXCEPTION, .vector = vector,
			.has_error_code = nested_exception_has_error_code(vector),
			.error_code = error_code },
		.has_payload = has_payload,
		.payload = payload,
		.restartable = true,
	};
}

struct nested_exception fake_db(uint64_t dr6_bits)
{
	return fake_exception(DB_VECTOR, 0, dr6_bits, true);
}
