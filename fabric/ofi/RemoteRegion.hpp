// SPDX-License-Identifier: Apache-2.0
#pragma once

// What a peer grants us to write into, as it arrives over the control channel. The key is a
// secret: it must never be logged or shown.

#include <cstdint>
#include <optional>

namespace mxl::ofi
{
    /// Where one RMA write lands on the peer: an address in the peer's terms (see
    /// MemoryRegion::remoteAddress) and the key of the region that contains it.
    struct RmaTarget
    {
        std::uint64_t address{0};
        std::uint64_t key{0};
    };

    /// A whole region a peer registered for remote writes.
    struct RemoteRegion
    {
        std::uint64_t address{0};
        std::uint64_t length{0};
        std::uint64_t key{0};

        /// The target for `size` bytes at `offset` into the region, or nullopt when that range is
        /// not entirely inside it (which is how a hostile descriptor or index is refused).
        [[nodiscard]] constexpr std::optional<RmaTarget> target(std::uint64_t offset, std::uint64_t size) const noexcept
        {
            if (offset > length || size > length - offset)
            {
                return std::nullopt;
            }
            return RmaTarget{address + offset, key};
        }
    };
}
