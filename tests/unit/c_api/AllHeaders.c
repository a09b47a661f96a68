/* SPDX-License-Identifier: Apache-2.0 */
/* Every public header compiles as C17 with -Werror and links against libmxl: MXL media functions
 * written in C must build against our headers unchanged. (mxl/fabrics.h belongs to libmxl-fabric:
 * compiled here, called in headers/fabrics_h.c.) */
#include <mxl/dataformat.h>
#include <mxl/fabrics.h>
#include <mxl/flow.h>
#include <mxl/flowinfo.h>
#include <mxl/mxl.h>
#include <mxl/platform.h>
#include <mxl/rational.h>
#include <mxl/time.h>

#include <stdio.h>

int main(void)
{
    mxlVersionType version;
    if (mxlGetVersion(&version) != MXL_STATUS_OK || version.full == NULL)
    {
        fprintf(stderr, "mxlGetVersion failed\n");
        return 1;
    }
    mxlRational const rate = {60000, 1001};
    uint64_t const index = mxlTimestampToIndex(&rate, 1000000000ULL);
    if (index != 60 || mxlIndexToTimestamp(&rate, index) != 1001000000ULL)
    {
        fprintf(stderr, "time conversion gave %llu\n", (unsigned long long)index);
        return 1;
    }
    if (!mxlIsDiscreteDataFormat(MXL_DATA_FORMAT_VIDEO) || !mxlIsContinuousDataFormat(MXL_DATA_FORMAT_AUDIO) ||
        mxlIsSupportedDataFormat(MXL_DATA_FORMAT_UNSPECIFIED) || !mxlIsValidDataFormat(MXL_DATA_FORMAT_UNSPECIFIED))
    {
        fprintf(stderr, "data format predicates are wrong\n");
        return 1;
    }
    mxlFabricsInterfaceConfig fabricsQuery = {MXL_FABRICS_API_VERSION, MXL_FABRICS_PROVIDER_TCP, {MXL_FABRICS_API_VERSION, 0, 0}, {NULL, NULL}, NULL};
    if (fabricsQuery.provider != 1 || MXL_FABRICS_IFACE_CAP_SEND_RECEIVE != 4)
    {
        fprintf(stderr, "mxl/fabrics.h values differ from MXL's\n");
        return 1;
    }
    if (sizeof(mxlFlowInfo) != 2048 || sizeof(mxlGrainInfo) != 4096 || MXL_ERR_STRLEN != 1024 || MXL_ERR_FLOW_INVALID != 11)
    {
        fprintf(stderr, "layout or status values differ from the MXL 1.x ABI\n");
        return 1;
    }
    if (mxlCreateInstance("/nonexistent/mxl-domain", NULL) != NULL)
    {
        fprintf(stderr, "an instance on a missing domain was created\n");
        return 1;
    }
    printf("C17 headers OK, libmxl %s\n", version.full);
    return 0;
}
