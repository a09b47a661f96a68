// SPDX-License-Identifier: Apache-2.0
#include "sync/SyncGroup.hpp"

#include <algorithm>

#include "flow/ContinuousFlowReader.hpp"
#include "flow/DiscreteFlowReader.hpp"
#include "time/Timing.hpp"

namespace mxl
{
    void SyncGroup::add(FlowReader* reader, std::uint16_t minValidSlices)
    {
        auto const it = std::find_if(_members.begin(), _members.end(), [&](Member const& m) { return m.reader == reader; });
        if (it != _members.end())
        {
            it->minValidSlices = minValidSlices;
            return;
        }
        _members.push_back({reader, minValidSlices});
    }

    bool SyncGroup::remove(FlowReader const* reader) noexcept
    {
        auto const it = std::find_if(_members.begin(), _members.end(), [&](Member const& m) { return m.reader == reader; });
        if (it == _members.end())
        {
            return false;
        }
        _members.erase(it);
        return true;
    }

    mxlStatus SyncGroup::waitForDataAt(std::uint64_t taiTimestamp, std::uint64_t timeoutNs) const noexcept
    {
        if (_members.empty())
        {
            return MXL_ERR_INVALID_ARG;
        }
        // Members are awaited one after the other against one deadline: the total wait is the
        // slowest member's, never the sum.
        auto const deadline = monotonicNow() + timeoutNs;
        for (auto const& member : _members)
        {
            auto const now = monotonicNow();
            auto const remaining = deadline > now ? deadline - now : 0;
            auto const rate = member.reader->flow().info().config.common.grainRate;
            auto const index = timestampToIndex(rate, taiTimestamp);
            mxlStatus status;
            if (member.reader->discrete())
            {
                mxlGrainInfo info;
                std::uint8_t* payload;
                status = static_cast<DiscreteFlowReader*>(member.reader)->getGrain(index, member.minValidSlices, remaining, &info, &payload);
            }
            else
            {
                mxlWrappedMultiBufferSlice slices;
                // The samples up to the time asked: the one just before index must be committed.
                status = static_cast<ContinuousFlowReader*>(member.reader)->getSamples(index, 1, remaining, &slices);
            }
            if (status == MXL_ERR_OUT_OF_RANGE_TOO_EARLY)
            {
                return MXL_ERR_TIMEOUT;
            }
            if (status != MXL_STATUS_OK)
            {
                return status;
            }
        }
        return MXL_STATUS_OK;
    }
}
