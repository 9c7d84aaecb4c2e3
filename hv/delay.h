/* Busy-wait delays measured with the PIT, which needs no calibration. */
#ifndef HV_DELAY_H
#define HV_DELAY_H

#include "hv/types.h"

void udelay(uint32_t us);

#endif
