// SPDX-License-Identifier: Apache-2.0
#pragma once

// The one random source of every layer: getrandom(2). Epochs, memory keys, connect keys, nonces,
// bridge ids and flow ids all come from here. It fails closed: when the kernel gives no random
// bytes the caller gets an error naming what the bytes were for, never a clock, a counter or a
// weaker generator in their place.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/Expected.hpp"

namespace mxl
{
    /// Fills `out` with random bytes. false (errno says why) when the kernel gives none.
    [[nodiscard]] bool fillRandom(std::span<std::byte> out) noexcept;

    /// Fills `out` with random bytes; MXL_ERR_INTERNAL naming `what` they were for when there are none.
    Expected<void> fillRandom(std::span<std::byte> out, std::string_view what);

    /// A random 64-bit value; MXL_ERR_INTERNAL naming `what` it was for when there is none.
    Expected<std::uint64_t> randomU64(std::string_view what);

    /// A random non-zero 64-bit value, for epochs (zero means "no epoch" on the wire).
    Expected<std::uint64_t> randomEpoch(std::string_view what);
}
