// SPDX-License-Identifier: Apache-2.0
#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "toolkit/V210.hpp"
#include "mxl-gen/TestPattern.hpp"

namespace mxl::gen
{
    namespace
    {
        struct Frame
        {
            std::uint32_t width;
            std::uint32_t height;
            std::size_t fillLine;
            std::size_t keyLine;
            std::vector<std::uint8_t> fill;
            std::vector<std::uint8_t> key;

            Frame(std::uint32_t w, std::uint32_t h)
                : width{w}
                , height{h}
                , fillLine{tools::v210LineBytes(w)}
                , keyLine{tools::v210KeyLineBytes(w)}
                , fill(fillLine * h)
                , key(keyLine * h)
            {}

            [[nodiscard]] tools::YCbCr10 pixel(std::uint32_t x, std::uint32_t y) const
            {
                return tools::unpackV210Pixel(fill.data() + y * fillLine, x);
            }

            [[nodiscard]] std::uint32_t keyAt(std::uint32_t x, std::uint32_t y) const
            {
                std::uint32_t word = 0;
                std::memcpy(&word, key.data() + y * keyLine + x / 3 * 4, 4);
                return (word >> (10 * (x % 3))) & 0x3FF;
            }
        };

        Frame render(std::uint64_t index, std::uint32_t w = 480, std::uint32_t h = 270)
        {
            Frame f{w, h};
            TestPattern pattern{w, h, true};
            pattern.setGrain(index);
            pattern.renderLines(0, h / 3, f.fill.data(), f.fillLine, f.key.data(), f.keyLine);
            pattern.renderLines(h / 3, h, f.fill.data(), f.fillLine, f.key.data(), f.keyLine);
            return f;
        }

        /// Columns of the white box on a row through it.
        std::vector<std::uint32_t> boxColumns(Frame const& f, std::uint32_t row)
        {
            std::vector<std::uint32_t> xs;
            for (std::uint32_t x = 0; x < f.width; ++x)
            {
                if (f.pixel(x, row).y == 940)
                {
                    xs.push_back(x);
                }
            }
            return xs;
        }
    }

    TEST(TestPatternTest, TopTwoThirdsAreSeventyFivePercentBars)
    {
        auto const f = render(1234);
        for (int bar = 0; bar < 7; ++bar)
        {
            auto const x = static_cast<std::uint32_t>((2 * bar + 1) * 480 / 14);
            for (std::uint32_t y : {0U, 90U, 179U})
            {
                auto const rgb = tools::yCbCr10ToRgb8(f.pixel(x, y));
                bool const r = bar == 0 || bar == 1 || bar == 4 || bar == 5;
                bool const g = bar <= 3;
                bool const b = bar == 0 || bar == 2 || bar == 4 || bar == 6;
                EXPECT_NEAR(rgb.r, r ? 191 : 0, 2) << "bar " << bar;
                EXPECT_NEAR(rgb.g, g ? 191 : 0, 2) << "bar " << bar;
                EXPECT_NEAR(rgb.b, b ? 191 : 0, 2) << "bar " << bar;
            }
        }
        EXPECT_EQ(f.pixel(10, 269).y, 64) << "black below the bars";
    }

    TEST(TestPatternTest, BoxMovesWithTheGrainIndexAndIsAHoleInTheKey)
    {
        // The box's rows: band 90 lines from 180, box from 187 for 30 lines.
        auto const a = render(10);
        auto const b = render(11);
        auto const colsA = boxColumns(a, 195);
        auto const colsB = boxColumns(b, 195);
        ASSERT_FALSE(colsA.empty());
        ASSERT_FALSE(colsB.empty());
        EXPECT_EQ(colsA.size(), colsB.size());
        EXPECT_GT(colsB.front(), colsA.front());
        EXPECT_EQ(a.keyAt(colsA.front(), 195), 64U) << "transparent inside the box";
        EXPECT_EQ(a.keyAt(colsA.back() + 1 < a.width ? colsA.back() + 1 : 0, 195), 940U);
        EXPECT_EQ(a.keyAt(5, 5), 940U) << "opaque elsewhere";
        EXPECT_EQ(a.keyAt(479, 269), 940U);
    }

    TEST(TestPatternTest, CounterShowsTheGrainIndex)
    {
        auto const one = render(1);
        auto const eight = render(8);
        // The digits' rows lie in the lower half of the band; "8" lights more pixels than "1".
        auto lit = [](Frame const& f) {
            int n = 0;
            for (std::uint32_t y = 225; y < 270; ++y)
            {
                for (std::uint32_t x = 0; x < f.width; ++x)
                {
                    n += f.pixel(x, y).y == 940 ? 1 : 0;
                }
            }
            return n;
        };
        EXPECT_GT(lit(one), 0);
        EXPECT_GT(lit(eight), lit(one));
    }

    TEST(TestPatternTest, TinyFramesDoNotOverrun)
    {
        for (std::uint32_t h : {1U, 2U, 3U, 7U})
        {
            auto const f = render(99999, 2, h);
            EXPECT_EQ(f.fill.size(), tools::v210LineBytes(2) * h);
        }
    }
}
