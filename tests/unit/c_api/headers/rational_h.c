/* SPDX-License-Identifier: Apache-2.0 */
/* What MXL declares in mxl/rational.h, through that header alone. */
#include <mxl/rational.h>

#include "check.h"

HEADER_CHECK(rationalHeader)
{
    mxlRational const rate = {30000, 1001};
    uint64_t const undefined = MXL_UNDEFINED_INDEX;
    return rate.numerator == 30000 && rate.denominator == 1001 && undefined == UINT64_MAX ? 0 : 1;
}
