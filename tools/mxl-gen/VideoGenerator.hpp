// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>

#include <mxl/flowinfo.h>
#include "mxl-gen/Generator.hpp"
#include "mxl-gen/TestPattern.hpp"

namespace mxl::gen
{
    /// v210 / v210a test pattern. Grain i is filled and committed in `batches` steps spread over
    /// [ts(i), ts(i+1)), so that readers see its lines arrive progressively.
    class VideoGenerator final : public Generator
    {
    public:
        VideoGenerator(mxlFlowWriter writer, std::string id, mxlRational rate, std::uint32_t width, std::uint32_t height, bool withKey,
            std::uint32_t batches, mxlFlowConfigInfo const& config);

        bool run(std::atomic<bool> const& stop) override;

    private:
        TestPattern _pattern;
        std::uint32_t _batches;
        std::array<std::uint32_t, MXL_MAX_PLANES_PER_GRAIN> _sliceSizes{};
        bool _withKey;
    };
}
