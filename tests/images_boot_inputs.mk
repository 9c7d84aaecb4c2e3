# Images for tests/e2e/test_boot_inputs.py: command-line words the hypervisor does not take,
# many modules with long command lines, and a module too large for the machine.
#   build/iso/hv-badopts.iso            the demo guest; bad and unknown hypervisor options
#   build/iso/{bare,hv}-memmapmods.iso  the memmap guest with a 300-byte command line and 19 modules
#   build/iso/hv-manymods.iso           the memmap guest with 69 modules: more than the hypervisor passes
#   build/iso/hv-bigmodule.iso          the demo guest and a 40 MiB module (booted with 64 MiB of RAM)
# After tests/images.mk (ISO_DIR, MKRESCUE, copy_whole_elf): the Makefile includes tests/*.mk in name order.

badopts_HV_ARGS := loglevel=abc loglevel=-1 e9=maybe frobnicate colour=blue hvmem=4G
$(GUEST_DIR)/badopts.elf: $(GUEST_DIR)/hello.elf
	cp $< $@

BI_LONG := long-$(shell printf '%0300d' 0)
BI_MODS_SMALL := $(shell seq 1 19)
BI_MODS_MANY := $(shell seq 1 69)

# $(1) = multiboot or multiboot2, $(2) = module or module2, $(3) = module numbers: the GRUB lines.
bi_lines = '$(1) $(if $(filter multiboot2,$(1)),/boot/hv.elf $(HV_ARGS),/boot/guest.elf test=memmap $(BI_LONG))' \
	$(if $(filter multiboot2,$(1)),'$(2) /boot/guest.elf test=memmap $(BI_LONG)') \
	$(foreach i,$(3),'$(2) /boot/module.txt mod$(i) $(if $(filter 7,$(i)),$(BI_LONG)-$(i),arg$(i))') 'boot'

# $(1) = multiboot or multiboot2, $(2) = module or module2, $(3) = module numbers, $(4) = extra files as SRC:DEST words.
define bi_iso
	@rm -rf $@.d && mkdir -p $@.d/boot/grub
	@cp $(GUEST_DIR)/memmap.elf $@.d/boot/guest.elf
	@cp tests/guests/data/module.txt $@.d/boot/module.txt
	@$(if $(filter multiboot2,$(1)),$(call copy_whole_elf,$(BUILD)/hv.elf,$@.d/boot/hv.elf))
	@printf '%s\n' $(GRUB_CFG_HEAD) $(call bi_lines,$(1),$(2),$(3)) > $@.d/boot/grub/grub.cfg
	@$(call MKRESCUE,$@.d)
	@rm -rf $@.d $@.log
	@echo "  ISO     $@"
endef

$(ISO_DIR)/bare-memmapmods.iso: $(GUEST_DIR)/memmap.elf tests/images_boot_inputs.mk tests/guests/data/module.txt
	$(call bi_iso,multiboot,module,$(BI_MODS_SMALL))

$(ISO_DIR)/hv-memmapmods.iso: $(GUEST_DIR)/memmap.elf $(BUILD)/hv.elf tests/images_boot_inputs.mk tests/guests/data/module.txt
	$(call bi_iso,multiboot2,module2,$(BI_MODS_SMALL))

$(ISO_DIR)/hv-manymods.iso: $(GUEST_DIR)/memmap.elf $(BUILD)/hv.elf tests/images_boot_inputs.mk tests/guests/data/module.txt
	$(call bi_iso,multiboot2,module2,$(BI_MODS_MANY))

# The module's bytes do not matter, its size does: sparse, so the ISO costs no build time.
$(ISO_DIR)/hv-bigmodule.iso: $(GUEST_DIR)/hello.elf $(BUILD)/hv.elf tests/images_boot_inputs.mk
	@rm -rf $@.d && mkdir -p $@.d/boot/grub
	@cp $< $@.d/boot/guest.elf
	@truncate -s 40M $@.d/boot/big.bin
	@$(call copy_whole_elf,$(BUILD)/hv.elf,$@.d/boot/hv.elf)
	@printf '%s\n' $(GRUB_CFG_HEAD) 'multiboot2 /boot/hv.elf $(HV_ARGS) hvmem=4M' \
		'module2 /boot/guest.elf test=hello' 'module2 /boot/big.bin bigmodule forty-mib' 'boot' > $@.d/boot/grub/grub.cfg
	@$(call MKRESCUE,$@.d)
	@rm -rf $@.d $@.log
	@echo "  ISO     $@"

images-bare: $(ISO_DIR)/bare-memmapmods.iso
images-hv: $(ISO_DIR)/hv-badopts.iso $(ISO_DIR)/hv-memmapmods.iso $(ISO_DIR)/hv-manymods.iso $(ISO_DIR)/hv-bigmodule.iso
