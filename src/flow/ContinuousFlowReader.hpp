// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>

#include <mxl/flow.h>
#include "flow/FlowReader.hpp"

namespace mxl
{
    /// Reads sample ranges in place from a read-only mapping.
    class ContinuousFlowReader final : public FlowReader
    {
    public:
        using FlowReader::FlowReader;

        [[nodiscard]] std::size_t maxReadLength() const noexcept
        {
            return flow().bufferLength() / 2;
        }

        /// The count samples before index (index-count .. index-1) of every channel.
        mxlStatus getSamples(std::uint64_t index, std::size_t count, std::uint64_t timeoutNs, mxlWrappedMultiBufferSlice* out) noexcept;

    private:
        mxlStatus tryGetSamples(std::uint64_t index, std::size_t count, mxlWrappedMultiBufferSlice* out) const noexcept;
    };
}
