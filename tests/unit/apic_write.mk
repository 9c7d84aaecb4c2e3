# L1's writes to its trapped xAPIC page: the decoder of every writing instruction form and its flags.
UNIT_TESTS += test_mmio_decode
test_mmio_decode_SRCS := tests/unit/test_mmio_decode.c hv/vmx/mmio_decode.c
