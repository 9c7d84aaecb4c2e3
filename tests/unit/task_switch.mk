# Host tests of task-switch emulation (issue 8 item 7) and the fault class behind RF=1 on injected faults (item 11).
UNIT_TESTS += test_task_switch
test_task_switch_SRCS := tests/unit/test_task_switch.c hv/vmx/task_switch.c hv/vmx/task_switch_load.c hv/vmx/task_switch_segs.c hv/vmx/emulate.c hv/nested/exception_class.c
