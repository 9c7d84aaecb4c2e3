# Variants of the APIC guests: apicwrite's odd-width writes, one per run since Bochs 2.7 ends on the first (see apicwrite.c), and apicfetch's straddling MOV.
APICWRITE_VARIANTS := apicodd-memset apicodd-incw apicodd-movb-ah apicodd-repstosl apicodd-sete
$(foreach v,$(APICWRITE_VARIANTS),$(eval $(v)_ARGS := odd=$(v:apicodd-%=%)))

$(patsubst %,$(GUEST_DIR)/%.elf,$(APICWRITE_VARIANTS)): $(GUEST_DIR)/apicwrite.elf
	cp $< $@

images-bare: $(patsubst %,$(ISO_DIR)/bare-%.iso,$(APICWRITE_VARIANTS))
images-hv: $(patsubst %,$(ISO_DIR)/hv-%.iso,$(APICWRITE_VARIANTS))

# The fetch guest with its MOV straddling into a reserved page.
apicfetch-straddle_ARGS := straddle
$(GUEST_DIR)/apicfetch-straddle.elf: $(GUEST_DIR)/apicfetch.elf
	cp $< $@
images-bare: $(ISO_DIR)/bare-apicfetch-straddle.iso
images-hv: $(ISO_DIR)/hv-apicfetch-straddle.iso
