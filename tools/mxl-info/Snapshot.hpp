// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "base/Expected.hpp"

namespace mxl::info
{
    struct Snapshot
    {
        std::uint64_t grainIndex{0};
        std::uint32_t width{0};
        std::uint32_t height{0};
    };

    /// Converts the latest complete grain of a v210 or v210a flow (the fill plane) into an 8-bit RGB
    /// PNG, BT.709 limited range. Reads through a read-only mapping: the flow never notices.
    Expected<Snapshot> writeSnapshot(std::filesystem::path const& domain, std::string const& flowId, std::filesystem::path const& output);
}
