// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "mxl-gen/Generator.hpp"

namespace mxl::gen
{
    /// A 1 kHz sine at -20 dBFS (amplitude 0.1) on every channel, float32. Sample n is a function of
    /// its TAI sample index, so the tone is continuous across commits, ring wrap and restarts.
    class AudioGenerator final : public Generator
    {
    public:
        static constexpr double toneHz = 1000.0;
        static constexpr double toneAmplitude = 0.1;

        AudioGenerator(mxlFlowWriter writer, std::string id, mxlRational rate, std::uint32_t batch, std::size_t maxWrite);

        bool run(std::atomic<bool> const& stop) override;

        [[nodiscard]] char const* unit() const noexcept override
        {
            return "samples";
        }

        /// The value of sample `index` at `rate`.
        [[nodiscard]] static float sample(std::uint64_t index, mxlRational const& rate) noexcept;

    private:
        std::uint32_t _batch;
        std::size_t _maxWrite;
    };
}
