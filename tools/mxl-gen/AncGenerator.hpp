// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "mxl-gen/Generator.hpp"

namespace mxl::gen
{
    /// video/smpte291 grains each carrying one SMPTE ST 12-2 ATC packet (RFC 8331 payload) with the
    /// timecode of the grain's index. Grain i is committed whole at ts(i).
    class AncGenerator final : public Generator
    {
    public:
        AncGenerator(mxlFlowWriter writer, std::string id, mxlRational rate);

        bool run(std::atomic<bool> const& stop) override;
    };
}
