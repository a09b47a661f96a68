/* SPDX-License-Identifier: Apache-2.0 */
#include <mxl/mxl.h>
#include <stdio.h>

int main(void)
{
    mxlVersionType version;
    if (mxlGetVersion(&version) != MXL_STATUS_OK)
    {
        return 1;
    }
    printf("linked against libmxl %s\n", version.full);
    return 0;
}
