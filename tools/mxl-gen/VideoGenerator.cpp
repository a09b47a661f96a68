// SPDX-License-Identifier: Apache-2.0
#include "mxl-gen/VideoGenerator.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <mxl/time.h>
#include "mxl-gen/Pacing.hpp"

namespace mxl::gen
{
    VideoGenerator::VideoGenerator(mxlFlowWriter writer, std::string id, mxlRational rate, std::uint32_t width, std::uint32_t height,
        bool withKey, std::uint32_t batches, mxlFlowConfigInfo const& config)
        : Generator{writer, std::move(id), rate}
        , _pattern{width, height, withKey}
        , _batches{batches}
        , _withKey{withKey}
    {
        std::copy(std::begin(config.discrete.sliceSizes), std::end(config.discrete.sliceSizes), _sliceSizes.begin());
    }

    bool VideoGenerator::run(std::atomic<bool> const& stop)
    {
        auto next = mxlGetCurrentIndex(&_rate);
        while (!stop.load(std::memory_order_relaxed))
        {
            next = catchUp(next, "video");

            mxlGrainInfo info{};
            std::uint8_t* payload = nullptr;
            if (auto const status = mxlFlowWriterOpenGrain(_writer, next, &info, &payload); status != MXL_STATUS_OK)
            {
                spdlog::error("video {}: cannot open grain {} (status {})", _id, next, static_cast<int>(status));
                return false;
            }
            auto const lines = static_cast<std::uint32_t>(info.totalSlices);
            auto const batches = std::clamp<std::uint32_t>(_batches, 1, lines);
            auto* key = _withKey ? payload + static_cast<std::size_t>(_sliceSizes[0]) * lines : nullptr;
            auto const start = mxlIndexToTimestamp(&_rate, next);
            auto const period = mxlIndexToTimestamp(&_rate, next + 1) - start;
            _pattern.setGrain(next);

            std::uint32_t done = 0;
            for (std::uint32_t b = 0; b < batches; ++b)
            {
                auto const end = static_cast<std::uint32_t>(static_cast<std::uint64_t>(b + 1) * lines / batches);
                _pattern.renderLines(done, end, payload, _sliceSizes[0], key, _sliceSizes[1]);
                if (!sleepUntilUnlessStopped(start + period * b / batches, stop))
                {
                    mxlFlowWriterCancelGrain(_writer);
                    return true;
                }
                info.validSlices = static_cast<std::uint16_t>(end);
                if (auto const status = mxlFlowWriterCommitGrain(_writer, &info); status != MXL_STATUS_OK)
                {
                    spdlog::error("video {}: cannot commit grain {} (status {})", _id, next, static_cast<int>(status));
                    return false;
                }
                done = end;
            }
            ++next;
        }
        return true;
    }
}
