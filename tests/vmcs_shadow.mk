# VMCS shadowing off (vmcs_shadow=off): the test L1 hypervisor and the nested bench with every VMREAD/VMWRITE of L1 exiting.
SHADOW_OFF_VARIANTS := vmxtest-noshadow nestbench-noshadow
vmxtest-noshadow_HV_ARGS   := vmcs_shadow=off
nestbench-noshadow_HV_ARGS := vmcs_shadow=off

$(GUEST_DIR)/vmxtest-noshadow.elf: $(GUEST_DIR)/vmxtest.elf
	cp $< $@
$(GUEST_DIR)/nestbench-noshadow.elf: $(GUEST_DIR)/nestbench.elf
	cp $< $@

images-hv: $(patsubst %,$(ISO_DIR)/hv-%.iso,$(SHADOW_OFF_VARIANTS))
