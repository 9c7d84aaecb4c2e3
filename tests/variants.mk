# Image variants: a guest under another name with its own command line (NAME_ARGS) or hypervisor arguments (NAME_HV_ARGS), see images.mk.
HELLO_VARIANTS := smppanic hellolog0 hellolog3 hellonoserial hellobadserial
smppanic_HV_ARGS       := debug_panic_cpu=1
hellolog0_HV_ARGS      := loglevel=0
hellolog3_HV_ARGS      := loglevel=3
hellonoserial_HV_ARGS  := serial=none
hellobadserial_HV_ARGS := serial=com9

$(patsubst %,$(GUEST_DIR)/%.elf,$(HELLO_VARIANTS)): $(GUEST_DIR)/hello.elf
	cp $< $@

images-hv: $(patsubst %,$(ISO_DIR)/hv-%.iso,$(HELLO_VARIANTS))

# The SMP guest driving its APIC in x2APIC mode (both bare and under the hypervisor).
SMP_VARIANTS := smpx2apic smpbcast
smpx2apic_ARGS := x2apic
smpbcast_ARGS  := broadcast

$(patsubst %,$(GUEST_DIR)/%.elf,$(SMP_VARIANTS)): $(GUEST_DIR)/smp.elf
	cp $< $@

images-bare: $(patsubst %,$(ISO_DIR)/bare-%.iso,$(SMP_VARIANTS))
images-hv: $(patsubst %,$(ISO_DIR)/hv-%.iso,$(SMP_VARIANTS))

# The test L1 hypervisor with nested=off: L1 must see no VMX.
VMXTEST_VARIANTS := vmxtest-off vmxtest-drexits
vmxtest-off_HV_ARGS := nested=off
# ... and with the hypervisor intercepting L2's MOV DR: its General Detect #DBs are raised by L0.
vmxtest-drexits_HV_ARGS := nested_dr_exits=on

$(patsubst %,$(GUEST_DIR)/%.elf,$(VMXTEST_VARIANTS)): $(GUEST_DIR)/vmxtest.elf
	cp $< $@

images-hv: $(patsubst %,$(ISO_DIR)/hv-%.iso,$(VMXTEST_VARIANTS))

# The NMI guest parking CPUs in each state, then making the hypervisor panic with its POST code (issue 8 item 4).
NMI_VARIANTS := nmipanic
nmipanic_ARGS    := panic
nmipanic_HV_ARGS := debug_panic_post=219

$(patsubst %,$(GUEST_DIR)/%.elf,$(NMI_VARIANTS)): $(GUEST_DIR)/nmi.elf
	cp $< $@

images-hv: $(patsubst %,$(ISO_DIR)/hv-%.iso,$(NMI_VARIANTS))

# The nested-EPT memory-touch bench alone (make bench): L2 touching fresh pages that L1 maps on its EPT violations.
EPT_BENCH_VARIANTS := vmxept-bench
vmxept-bench_ARGS := bench

$(patsubst %,$(GUEST_DIR)/%.elf,$(EPT_BENCH_VARIANTS)): $(GUEST_DIR)/vmxept.elf
	cp $< $@

images-bare: $(patsubst %,$(ISO_DIR)/bare-%.iso,$(EPT_BENCH_VARIANTS))
images-hv: $(patsubst %,$(ISO_DIR)/hv-%.iso,$(EPT_BENCH_VARIANTS))
