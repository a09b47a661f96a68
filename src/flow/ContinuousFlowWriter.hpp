// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>

#include <mxl/flow.h>
#include "flow/FlowWriter.hpp"

namespace mxl
{
    /// Writes sample ranges into per-channel rings, in place.
    class ContinuousFlowWriter final : public FlowWriter
    {
    public:
        using FlowWriter::FlowWriter;

        [[nodiscard]] std::size_t maxWriteLength() const noexcept
        {
            return flow().bufferLength() / 2;
        }

        mxlStatus openSamples(std::uint64_t index, std::size_t count, mxlMutableWrappedMultiBufferSlice* out) noexcept;
        mxlStatus cancelSamples() noexcept;
        mxlStatus commitSamples() noexcept;

        /// Publishes samples up to index that are already in the rings (the bridge's mirror).
        mxlStatus commitArrived(std::uint64_t index) noexcept;

    private:
        static constexpr std::uint64_t undefined = UINT64_MAX;

        std::uint64_t _openIndex{undefined};
    };
}
