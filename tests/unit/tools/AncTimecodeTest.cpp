// SPDX-License-Identifier: Apache-2.0
#include <array>
#include <cstdint>

#include <gtest/gtest.h>

#include "mxl-gen/AncTimecode.hpp"

namespace mxl::gen
{
    TEST(AncTimecodeTest, IntegerRatesGiveTheTimeOfDay)
    {
        constexpr mxlRational rate{25, 1};
        // 12:34:56:07 on some day: days of frames are dropped.
        std::uint64_t const index = (20'000ULL * 86'400 + 12 * 3600 + 34 * 60 + 56) * 25 + 7;
        EXPECT_EQ(timecodeForIndex(index, rate), (Timecode{12, 34, 56, 7, false}));
        EXPECT_EQ(timecodeForIndex(index + 18, rate), (Timecode{12, 34, 57, 0, false}));
    }

    TEST(AncTimecodeTest, AboveThirtyFramesCountPairs)
    {
        constexpr mxlRational rate{60, 1};
        std::uint64_t const second = 1000ULL * 86'400 + 3600;
        EXPECT_EQ(timecodeForIndex(second * 60 + 0, rate), (Timecode{1, 0, 0, 0, false}));
        EXPECT_EQ(timecodeForIndex(second * 60 + 1, rate), (Timecode{1, 0, 0, 0, true}));
        EXPECT_EQ(timecodeForIndex(second * 60 + 59, rate), (Timecode{1, 0, 0, 29, true}));
    }

    TEST(AncTimecodeTest, FractionalRatesCountNominalFrames)
    {
        constexpr mxlRational rate{30000, 1001};
        EXPECT_EQ(timecodeFrameRate(rate), 30U);
        EXPECT_EQ(timecodeForIndex(30 * 86'400 + 30 * 61 + 29, rate), (Timecode{0, 1, 1, 29, false}));
    }

    TEST(AncTimecodeTest, TimecodeBitsAreBcdInLtcOrder)
    {
        constexpr mxlRational rate{60, 1};
        auto const bits = timecodeBits(Timecode{23, 59, 58, 29, true}, rate);
        EXPECT_EQ(bits & 0xF, 9U);
        EXPECT_EQ((bits >> 8) & 0x3, 2U);
        EXPECT_EQ((bits >> 16) & 0xF, 8U);
        EXPECT_EQ((bits >> 24) & 0x7, 5U);
        EXPECT_EQ((bits >> 27) & 0x1, 1U);
        EXPECT_EQ((bits >> 32) & 0xF, 9U);
        EXPECT_EQ((bits >> 40) & 0x7, 5U);
        EXPECT_EQ((bits >> 48) & 0xF, 3U);
        EXPECT_EQ((bits >> 56) & 0x3, 2U);
        EXPECT_EQ((timecodeBits(Timecode{0, 0, 0, 0, true}, mxlRational{50, 1}) >> 59) & 1, 1U);
    }

    TEST(AncTimecodeTest, AncWordsCarryEvenParity)
    {
        EXPECT_EQ(ancWord(0x60), 0x260);
        EXPECT_EQ(ancWord(0x10), 0x110);
        EXPECT_EQ(ancWord(0x00), 0x200);
        EXPECT_EQ(ancWord(0x01), 0x101);
    }

    TEST(AncTimecodeTest, PayloadIsOneThirtyTwoOctetPacket)
    {
        std::array<std::uint8_t, 64> out{};
        constexpr mxlRational rate{25, 1};
        auto const n = writeAtcPayload(Timecode{1, 2, 3, 4, false}, rate, out);
        EXPECT_EQ(n, atcPayloadBytes);
        EXPECT_EQ(out[0], 0);
        EXPECT_EQ(out[1], 32) << "Length";
        EXPECT_EQ(out[2], 1) << "ANC_Count";
        EXPECT_EQ(out[3], 0);
        // C = 0, Line_Number = 9, Horizontal_Offset = 0xFFF, S = 0, StreamNum = 0.
        // 0 00000001001 111111111111 0 0000000
        EXPECT_EQ(out[6], 0x00);
        EXPECT_EQ(out[7], 0x9F);
        EXPECT_EQ(out[8], 0xFF);
        EXPECT_EQ(out[9], 0x00);
        // DID 0x260 then SDID 0x260: 1001100000 1001100000 ...
        EXPECT_EQ(out[10], 0x98);
        EXPECT_EQ(out[11], 0x26);
        EXPECT_EQ(writeAtcPayload(Timecode{}, rate, std::span{out}.first(10)), 0U);
    }
}
