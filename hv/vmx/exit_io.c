/* L1's I/O exits: the hypervisor's ports byte by byte, L1's ports passed through, INS/OUTS through the checked accessor, I/O breakpoints (kernel). */
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/io_emul.h"
#include "hv/vmx/l1_mem.h"
#include "hv/vmx/mmio_decode.h"
#include "hv/acpi.h"
#include "hv/console.h"
#include "hv/panic.h"

/*
 * A REP INS/OUTS does at most this many iterations per exit; the rest
 * resume at the instruction (RCX, RSI/RDI hold the progress), so L1's
 * interrupts come in between as they do between iterations on hardware.
 */
#define STRING_IO_ITERATIONS_PER_EXIT 64
#define VMX_BASIC_INOUT_INFO          BIT(54) /* INS/OUTS exits report instruction information */


/* The hypervisor's own devices: the POST-code latch reads back; the test-exit device is write-only. */
static uint8_t emulated_port_read(const struct vcpu *v, uint16_t port)
{
	return port == IO_POST_CODE_PORT ? v->port80 : 0xff;
}

static void emulated_port_write(struct vcpu *v, uint16_t port, uint8_t val)
{
	if (port == IO_POST_CODE_PORT) {
		v->port80 = val;
		if (unlikely((int64_t)val == vmx_debug_panic_post))
			panic("debug_panic_post=%llu: L1 wrote it to port 0x80 on this CPU",
			      (unsigned long long)vmx_debug_panic_post);
		return;
	}
	printk("hv: guest requested exit status %u\n", val);
	vmx_print_exit_counters();
	machine_exit(val);
}

static uint32_t hw_in(uint16_t port, unsigned int size)
{
	return size == 1 ? inb(port) : size == 2 ? inw(port) : inl(port);
}

static void hw_out(uint16_t port, unsigned int size, uint32_t val)
{
	if (size == 1)
		outb(port, (uint8_t)val);
	else if (size == 2)
		outw(port, (uint16_t)val);
	else
		outl(port, val);
}

/*
 * One access as L1 issued it. An access that covers a port of the
 * hypervisor is split into bytes, as the bus splits a wide access to 8-bit
 * devices: those bytes are the hypervisor's, the others go to L1's devices
 * (SDM 25.1.3 exits on any byte; every byte is checked here, io_emul.c).
 */
static uint32_t port_in(struct vcpu *v, uint16_t port, unsigned int size)
{
	unsigned int ours = io_emulated_bytes(port, size);
	uint32_t val = 0;

	if (likely(!ours))
		return hw_in(port, size);
	for (unsigned int i = 0; i < size; i++) {
		uint16_t p = (uint16_t)(port + i);

		val |= (uint32_t)((ours & (1u << i)) ? emulated_port_read(v, p) : inb(p)) << (8 * i);
	}
	return val;
}

/* SLP_EN in PM1a_CNT's second byte (ACPI 6.5, 4.8.3.2.1): L1 powers off or sleeps, and the write may end the machine. */
__attribute__((cold, noinline)) static void pm1a_write_seen(const struct vcpu *v, uint16_t port, unsigned int size,
							     uint32_t val)
{
	int high = io_write_byte_at(port, size, val, (uint16_t)(v->pm1a_cnt_port + 1));

	if (high < 0 || !(high & (ACPI_PM1_SLP_EN >> 8)))
		return;
	printk("hv: L1 entered ACPI sleep state (SLP_TYP %d) at RIP %#llx\n", (high >> 2) & 7,
	       (unsigned long long)vmcs_read(GUEST_RIP));
	vmx_print_exit_counters();
}

static inline __attribute__((always_inline)) void port_out(struct vcpu *v, uint16_t port, unsigned int size, uint32_t val)
{
	unsigned int ours;

	if (unlikely(v->pm1a_cnt_port && io_covers(port, size, (uint16_t)(v->pm1a_cnt_port + 1))))
		pm1a_write_seen(v, port, size, val);
	if (likely(size == 1 && io_emulated_bytes(port, 1))) { /* the common case: OUT to the POST-code port */
		emulated_port_write(v, port, (uint8_t)val);
		return;
	}
	ours = io_emulated_bytes(port, size);
	if (likely(!ours)) {
		hw_out(port, size, val);
		return;
	}
	for (unsigned int i = 0; i < size; i++) {
		uint16_t p = (uint16_t)(port + i);
		uint8_t b = (uint8_t)(val >> (8 * i));

		if (ours & (1u << i))
			emulated_port_write(v, p, b);
		else
			outb(p, b);
	}
}

/*
 * I/O breakpoints (SDM 17.2.4): the instruction did not run natively, so
 * its trap is owed here, B0-B3 with "enabled breakpoint" in the pending
 * debug exceptions (SDM Table 25-4), delivered after VM entry.
 */
static uint32_t io_breakpoints_hit(uint16_t port, unsigned int size)
{
	uint64_t dr7 = vmcs_read(GUEST_DR7), dr[4];

	if (likely(!(dr7 & 0xff)))
		return 0;
	__asm__ volatile("mov %%dr0, %0" : "=r"(dr[0]));
	__asm__ volatile("mov %%dr1, %0" : "=r"(dr[1]));
	__asm__ volatile("mov %%dr2, %0" : "=r"(dr[2]));
	__asm__ volatile("mov %%dr3, %0" : "=r"(dr[3]));
	return io_breakpoint_hits(vmcs_read(GUEST_CR4), dr7, dr, port, size);
}

static void io_breakpoint_trap(uint32_t hits)
{
	if (unlikely(hits))
		vmx_pending_debug_trap(hits | PENDING_DBG_BP_ENABLED);
}

/* The segment and mode one INS/OUTS element is addressed with (SDM 3.4.2, 5.3). */
static void string_io_mode(const struct io_exit *io, struct string_io *s)
{
	uint32_t idx = 2 * (uint32_t)io->seg; /* the VMCS segment fields are two encodings apart, ES first */

	*s = (struct string_io){
		.size = io->size, .addr_size = io->addr_size, .write = io->in,
		.long64 = (vmcs_read(GUEST_IA32_EFER) & X86_EFER_LMA) && (vmcs_read(GUEST_CS_AR_BYTES) & BIT(13)),
		.protected_mode = (vmcs_read(GUEST_CR0) & X86_CR0_PE) && !(vmcs_read(GUEST_RFLAGS) & X86_RFLAGS_VM),
		.seg_is_ss = io->seg == IO_SEG_SS,
		.seg = { .base = vmcs_read((enum vmcs_field)(GUEST_ES_BASE + idx)),
			 .limit = (uint32_t)vmcs_read((enum vmcs_field)(GUEST_ES_LIMIT + idx)),
			 .ar = (uint32_t)vmcs_read((enum vmcs_field)(GUEST_ES_AR_BYTES + idx)) },
	};
	if (s->long64 && io->seg != IO_SEG_FS && io->seg != IO_SEG_GS)
		s->seg.base = 0;
}

/* Without INS/OUTS instruction information: the prefixes at CS:RIP give the address size and segment. */
static bool string_io_from_prefixes(struct io_exit *io)
{
	uint8_t insn[X86_MAX_INSN_LEN];
	uint64_t len = MIN(vmcs_read(VM_EXIT_INSTRUCTION_LEN), sizeof(insn)), cs_ar = vmcs_read(GUEST_CS_AR_BYTES);
	bool long64 = (vmcs_read(GUEST_IA32_EFER) & X86_EFER_LMA) && (cs_ar & BIT(13));
	struct guest_paging p;
	struct l1_fault f;

	l1_paging_now(&p);
	if (l1_read_linear(&p, vmcs_read(GUEST_CS_BASE) + vmcs_read(GUEST_RIP), insn, len, GUEST_ACCESS_FETCH, &f))
		return false;
	return io_decode_string_prefixes(insn, len, long64 ? 64 : (cs_ar & BIT(14)) ? 32 : 16, io);
}

/* A failed buffer access: the #PF L1's paging gives (CR2 = the linear address), or a clear stop for a buffer outside L1's RAM. */
static void string_io_fault(struct vcpu *v, struct guest_regs *r, int rc, const struct l1_fault *f)
{
	if (rc == L1_MEM_PAGE_FAULT) {
		write_cr2(f->linear);
		vmx_inject_hw_exception(PF_VECTOR, true, f->error_code);
		return;
	}
	printk("hv: L1's INS/OUTS buffer at linear %#llx (guest-physical %#llx) is not L1 RAM; string I/O to or from MMIO "
	       "is not emulated; stopping L1\n", (unsigned long long)f->linear, (unsigned long long)f->gpa);
	vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
}

/*
 * One element: segment checks, then memory and port in the order the CPU
 * uses. INS checks its destination for writing before it reads the port,
 * so a fault on the buffer leaves the device unread.
 */
static bool string_io_element(struct vcpu *v, struct guest_regs *r, const struct io_exit *io,
			      const struct string_io *s, const struct guest_paging *p, uint64_t offset)
{
	uint64_t lin;
	uint32_t val = 0;
	struct l1_fault f;
	int rc, vector = string_io_linear(s, offset, &lin);

	if (vector != STRIO_OK) {
		vmx_inject_hw_exception((unsigned int)vector, true, 0);
		return false;
	}
	if (io->in) {
		rc = l1_read_linear(p, lin, &val, s->size, GUEST_ACCESS_WRITE, &f);
		if (rc == L1_MEM_OK) {
			val = port_in(v, io->port, io->size);
			rc = l1_write_linear(p, lin, &val, s->size, GUEST_ACCESS_READ, &f);
		}
	} else {
		rc = l1_read_linear(p, lin, &val, s->size, GUEST_ACCESS_READ, &f);
		if (rc == L1_MEM_OK)
			port_out(v, io->port, io->size, val);
	}
	if (rc != L1_MEM_OK)
		string_io_fault(v, r, rc, &f);
	return rc == L1_MEM_OK;
}

/*
 * INS/OUTS (SDM Vol. 2B): each iteration moves one element between the
 * port and ES:rDI or seg:rSI, steps the register by the element size in
 * the direction RFLAGS.DF gives, at the instruction's address size, and
 * with REP counts rCX down. A fault stops at the iteration that faulted
 * with the registers as the previous one left them; a trap (an I/O
 * breakpoint, single step) comes after the iteration (RIP stays while
 * iterations remain).
 */
__attribute__((noinline)) static void handle_string_io(struct vcpu *v, struct guest_regs *r, struct io_exit *io)
{
	uint64_t *reg = io->in ? &r->rdi : &r->rsi, count;
	int64_t step = (vmcs_read(GUEST_RFLAGS) & X86_RFLAGS_DF) ? -(int64_t)io->size : (int64_t)io->size;
	bool tf = vmcs_read(GUEST_RFLAGS) & X86_RFLAGS_TF;
	struct guest_paging p;
	struct string_io s;
	uint32_t hits = 0;

	if (!(vmx_caps.basic & VMX_BASIC_INOUT_INFO) && !string_io_from_prefixes(io)) {
		printk("hv: cannot decode L1's INS/OUTS at RIP %#llx; stopping L1\n", (unsigned long long)vmcs_read(GUEST_RIP));
		vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
	}
	string_io_mode(io, &s);
	l1_paging_now(&p);
	count = string_io_count(io->rep, r->rcx, io->addr_size);
	for (unsigned int n = 0; count && n < STRING_IO_ITERATIONS_PER_EXIT; n++) {
		if (!string_io_element(v, r, io, &s, &p, *reg))
			return;
		*reg = string_io_reg_add(*reg, io->addr_size, step);
		count--;
		if (io->rep)
			r->rcx = string_io_reg_add(r->rcx, io->addr_size, -1);
		hits = io_breakpoints_hit(io->port, io->size);
		if (hits || tf)
			break;
	}
	io_breakpoint_trap(hits);
	vmx_advance_rip(count ? 0 : vmcs_read(VM_EXIT_INSTRUCTION_LEN));
}

/* Exit qualification for I/O, SDM 28.2.1 (Table 28-5); instruction information for INS/OUTS, SDM 28.2.5 (Table 28-8). */
void handle_io(struct vcpu *v, struct guest_regs *r)
{
	uint64_t q = vmcs_read(EXIT_QUALIFICATION);
	struct io_exit io;
	unsigned int size;
	uint16_t port;

	if (unlikely(q & BIT(4))) {
		io_exit_decode(q, (uint32_t)vmcs_read(VMX_INSTRUCTION_INFO), &io);
		handle_string_io(v, r, &io);
		return;
	}
	port = (uint16_t)(q >> 16);
	size = (unsigned int)(q & 7) + 1;
	if (q & BIT(3))
		r->rax = emulate_in_result(r->rax, size, port_in(v, port, size));
	else
		port_out(v, port, size, (uint32_t)r->rax);
	io_breakpoint_trap(io_breakpoints_hit(port, size));
	vmx_skip_instruction();
}
