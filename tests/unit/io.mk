# Host tests of the port I/O emulation decisions: exit decoding, byte lanes, INS/OUTS arithmetic and checks, I/O breakpoints.
UNIT_TESTS += test_io_emul
test_io_emul_SRCS := tests/unit/test_io_emul.c hv/vmx/io_emul.c
