/* Exception classes and the double-fault / triple-fault rule (SDM 6.15, Tables 6-4 and 6-5). */
#include "hv/nested/events.h"

/* SDM 6.15 "Interrupt 8": Table 6-4. Everything not listed (interrupts, NMI, other vectors) is benign. */
enum exception_class nested_exception_class(uint8_t vector)
{
	switch (vector) {
	case DE_VECTOR: case TS_VECTOR: case NP_VECTOR:
	case SS_VECTOR: case GP_VECTOR: case CP_VECTOR:
		return EXC_CONTRIBUTORY;
	case PF_VECTOR: case VE_VECTOR:
		return EXC_PAGE_FAULT;
	case DF_VECTOR:
		return EXC_DOUBLE_FAULT;
	default:
		return EXC_BENIGN;
	}
}

/*
 * SDM Table 6-5, first exception (being delivered) x second exception
 * (raised during that delivery). A second exception of class "double fault"
 * cannot happen: #DF is only ever produced by this table.
 */
enum double_fault_outcome nested_double_fault_outcome(enum exception_class first,
						      enum exception_class second)
{
	static const enum double_fault_outcome table[4][3] = {
		/*                   benign     contributory      page fault */
		[EXC_BENIGN]       = { DF_SERIAL, DF_SERIAL,       DF_SERIAL },
		[EXC_CONTRIBUTORY] = { DF_SERIAL, DF_DOUBLE_FAULT, DF_SERIAL },
		[EXC_PAGE_FAULT]   = { DF_SERIAL, DF_DOUBLE_FAULT, DF_DOUBLE_FAULT },
		[EXC_DOUBLE_FAULT] = { DF_SERIAL, DF_TRIPLE_FAULT, DF_TRIPLE_FAULT },
	};

	if (second == EXC_DOUBLE_FAULT)
		second = EXC_CONTRIBUTORY;
	return table[first][second];
}

/* Hardware exceptions that push an error code (SDM 6.3.1 Table 6-1; #CP since CET). */
bool nested_exception_has_error_code(uint8_t vector)
{
	switch (vector) {
	case DF_VECTOR: case TS_VECTOR: case NP_VECTOR: case SS_VECTOR:
	case GP_VECTOR: case PF_VECTOR: case AC_VECTOR: case CP_VECTOR:
		return true;
	default:
		return false;
	}
}
