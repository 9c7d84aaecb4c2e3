# Linux as L1: Debian kernel + busybox initramfs images, bare and under-hypervisor ISOs, `make run-linux`, the Linux bench figures.
#   make linux-images     build/linux/{vmlinuz,initrd.gz,bare.iso} from Debian packages (cached in tests/linux/cache/)
#   make linux-iso        build/linux/hv-linux.iso: the hypervisor with Linux as L1 (needs build/hv.elf)
#   make run-linux        boots Linux as L1 in Bochs and shows its console (LINUX_BARE=1: without the hypervisor)
#   make bench-linux      boot-to-/init and to-power-off wall times, bare vs L1 (tests/linux/bench-linux.sh)

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

# GRUB hands the hypervisor the kernel (tagged "linux", then its command line) and the initrd as modules.
$(LINUX_HV_ISO): $(LINUX_STAMP) $(BUILD)/hv.elf tests/linux.mk
	@rm -rf $@.d && mkdir -p $@.d/boot/grub
	@cp $(BUILD)/hv.elf $(LINUX_DIR)/vmlinuz $(LINUX_DIR)/initrd.gz $@.d/boot/
	@printf '%s\n' 'set timeout=0' 'serial --unit=0 --speed=115200' 'terminal_input serial' \
		'terminal_output serial' 'multiboot2 /boot/hv.elf $(HV_ARGS)' \
		'module2 /boot/vmlinuz linux $(LINUX_CMDLINE)' 'module2 --nounzip /boot/initrd.gz initrd' \
		'boot' > $@.d/boot/grub/grub.cfg
	@grub-mkrescue -d /usr/lib/grub/i386-pc --install-modules="normal multiboot2 serial terminal" \
		--locales= --fonts= --themes= -o $@ $@.d >$@.log 2>&1 || { cat $@.log; exit 1; }
	@rm -rf $@.d $@.log
	@echo "  ISO     $@"

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
.PHONY: linux-images-soft linux-iso-soft
images-bare: linux-images-soft
images-hv: linux-iso-soft
linux-images-soft:
	@mkdir -p $(BUILD) && $(MAKE) --no-print-directory linux-images >$(BUILD)/linux-images.log 2>&1 || \
		echo "linux: building the Linux test images failed (log: $(BUILD)/linux-images.log)"
linux-iso-soft: linux-images-soft
	@mkdir -p $(BUILD) && $(MAKE) --no-print-directory linux-iso >$(BUILD)/linux-iso.log 2>&1 || \
		echo "linux: building $(LINUX_HV_ISO) failed (log: $(BUILD)/linux-iso.log)"
