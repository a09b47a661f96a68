// SPDX-License-Identifier: Apache-2.0
#include <mxl/time.h>
#include "time/Timing.hpp"

using namespace mxl;

extern "C" MXL_EXPORT uint64_t mxlGetTime(void)
{
    return taiNow();
}

extern "C" MXL_EXPORT uint64_t mxlGetCurrentIndex(mxlRational const* editRate)
{
    return editRate == nullptr ? undefinedIndex : timestampToIndex(*editRate, taiNow());
}

extern "C" MXL_EXPORT uint64_t mxlGetNsUntilIndex(uint64_t index, mxlRational const* editRate)
{
    if (editRate == nullptr || !isValidRate(*editRate))
    {
        return UINT64_MAX;
    }
    auto const due = indexToTimestamp(*editRate, index);
    auto const now = taiNow();
    return due > now ? due - now : 0;
}

extern "C" MXL_EXPORT uint64_t mxlTimestampToIndex(mxlRational const* editRate, uint64_t timestamp)
{
    return editRate == nullptr ? undefinedIndex : timestampToIndex(*editRate, timestamp);
}

extern "C" MXL_EXPORT uint64_t mxlIndexToTimestamp(mxlRational const* editRate, uint64_t index)
{
    return editRate == nullptr ? undefinedIndex : indexToTimestamp(*editRate, index);
}

extern "C" MXL_EXPORT void mxlSleepForNs(uint64_t ns)
{
    sleepForNs(ns);
}

extern "C" MXL_EXPORT void mxlSleepUntil(uint64_t timestamp)
{
    sleepUntilTai(timestamp);
}
