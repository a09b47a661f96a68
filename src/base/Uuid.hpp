// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/Expected.hpp"

namespace mxl
{
    using Uuid = std::array<std::uint8_t, 16>;

    /// Parses the canonical 8-4-4-4-12 form (either case). Anything else gives nothing.
    std::optional<Uuid> parseUuid(std::string_view text) noexcept;

    /// Canonical lowercase form, as used in flow directory names.
    std::string formatUuid(Uuid const& id);

    /// A random (version 4) UUID from the one random source (base/Random.hpp). MXL_ERR_INTERNAL when
    /// the kernel gives no random bytes.
    Expected<Uuid> randomUuid();
}
