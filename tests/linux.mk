# Linux as L1: Debian kernel + busybox initramfs images, bare and under-hypervisor ISOs, `make run-linux`, the Linux bench figures.
#   make linux-images     build/linux/{vmlinuz,initrd.gz,bare.iso} from Debian packages (cached in tests/linux/cache/)
#   make linux-iso        build/linux/hv-linux.iso: the hypervisor with Linux as L1 (needs build/hv.elf)
#   make run-linux        boots Linux as L1 in Bochs and shows its console (LINUX_BARE=1: without the hypervisor)
#   make bench-linux      boot-to-/init and to-power-off wall times, bare vs L1 (tests/linux/bench-linux.sh)
#   make linux-qemu-images  build/linux/{initrd-qemu.gz,bare-qemu.iso}: L1's initramfs plus QEMU and an L2 Linux
#   make linux-qemu-iso   build/linux/hv-linux-qemu.iso: the same under the hypervisor
#   make test-qemu-l2     only the QEMU/KVM L2 tests (tests/e2e/test_linux_qemu.py, also part of `make test`)

LINUX_DIR     := $(BUILD)/linux
LINUX_STAMP   := $(LINUX_DIR)/.images
LINUX_HV_ISO  := $(LINUX_DIR)/hv-linux.iso
LINUX_TIMEOUT ?= 400
LINUX_MEGS    ?= 512
# The kernel's command line under the hypervisor: no clearcpuid=fsrm (the hypervisor keeps CPUID and IA32_MISC_ENABLE consistent).
LINUX_CMDLINE := $(shell cat tests/linux/cmdline)
LINUX_SRCS    := tests/linux/build-images.sh tests/linux/init.sh tests/linux/kvmtest.c tests/linux/kvmtest_vm2.c tests/linux/kvmtest_stats.c \
                 tests/linux/kvmtest.h tests/linux/cmdline

.PHONY: linux-images linux-iso run-linux bench-linux

linux-images: $(LINUX_STAMP)
linux-iso: $(LINUX_HV_ISO)

$(LINUX_STAMP): $(LINUX_SRCS)
	tests/linux/build-images.sh $(LINUX_DIR)
	@touch $@

# GRUB hands the hypervisor the kernel (tagged "linux", then its command line) and the initrd ($(1)) as modules.
define linux_hv_iso
	@rm -rf $@.d && mkdir -p $@.d/boot/grub
	@cp $(BUILD)/hv.elf $(LINUX_DIR)/vmlinuz $@.d/boot/
	@cp $(1) $@.d/boot/initrd.gz
	@printf '%s\n' 'set timeout=0' 'serial --unit=0 --speed=115200' 'terminal_input serial' \
		'terminal_output serial' 'multiboot2 /boot/hv.elf $(HV_ARGS)' \
		'module2 /boot/vmlinuz linux $(LINUX_CMDLINE)' 'module2 --nounzip /boot/initrd.gz initrd' \
		'boot' > $@.d/boot/grub/grub.cfg
	@grub-mkrescue -d /usr/lib/grub/i386-pc --install-modules="normal multiboot2 serial terminal" \
		--locales= --fonts= --themes= -o $@ $@.d >$@.log 2>&1 || { cat $@.log; exit 1; }
	@rm -rf $@.d $@.log
	@echo "  ISO     $@"
endef

$(LINUX_HV_ISO): $(LINUX_STAMP) $(BUILD)/hv.elf tests/linux.mk
	$(call linux_hv_iso,$(LINUX_DIR)/initrd.gz)

# The QEMU variant (issue 11): L1's initramfs gains QEMU and an L2 kernel and initrd; init.sh runs
# tests/linux/run-l2.sh after kvmtest. A separate initrd (~27 MB), so the other Linux tests keep their small one.
LINUX_QEMU_STAMP  := $(LINUX_DIR)/.qemu-images
LINUX_QEMU_HV_ISO := $(LINUX_DIR)/hv-linux-qemu.iso
LINUX_QEMU_SRCS   := tests/linux/build-qemu-images.sh tests/linux/run-l2.sh tests/linux/l2-init.sh

.PHONY: linux-qemu-images linux-qemu-iso test-qemu-l2
linux-qemu-images: $(LINUX_QEMU_STAMP)
linux-qemu-iso: $(LINUX_QEMU_HV_ISO)

$(LINUX_QEMU_STAMP): $(LINUX_STAMP) $(LINUX_QEMU_SRCS)
	tests/linux/build-qemu-images.sh $(LINUX_DIR)
	@touch $@

$(LINUX_QEMU_HV_ISO): $(LINUX_QEMU_STAMP) $(BUILD)/hv.elf tests/linux.mk
	$(call linux_hv_iso,$(LINUX_DIR)/initrd-qemu.gz)

# Linux on Bochs runs QEMU/KVM booting Linux as L2, bare and under the hypervisor, one after the other
# (6-9 min of wall time each on a busy 2-core machine).
test-qemu-l2: deps
	$(MAKE) -j2 hv
	$(MAKE) linux-qemu-images linux-qemu-iso
	$(PYTHON) tests/runner.py -k linux_qemu_l2

ifeq ($(LINUX_BARE),1)
run-linux: deps $(LINUX_STAMP)
	$(PYTHON) tests/runner.py boot $(LINUX_DIR)/bare.iso --live --megs $(LINUX_MEGS) --timeout $(LINUX_TIMEOUT)
else
run-linux: deps
	$(MAKE) -j2 hv $(LINUX_HV_ISO)
	$(PYTHON) tests/runner.py boot $(LINUX_HV_ISO) --live --megs $(LINUX_MEGS) --timeout $(LINUX_TIMEOUT)
endif

bench-linux: deps
	tests/linux/bench-linux.sh

# `make test` (tests/run-all.sh) builds images-bare and images-hv: the Linux images ride along. A failure
# here (e.g. no network for the first download) must not stop the other guests' images: it is reported,
# and tests/e2e/test_linux.py then fails with "missing build/linux/...".
.PHONY: linux-images-soft linux-iso-soft linux-qemu-images-soft linux-qemu-iso-soft
images-bare: linux-images-soft linux-qemu-images-soft
images-hv: linux-iso-soft linux-qemu-iso-soft
linux-images-soft:
	@mkdir -p $(BUILD) && $(MAKE) --no-print-directory linux-images >$(BUILD)/linux-images.log 2>&1 || \
		echo "linux: building the Linux test images failed (log: $(BUILD)/linux-images.log)"
linux-iso-soft: linux-images-soft
	@mkdir -p $(BUILD) && $(MAKE) --no-print-directory linux-iso >$(BUILD)/linux-iso.log 2>&1 || \
		echo "linux: building $(LINUX_HV_ISO) failed (log: $(BUILD)/linux-iso.log)"
linux-qemu-images-soft: linux-images-soft
	@mkdir -p $(BUILD) && $(MAKE) --no-print-directory linux-qemu-images >$(BUILD)/linux-qemu-images.log 2>&1 || \
		echo "linux: building the QEMU Linux images failed (log: $(BUILD)/linux-qemu-images.log)"
linux-qemu-iso-soft: linux-qemu-images-soft
	@mkdir -p $(BUILD) && $(MAKE) --no-print-directory linux-qemu-iso >$(BUILD)/linux-qemu-iso.log 2>&1 || \
		echo "linux: building $(LINUX_QEMU_HV_ISO) failed (log: $(BUILD)/linux-qemu-iso.log)"
