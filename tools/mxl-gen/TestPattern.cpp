// SPDX-License-Identifier: Apache-2.0
#include "mxl-gen/TestPattern.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "toolkit/V210.hpp"
#include "mxl-gen/BitmapFont.hpp"

namespace mxl::gen
{
    namespace
    {
        constexpr std::uint16_t blackY = 64;
        constexpr std::uint16_t whiteY = 940;
        constexpr std::uint16_t neutralC = 512;
        constexpr std::uint16_t keyOpaque = 940;
        constexpr std::uint16_t keyTransparent = 64;
        constexpr int barCount = 7;

        tools::YCbCr10 barColour(int bar)
        {
            // R, G, B of 75% bars in SMPTE order.
            static constexpr std::array<std::array<int, 3>, barCount> rgb{{
                {1, 1, 1},
                {1, 1, 0},
                {0, 1, 1},
                {0, 1, 0},
                {1, 0, 1},
                {1, 0, 0},
                {0, 0, 1},
            }};
            auto const& c = rgb[static_cast<std::size_t>(bar)];
            return tools::rgbToYCbCr10(0.75 * c[0], 0.75 * c[1], 0.75 * c[2]);
        }
    }

    TestPattern::TestPattern(std::uint32_t width, std::uint32_t height, bool withKey)
        : _width{width}
        , _height{height}
        , _withKey{withKey}
        , _barsEnd{std::max<std::uint32_t>(1, height * 2 / 3)}
        , _y(width)
        , _cb((width + 1) / 2)
        , _cr((width + 1) / 2)
        , _key(width, keyOpaque)
    {
        auto const band = _height - std::min(_barsEnd, _height);
        _boxRows = {_barsEnd + band / 12, _barsEnd + band / 12 + std::max<std::uint32_t>(1, band / 3)};
        _boxWidth = std::min(_width, std::max<std::uint32_t>(2, (_boxRows.end - _boxRows.begin) & ~1U));
        _boxStep = std::max<std::uint32_t>(2, (_width / 120) & ~1U);

        // Twelve digits cover grain indices of TAI time at 60 Hz for the next centuries.
        constexpr std::uint32_t digits = 12;
        auto const byHeight = band / (glyphHeight * 4);
        auto const byWidth = _width / (digits * (glyphWidth + 1) + 2);
        _textScale = std::max<std::uint32_t>(1, std::min(byHeight, byWidth));
        auto const textTop = _barsEnd + band / 2;
        _textRows = {textTop, textTop + glyphHeight * _textScale};

        auto const lineBytes = tools::v210LineBytes(_width);
        for (std::uint32_t x = 0; x < _width; ++x)
        {
            auto const bar = static_cast<int>(static_cast<std::uint64_t>(x) * barCount / _width);
            auto const c = barColour(bar);
            _y[x] = c.y;
            if (x % 2 == 0)
            {
                _cb[x / 2] = c.cb;
                _cr[x / 2] = c.cr;
            }
        }
        _barsLine.resize(lineBytes);
        tools::packV210Line(_y, _cb, _cr, _barsLine.data(), _width);

        std::fill(_y.begin(), _y.end(), blackY);
        std::fill(_cb.begin(), _cb.end(), neutralC);
        std::fill(_cr.begin(), _cr.end(), neutralC);
        _blackLine.resize(lineBytes);
        tools::packV210Line(_y, _cb, _cr, _blackLine.data(), _width);

        _opaqueKeyLine.resize(tools::v210KeyLineBytes(_width));
        tools::packKeyLine(_key, _opaqueKeyLine.data(), _width);
    }

    void TestPattern::setGrain(std::uint64_t index)
    {
        auto const travel = _width - _boxWidth + 1;
        auto const left = static_cast<std::uint32_t>(index * _boxStep % travel) & ~1U;
        _boxColumns = {left, left + _boxWidth};
        _counter = std::to_string(index);
    }

    void TestPattern::renderLines(std::uint32_t first, std::uint32_t last, std::uint8_t* fill, std::size_t fillStride, std::uint8_t* key,
        std::size_t keyStride)
    {
        auto inside = [](Span const& s, std::uint32_t v) {
            return v >= s.begin && v < s.end;
        };
        for (auto y = first; y < last && y < _height; ++y)
        {
            auto* fillLine = fill + y * fillStride;
            auto* keyLine = _withKey ? key + y * keyStride : nullptr;
            if (y < _barsEnd)
            {
                std::memcpy(fillLine, _barsLine.data(), _barsLine.size());
            }
            else if (inside(_boxRows, y) || inside(_textRows, y))
            {
                packBandLine(y, fillLine, keyLine);
                continue;
            }
            else
            {
                std::memcpy(fillLine, _blackLine.data(), _blackLine.size());
            }
            if (keyLine != nullptr)
            {
                std::memcpy(keyLine, _opaqueKeyLine.data(), _opaqueKeyLine.size());
            }
        }
    }

    void TestPattern::packBandLine(std::uint32_t y, std::uint8_t* fill, std::uint8_t* key)
    {
        std::fill(_y.begin(), _y.end(), blackY);
        bool const inBox = y >= _boxRows.begin && y < _boxRows.end;
        if (inBox)
        {
            std::fill(_y.begin() + _boxColumns.begin, _y.begin() + std::min(_boxColumns.end, _width), whiteY);
        }
        if (y >= _textRows.begin && y < _textRows.end)
        {
            auto const row = static_cast<int>((y - _textRows.begin) / _textScale);
            auto const advance = (glyphWidth + 1) * _textScale;
            auto x0 = _textScale * 2;
            for (char const ch : _counter)
            {
                for (int col = 0; col < glyphWidth; ++col)
                {
                    if (!glyphPixel(ch - '0', col, row))
                    {
                        continue;
                    }
                    auto const begin = x0 + static_cast<std::uint32_t>(col) * _textScale;
                    for (auto x = begin; x < begin + _textScale && x < _width; ++x)
                    {
                        _y[x] = whiteY;
                    }
                }
                x0 += advance;
            }
        }
        tools::packV210Line(_y, _cb, _cr, fill, _width);
        if (key != nullptr)
        {
            if (inBox)
            {
                std::fill(_key.begin() + _boxColumns.begin, _key.begin() + std::min(_boxColumns.end, _width), keyTransparent);
                tools::packKeyLine(_key, key, _width);
                std::fill(_key.begin(), _key.end(), keyOpaque);
            }
            else
            {
                std::memcpy(key, _opaqueKeyLine.data(), _opaqueKeyLine.size());
            }
        }
    }
}
