// SPDX-License-Identifier: Apache-2.0
// Index and timestamp arithmetic of mxl/time.h at the broadcast rates.

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include <mxl/flowinfo.h>
#include <mxl/time.h>

namespace
{
    constexpr std::uint64_t second = 1'000'000'000ULL;

    struct RateCase
    {
        mxlRational rate;
        std::uint64_t indexAtOneSecond;     // round(rate x 1 s)
        std::uint64_t timestampOfIndexOne;  // round(1 / rate) in ns
    };

    std::vector<RateCase> const rates = {
        {{24, 1}, 24, 41'666'667},           // 41 666 666.67 rounds up
        {{25, 1}, 25, 40'000'000},
        {{30000, 1001}, 30, 33'366'667},     // 29.97 rounds to 30; 33 366 666.67 rounds up
        {{50, 1}, 50, 20'000'000},
        {{60000, 1001}, 60, 16'683'333},     // 59.94 rounds to 60; 16 683 333.33 rounds down
        {{48000, 1}, 48000, 20'833},         // 20 833.33 rounds down
    };

    /// Largest index whose timestamp still fits in 64 bits of nanoseconds.
    std::uint64_t largestRepresentableIndex(mxlRational const& r)
    {
        __extension__ using u128 = unsigned __int128;
        auto const limit = static_cast<u128>(std::numeric_limits<std::uint64_t>::max()) * static_cast<std::uint64_t>(r.numerator) /
                           (static_cast<u128>(second) * static_cast<std::uint64_t>(r.denominator));
        return static_cast<std::uint64_t>(limit) - 1;
    }

    std::string name(mxlRational const& r)
    {
        return std::to_string(r.numerator) + "/" + std::to_string(r.denominator);
    }
}

TEST(Timing, KnownIndexAndTimestampValuesAtBroadcastRates)
{
    for (auto const& c : rates)
    {
        SCOPED_TRACE(name(c.rate));
        EXPECT_EQ(mxlTimestampToIndex(&c.rate, second), c.indexAtOneSecond);
        EXPECT_EQ(mxlIndexToTimestamp(&c.rate, 1), c.timestampOfIndexOne);
        EXPECT_EQ(mxlTimestampToIndex(&c.rate, 0), 0U);
        EXPECT_EQ(mxlIndexToTimestamp(&c.rate, 0), 0U);
    }
    mxlRational const ntsc{30000, 1001};
    // 30000 frames at 29.97 Hz last exactly 1001 s.
    EXPECT_EQ(mxlIndexToTimestamp(&ntsc, 30000), 1001 * second);
    EXPECT_EQ(mxlTimestampToIndex(&ntsc, 1001 * second), 30000U);
}

TEST(Timing, TimestampToIndexRoundsToNearestWithHalvesUp)
{
    mxlRational const pal{25, 1};
    // Grain 1 is due at 40 ms: the half-way point 20 ms belongs to grain 1, just before it to grain 0.
    EXPECT_EQ(mxlTimestampToIndex(&pal, 19'999'999), 0U);
    EXPECT_EQ(mxlTimestampToIndex(&pal, 20'000'000), 1U);
    EXPECT_EQ(mxlTimestampToIndex(&pal, 59'999'999), 1U);
    EXPECT_EQ(mxlTimestampToIndex(&pal, 60'000'000), 2U);

    mxlRational const audio{48000, 1};
    EXPECT_EQ(mxlTimestampToIndex(&audio, 10'416), 0U); // 0.499968 samples
    EXPECT_EQ(mxlTimestampToIndex(&audio, 10'417), 1U); // 0.500016 samples
    EXPECT_EQ(mxlIndexToTimestamp(&audio, 3), 62'500U);
}

TEST(Timing, IndexToTimestampToIndexIsExactOverTheWholeRepresentableRange)
{
    std::mt19937_64 random{20240917};
    for (auto const& c : rates)
    {
        SCOPED_TRACE(name(c.rate));
        auto const top = largestRepresentableIndex(c.rate);
        std::vector<std::uint64_t> indices;
        for (std::uint64_t i = 0; i < 2000; ++i)
        {
            indices.push_back(i);
        }
        // Now-ish (about 1.4e9 s of TAI), 1e9 s worth, 2^40 where it fits, and the very top.
        for (std::uint64_t const ts : {1'000'000'000ULL * second, 1'400'000'000ULL * second, 1'800'000'000ULL * second})
        {
            auto const base = mxlTimestampToIndex(&c.rate, ts);
            for (std::uint64_t d = 0; d < 1000; ++d)
            {
                indices.push_back(base + d);
                indices.push_back(base - d);
            }
        }
        if ((std::uint64_t{1} << 40) + 1000 < top)
        {
            for (std::uint64_t d = 0; d < 1000; ++d)
            {
                indices.push_back((std::uint64_t{1} << 40) + d);
                indices.push_back((std::uint64_t{1} << 40) - d);
            }
        }
        for (std::uint64_t d = 0; d < 1000; ++d)
        {
            indices.push_back(top - d);
        }
        std::uniform_int_distribution<std::uint64_t> anywhere{0, top};
        for (int i = 0; i < 20000; ++i)
        {
            indices.push_back(anywhere(random));
        }

        std::uint64_t failures = 0;
        for (auto const index : indices)
        {
            auto const ts = mxlIndexToTimestamp(&c.rate, index);
            auto const back = mxlTimestampToIndex(&c.rate, ts);
            auto const next = mxlIndexToTimestamp(&c.rate, index + 1);
            if (back != index || ts == MXL_UNDEFINED_INDEX || next <= ts)
            {
                if (++failures <= 5)
                {
                    ADD_FAILURE() << "index " << index << " -> ts " << ts << " -> index " << back << " (next grain at " << next << ")";
                }
            }
        }
        EXPECT_EQ(failures, 0U);
    }
}

TEST(Timing, IndexWhoseTimestampDoesNotFitIn64BitsIsUndefined)
{
    // 2^40 grains at 50 Hz are 2.2e19 ns, beyond 2^64 ns: no timestamp, rather than a wrapped one.
    mxlRational const fifty{50, 1};
    EXPECT_EQ(mxlIndexToTimestamp(&fifty, std::uint64_t{1} << 40), MXL_UNDEFINED_INDEX);
    EXPECT_EQ(mxlIndexToTimestamp(&fifty, std::numeric_limits<std::uint64_t>::max() - 1), MXL_UNDEFINED_INDEX);
    auto const top = largestRepresentableIndex(fifty);
    EXPECT_NE(mxlIndexToTimestamp(&fifty, top), MXL_UNDEFINED_INDEX);
    EXPECT_EQ(mxlIndexToTimestamp(&fifty, top + 2), MXL_UNDEFINED_INDEX);
}

TEST(Timing, InvalidRatesGiveTheUndefinedIndex)
{
    std::vector<mxlRational> const invalid = {{0, 1}, {25, 0}, {0, 0}, {-25, 1}, {25, -1}};
    for (auto const& r : invalid)
    {
        SCOPED_TRACE(name(r));
        EXPECT_EQ(mxlTimestampToIndex(&r, second), MXL_UNDEFINED_INDEX);
        EXPECT_EQ(mxlIndexToTimestamp(&r, 25), MXL_UNDEFINED_INDEX);
        EXPECT_EQ(mxlGetCurrentIndex(&r), MXL_UNDEFINED_INDEX);
        EXPECT_EQ(mxlGetNsUntilIndex(25, &r), MXL_UNDEFINED_INDEX);
    }
    EXPECT_EQ(mxlTimestampToIndex(nullptr, second), MXL_UNDEFINED_INDEX);
    EXPECT_EQ(mxlIndexToTimestamp(nullptr, 25), MXL_UNDEFINED_INDEX);
    EXPECT_EQ(mxlGetCurrentIndex(nullptr), MXL_UNDEFINED_INDEX);
    EXPECT_EQ(mxlGetNsUntilIndex(25, nullptr), MXL_UNDEFINED_INDEX);
}

TEST(Timing, CurrentIndexFollowsTheTaiClock)
{
    for (auto const& c : rates)
    {
        SCOPED_TRACE(name(c.rate));
        auto const before = mxlTimestampToIndex(&c.rate, mxlGetTime());
        auto const current = mxlGetCurrentIndex(&c.rate);
        auto const after = mxlTimestampToIndex(&c.rate, mxlGetTime());
        EXPECT_LE(before, current);
        EXPECT_LE(current, after);
        // TAI since 1970 is well past a billion seconds.
        EXPECT_GT(current, mxlTimestampToIndex(&c.rate, 1'000'000'000ULL * second));
    }
}

TEST(Timing, NsUntilIndexCountsDownToDueIndicesAndIsZeroForPastOnes)
{
    for (auto const& c : rates)
    {
        SCOPED_TRACE(name(c.rate));
        auto const current = mxlGetCurrentIndex(&c.rate);
        EXPECT_EQ(mxlGetNsUntilIndex(current - 2, &c.rate), 0U);
        EXPECT_EQ(mxlGetNsUntilIndex(0, &c.rate), 0U);

        auto const target = current + 10;
        auto const dueAt = mxlIndexToTimestamp(&c.rate, target);
        auto const before = mxlGetTime();
        auto const wait = mxlGetNsUntilIndex(target, &c.rate);
        auto const after = mxlGetTime();
        // wait = dueAt - now, for some now between before and after.
        EXPECT_GE(wait, dueAt - after);
        EXPECT_LE(wait, dueAt - before);
        EXPECT_GT(wait, 0U);
    }
}

TEST(Timing, SleepUntilReturnsNoEarlierThanTheTaiTimeAsked)
{
    mxlRational const rate{1000, 1};
    auto const target = mxlGetCurrentIndex(&rate) + 3;
    auto const due = mxlIndexToTimestamp(&rate, target);
    mxlSleepUntil(due);
    EXPECT_GE(mxlGetTime(), due);
    EXPECT_EQ(mxlGetNsUntilIndex(target, &rate), 0U);
}
