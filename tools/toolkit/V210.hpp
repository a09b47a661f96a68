// SPDX-License-Identifier: Apache-2.0
#pragma once

// v210 (10-bit 4:2:2, six pixels in 16 bytes) and the v210a key plane, with BT.709 limited-range
// conversions to and from RGB. mxl-gen packs its test pattern with these; mxl-info unpacks
// snapshots with them.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>

namespace mxl::tools
{
    /// Bytes of one v210 line: lines are padded to 48 pixels (128 bytes).
    [[nodiscard]] constexpr std::size_t v210LineBytes(std::uint32_t width) noexcept
    {
        return (static_cast<std::size_t>(width) + 47) / 48 * 128;
    }

    /// Bytes of one v210a key line: three 10-bit samples per 32-bit word.
    [[nodiscard]] constexpr std::size_t v210KeyLineBytes(std::uint32_t width) noexcept
    {
        return (static_cast<std::size_t>(width) + 2) / 3 * 4;
    }

    /// 10-bit limited-range levels (BT.709: Y 64..940, Cb/Cr 64..960 around 512).
    struct YCbCr10
    {
        std::uint16_t y{64};
        std::uint16_t cb{512};
        std::uint16_t cr{512};
    };

    struct Rgb8
    {
        std::uint8_t r{0};
        std::uint8_t g{0};
        std::uint8_t b{0};
    };

    inline constexpr double bt709Kr = 0.2126;
    inline constexpr double bt709Kb = 0.0722;
    inline constexpr double bt709Kg = 1.0 - bt709Kr - bt709Kb;

    /// Non-linear R'G'B' in 0..1 to 10-bit limited-range YCbCr.
    [[nodiscard]] inline YCbCr10 rgbToYCbCr10(double r, double g, double b) noexcept
    {
        double const y = bt709Kr * r + bt709Kg * g + bt709Kb * b;
        double const cb = (b - y) / (2.0 * (1.0 - bt709Kb));
        double const cr = (r - y) / (2.0 * (1.0 - bt709Kr));
        auto level = [](double v, double lo, double hi) {
            return static_cast<std::uint16_t>(std::clamp(std::lround(v), static_cast<long>(lo), static_cast<long>(hi)));
        };
        return {level(64.0 + 876.0 * y, 4, 1019), level(512.0 + 896.0 * cb, 4, 1019), level(512.0 + 896.0 * cr, 4, 1019)};
    }

    /// 10-bit limited-range YCbCr to 8-bit full-range R'G'B' (values outside the legal range clip).
    [[nodiscard]] inline Rgb8 yCbCr10ToRgb8(YCbCr10 const& p) noexcept
    {
        double const y = (static_cast<double>(p.y) - 64.0) / 876.0;
        double const cb = (static_cast<double>(p.cb) - 512.0) / 896.0;
        double const cr = (static_cast<double>(p.cr) - 512.0) / 896.0;
        double const r = y + 2.0 * (1.0 - bt709Kr) * cr;
        double const b = y + 2.0 * (1.0 - bt709Kb) * cb;
        double const g = (y - bt709Kr * r - bt709Kb * b) / bt709Kg;
        auto byte = [](double v) {
            return static_cast<std::uint8_t>(std::clamp(std::lround(v * 255.0), 0L, 255L));
        };
        return {byte(r), byte(g), byte(b)};
    }

    /// Packs one line: y has `width` samples, cb and cr one per pixel pair ((width + 1) / 2).
    /// Pixels beyond width, up to the line's padding, are black.
    inline void packV210Line(std::span<std::uint16_t const> y, std::span<std::uint16_t const> cb, std::span<std::uint16_t const> cr,
        std::uint8_t* line, std::uint32_t width) noexcept
    {
        auto const groups = v210LineBytes(width) / 16;
        auto luma = [&](std::size_t i) -> std::uint32_t {
            return i < width ? y[i] : 64U;
        };
        auto chroma = [&](std::span<std::uint16_t const> c, std::size_t i) -> std::uint32_t {
            return i < (width + 1U) / 2U ? c[i] : 512U;
        };
        for (std::size_t g = 0; g < groups; ++g)
        {
            auto const p = g * 6;
            auto const c = g * 3;
            std::uint32_t const words[4] = {
                chroma(cb, c) | luma(p) << 10 | chroma(cr, c) << 20,
                luma(p + 1) | chroma(cb, c + 1) << 10 | luma(p + 2) << 20,
                chroma(cr, c + 1) | luma(p + 3) << 10 | chroma(cb, c + 2) << 20,
                luma(p + 4) | chroma(cr, c + 2) << 10 | luma(p + 5) << 20,
            };
            std::memcpy(line + g * 16, words, sizeof words);
        }
    }

    /// Unpacks pixel x of a v210 line; chroma is that of the pixel's pair.
    [[nodiscard]] inline YCbCr10 unpackV210Pixel(std::uint8_t const* line, std::uint32_t x) noexcept
    {
        std::uint32_t w[4];
        std::memcpy(w, line + (x / 6) * 16, sizeof w);
        auto field = [&](int word, int slot) {
            return static_cast<std::uint16_t>((w[word] >> (10 * slot)) & 0x3FFU);
        };
        switch (x % 6)
        {
            case 0: return {field(0, 1), field(0, 0), field(0, 2)};
            case 1: return {field(1, 0), field(0, 0), field(0, 2)};
            case 2: return {field(1, 2), field(1, 1), field(2, 0)};
            case 3: return {field(2, 1), field(1, 1), field(2, 0)};
            case 4: return {field(3, 0), field(2, 2), field(3, 1)};
            default: return {field(3, 2), field(2, 2), field(3, 1)};
        }
    }

    /// Packs one key line (`width` 10-bit samples; padding samples are 0).
    inline void packKeyLine(std::span<std::uint16_t const> key, std::uint8_t* line, std::uint32_t width) noexcept
    {
        auto const words = v210KeyLineBytes(width) / 4;
        for (std::size_t i = 0; i < words; ++i)
        {
            std::uint32_t word = 0;
            for (std::size_t k = 0; k < 3; ++k)
            {
                auto const x = i * 3 + k;
                word |= static_cast<std::uint32_t>(x < width ? key[x] & 0x3FFU : 0U) << (10 * k);
            }
            std::memcpy(line + i * 4, &word, sizeof word);
        }
    }
}
