/* kvmtest.h: what kvmtest's two VMs share: failure reporting, checked ioctls, exit names, the supported CPUID. */
#ifndef KVMTEST_H
#define KVMTEST_H

#include <stddef.h>
#include <stdint.h>

extern int failures;

void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int xioctl(int fd, unsigned long req, void *arg, const char *what);
const char *exit_name(uint32_t reason);
int setup_cpuid(int kvm, int vcpu, uint32_t *leaf0_ebx);
/* A VM whose slot 0 is `size` bytes of anonymous memory (mmap flags `map`) at `gpa`; `who` prefixes messages. */
int create_vm_with_memory(int kvm, const char *who, uint64_t gpa, size_t size, int map, int *vm_out,
			  uint8_t **mem_out);
void set_stage(const char *what, unsigned seconds);
/* A counter of KVM's binary statistics of a VM or vCPU fd (kvmtest_stats.c); -1 if KVM has none by that name. */
int kvm_stat(int fd, const char *name, uint64_t *value);

/* The second VM (kvmtest_vm2.c): 2 vCPUs in long mode touching memory; prints its own verdict. */
void run_vm2(int kvm, int vcpu_mmap_size);

#endif
