# Boot images: for each test guest a bare ISO (GRUB multiboot) and an under-hypervisor ISO (multiboot2 + module2), plus build/hv.iso.
#   make images-bare   build/iso/bare-NAME.iso for every guest
#   make images-hv     build/iso/hv-NAME.iso for every guest (needs build/hv.elf)
#   HV_ARGS="..."      the hypervisor command line in the hv images (NAME_HV_ARGS adds to it for one image)
include tests/guests/guests.mk

ISO_DIR := $(BUILD)/iso
HV_ARGS ?=
GRUB_MODULES := normal multiboot2 multiboot serial terminal

# With grub-efi-amd64-bin installed, grub-mkrescue without -d builds for every
# platform under /usr/lib/grub (Debian: i386-pc and x86_64-efi), i.e. a
# BIOS+UEFI hybrid (~4.5 MB); -d alone can name only one platform.
ifneq ($(wildcard /usr/lib/grub/x86_64-efi/multiboot2.mod),)
GRUB_PLATFORM_ARGS :=
else
GRUB_PLATFORM_ARGS := -d /usr/lib/grub/i386-pc
endif
MKRESCUE = grub-mkrescue $(GRUB_PLATFORM_ARGS) --install-modules="$(GRUB_MODULES)" \
	--locales= --fonts= --themes= -o $@ $(1) >$@.log 2>&1 || { cat $@.log; exit 1; }

# Per-guest command line and extra modules (the same bytes both ways).
guest_args = test=$(1) $(or $($(1)_ARGS),)
memmap_ARGS := alpha beta=2 gamma=x,y
memmap_MODS := tests/guests/data/module.txt
memmap_MOD_ARGS := module-arg one two
# GRUB loads the hypervisor's unloaded ELF sections (debug info, symbols) low, before the
# modules and its boot information: without them, where its RSDP copy lands no longer moves
# with every change to the hypervisor (tests/guests/acpiclobber.ld plants a segment there).
acpiclobber_HV_STRIP := 1

GRUB_CFG_HEAD := 'set timeout=0' 'serial --unit=0 --speed=115200' 'terminal_input serial' 'terminal_output serial'

# $(1) = guest name, $(2) = staging dir: copies the guest's extra modules into the staging dir.
copy_mods = $(if $($(1)_MODS),cp $($(1)_MODS) $(2)/boot/module.txt)
# $(1) = guest, $(2) = module command (module or module2)
mod_lines = $(if $($(1)_MODS),'$(2) /boot/module.txt $($(1)_MOD_ARGS)')

# Others relink build/hv.elf in the same tree at any time: a copy taken mid-link
# is truncated (its section headers, at the end, are missing), so retry until
# readelf finds the copy whole.
copy_whole_elf = for try in 1 2 3 4 5 6 7 8 9 10; do \
		cp $(1) $(2) && ! readelf -hlS $(2) 2>&1 >/dev/null | grep -q . && break; \
		[ $$try = 10 ] && { echo "$(1) stays truncated"; exit 1; }; sleep 2; done

$(ISO_DIR)/bare-%.iso: $(GUEST_DIR)/%.elf tests/images.mk $(wildcard tests/guests/data/*)
	@rm -rf $@.d && mkdir -p $@.d/boot/grub
	@cp $< $@.d/boot/guest.elf
	@$(call copy_mods,$*,$@.d)
	@printf '%s\n' $(GRUB_CFG_HEAD) \
		'multiboot /boot/guest.elf $(call guest_args,$*)' \
		$(call mod_lines,$*,module) 'boot' > $@.d/boot/grub/grub.cfg
	@$(call MKRESCUE,$@.d)
	@rm -rf $@.d $@.log
	@echo "  ISO     $@"

$(ISO_DIR)/hv-%.iso: $(GUEST_DIR)/%.elf $(BUILD)/hv.elf tests/images.mk $(wildcard tests/guests/data/*)
	@rm -rf $@.d && mkdir -p $@.d/boot/grub
	@cp $< $@.d/boot/guest.elf
	@$(call copy_whole_elf,$(BUILD)/hv.elf,$@.d/boot/hv.elf)
	@$(if $($*_HV_STRIP),strip --strip-all $@.d/boot/hv.elf && $(PYTHON) scripts/elf_hide_relocs.py $@.d/boot/hv.elf)
	@$(call copy_mods,$*,$@.d)
	@printf '%s\n' $(GRUB_CFG_HEAD) 'multiboot2 /boot/hv.elf $(HV_ARGS) $($*_HV_ARGS)' \
		'module2 /boot/guest.elf $(call guest_args,$*)' \
		$(call mod_lines,$*,module2) 'boot' > $@.d/boot/grub/grub.cfg
	@$(call MKRESCUE,$@.d)
	@rm -rf $@.d $@.log
	@echo "  ISO     $@"

# The user-facing image (BIOS+UEFI): the hypervisor with the demo guest; part of the default build.
$(BUILD)/hv.iso: $(ISO_DIR)/hv-hello.iso
	cp $< $@

all: $(BUILD)/hv.iso

# Error paths: no guest module at all, and a guest that is not a kernel (a text file).
$(ISO_DIR)/hv-nomodule.iso $(ISO_DIR)/hv-badmodule.iso: $(ISO_DIR)/hv-%.iso: $(BUILD)/hv.elf tests/images.mk tests/guests/data/module.txt
	@rm -rf $@.d && mkdir -p $@.d/boot/grub
	@$(call copy_whole_elf,$(BUILD)/hv.elf,$@.d/boot/hv.elf)
	@cp tests/guests/data/module.txt $@.d/boot/notakernel.txt
	@printf '%s\n' $(GRUB_CFG_HEAD) 'multiboot2 /boot/hv.elf $(HV_ARGS)' \
		$(if $(filter badmodule,$*),'module2 /boot/notakernel.txt test=badmodule') 'boot' > $@.d/boot/grub/grub.cfg
	@$(call MKRESCUE,$@.d)
	@rm -rf $@.d $@.log
	@echo "  ISO     $@"

.PHONY: images images-bare images-hv
images-bare: $(patsubst %,$(ISO_DIR)/bare-%.iso,$(GUESTS))
images-hv: $(patsubst %,$(ISO_DIR)/hv-%.iso,$(GUESTS) nomodule badmodule) $(BUILD)/hv.iso
images: images-bare images-hv
