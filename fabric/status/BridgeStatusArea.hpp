// SPDX-License-Identifier: Apache-2.0
#pragma once

// The status area as its writer (BridgeStatusWriter.cpp) and its reader (BridgeStatus.cpp) both see
// it: its size, the word ranges they copy, and how a failed call is reported. Not part of the API.

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string_view>

#include <fmt/format.h>

#include "base/Expected.hpp"
#include "status/BridgeStatusLayout.hpp"

namespace mxl::bridge::area
{
    using layout::FlowRecord;
    using layout::LeaseRecord;
    using layout::PeerRecord;
    using layout::StatusArea;

    inline constexpr std::size_t areaSize = sizeof(StatusArea);

    /// A byte range of the area, in whole words. Both sides copy only the header and the records
    /// in use, so that a publish is short and a read rarely overlaps one.
    struct Span
    {
        std::size_t offset;
        std::size_t size;
    };

    inline constexpr Span headerSpan{0, sizeof(layout::StatusHeader)};

    constexpr Span peersSpan(std::size_t count) noexcept
    {
        return {offsetof(StatusArea, peers), count * sizeof(PeerRecord)};
    }

    constexpr Span flowsSpan(std::size_t count) noexcept
    {
        return {offsetof(StatusArea, flows), count * sizeof(FlowRecord)};
    }

    constexpr Span leasesSpan(std::size_t count) noexcept
    {
        return {offsetof(StatusArea, leases), count * sizeof(LeaseRecord)};
    }

    inline Unexpected ioError(std::filesystem::path const& path, std::string_view action, int err)
    {
        auto const status = err == EACCES || err == EPERM || err == EROFS ? MXL_ERR_PERMISSION_DENIED : MXL_ERR_UNKNOWN;
        return fail(status, fmt::format("{}: cannot {}: {}", path.string(), action, std::strerror(err)));
    }
}
