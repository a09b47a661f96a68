// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>

#include <mxl/rational.h>

namespace mxl
{
    inline constexpr std::uint64_t undefinedIndex = UINT64_MAX;

    // 64 x 64 bit products of timestamps and rates need 128 bits to stay exact.
    __extension__ using uint128 = unsigned __int128;

    [[nodiscard]] constexpr bool isValidRate(mxlRational const& r) noexcept
    {
        return r.numerator > 0 && r.denominator > 0;
    }

    /// A result beyond 64 bits (e.g. the timestamp of an index centuries away) has no value: it must
    /// not wrap around into a plausible-looking one.
    [[nodiscard]] constexpr std::uint64_t narrowOrUndefined(uint128 value) noexcept
    {
        return value >= undefinedIndex ? undefinedIndex : static_cast<std::uint64_t>(value);
    }

    /// index = round(ts * num / (1e9 * den)), exact in 128 bits.
    [[nodiscard]] constexpr std::uint64_t timestampToIndex(mxlRational const& rate, std::uint64_t ts) noexcept
    {
        if (!isValidRate(rate))
        {
            return undefinedIndex;
        }
        auto const num = static_cast<uint128>(ts) * static_cast<std::uint64_t>(rate.numerator);
        auto const den = static_cast<uint128>(1'000'000'000ULL) * static_cast<std::uint64_t>(rate.denominator);
        return narrowOrUndefined((num + den / 2) / den);
    }

    /// ts = round(index * den * 1e9 / num), exact in 128 bits.
    [[nodiscard]] constexpr std::uint64_t indexToTimestamp(mxlRational const& rate, std::uint64_t index) noexcept
    {
        if (!isValidRate(rate))
        {
            return undefinedIndex;
        }
        auto const num = static_cast<uint128>(index) * static_cast<std::uint64_t>(rate.denominator) * 1'000'000'000ULL;
        auto const den = static_cast<uint128>(static_cast<std::uint64_t>(rate.numerator));
        return narrowOrUndefined((num + den / 2) / den);
    }

    /// Whole items (grains or samples) in durationNs at rate, rounded down.
    [[nodiscard]] constexpr std::uint64_t itemsInDuration(mxlRational const& rate, std::uint64_t durationNs) noexcept
    {
        if (!isValidRate(rate))
        {
            return 0;
        }
        auto const num = static_cast<uint128>(durationNs) * static_cast<std::uint64_t>(rate.numerator);
        auto const den = static_cast<uint128>(1'000'000'000ULL) * static_cast<std::uint64_t>(rate.denominator);
        return static_cast<std::uint64_t>(num / den);
    }

    /// CLOCK_TAI in ns. Logs a warning once when the kernel's TAI offset is unset (TAI == UTC).
    std::uint64_t taiNow() noexcept;

    /// CLOCK_MONOTONIC in ns, for deadlines.
    std::uint64_t monotonicNow() noexcept;

    /// True when CLOCK_TAI and CLOCK_REALTIME agree to within a second (offset unset).
    bool taiOffsetUnset() noexcept;

    void sleepForNs(std::uint64_t ns) noexcept;
    void sleepUntilTai(std::uint64_t taiTs) noexcept;
}
