// SPDX-License-Identifier: Apache-2.0
#include "mxl-gen/AncGenerator.hpp"

#include <cstring>
#include <span>

#include <spdlog/spdlog.h>

#include <mxl/time.h>
#include "mxl-gen/AncTimecode.hpp"
#include "mxl-gen/Pacing.hpp"

namespace mxl::gen
{
    AncGenerator::AncGenerator(mxlFlowWriter writer, std::string id, mxlRational rate)
        : Generator{writer, std::move(id), rate}
    {}

    bool AncGenerator::run(std::atomic<bool> const& stop)
    {
        auto next = mxlGetCurrentIndex(&_rate);
        while (!stop.load(std::memory_order_relaxed))
        {
            next = catchUp(next, "anc");
            if (!sleepUntilUnlessStopped(mxlIndexToTimestamp(&_rate, next), stop))
            {
                break;
            }
            mxlGrainInfo info{};
            std::uint8_t* payload = nullptr;
            if (auto const status = mxlFlowWriterOpenGrain(_writer, next, &info, &payload); status != MXL_STATUS_OK)
            {
                spdlog::error("anc {}: cannot open grain {} (status {})", _id, next, static_cast<int>(status));
                return false;
            }
            std::memset(payload, 0, info.grainSize);
            writeAtcPayload(timecodeForIndex(next, _rate), _rate, std::span{payload, info.grainSize});
            info.validSlices = info.totalSlices;
            if (auto const status = mxlFlowWriterCommitGrain(_writer, &info); status != MXL_STATUS_OK)
            {
                spdlog::error("anc {}: cannot commit grain {} (status {})", _id, next, static_cast<int>(status));
                return false;
            }
            ++next;
        }
        return true;
    }
}
