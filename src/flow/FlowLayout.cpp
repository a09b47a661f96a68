// SPDX-License-Identifier: Apache-2.0
#include "flow/FlowLayout.hpp"

#include "time/Timing.hpp"

namespace mxl
{
    std::uint64_t continuousBufferLength(mxlRational const& rate, std::uint64_t historyNs, std::uint32_t wordSize) noexcept
    {
        auto const samples = itemsInDuration(rate, historyNs * 2);
        std::uint64_t const pageSamples = 4096 / wordSize;
        return (samples + pageSamples - 1) / pageSamples * pageSamples;
    }
}
