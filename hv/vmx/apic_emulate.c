/* One trapped write to L1's xAPIC page, whatever the instruction: fetched through l1_mem, decoded (mmio_decode.c), done on the real APIC (kernel). */
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/vmx_asm.h"
#include "hv/vmx/l1_mem.h"
#include "hv/vmx/mmio_decode.h"
#include "hv/console.h"
#include "hv/panic.h"
#include "hv/x86.h"

#define AR_L  BIT(13) /* CS.L: 64-bit code */
#define AR_DB BIT(14) /* CS.D: 32-bit code */
#define RFLAGS_DF BIT(10)

static unsigned int code_bits(void)
{
	uint64_t ar = vmcs_read(GUEST_CS_AR_BYTES);

	if ((vmcs_read(GUEST_IA32_EFER) & X86_EFER_LMA) && (ar & AR_L))
		return 64;
	return (ar & AR_DB) ? 32 : 16;
}

static uint64_t width_mask(unsigned int bytes)
{
	return bytes >= 8 ? ~0ULL : (1ULL << (8 * bytes)) - 1;
}

/* A segment's base as the access uses it: only FS and GS have one in 64-bit mode (SDM 3.4.4). */
static uint64_t segment_base(unsigned int seg, unsigned int bits)
{
	if (bits == 64 && seg != SEG_FS && seg != SEG_GS)
		return 0;
	return vmcs_read((enum vmcs_field)(GUEST_ES_BASE + 2 * seg));
}

static uint64_t linear(unsigned int seg, uint64_t offset, unsigned int bits)
{
	uint64_t lin = segment_base(seg, bits) + offset;

	return bits == 64 ? lin : (uint32_t)lin;
}

/* ---- L1's registers -------------------------------------------------------------------- */

static uint64_t reg_read(struct guest_regs *r, unsigned int reg, bool high, unsigned int size)
{
	uint64_t v = (reg == 4 && !high) ? vmcs_read(GUEST_RSP) : ((uint64_t *)r)[reg & 15];

	return (high ? v >> 8 : v) & width_mask(size);
}

/* Register writes as the CPU does them: 32-bit results zero-extend, 8/16-bit ones merge (SDM Vol. 1 3.4.1.1). */
static void reg_write(struct guest_regs *r, unsigned int reg, bool high, unsigned int size, uint64_t val)
{
	uint64_t old = (reg == 4 && !high) ? vmcs_read(GUEST_RSP) : ((uint64_t *)r)[reg & 15], v;

	if (high)
		v = (old & ~0xff00ULL) | (val & 0xff) << 8;
	else if (size == 4 || size == 8)
		v = val & width_mask(size);
	else
		v = (old & ~width_mask(size)) | (val & width_mask(size));
	if (reg == 4 && !high)
		vmcs_write(GUEST_RSP, v);
	else
		((uint64_t *)r)[reg & 15] = v;
}

/* An address register after a string step, in the instruction's address size. */
static void addr_reg_add(uint64_t *reg, unsigned int addr_size, int64_t delta)
{
	uint64_t m = width_mask(addr_size), v = (*reg + (uint64_t)delta) & m;

	*reg = addr_size == 2 ? (*reg & ~m) | v : v;
}

/* ---- faults and stops -------------------------------------------------------------------- */

/* What the CPU would have raised for L1's own access: a #PF with CR2, or a stop naming what is not RAM. */
static void deliver_access_failure(struct vcpu *v, struct guest_regs *r, int res, const struct l1_fault *f,
				   const char *what)
{
	if (res == L1_MEM_PAGE_FAULT) {
		write_cr2(f->linear); /* CR2 is not in the VMCS: L1 sees the register (SDM 27.1) */
		vmx_inject_hw_exception(PF_VECTOR, true, f->error_code);
		return;
	}
	printk("hv: emulating L1's write to its APIC: %s at linear %#llx is guest-physical %#llx, which is not L1 RAM "
	       "(reserved in its memory map, device memory or unbacked); stopping L1\n", what, (unsigned long long)f->linear,
	       (unsigned long long)f->gpa);
	vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
}

/* An instruction this emulation does not do: named with its bytes, and L1 stopped (README "Not done yet"). */
__attribute__((cold, noinline, noreturn)) static void refuse(struct vcpu *v, struct guest_regs *r, uint64_t gpa,
							     const uint8_t *insn, size_t n, const char *why)
{
	printk("hv: L1 wrote its APIC at %#llx with an instruction the hypervisor does not emulate (%s; bytes",
	       (unsigned long long)gpa, why);
	for (size_t i = 0; i < n && i < 8; i++)
		printk(" %02x", insn[i]);
	printk("); stopping L1\n");
	vmx_stop_guest(v, r, HV_EXIT_GUEST_DIED);
}

/*
 * L1's instruction at CS:RIP through its paging, as the CPU fetched it: the
 * bytes of this page, then of the next one only if the instruction needs
 * them; a failure there is what the CPU would have met (*res, *f).
 */
static size_t fetch_insn(unsigned int bits, uint8_t *buf, int *res, struct l1_fault *f)
{
	struct guest_paging p;
	uint64_t lin = linear(SEG_CS, vmcs_read(GUEST_RIP), bits);
	size_t first = MIN((size_t)X86_MAX_INSN_LEN, PAGE_SIZE - (lin & (PAGE_SIZE - 1)));

	l1_paging_now(&p);
	*res = l1_read_linear(&p, lin, buf, first, GUEST_ACCESS_FETCH, f);
	if (*res)
		return 0;
	if (first < X86_MAX_INSN_LEN) {
		*res = l1_read_linear(&p, lin + first, buf + first, X86_MAX_INSN_LEN - first, GUEST_ACCESS_FETCH, f);
		if (*res)
			return first;
	}
	return X86_MAX_INSN_LEN;
}

/* ---- the emulations ---------------------------------------------------------------------- */

static uint64_t source(struct guest_regs *r, const struct mmio_insn *in)
{
	return in->has_imm ? in->imm & width_mask(in->size) : reg_read(r, in->reg, in->high_byte, in->size);
}

/* CMPXCHG (SDM Vol. 2): compare with the accumulator; the destination is written either way. */
static void emulate_cmpxchg(struct guest_regs *r, const struct mmio_insn *in, uint32_t off, uint64_t *rflags)
{
	uint64_t old = vmx_apic_load(off, in->size);

	mmio_alu_exec(ALU_CMP, in->size, reg_read(r, 0, false, in->size), old, rflags);
	if (*rflags & BIT(6)) { /* ZF: equal */
		vmx_apic_store(off, in->size, source(r, in));
	} else {
		vmx_apic_store(off, in->size, old);
		reg_write(r, 0, false, in->size, old);
	}
}

/* MOV, ALU, XCHG, XADD, CMPXCHG, NOT/NEG/INC/DEC, SETcc, BTS/BTR/BTC, rotates and shifts on the register at off. */
static void emulate_one(struct guest_regs *r, const struct mmio_insn *in, uint32_t off)
{
	uint64_t rflags = vmcs_read(GUEST_RFLAGS), old, val;

	switch (in->op) {
	case MMIO_MOV:
		vmx_apic_store(off, in->size, source(r, in));
		return;
	case MMIO_SETCC:
		vmx_apic_store(off, 1, mmio_condition(in->alu, rflags));
		return;
	case MMIO_XCHG:
		old = vmx_apic_load(off, in->size);
		vmx_apic_store(off, in->size, source(r, in));
		reg_write(r, in->reg, in->high_byte, in->size, old);
		return;
	case MMIO_XADD:
		old = vmx_apic_load(off, in->size);
		vmx_apic_store(off, in->size, mmio_alu_exec(ALU_ADD, in->size, old, source(r, in), &rflags));
		reg_write(r, in->reg, in->high_byte, in->size, old);
		break;
	case MMIO_CMPXCHG:
		emulate_cmpxchg(r, in, off, &rflags);
		break;
	case MMIO_ALU:
		val = mmio_alu_exec(in->alu, in->size, vmx_apic_load(off, in->size), source(r, in), &rflags);
		vmx_apic_store(off, in->size, val);
		break;
	case MMIO_SHIFT:
		val = mmio_shift_exec(in->alu, in->size, vmx_apic_load(off, in->size), source(r, in), &rflags);
		vmx_apic_store(off, in->size, val);
		break;
	case MMIO_BTS:
	case MMIO_BTR:
	case MMIO_BTC:
		val = mmio_bit_exec(in->op, in->size, vmx_apic_load(off, in->size), source(r, in), &rflags);
		vmx_apic_store(off, in->size, val);
		break;
	default:
		val = mmio_unary_exec(in->op, in->size, vmx_apic_load(off, in->size), &rflags);
		vmx_apic_store(off, in->size, val);
		break;
	}
	vmcs_write(GUEST_RFLAGS, rflags);
}

/* One MOVS element: from L1 RAM through its paging, or from the APIC page itself. */
static int movs_source(const struct mmio_insn *in, uint64_t lin, uint64_t *val, struct l1_fault *f)
{
	struct guest_paging p;
	int res;

	*val = 0;
	l1_paging_now(&p);
	res = l1_read_linear(&p, lin, val, in->size, GUEST_ACCESS_READ, f);
	if (res == L1_MEM_NOT_RAM && vmx_apic_page_is(f->gpa) &&
	    (f->gpa & (PAGE_SIZE - 1)) + in->size <= PAGE_SIZE) {
		*val = vmx_apic_load((uint32_t)(f->gpa & (PAGE_SIZE - 1)), in->size);
		return L1_MEM_OK;
	}
	return res;
}

/*
 * STOS/MOVS, element by element while the destination stays in the page
 * (SDM Vol. 2 "REP"): RDI/RSI/RCX advance per element, RIP only when the
 * count runs out, so a REP that leaves the page continues natively. With
 * RFLAGS.TF one element per exit, each followed by its single-step trap.
 */
static void emulate_string(struct vcpu *v, struct guest_regs *r, const struct mmio_insn *in, uint32_t off,
			   unsigned int bits)
{
	uint64_t rflags = vmcs_read(GUEST_RFLAGS), am = width_mask(in->addr_size);
	int64_t step = (rflags & RFLAGS_DF) ? -(int64_t)in->size : (int64_t)in->size;
	bool tf = rflags & X86_RFLAGS_TF;
	struct l1_fault f;

	if (in->rep && !(r->rcx & am)) { /* a count of 0 stores nothing (no exit should bring one) */
		vmx_advance_rip(in->len);
		return;
	}
	for (;;) {
		uint64_t val = r->rax & width_mask(in->size);
		int res;

		if (in->op == MMIO_MOVS &&
		    (res = movs_source(in, linear(in->src_seg, r->rsi & am, bits), &val, &f))) {
			deliver_access_failure(v, r, res, &f, "the MOVS source");
			return;
		}
		vmx_apic_store(off, in->size, val);
		addr_reg_add(&r->rdi, in->addr_size, step);
		if (in->op == MMIO_MOVS)
			addr_reg_add(&r->rsi, in->addr_size, step);
		if (in->rep)
			addr_reg_add(&r->rcx, in->addr_size, -1);
		if (!in->rep || !(r->rcx & am))
			break;
		if (tf) {
			vmx_single_step_trap(); /* RIP stays on the REP instruction (SDM 17.3.1.4) */
			return;
		}
		off += (uint32_t)step;
		if (off + in->size > PAGE_SIZE) /* also catches stepping below 0 */
			return;          /* the next element is elsewhere: L1 re-executes the REP natively */
	}
	vmx_advance_rip(in->len);
}

/*
 * An EPT violation for a write to the trapped xAPIC page (SDM 28.2.3.3
 * gives no instruction length for it). The exit names the written address,
 * so only the instruction's length, size and source are decoded. True when
 * handled (emulated, a fault given to L1); what it cannot do stops L1.
 */
bool vmx_apic_emulate_write(struct vcpu *v, struct guest_regs *r, uint64_t gpa)
{
	uint8_t insn[X86_MAX_INSN_LEN] = { 0 };
	unsigned int bits = code_bits();
	uint32_t off = (uint32_t)(gpa & (PAGE_SIZE - 1));
	struct mmio_insn in;
	struct l1_fault f;
	int res;
	size_t n = fetch_insn(bits, insn, &res, &f);
	enum mmio_decode_error d = mmio_decode(insn, n, bits, &in);

	if (d == MMIO_DECODE_TRUNCATED && res) {
		deliver_access_failure(v, r, res, &f, "the instruction");
		return true;
	}
	if (d != MMIO_DECODE_OK)
		refuse(v, r, gpa, insn, n, "not a form it decodes");
	if (off + in.size > PAGE_SIZE)
		refuse(v, r, gpa, insn, in.len, "the access crosses the end of the APIC page");
	if (in.op == MMIO_STOS || in.op == MMIO_MOVS) {
		emulate_string(v, r, &in, off, bits);
		return true;
	}
	emulate_one(r, &in, off);
	vmx_advance_rip(in.len);
	return true;
}
