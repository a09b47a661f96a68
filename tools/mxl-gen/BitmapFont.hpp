// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstdint>

namespace mxl::gen
{
    /// A 5x7 bitmap font of the decimal digits: seven rows per glyph, bit 4 is the leftmost column.
    inline constexpr int glyphWidth = 5;
    inline constexpr int glyphHeight = 7;

    inline constexpr std::array<std::array<std::uint8_t, glyphHeight>, 10> digitGlyphs{{
        {0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110},
        {0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110},
        {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111},
        {0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110},
        {0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010},
        {0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110},
        {0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110},
        {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000},
        {0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110},
        {0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100},
    }};

    /// True when pixel (x, y) of the glyph of digit d is set.
    [[nodiscard]] constexpr bool glyphPixel(int d, int x, int y) noexcept
    {
        return ((digitGlyphs[static_cast<std::size_t>(d)][static_cast<std::size_t>(y)] >> (glyphWidth - 1 - x)) & 1U) != 0;
    }
}
