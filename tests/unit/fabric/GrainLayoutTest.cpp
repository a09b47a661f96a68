// SPDX-License-Identifier: Apache-2.0
// Which bytes of a grain a range of slices occupies: what the sender writes for a partial commit.
// Geometry comes from real flow definitions, so the layout is checked against the engine's.
#include <algorithm>
#include <array>
#include <vector>

#include <gtest/gtest.h>

#include "base/Uuid.hpp"
#include "flow/FlowDefinition.hpp"
#include "replication/GrainLayout.hpp"
#include "support/TestDomain.hpp"

namespace mxl::fabric::test
{
    namespace
    {
        FlowDefinition definition(std::string const& media, int width, int height)
        {
            auto def = parseFlowDefinition(mxl::test::flowDef(formatUuid(randomUuid().value()), media, width, height, 50, 1));
            if (!def)
            {
                ADD_FAILURE() << def.error().message;
                return {};
            }
            return std::move(*def);
        }

        GrainLayout layoutOf(FlowDefinition const& def)
        {
            std::uint32_t sliceSizes[MXL_MAX_PLANES_PER_GRAIN]{};
            std::copy(def.sliceSizes.begin(), def.sliceSizes.end(), sliceSizes);
            return GrainLayout{sliceSizes, def.totalSlices};
        }

        /// Byte ranges of every batch of a grain committed in `batches` steps, sorted by offset.
        std::vector<ByteRange> batchRanges(GrainLayout const& layout, unsigned batches)
        {
            std::vector<ByteRange> all;
            std::uint16_t from = 0;
            for (unsigned b = 1; b <= batches; ++b)
            {
                auto const to = static_cast<std::uint16_t>(layout.totalSlices() * b / batches);
                std::array<ByteRange, MXL_MAX_PLANES_PER_GRAIN> ranges{};
                auto const count = layout.ranges(from, to, ranges);
                all.insert(all.end(), ranges.begin(), ranges.begin() + static_cast<std::ptrdiff_t>(count));
                from = to;
            }
            std::ranges::sort(all, {}, &ByteRange::offset);
            return all;
        }
    }

    TEST(GrainLayout, V210SliceRangeIsConsecutiveLines)
    {
        auto const def = definition("v210", 1920, 1080);
        ASSERT_EQ(def.sliceSizes[0], 5120U);
        auto const layout = layoutOf(def);
        std::array<ByteRange, MXL_MAX_PLANES_PER_GRAIN> ranges{};

        ASSERT_EQ(layout.ranges(135, 270, ranges), 1U);

        EXPECT_EQ(ranges[0].offset, 135U * 5120U);
        EXPECT_EQ(ranges[0].length, 135U * 5120U);
        EXPECT_EQ(layout.bytes(135, 270), 135U * 5120U);
        EXPECT_EQ(layout.totalSlices(), 1080);
    }

    TEST(GrainLayout, V210aSliceRangeCoversTheSameLinesOfFillAndKeyPlanes)
    {
        auto const def = definition("v210a", 1280, 720);
        auto const fillLine = std::size_t{(1280 + 47) / 48 * 128};
        auto const keyLine = std::size_t{(1280 + 2) / 3 * 4};
        ASSERT_EQ(def.sliceSizes[0], fillLine);
        ASSERT_EQ(def.sliceSizes[1], keyLine);
        auto const layout = layoutOf(def);
        std::array<ByteRange, MXL_MAX_PLANES_PER_GRAIN> ranges{};

        ASSERT_EQ(layout.ranges(100, 200, ranges), 2U);

        EXPECT_EQ(ranges[0].offset, 100 * fillLine);
        EXPECT_EQ(ranges[0].length, 100 * fillLine);
        EXPECT_EQ(ranges[1].offset, 720 * fillLine + 100 * keyLine) << "the key plane follows the whole fill plane";
        EXPECT_EQ(ranges[1].length, 100 * keyLine);
        EXPECT_EQ(layout.bytes(100, 200), 100 * (fillLine + keyLine));
    }

    TEST(GrainLayout, WholeGrainRangesEndAtTheGrainSize)
    {
        for (auto const& def : {definition("v210", 1920, 1080), definition("v210a", 1920, 1080), definition("v210a", 1282, 721)})
        {
            auto const layout = layoutOf(def);
            std::array<ByteRange, MXL_MAX_PLANES_PER_GRAIN> ranges{};
            auto const count = layout.ranges(0, def.totalSlices, ranges);

            ASSERT_GE(count, 1U);
            EXPECT_EQ(ranges[0].offset, 0U);
            EXPECT_EQ(ranges[count - 1].offset + ranges[count - 1].length, def.grainSize) << def.mediaType;
            EXPECT_EQ(layout.bytes(0, def.totalSlices), def.grainSize) << def.mediaType;
        }
    }

    TEST(GrainLayout, BatchesOfAGrainCoverItExactlyOnce)
    {
        for (auto const& def : {definition("v210", 1920, 1080), definition("v210a", 1280, 720), definition("smpte291", 0, 0)})
        {
            auto const layout = layoutOf(def);
            for (unsigned batches : {1U, 7U, 8U})
            {
                auto const ranges = batchRanges(layout, batches);
                std::size_t end = 0;
                for (auto const& r : ranges)
                {
                    EXPECT_EQ(r.offset, end) << def.mediaType << " in " << batches << " batches: a gap or an overlap";
                    end = r.offset + r.length;
                }
                EXPECT_EQ(end, def.grainSize) << def.mediaType << " in " << batches << " batches";
            }
        }
    }

    TEST(GrainLayout, EmptySliceRangeHasNoBytes)
    {
        auto const layout = layoutOf(definition("v210a", 1920, 1080));
        std::array<ByteRange, MXL_MAX_PLANES_PER_GRAIN> ranges{};

        auto const count = layout.ranges(540, 540, ranges);

        ASSERT_EQ(count, 2U);
        EXPECT_EQ(ranges[0].length, 0U);
        EXPECT_EQ(ranges[1].length, 0U);
        EXPECT_EQ(layout.bytes(540, 540), 0U);
    }
}
