/* Nested cost: an L2 CPUID round trip through this small L1 hypervisor, in TSC ticks (Bochs: emulated instructions). */
#include "vmxlib.h"

const char guest_name[] = "nestbench";

#define SAMPLES 501

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs[4096] __attribute__((aligned(4096)));
static uint8_t io_bitmap[2][4096] __attribute__((aligned(4096)));
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));
static uint8_t l2_stack[8192] __attribute__((aligned(4096)));
static uint32_t samples[2][SAMPLES];

/* The timed sequence of tests/guests/bench.c: the baseline has no CPUID, so the difference is the round trip. */
#define TIMED(setup_op, clobbers...) ({                                        \
	uint32_t __d;                                                          \
	__asm__ volatile("lfence\n\trdtsc\n\tmovl %%eax, %%esi\n\tlfence\n\t"  \
			 setup_op "\n\tlfence\n\trdtsc\n\tsubl %%esi, %%eax"   \
			 : "=a"(__d) : : "edx", "esi", "memory", ##clobbers);  \
	__d; })

/* L2: samples the baseline and CPUID (each CPUID a VM exit to L1), then ends with VMCALL. */
static void __attribute__((noreturn, used)) l2_main(void)
{
	for (unsigned i = 0; i < SAMPLES; i++)
		samples[0][i] = TIMED("xorl %%ecx, %%ecx", "ecx");
	for (unsigned i = 0; i < SAMPLES; i++)
		samples[1][i] = TIMED("xorl %%eax, %%eax\n\tcpuid", "ebx", "ecx");
	__asm__ volatile("vmcall");
	for (;;)
		;
}

static void sort(uint32_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		uint32_t x = v[i];
		unsigned j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* L1's CPUID handler, minimal as a real one is: step over the instruction, answer, resume. */
static int run_l2(void)
{
	bool launched = false;

	for (;;) {
		struct vmx_result r = vmx_enter(launched);
		uint32_t reason;

		if (r.outcome != VMX_OK) {
			vmx_print("entry", &r);
			return GUEST_FAIL;
		}
		launched = true;
		reason = vmr(EXIT_REASON);
		if (reason == 18)
			return GUEST_OK;
		if (reason != 10) {
			printf("nestbench: unexpected exit reason %u\n", reason);
			return GUEST_FAIL;
		}
		l2.eax = l2.ebx = l2.ecx = l2.edx = 0;
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
		printf("nestbench: no VMX\n");
		return GUEST_FAIL;
	}
	*(uint32_t *)vmxon_region = vmx_host.revision;
	*(uint32_t *)vmcs = vmx_host.revision;
	vmx_host_set_vmxe(true);
	if (vmxon((uint32_t)vmxon_region).outcome != VMX_OK || vmclear((uint32_t)vmcs).outcome != VMX_OK ||
	    vmptrld((uint32_t)vmcs).outcome != VMX_OK) {
		printf("nestbench: VMX set-up failed\n");
		return GUEST_FAIL;
	}
	vmx_host_setup_vmcs(&s);
	status = run_l2();
	vmxoff();
	if (status != GUEST_OK)
		return status;
	sort(samples[0], SAMPLES);
	sort(samples[1], SAMPLES);
	printf("~bench op=l2cpuid min=%u median=%u max=%u n=%u\n", samples[1][0] - samples[0][0],
	       samples[1][SAMPLES / 2] - samples[0][0], samples[1][SAMPLES - 1] - samples[0][0], SAMPLES);
	printf("bench op=l2cpuid measured\n");
	return GUEST_OK;
}
