/* The nesting demo for `make run`: this kernel is a small hypervisor (L1) that runs a guest of its own (L2), which prints. */
#include "vmxlib.h"

const char guest_name[] = "nestdemo";

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs[4096] __attribute__((aligned(4096)));
static uint8_t io_bitmap[2][4096] __attribute__((aligned(4096)));
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));
static uint8_t l2_stack[8192] __attribute__((aligned(4096)));

/* L2: an ordinary function run as a guest; its serial output goes straight to the UART (L1 does not intercept it). */
static void __attribute__((noreturn, used)) l2_main(void)
{
	uint32_t r[4];

	printf("L2: hello from a guest of a guest\n");
	cpuid(0x4c324c32, 0, r); /* exits to L1, which answers */
	printf("L2: L1 answered my CPUID with 0x%08x\n", r[0]);
	__asm__ volatile("vmcall");
	for (;;)
		;
}

static bool must(const char *what, struct vmx_result r)
{
	if (r.outcome == VMX_OK)
		return true;
	vmx_print(what, &r);
	return false;
}

/* L1's exit handler: CPUID gets an answer of L1's own, VMCALL ends L2. */
static int run_l2(void)
{
	bool launched = false;
	uint32_t exits = 0;

	for (;;) {
		uint32_t reason;

		if (!must(launched ? "vmresume" : "vmlaunch", vmx_enter(launched)))
			return GUEST_FAIL;
		launched = true;
		exits++;
		reason = vmr(EXIT_REASON);
		if (reason == 18) {
			printf("L1: L2 ended with VMCALL after %u VM exits\n", exits);
			return GUEST_OK;
		}
		if (reason != 10) {
			printf("L1: unexpected exit reason %u\n", reason);
			return GUEST_FAIL;
		}
		printf("L1: L2 executed CPUID leaf 0x%x; answering it\n", l2.eax);
		l2.eax = 0x11111111;
		l2.ebx = l2.ecx = l2.edx = 0;
		vmw(G_RIP, vmr(G_RIP) + vmr(EXIT_INSN_LEN));
	}
}

int guest_main(const struct mb_info *mbi)
{
	const struct l2_setup s = { (uint32_t)l2_main, (uint32_t)l2_stack + sizeof(l2_stack), 0, 0,
				    (uint32_t)io_bitmap[0], (uint32_t)io_bitmap[1], (uint32_t)msr_bitmap };
	int status;

	(void)mbi;
	vmx_host_setup_cpu(0);
	if (!vmx_host_read_caps()) {
		printf("L1: this CPU offers no VMX: nothing to nest\n");
		return GUEST_FAIL;
	}
	printf("L1: a small hypervisor; the CPU offers VMX\n");
	*(uint32_t *)vmxon_region = vmx_host.revision;
	*(uint32_t *)vmcs = vmx_host.revision;
	vmx_host_set_vmxe(true);
	if (!must("vmxon", vmxon((uint32_t)vmxon_region)) || !must("vmclear", vmclear((uint32_t)vmcs)) ||
	    !must("vmptrld", vmptrld((uint32_t)vmcs)))
		return GUEST_FAIL;
	vmx_host_setup_vmcs(&s);
	printf("L1: launching L2\n");
	status = run_l2();
	must("vmxoff", vmxoff());
	vmx_host_set_vmxe(false);
	return status;
}
