// SPDX-License-Identifier: Apache-2.0
#include "flow/ContinuousFlowWriter.hpp"

#include <atomic>

#include "flow/SampleRange.hpp"
#include "time/Timing.hpp"

namespace mxl
{
    mxlStatus ContinuousFlowWriter::openSamples(std::uint64_t index, std::size_t count, mxlMutableWrappedMultiBufferSlice* out) noexcept
    {
        if (out == nullptr || count == 0 || count > maxWriteLength() || index < count || index == undefined)
        {
            return MXL_ERR_INVALID_ARG;
        }
        describeSamples(flow(), index, count, *out);
        _openIndex = index;
        return MXL_STATUS_OK;
    }

    mxlStatus ContinuousFlowWriter::cancelSamples() noexcept
    {
        if (_openIndex == undefined)
        {
            return MXL_ERR_INVALID_STATE;
        }
        _openIndex = undefined;
        return MXL_STATUS_OK;
    }

    mxlStatus ContinuousFlowWriter::commitSamples() noexcept
    {
        if (_openIndex == undefined)
        {
            return MXL_ERR_INVALID_STATE;
        }
        auto const index = _openIndex;
        _openIndex = undefined;
        return commitArrived(index);
    }

    mxlStatus ContinuousFlowWriter::commitArrived(std::uint64_t index) noexcept
    {
        if (index == undefined)
        {
            return MXL_ERR_INVALID_ARG;
        }
        auto& f = flow();
        auto head = f.headIndex();
        auto const previous = head.load(std::memory_order_relaxed);
        head.store(index, std::memory_order_release);
        stampWrite(taiNow());

        // Readers are woken once per sync batch, not per commit: at 48 kHz with 1 ms commits a wake
        // per commit would cost more than the audio.
        auto const batch = std::max<std::uint32_t>(1U, f.info().config.common.maxSyncBatchSizeHint);
        if (index / batch != previous / batch || index < previous)
        {
            f.signal();
        }
        return MXL_STATUS_OK;
    }
}
