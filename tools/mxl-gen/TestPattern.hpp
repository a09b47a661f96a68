// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mxl::gen
{
    /// 75% colour bars over the top two thirds of the frame (white, yellow, cyan, green, magenta,
    /// red, blue in seven equal columns); below them, on black, a white box moving horizontally with
    /// the grain index and the grain index in large digits. The v210a key is opaque (940)
    /// everywhere except inside the moving box, where it is transparent (64).
    class TestPattern
    {
    public:
        TestPattern(std::uint32_t width, std::uint32_t height, bool withKey);

        /// Positions the box and the counter for grain `index`.
        void setGrain(std::uint64_t index);

        /// Writes lines [first, last) of the current grain: the fill plane at fill + y * fillStride
        /// and, with a key, the key plane at key + y * keyStride.
        void renderLines(std::uint32_t first, std::uint32_t last, std::uint8_t* fill, std::size_t fillStride, std::uint8_t* key,
            std::size_t keyStride);

        [[nodiscard]] std::uint32_t barsEnd() const noexcept
        {
            return _barsEnd;
        }

    private:
        struct Span
        {
            std::uint32_t begin{0};
            std::uint32_t end{0};
        };

        void packBandLine(std::uint32_t y, std::uint8_t* fill, std::uint8_t* key);

        std::uint32_t _width;
        std::uint32_t _height;
        bool _withKey;
        std::uint32_t _barsEnd;
        Span _boxRows;
        Span _textRows;
        std::uint32_t _boxWidth;
        std::uint32_t _boxStep;
        std::uint32_t _textScale;

        // Per grain.
        Span _boxColumns;
        std::string _counter;

        // Lines that never change, packed once.
        std::vector<std::uint8_t> _barsLine;
        std::vector<std::uint8_t> _blackLine;
        std::vector<std::uint8_t> _opaqueKeyLine;

        // Scratch for lines drawn per grain.
        std::vector<std::uint16_t> _y;
        std::vector<std::uint16_t> _cb;
        std::vector<std::uint16_t> _cr;
        std::vector<std::uint16_t> _key;
    };
}
