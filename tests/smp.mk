# Images for the SMP tests: the demo guest under a hypervisor told to panic on CPU 1.
smppanic_HV_ARGS := debug_panic_cpu=1

$(GUEST_DIR)/smppanic.elf: $(GUEST_DIR)/hello.elf
	cp $< $@

images-hv: $(ISO_DIR)/hv-smppanic.iso
