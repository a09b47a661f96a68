/* SPDX-License-Identifier: Apache-2.0 */
/* What MXL declares in mxl/time.h (and brings with mxl/rational.h), through that header alone. */
#include <mxl/time.h>

#include "check.h"

HEADER_CHECK(timeHeader)
{
    mxlRational const rate = {60000, 1001};
    mxlRational const invalid = {0, 0};
    uint64_t const now = mxlGetTime();
    uint64_t const index = mxlGetCurrentIndex(&rate);
    if (index == MXL_UNDEFINED_INDEX || mxlGetCurrentIndex(&invalid) != MXL_UNDEFINED_INDEX)
    {
        return 1;
    }
    if (mxlTimestampToIndex(&rate, mxlIndexToTimestamp(&rate, index)) != index || mxlGetNsUntilIndex(index + 1000, &rate) == 0)
    {
        return 2;
    }
    mxlSleepForNs(1000);
    mxlSleepUntil(now);
    return mxlGetTime() >= now ? 0 : 3;
}
