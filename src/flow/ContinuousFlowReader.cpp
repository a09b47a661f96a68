// SPDX-License-Identifier: Apache-2.0
#include "flow/ContinuousFlowReader.hpp"

#include <algorithm>
#include <atomic>

#include "flow/SampleRange.hpp"

namespace mxl
{
    mxlStatus ContinuousFlowReader::getSamples(std::uint64_t index, std::size_t count, std::uint64_t timeoutNs,
        mxlWrappedMultiBufferSlice* out) noexcept
    {
        if (out == nullptr || count == 0 || count > maxReadLength() || index < count || index == UINT64_MAX)
        {
            return MXL_ERR_INVALID_ARG;
        }
        auto const status = waitFor(timeoutNs, [&] { return tryGetSamples(index, count, out); });
        if (status == MXL_STATUS_OK)
        {
            noteRead();
        }
        return status;
    }

    mxlStatus ContinuousFlowReader::tryGetSamples(std::uint64_t index, std::size_t count, mxlWrappedMultiBufferSlice* out) const noexcept
    {
        auto& f = flow();
        auto const head = f.headIndex().load(std::memory_order_acquire);
        auto const length = f.bufferLength();
        if (index > head)
        {
            return MXL_ERR_OUT_OF_RANGE_TOO_EARLY;
        }
        // The writer may be filling up to half a ring ahead of the head: only the half behind it is safe.
        if (index - count + length / 2 < head)
        {
            return MXL_ERR_OUT_OF_RANGE_TOO_LATE;
        }
        describeSamples(f, index, count, *out);
        return MXL_STATUS_OK;
    }
}
