/* SPDX-License-Identifier: Apache-2.0 */
/* What mxl/remote.h declares, through that header alone: the lease type and both functions. */
#include <mxl/remote.h>

#include "check.h"

HEADER_CHECK(remoteHeader)
{
    mxlRemoteFlow remote = 0;
    mxlStatus (*acquire)(mxlInstance, char const*, uint32_t, mxlRemoteFlow*) = mxlAcquireRemoteFlow;
    mxlStatus (*release)(mxlInstance, mxlRemoteFlow) = mxlReleaseRemoteFlow;
    /* No instance: refused, never dereferenced. */
    return acquire(0, "mxl://10.0.0.1/5f0c1b2a-3d4e-4f60-8a9b-0c1d2e3f4a5b", 10, &remote) == MXL_ERR_INVALID_ARG && remote == 0 &&
                   release(0, 0) == MXL_ERR_INVALID_ARG
               ? 0
               : 1;
}
