// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>

#include "flow/FlowReader.hpp"

namespace mxl
{
    /// Reads grains in place from a read-only mapping.
    class DiscreteFlowReader final : public FlowReader
    {
    public:
        using FlowReader::FlowReader;

        /// OK once min(minValidSlices, totalSlices) slices of grain index are committed (or it is
        /// flagged INVALID); TOO_LATE once its slot was reused; TOO_EARLY until then or on timeout.
        mxlStatus getGrain(std::uint64_t index, std::uint16_t minValidSlices, std::uint64_t timeoutNs, mxlGrainInfo* out,
            std::uint8_t** payload) noexcept;

    private:
        mxlStatus tryGetGrain(std::uint64_t index, std::uint16_t minValidSlices, mxlGrainInfo* out, std::uint8_t** payload) const noexcept;
    };
}
