// SPDX-License-Identifier: Apache-2.0
#include "mxl-gen/AudioGenerator.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <spdlog/spdlog.h>

#include <mxl/time.h>
#include "mxl-gen/Pacing.hpp"

namespace mxl::gen
{
    AudioGenerator::AudioGenerator(mxlFlowWriter writer, std::string id, mxlRational rate, std::uint32_t batch, std::size_t maxWrite)
        : Generator{writer, std::move(id), rate}
        , _batch{std::max<std::uint32_t>(1, batch)}
        , _maxWrite{maxWrite}
    {}

    float AudioGenerator::sample(std::uint64_t index, mxlRational const& rate) noexcept
    {
        // The phase in cycles, reduced exactly (integer arithmetic) so that it never loses
        // precision, however large the TAI sample index.
        auto const num = static_cast<std::uint64_t>(rate.numerator);
        auto const den = static_cast<std::uint64_t>(rate.denominator);
        auto const hz = static_cast<std::uint64_t>(toneHz);
        auto const cycleNum = (index % num) * den % num * hz % num;
        auto const phase = static_cast<double>(cycleNum) / static_cast<double>(num);
        return static_cast<float>(toneAmplitude * std::sin(2.0 * std::numbers::pi * phase));
    }

    bool AudioGenerator::run(std::atomic<bool> const& stop)
    {
        // Beyond this lag (100 ms, or what one commit can hold) the generator skips ahead instead
        // of catching up.
        auto const catchUpLimit = std::min<std::uint64_t>(_maxWrite, static_cast<std::uint64_t>(_rate.numerator / _rate.denominator / 10));
        auto next = mxlGetCurrentIndex(&_rate);
        while (!stop.load(std::memory_order_relaxed))
        {
            auto const target = next + _batch;
            if (!sleepUntilUnlessStopped(mxlIndexToTimestamp(&_rate, target), stop))
            {
                break;
            }
            auto const end = std::max(target, mxlGetCurrentIndex(&_rate));
            if (end - next > catchUpLimit)
            {
                auto const resume = end - _batch;
                _skipped.fetch_add(resume - next, std::memory_order_relaxed);
                spdlog::warn("audio {}: {} samples behind TAI time; skipping to sample {} ({} skipped in all)", _id, end - next, resume, skipped());
                next = resume;
            }
            auto const count = static_cast<std::size_t>(end - next);
            mxlMutableWrappedMultiBufferSlice slices{};
            if (auto const status = mxlFlowWriterOpenSamples(_writer, end, count, &slices); status != MXL_STATUS_OK)
            {
                spdlog::error("audio {}: cannot open samples {}..{} (status {})", _id, next, end, static_cast<int>(status));
                return false;
            }
            for (std::size_t c = 0; c < slices.count; ++c)
            {
                auto index = next;
                for (auto const& fragment : slices.base.fragments)
                {
                    auto* out = reinterpret_cast<float*>(static_cast<std::uint8_t*>(fragment.pointer) + c * slices.stride);
                    auto const n = fragment.size / sizeof(float);
                    for (std::size_t i = 0; i < n; ++i)
                    {
                        out[i] = sample(index++, _rate);
                    }
                }
            }
            if (auto const status = mxlFlowWriterCommitSamples(_writer); status != MXL_STATUS_OK)
            {
                spdlog::error("audio {}: cannot commit samples up to {} (status {})", _id, end, static_cast<int>(status));
                return false;
            }
            next = end;
        }
        return true;
    }
}
