# Image variants: the demo guest under the hypervisor with a particular command line (NAME_HV_ARGS, see images.mk).
HELLO_VARIANTS := smppanic hellolog0 hellolog3 hellonoserial hellobadserial
smppanic_HV_ARGS       := debug_panic_cpu=1
hellolog0_HV_ARGS      := loglevel=0
hellolog3_HV_ARGS      := loglevel=3
hellonoserial_HV_ARGS  := serial=none
hellobadserial_HV_ARGS := serial=com9

$(patsubst %,$(GUEST_DIR)/%.elf,$(HELLO_VARIANTS)): $(GUEST_DIR)/hello.elf
	cp $< $@

images-hv: $(patsubst %,$(ISO_DIR)/hv-%.iso,$(HELLO_VARIANTS))
