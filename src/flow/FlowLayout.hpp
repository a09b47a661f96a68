// SPDX-License-Identifier: Apache-2.0
#pragma once

// The MXL 1.x domain format: file names, sizes and the flow state that follows the header.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <mxl/flowinfo.h>
#include "base/Uuid.hpp"

namespace mxl
{
    inline constexpr std::uint32_t flowInfoVersion = 1;
    inline constexpr std::uint32_t grainInfoVersion = 1;

    /// Bytes 2048..2063 of `data`.
    struct FlowState
    {
        std::uint64_t inode;       ///< Inode of this `data` file, written at creation.
        std::uint32_t syncCounter; ///< Futex word: incremented on every commit.
        std::uint32_t padding;
    };

    struct FlowData
    {
        mxlFlowInfo info;
        FlowState state;
    };

    static_assert(sizeof(FlowState) == 16);
    static_assert(sizeof(FlowData) == 2064);
    static_assert(offsetof(FlowData, state.inode) == 2048);
    static_assert(offsetof(FlowData, state.syncCounter) == 2056);

    /// Grain files: 4096 bytes of header, 4096 of padding, then the payload (page aligned).
    inline constexpr std::size_t grainPayloadOffset = 8192;

    /// Refuse rings larger than this when creating or opening: beyond it a flow is corrupt or a typo.
    inline constexpr std::uint32_t maxGrainCount = 100'000;
    inline constexpr std::uint32_t maxChannelCount = 1024;

    inline constexpr std::string_view flowDirSuffix = ".mxl-flow";
    inline constexpr std::string_view tempDirPrefix = ".mxl-tmp-";

    inline std::string flowDirName(Uuid const& id)
    {
        return formatUuid(id) + std::string{flowDirSuffix};
    }

    inline std::string grainFileName(std::uint32_t slot)
    {
        return "grains/data." + std::to_string(slot);
    }

    /// Whole samples of each channel ring: history x rate x 2 (readers may take half the ring),
    /// rounded up to a whole number of pages.
    std::uint64_t continuousBufferLength(mxlRational const& rate, std::uint64_t historyNs, std::uint32_t wordSize) noexcept;
}
