/* SPDX-License-Identifier: Apache-2.0 */
/* What MXL declares in mxl/platform.h, through that header alone. */
#include <mxl/platform.h>

#include "check.h"

static inline MXL_CONSTEXPR int answer(void)
{
    return 42;
}

MXL_NODISCARD static int twice(int x)
{
    return 2 * x;
}

HEADER_CHECK(platformHeader)
{
    return twice(answer()) == 84 ? 0 : 1;
}
