// SPDX-License-Identifier: Apache-2.0
#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "toolkit/V210.hpp"

namespace mxl::tools
{
    TEST(V210Test, LineSizesFollowTheFormat)
    {
        EXPECT_EQ(v210LineBytes(1920), 5120U);
        EXPECT_EQ(v210LineBytes(1280), 3456U);
        EXPECT_EQ(v210LineBytes(720), 1920U);
        EXPECT_EQ(v210LineBytes(2), 128U);
        EXPECT_EQ(v210LineBytes(48), 128U);
        EXPECT_EQ(v210LineBytes(49), 256U);
        EXPECT_EQ(v210KeyLineBytes(1920), 2560U);
        EXPECT_EQ(v210KeyLineBytes(1280), 1708U);
        EXPECT_EQ(v210KeyLineBytes(4), 8U);
    }

    TEST(V210Test, WordsHoldSixPixelsInTheDocumentedOrder)
    {
        // Pixel p has Y = 100 + p; pair k has Cb = 300 + k, Cr = 600 + k.
        std::vector<std::uint16_t> y{100, 101, 102, 103, 104, 105};
        std::vector<std::uint16_t> cb{300, 301, 302};
        std::vector<std::uint16_t> cr{600, 601, 602};
        std::vector<std::uint8_t> line(v210LineBytes(6));
        packV210Line(y, cb, cr, line.data(), 6);
        std::array<std::uint32_t, 4> w{};
        std::memcpy(w.data(), line.data(), 16);
        EXPECT_EQ(w[0], 300U | 100U << 10 | 600U << 20);
        EXPECT_EQ(w[1], 101U | 301U << 10 | 102U << 20);
        EXPECT_EQ(w[2], 601U | 103U << 10 | 302U << 20);
        EXPECT_EQ(w[3], 104U | 602U << 10 | 105U << 20);
        // Padding pixels up to 48 are black.
        std::memcpy(w.data(), line.data() + 16, 16);
        EXPECT_EQ(w[0], 512U | 64U << 10 | 512U << 20);
    }

    TEST(V210Test, UnpackReturnsWhatWasPacked)
    {
        constexpr std::uint32_t width = 100;
        std::vector<std::uint16_t> y(width), cb(width / 2), cr(width / 2);
        for (std::uint32_t x = 0; x < width; ++x)
        {
            y[x] = static_cast<std::uint16_t>(64 + x * 8);
        }
        for (std::uint32_t k = 0; k < width / 2; ++k)
        {
            cb[k] = static_cast<std::uint16_t>(100 + k * 3);
            cr[k] = static_cast<std::uint16_t>(900 - k * 5);
        }
        std::vector<std::uint8_t> line(v210LineBytes(width));
        packV210Line(y, cb, cr, line.data(), width);
        for (std::uint32_t x = 0; x < width; ++x)
        {
            auto const p = unpackV210Pixel(line.data(), x);
            EXPECT_EQ(p.y, y[x]) << x;
            EXPECT_EQ(p.cb, cb[x / 2]) << x;
            EXPECT_EQ(p.cr, cr[x / 2]) << x;
        }
    }

    TEST(V210Test, Bt709LevelsOf75PercentBars)
    {
        struct Bar
        {
            double r, g, b;
            YCbCr10 levels;
        };
        // BT.709 10-bit limited-range levels of 75% bars (ITU-R BT.2111 / SMPTE RP 219).
        std::array<Bar, 8> const bars{{
            {0.75, 0.75, 0.75, {721, 512, 512}},
            {0.75, 0.75, 0, {674, 176, 543}},
            {0, 0.75, 0.75, {581, 589, 176}},
            {0, 0.75, 0, {534, 253, 207}},
            {0.75, 0, 0.75, {251, 771, 817}},
            {0.75, 0, 0, {204, 435, 848}},
            {0, 0, 0.75, {111, 848, 481}},
            {0, 0, 0, {64, 512, 512}},
        }};
        for (auto const& bar : bars)
        {
            auto const p = rgbToYCbCr10(bar.r, bar.g, bar.b);
            EXPECT_NEAR(p.y, bar.levels.y, 1);
            EXPECT_NEAR(p.cb, bar.levels.cb, 1);
            EXPECT_NEAR(p.cr, bar.levels.cr, 1);
            auto const rgb = yCbCr10ToRgb8(p);
            EXPECT_NEAR(rgb.r, bar.r * 255, 1.5);
            EXPECT_NEAR(rgb.g, bar.g * 255, 1.5);
            EXPECT_NEAR(rgb.b, bar.b * 255, 1.5);
        }
    }

    TEST(V210Test, OutOfRangeLevelsClipToEightBits)
    {
        auto const superWhite = yCbCr10ToRgb8({1019, 512, 512});
        EXPECT_EQ(superWhite.r, 255);
        auto const subBlack = yCbCr10ToRgb8({4, 512, 512});
        EXPECT_EQ(subBlack.g, 0);
    }

    TEST(V210Test, KeyLinesHoldThreeSamplesPerWord)
    {
        std::vector<std::uint16_t> key{940, 64, 512, 1};
        std::vector<std::uint8_t> line(v210KeyLineBytes(4));
        packKeyLine(key, line.data(), 4);
        std::array<std::uint32_t, 2> w{};
        std::memcpy(w.data(), line.data(), 8);
        EXPECT_EQ(w[0], 940U | 64U << 10 | 512U << 20);
        EXPECT_EQ(w[1], 1U);
    }
}
