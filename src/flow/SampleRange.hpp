// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "flow/Flow.hpp"

namespace mxl
{
    /// Describes the count samples before index in every channel of a continuous flow: up to two
    /// fragments of channel 0 (the second when the range wraps the ring), and the stride to the same
    /// range in the next channel. Slices is mxlWrappedMultiBufferSlice or its mutable twin.
    template<typename Slices>
    void describeSamples(Flow const& flow, std::uint64_t index, std::size_t count, Slices& out) noexcept
    {
        auto const length = flow.bufferLength();
        auto const word = flow.sampleWordSize();
        auto const start = (index - count) % length;
        auto const first = std::min<std::uint64_t>(count, length - start);
        out.base.fragments[0].pointer = flow.channels() + start * word;
        out.base.fragments[0].size = first * word;
        out.base.fragments[1].pointer = flow.channels();
        out.base.fragments[1].size = (count - first) * word;
        out.stride = static_cast<std::size_t>(length) * word;
        out.count = flow.channelCount();
    }
}
