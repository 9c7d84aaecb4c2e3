/* Runs L1: picks and loads the first boot module, builds EPT, bitmaps and vmcs01, and launches it. */
#include "hv/vmx/vmx.h"
#include "hv/vmx/vmx_internal.h"
#include "hv/vmx/nested.h"
#include "hv/vmx/vmx_asm.h"
#include "hv/vmx/ept.h"
#include "hv/acpi.h"
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/panic.h"
#include "hv/percpu.h"
#include "hv/smp.h"
#include "hv/delay.h"
#include "hv/x86.h"

/* The Linux loader lives in linux_loader.c (another part of the project); until it links, Linux is refused cleanly. */
#pragma weak linux_probe
#pragma weak linux_load

#define L1_VPID 1

static struct vcpu l1_vcpu;

/* Multiboot v1 first (the test kernels), then a Linux bzImage. */
static int load_guest(const struct boot_info *bi, struct guest_boot_state *gs)
{
	const struct boot_module *m = &bi->modules[0];
	struct guest_load_ctx ctx = { bi, 0, mm_guest_map() };
	const void *image = phys_to_virt(m->start);
	uint64_t size = m->end - m->start;

	if (multiboot1_probe(image, size))
		return multiboot1_load(&ctx, gs);
	if (linux_probe && linux_load && linux_probe(image, size))
		return linux_load(&ctx, gs);
	printk("hv: boot module 0 ('%s', %llu bytes) is neither a Multiboot v1 kernel%s\n", m->cmdline,
	       (unsigned long long)size, linux_probe ? " nor a Linux bzImage" : " (Linux bzImages are not supported in this build)");
	return -1;
}

static int setup_ept(struct vcpu *v)
{
	const struct mem_map *map = mm_guest_map();
	bool g1 = (vmx_caps.ept_vpid & VMX_EPT_1G_PAGE) != 0;
	struct ept_layout layout = { map, mm_hv_ranges(), ept_identity_limit(map, vmx_max_phys_addr_bits(), g1), g1,
				     (vmx_caps.ept_vpid & VMX_EPT_2M_PAGE) != 0 };

	if (ept_build_identity(&layout, frame_alloc, &v->ept_pml4) < 0) {
		printk("hv: out of hypervisor frames while building L1's EPT\n");
		return -1;
	}
	v->eptp = ept_make_eptp(v->ept_pml4, vmx_caps.ept_vpid & VMX_EPT_MEMTYPE_WB ? EPT_MT_WB : EPT_MT_UC);
	pr_info("hv: L1 EPT: identity map of 0-%#llx, hypervisor memory excluded, EPTP %#llx\n",
		(unsigned long long)layout.limit, (unsigned long long)v->eptp);
	return 0;
}

/* The hypervisor owns the test-exit device and the POST-code port; L1 has every other port (SDM 25.6.4). */
static void setup_io_bitmaps(struct vcpu *v)
{
	uint8_t *a = phys_to_virt(v->io_bitmap_a), *b = phys_to_virt(v->io_bitmap_b);

	for (uint16_t port = 0xf4; port < 0xf8; port++)
		io_bitmap_intercept(a, b, port);
	io_bitmap_intercept(a, b, 0x80);
	/* Both bytes of PM1a_CNT: SLP_EN (bit 13) may come in a byte write to the second. */
	if (v->pm1a_cnt_port) {
		io_bitmap_intercept(a, b, v->pm1a_cnt_port);
		io_bitmap_intercept(a, b, (uint16_t)(v->pm1a_cnt_port + 1));
	}
}

/* What the hypervisor must own: VT-x's MSRs (0x480-0x493, as the nested policy offers them), IA32_FEATURE_CONTROL, IA32_APIC_BASE writes. */
static void setup_msr_bitmap(struct vcpu *v)
{
	uint8_t *bm = phys_to_virt(v->msr_bitmap);

	msr_bitmap_intercept(bm, MSR_IA32_FEATURE_CONTROL, true, true);
	for (uint32_t msr = VMX_MSR_FIRST; msr <= VMX_MSR_LAST; msr++)
		msr_bitmap_intercept(bm, msr, true, true);
	msr_bitmap_intercept(bm, MSR_IA32_APIC_BASE, false, true);
}

/* Each vCPU's own exit stack; its top holds the vcpu pointer the exit stub hands to C. */
static int alloc_exit_stack(struct vcpu *v)
{
	paddr_t stack = frame_alloc_contig(VMX_EXIT_STACK_PAGES, PAGE_SIZE);

	if (!stack) {
		printk("hv: out of hypervisor frames for the exit stack of L1's vCPU on CPU %u\n", v->cpu_id);
		return -1;
	}
	v->exit_stack_top = stack + VMX_EXIT_STACK_PAGES * PAGE_SIZE;
	*(struct vcpu **)phys_to_virt(v->exit_stack_top - 8) = v;
	v->regs = phys_to_virt(v->exit_stack_top - 16 - sizeof(struct guest_regs));
	return 0;
}

/* The bitmaps and EPT are one machine's policy: every vCPU of L1 shares them. */
static int alloc_vcpu_pages(struct vcpu *v)
{
	v->io_bitmap_a = frame_alloc();
	v->io_bitmap_b = frame_alloc();
	v->msr_bitmap = frame_alloc();
	if (!v->io_bitmap_a || !v->io_bitmap_b || !v->msr_bitmap) {
		printk("hv: out of hypervisor frames for L1's bitmaps\n");
		return -1;
	}
	return alloc_exit_stack(v);
}

/* Stale translations for this EPTP/VPID may exist from firmware or an earlier run (SDM 29.4.3.3). */
static void flush_tlbs(const struct vcpu *v)
{
	invept(vmx_caps.ept_vpid & VMX_EPT_INVEPT_SINGLE ? INVEPT_SINGLE_CONTEXT : INVEPT_ALL_CONTEXT, v->eptp);
	vmx_flush_guest_tlb(v);
}

static void apply_policy(const struct boot_info *bi, const struct vcpu *v)
{
	uint64_t post;

	vmx_cpuid_policy.hypervisor_bit = !cmdline_has_flag(bi->cmdline, "hide_hypervisor");
	vmx_nested_init(bi->cmdline);
	vmx_shadow_init(bi->cmdline, v->vmcs);
	vmx_cpuid_policy.vmx = vmx_l1_offer.cpuid_vmx;
	vmx_cpuid_policy.hide_rdtscp = !(v->ctl.proc2 & SECONDARY_ENABLE_RDTSCP);
	vmx_cpuid_policy.hide_invpcid = !(v->ctl.proc2 & SECONDARY_ENABLE_INVPCID);
	vmx_cpuid_policy.hide_xsaves = !(v->ctl.proc2 & SECONDARY_ENABLE_XSAVES);
	vmx_cpuid_policy.hide_waitpkg = !(v->ctl.proc2 & SECONDARY_ENABLE_USR_WAIT_PAUSE);
	if (cmdline_get_u64(bi->cmdline, "debug_panic_post", &post) && post <= 0xff)
		vmx_debug_panic_post = (int64_t)post;
}

/*
 * L1 shares COM1 and typically resets its FIFOs first: wait until our last
 * bytes have left the transmitter (LSR.TEMT), or they are lost mid-line.
 * The console has no flush call; COM1 is where the hypervisor prints by default.
 */
static void drain_com1(void)
{
	for (int i = 0; i < 100000; i++)
		if (inb(0x3f8 + 5) & 0x40)
			return;
}

/* On each AP: its own VMCS and exit stack, the INIT state, then into L1 waiting for L1's SIPI. */
static void ap_enter_l1(struct percpu *cpu)
{
	static const struct guest_boot_state wait_sipi = { .mode = GUEST_MODE_WAIT_SIPI };
	struct vcpu *v = cpu->vcpu;

	if (alloc_exit_stack(v) < 0 || vmcs01_setup(v, &wait_sipi) < 0)
		return; /* reported; this CPU stays parked and L1 sees one CPU fewer */
	vmcs_write(HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_stub_ap);
	flush_tlbs(v);
	v->launched = true;
	vmx_launch(v->regs);
	vmx_launch_failed(v);
}

/* An AP's vcpu: the boot vCPU's shared policy (EPT, bitmaps, VPID, watched ports), its own state. */
static struct vcpu *ap_vcpu_from(const struct vcpu *bsp, uint32_t cpu_id)
{
	paddr_t pa = frame_alloc();
	struct vcpu *v = phys_to_virt(pa);

	if (!pa)
		return NULL;
	v->cpu_id = cpu_id;
	v->apic_id = percpu_area[cpu_id].apic_id;
	v->io_bitmap_a = bsp->io_bitmap_a;
	v->io_bitmap_b = bsp->io_bitmap_b;
	v->msr_bitmap = bsp->msr_bitmap;
	v->ept_pml4 = bsp->ept_pml4;
	v->eptp = bsp->eptp;
	v->vpid = bsp->vpid;
	v->pm1a_cnt_port = bsp->pm1a_cnt_port;
	return v;
}

static bool wait_until_launched(const struct vcpu *v)
{
	for (int ms = 0; ms < 1000; ms++) {
		if (v->launched)
			return true;
		udelay(1000);
	}
	return false;
}

/*
 * One L1 vCPU per physical CPU in VMX root (SDM 10.4: the APs of a real
 * machine wait for INIT-SIPI-SIPI). L1 drives its APs through the local APIC
 * it owns: its SIPI reaches the AP in wait-for-SIPI as a VM exit (SDM 25.2).
 */
static bool l1_gets_aps(void)
{
	if (nr_cpus_online < 2)
		return false;
	if (!(vmx_caps.misc & VMX_MISC_ACTIVITY_WAIT_SIPI)) {
		printk("hv: L1 gets the boot CPU only: this CPU cannot hold a vCPU in wait-for-SIPI (IA32_VMX_MISC[8] = 0)\n");
		return false;
	}
	return true;
}

/* Call only when l1_gets_aps(): the xAPIC trap must be in place before any AP vCPU runs. */
static void start_ap_vcpus(const struct vcpu *bsp)
{
	uint32_t started = 0;

	for (uint32_t i = 1; i < MAX_CPUS; i++) {
		struct percpu *cpu = &percpu_area[i];

		if (cpu->boot_state != AP_READY)
			continue;
		cpu->vcpu = ap_vcpu_from(bsp, i);
		if (!cpu->vcpu) {
			printk("hv: out of hypervisor frames for L1's vCPU on CPU %u\n", i);
			continue;
		}
		smp_run_on(cpu, ap_enter_l1);
		if (wait_until_launched(cpu->vcpu))
			started++;
		else
			printk("hv: CPU %u did not enter L1; L1 will not be able to start APIC ID %u\n", i, cpu->apic_id);
	}
	printk("hv: L1 has %u vCPU(s); %u wait for L1's start-up IPI\n", started + 1, started);
}

__noreturn void vmx_run_l1(const struct boot_info *bi)
{
	struct vcpu *v = &l1_vcpu;
	struct guest_boot_state gs;
	bool smp;

	if (bi->module_count == 0 || load_guest(bi, &gs) < 0)
		machine_exit(HV_EXIT_BAD_MODULE);
	v->vpid = vmx_base_controls.proc2 & SECONDARY_ENABLE_VPID ? L1_VPID : 0;
	if (alloc_vcpu_pages(v) < 0 || setup_ept(v) < 0)
		machine_exit(HV_EXIT_PANIC);
	/* Watched so the exit counters print before an ACPI power-off ends the machine (read at boot: acpi_init). */
	v->pm1a_cnt_port = acpi_boot_facts.pm1a_cnt_port;
	setup_io_bitmaps(v);
	setup_msr_bitmap(v);
	if (vmcs01_setup(v, &gs) < 0)
		machine_exit(HV_EXIT_PANIC);
	apply_policy(bi, v);
	vmx_exit_handlers_init();
	this_cpu()->vcpu = v;
	v->is_bsp = true;
	v->apic_id = this_cpu()->apic_id;
	smp = l1_gets_aps();
	if (smp || vmx_l1_offer.nested)
		vmx_virtualize_icr(v);
	if (!smp && vmx_l1_offer.nested)
		vmx_apic_trap_update(v); /* one vCPU: trapped only while its L1 is in VMX operation */
	flush_tlbs(v);
	if (smp)
		start_ap_vcpus(v);
	printk("hv: launching L1 at %#llx (%s mode, eax %#llx, ebx %#llx)\n", (unsigned long long)gs.rip,
	       gs.mode == GUEST_MODE_LONG64 ? "64-bit" : "32-bit protected", (unsigned long long)gs.rax,
	       (unsigned long long)gs.rbx);
	drain_com1();
	v->launched = true;
	vmx_launch(v->regs);
	vmx_launch_failed(v);
}
