# The APIC-write guest's odd-width variants: one access each, since Bochs 2.7 ends on the first (see apicwrite.c).
APICWRITE_VARIANTS := apicodd-memset apicodd-incw apicodd-movb-ah apicodd-repstosl
$(foreach v,$(APICWRITE_VARIANTS),$(eval $(v)_ARGS := odd=$(v:apicodd-%=%)))

$(patsubst %,$(GUEST_DIR)/%.elf,$(APICWRITE_VARIANTS)): $(GUEST_DIR)/apicwrite.elf
	cp $< $@

images-bare: $(patsubst %,$(ISO_DIR)/bare-%.iso,$(APICWRITE_VARIANTS))
images-hv: $(patsubst %,$(ISO_DIR)/hv-%.iso,$(APICWRITE_VARIANTS))
