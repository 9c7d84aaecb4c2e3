/* kvmtest: runs a tiny real-mode VM through /dev/kvm (OUT, CPUID, OUT, HLT) and checks every exit it gets; prints KVMTEST: PASS/FAIL; then the long-mode VM of kvmtest_vm2.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvmtest.h"

#define GUEST_MEM_BASE 0x0
#define GUEST_MEM_SIZE 0x10000
#define CODE_ADDR      0x1000
#define PORT_HELLO     0x10
#define PORT_CPUID     0x11
#define HELLO_BYTE     0x42
#define MAX_CPUID      100

/*
 * Real-mode code at 0000:1000. CPUID is handled inside the kernel (no exit to
 * us), so the guest reports leaf 0's EBX through a 32-bit OUT, which we
 * compare with what KVM said it supports: that proves the in-kernel CPUID
 * path ran. OUT and HLT (without an in-kernel irqchip) exit to user space.
 */
static const uint8_t guest_code[] = {
	0xba, PORT_HELLO, 0x00,       /* mov dx, PORT_HELLO */
	0xb0, HELLO_BYTE,             /* mov al, HELLO_BYTE */
	0xee,                         /* out dx, al            -> KVM_EXIT_IO */
	0x66, 0x31, 0xc0,             /* xor eax, eax (leaf 0) */
	0x66, 0x31, 0xc9,             /* xor ecx, ecx */
	0x0f, 0xa2,                   /* cpuid                 -> no exit */
	0x66, 0x89, 0xd8,             /* mov eax, ebx */
	0xba, PORT_CPUID, 0x00,       /* mov dx, PORT_CPUID */
	0x66, 0xef,                   /* out dx, eax           -> KVM_EXIT_IO */
	0xf4,                         /* hlt                   -> KVM_EXIT_HLT */
	0xeb, 0xfe,                   /* jmp $ (never reached) */
};

int failures;
static const char *volatile stage = "start";

void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("KVMTEST: FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failures++;
}

int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(fd, req, arg);

	if (r < 0)
		fail("%s: %s", what, strerror(errno));
	return r;
}

const char *exit_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_IO: return "IO";
	case KVM_EXIT_HLT: return "HLT";
	case KVM_EXIT_MMIO: return "MMIO";
	case KVM_EXIT_SHUTDOWN: return "SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
	default: return "OTHER";
	}
}

/* A guest that never exits must still end the test, saying where it hung. */
static void on_alarm(int sig)
{
	const char *msg = "KVMTEST: FAIL: timed out in ";
	const char *what = stage;

	(void)sig;
	(void)!write(STDOUT_FILENO, msg, strlen(msg));
	(void)!write(STDOUT_FILENO, what, strlen(what));
	(void)!write(STDOUT_FILENO, "\n", 1);
	_exit(1);
}

/* Names what runs now (for the alarm) and gives it `seconds` of (guest) time. */
void set_stage(const char *what, unsigned seconds)
{
	stage = what;
	alarm(seconds);
}

/* The CPUID table KVM supports, given to the vCPU so leaf 0 has a known EBX. */
int setup_cpuid(int kvm, int vcpu, uint32_t *leaf0_ebx)
{
	size_t sz = sizeof(struct kvm_cpuid2) + MAX_CPUID * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *cpuid = calloc(1, sz);
	int ok = -1;

	if (!cpuid)
		return -1;
	cpuid->nent = MAX_CPUID;
	if (xioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid, "KVM_GET_SUPPORTED_CPUID") < 0)
		goto out;
	for (uint32_t i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == 0)
			*leaf0_ebx = cpuid->entries[i].ebx;
	if (xioctl(vcpu, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2") < 0)
		goto out;
	ok = 0;
out:
	free(cpuid);
	return ok;
}

/* Real mode at 0000:CODE_ADDR: segment bases 0, as after a reset but with CS base 0. */
static int setup_regs(int vcpu)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (xioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS") < 0)
		return -1;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (xioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS") < 0)
		return -1;
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_ADDR;
	regs.rflags = 0x2; /* bit 1 is reserved-one (SDM vol. 1, 3.4.3) */
	regs.rbx = 0xdeadbeef;
	return xioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS") < 0 ? -1 : 0;
}

/* One expected exit: its reason and, for IO, direction, port, size and value. */
struct expect {
	uint32_t reason;
	uint16_t port;
	uint8_t size;
	uint32_t value;
};

static void check_io(const struct kvm_run *run, const struct expect *e, int n)
{
	uint32_t v = 0;

	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != e->port ||
	    run->io.size != e->size || run->io.count != 1) {
		fail("exit %d: IO dir=%u port=0x%x size=%u count=%u, expected OUT port=0x%x size=%u count=1",
		     n, run->io.direction, run->io.port, run->io.size, run->io.count, e->port, e->size);
		return;
	}
	memcpy(&v, (const uint8_t *)run + run->io.data_offset, run->io.size);
	if (v != e->value)
		fail("exit %d: OUT port=0x%x value=0x%x, expected 0x%x", n, e->port, v, e->value);
}

static void run_vcpu(int vcpu, struct kvm_run *run, uint32_t leaf0_ebx)
{
	const struct expect exp[] = {
		{ KVM_EXIT_IO, PORT_HELLO, 1, HELLO_BYTE },
		{ KVM_EXIT_IO, PORT_CPUID, 4, leaf0_ebx },
		{ KVM_EXIT_HLT, 0, 0, 0 },
	};
	int n;

	for (n = 0; n < (int)(sizeof(exp) / sizeof(exp[0])); n++) {
		if (xioctl(vcpu, KVM_RUN, NULL, "KVM_RUN") < 0)
			return;
		printf("KVMTEST: exit %d: %s (%u)", n, exit_name(run->exit_reason), run->exit_reason);
		if (run->exit_reason == KVM_EXIT_IO)
			printf(" port=0x%x size=%u", run->io.port, run->io.size);
		if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
			printf(" hw_reason=0x%llx",
			       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
			printf(" suberror=%u", run->internal.suberror);
		printf("\n");
		if (run->exit_reason != exp[n].reason) {
			fail("exit %d: reason %s, expected %s", n, exit_name(run->exit_reason),
			     exit_name(exp[n].reason));
			return;
		}
		if (run->exit_reason == KVM_EXIT_IO)
			check_io(run, &exp[n], n);
	}
}

/* After HLT the guest's RIP is just past the HLT instruction. */
static void check_final_rip(int vcpu)
{
	struct kvm_regs regs;
	const uint64_t want = CODE_ADDR + sizeof(guest_code) - 2;

	if (xioctl(vcpu, KVM_GET_REGS, &regs, "KVM_GET_REGS") < 0)
		return;
	if (regs.rip != want)
		fail("rip after HLT 0x%llx, expected 0x%llx", (unsigned long long)regs.rip,
		     (unsigned long long)want);
}

/*
 * A VM with `size` bytes of anonymous memory (mmap flags `map`) as its slot 0 at `gpa`; the
 * caller fills the memory afterwards (registering it touches none). `who` prefixes the failure
 * messages ("" or "vm2 "). 0, or -1 after fail().
 */
int create_vm_with_memory(int kvm, const char *who, uint64_t gpa, size_t size, int map, int *vm_out,
			  uint8_t **mem_out)
{
	struct kvm_userspace_memory_region region;
	char what[64];
	uint8_t *mem;
	int vm;

	snprintf(what, sizeof(what), "%sKVM_CREATE_VM", who);
	vm = xioctl(kvm, KVM_CREATE_VM, (void *)0, what);
	if (vm < 0)
		return -1;
	/* Needed on Intel for real mode without unrestricted guest; harmless with it. */
	if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0)
		fail("%sKVM_SET_TSS_ADDR: %s", who, strerror(errno));
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, map | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fail("%smmap: %s", who, strerror(errno));
		return -1;
	}
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)mem,
	};
	snprintf(what, sizeof(what), "%sKVM_SET_USER_MEMORY_REGION", who);
	if (xioctl(vm, KVM_SET_USER_MEMORY_REGION, &region, what) < 0)
		return -1;
	*vm_out = vm;
	*mem_out = mem;
	return 0;
}

int main(void)
{
	int kvm, vm, vcpu, mmap_size;
	uint32_t leaf0_ebx = 0;
	struct kvm_run *run;
	uint8_t *mem;

	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGALRM, on_alarm);
	set_stage("vm1", 60);
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fail("open /dev/kvm: %s", strerror(errno));
		return 1;
	}
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		fail("KVM_GET_API_VERSION is not %d", KVM_API_VERSION);
		return 1;
	}
	if (create_vm_with_memory(kvm, "", GUEST_MEM_BASE, GUEST_MEM_SIZE, MAP_SHARED, &vm, &mem) < 0)
		return 1;
	memcpy(mem + CODE_ADDR, guest_code, sizeof(guest_code));
	vcpu = xioctl(vm, KVM_CREATE_VCPU, (void *)0, "KVM_CREATE_VCPU");
	mmap_size = xioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL, "KVM_GET_VCPU_MMAP_SIZE");
	if (vcpu < 0 || mmap_size < (int)sizeof(*run))
		return 1;
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		fail("mmap vcpu: %s", strerror(errno));
		return 1;
	}
	if (setup_cpuid(kvm, vcpu, &leaf0_ebx) < 0 || setup_regs(vcpu) < 0)
		return 1;
	printf("KVMTEST: vm created, leaf0 ebx=0x%x\n", leaf0_ebx);
	run_vcpu(vcpu, run, leaf0_ebx);
	check_final_rip(vcpu);
	if (failures == 0)
		printf("KVMTEST: PASS (OUT, CPUID in kernel, OUT, HLT)\n");
	else
		printf("KVMTEST: FAIL (%d problems)\n", failures);
	(void)mem;
	run_vm2(kvm, mmap_size);
	return failures ? 1 : 0;
}
