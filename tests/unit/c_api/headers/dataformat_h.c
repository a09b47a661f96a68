/* SPDX-License-Identifier: Apache-2.0 */
/* What MXL declares in mxl/dataformat.h, through that header alone. */
#include <mxl/dataformat.h>

#include "check.h"

HEADER_CHECK(dataformatHeader)
{
    mxlDataFormat const formats[] = {MXL_DATA_FORMAT_UNSPECIFIED, MXL_DATA_FORMAT_VIDEO, MXL_DATA_FORMAT_AUDIO, MXL_DATA_FORMAT_DATA};
    int valid = 0;
    for (unsigned i = 0; i < sizeof formats / sizeof formats[0]; ++i)
    {
        valid += mxlIsValidDataFormat(formats[i]) ? 1 : 0;
    }
    return valid == 4 && mxlIsSupportedDataFormat(MXL_DATA_FORMAT_VIDEO) && mxlIsDiscreteDataFormat(MXL_DATA_FORMAT_DATA) &&
                   mxlIsContinuousDataFormat(MXL_DATA_FORMAT_AUDIO) && !mxlIsSupportedDataFormat(MXL_DATA_FORMAT_UNSPECIFIED)
               ? 0
               : 1;
}
