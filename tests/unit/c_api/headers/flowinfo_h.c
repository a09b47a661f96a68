/* SPDX-License-Identifier: Apache-2.0 */
/* What MXL declares in mxl/flowinfo.h (and brings with mxl/dataformat.h and mxl/rational.h),
 * through that header alone. */
#include <mxl/flowinfo.h>

#include "check.h"

HEADER_CHECK(flowinfoHeader)
{
    mxlFlowInfo info;
    mxlFlowConfigInfo config;
    mxlFlowRuntimeInfo runtime;
    mxlPayloadLocation const host = MXL_PAYLOAD_LOCATION_HOST_MEMORY;
    mxlPayloadLocation const device = MXL_PAYLOAD_LOCATION_DEVICE_MEMORY;
    config.common.format = MXL_DATA_FORMAT_VIDEO;
    config.common.grainRate.numerator = 50;
    config.common.grainRate.denominator = 1;
    config.discrete.grainCount = MXL_MAX_PLANES_PER_GRAIN;
    runtime.headIndex = MXL_UNDEFINED_INDEX;
    runtime.lastWriteTime = 0;
    runtime.lastReadTime = 0;
    info.config = config;
    info.runtime = runtime;
    return sizeof info == 2048 && sizeof config == 192 && sizeof runtime == 64 && host == 0 && device == 1 &&
                   info.config.discrete.grainCount == 4 && info.runtime.headIndex == UINT64_MAX
               ? 0
               : 1;
}
