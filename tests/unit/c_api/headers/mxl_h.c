/* SPDX-License-Identifier: Apache-2.0 */
/* What MXL declares in mxl/mxl.h, through that header alone. */
#include <mxl/mxl.h>

#include "check.h"

HEADER_CHECK(mxlHeader)
{
    mxlStatus (*getVersion)(mxlVersionType*) = &mxlGetVersion;
    mxlInstance (*createInstance)(char const*, char const*) = &mxlCreateInstance;
    mxlStatus (*destroyInstance)(mxlInstance) = &mxlDestroyInstance;
    mxlStatus (*collect)(mxlInstance) = &mxlGarbageCollectFlows;
    mxlVersionType version;
    if (getVersion(&version) != MXL_STATUS_OK || version.full == 0 || createInstance == 0 || destroyInstance == 0 || collect == 0)
    {
        return 1;
    }
    return MXL_ERR_FLOW_INVALID == 11 && MXL_ERR_STRLEN == 1024 && MXL_ERR_EXISTS == 1031 && MXL_ERR_UNKNOWN == 1 ? 0 : 2;
}
