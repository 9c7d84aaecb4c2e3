/* Cost of CPUID, an intercepted OUT (port 0x80) and a passed-through IN (COM1 LSR) in TSC ticks. */
#include "guest.h"

const char guest_name[] = "bench";

#define SAMPLES 501

/*
 * Each timed sequence is: lfence; rdtsc; save; lfence; SETUP; OP; lfence; rdtsc.
 * The baseline has SETUP but no OP, so cost = sample - baseline is the OP
 * alone (in Bochs, where a tick is one instruction, bare CPUID costs 1).
 */
#define TIMED(setup_op, clobbers...) ({                                        \
	uint32_t __d;                                                          \
	__asm__ volatile("lfence\n\trdtsc\n\tmovl %%eax, %%esi\n\tlfence\n\t"  \
			 setup_op "\n\tlfence\n\trdtsc\n\tsubl %%esi, %%eax"   \
			 : "=a"(__d) : : "edx", "esi", "memory", ##clobbers);  \
	__d; })

static uint32_t sample_baseline(void) { return TIMED("xorl %%ecx, %%ecx", "ecx"); }
static uint32_t sample_cpuid(void) { return TIMED("xorl %%eax, %%eax\n\tcpuid", "ebx", "ecx"); }
static uint32_t sample_out80(void) { return TIMED("movw $0x80, %%dx\n\toutb %%al, %%dx"); }
static uint32_t sample_in3fd(void) { return TIMED("movw $0x3fd, %%dx\n\tinb %%dx, %%al"); }

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

struct stats {
	uint32_t min, median, max;
};

static struct stats measure(uint32_t (*sample)(void))
{
	static uint32_t v[SAMPLES];
	for (unsigned i = 0; i < SAMPLES; i++)
		v[i] = sample();
	sort(v, SAMPLES);
	return (struct stats){ v[0], v[SAMPLES / 2], v[SAMPLES - 1] };
}

/* Subtracting the baseline's minimum leaves the operation's own cost. */
static void report(const char *op, uint32_t (*sample)(void), uint32_t base)
{
	struct stats s = measure(sample);
	printf("~bench op=%s min=%u median=%u max=%u n=%u\n", op, s.min - base, s.median - base,
	       s.max - base, SAMPLES);
	printf("bench op=%s measured\n", op);
}

int guest_main(const struct mb_info *mbi)
{
	(void)mbi;
	struct stats b = measure(sample_baseline);
	printf("~bench baseline min=%u median=%u max=%u\n", b.min, b.median, b.max);
	report("cpuid", sample_cpuid, b.min);
	report("out80", sample_out80, b.min);
	report("in3fd", sample_in3fd, b.min);
	return GUEST_OK;
}
