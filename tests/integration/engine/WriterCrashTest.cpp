// SPDX-License-Identifier: Apache-2.0
// Writers that die: a writer process killed in the middle of a grain, the stale flow it leaves, and
// what readers, the garbage collector and the next writer make of it.

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include "EngineTestSupport.hpp"
#include "support/ChildProcess.hpp"
#include "support/TestDomain.hpp"

using namespace mxl::test;

namespace
{
    constexpr std::uint16_t lines = 64;
    constexpr std::size_t lineBytes = 256; // 64 pixels of v210
    constexpr std::size_t grainBytes = lines * lineBytes;
    constexpr std::uint16_t committedSlices = lines / 2;
    constexpr std::uint64_t partialIndex = 205;

    /// A flow whose writer process wrote grains 200..204, then opened grain 205, wrote all of its
    /// bytes but committed only its first half, and was killed with SIGKILL. The test process holds
    /// an instance opened before the crash (opening one afterwards would collect the stale flow) and
    /// a reader created while the writer lived.
    class KilledWriter : public ::testing::Test
    {
    protected:
        void SetUp() override
        {
            ASSERT_TRUE(instance);
            Pipe ready;
            Pipe never;
            ChildProcess writerProcess{[&] {
                ScopedInstance own{domain.str()};
                mxlFlowWriter writer = nullptr;
                bool created = false;
                if (!own || mxlCreateFlowWriter(own.get(), def.c_str(), nullptr, &writer, nullptr, &created) != MXL_STATUS_OK || !created)
                {
                    return 1;
                }
                for (std::uint64_t i = 200; i < partialIndex; ++i)
                {
                    if (writeWholeGrain(writer, i) != MXL_STATUS_OK)
                    {
                        return 2;
                    }
                }
                mxlGrainInfo info{};
                std::uint8_t* payload = nullptr;
                if (mxlFlowWriterOpenGrain(writer, partialIndex, &info, &payload) != MXL_STATUS_OK)
                {
                    return 3;
                }
                // Every byte is written, only half of the slices are committed.
                fillPattern(payload, 0, grainBytes, partialIndex);
                info.validSlices = committedSlices;
                if (mxlFlowWriterCommitGrain(writer, &info) != MXL_STATUS_OK)
                {
                    return 4;
                }
                ready.send(1);
                // Wait to be killed; never released.
                (void)never.receive<int>(std::chrono::seconds{60});
                return 5;
            }};
            ASSERT_EQ(ready.receive<int>(), std::optional<int>{1}) << "writer process failed";
            ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);
            bool active = false;
            ASSERT_EQ(mxlIsFlowActive(instance.get(), id.c_str(), &active), MXL_STATUS_OK);
            ASSERT_TRUE(active);

            writerProcess.kill(SIGKILL);
            ASSERT_EQ(writerProcess.wait(), std::nullopt);
            ASSERT_EQ(writerProcess.termSignal(), SIGKILL);
        }

        [[nodiscard]] std::filesystem::path flowDir() const
        {
            return domain.path() / (id + ".mxl-flow");
        }

        TestDomain domain;
        ScopedInstance instance{domain.str()};
        std::string id = newFlowId();
        std::string def = flowDef(id, "v210", 64, lines, 25, 1);
        mxlFlowReader reader = nullptr;
    };
}

TEST_F(KilledWriter, ReaderSeesOnlyTheCommittedSlicesAndNeverACompleteGrain)
{
    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    ASSERT_EQ(mxlFlowReaderGetGrainSliceNonBlocking(reader, partialIndex, MXL_GRAIN_VALID_SLICES_ANY, &info, &payload), MXL_STATUS_OK);
    EXPECT_EQ(info.index, partialIndex);
    EXPECT_EQ(info.validSlices, committedSlices);
    EXPECT_EQ(info.totalSlices, lines);
    EXPECT_EQ(firstPatternMismatch(payload, 0, committedSlices * lineBytes, partialIndex), committedSlices * lineBytes);
    ASSERT_EQ(mxlFlowReaderGetGrainSlice(reader, partialIndex, committedSlices, 0, &info, &payload), MXL_STATUS_OK);
    EXPECT_EQ(info.validSlices, committedSlices);

    EXPECT_EQ(mxlFlowReaderGetGrainSlice(reader, partialIndex, committedSlices + 1, 20'000'000, &info, &payload), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
    EXPECT_EQ(mxlFlowReaderGetGrain(reader, partialIndex, 20'000'000, &info, &payload), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
    EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, partialIndex, &info, &payload), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);

    // The complete grains before it are intact.
    for (std::uint64_t i = 201; i < partialIndex; ++i)
    {
        ASSERT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, i, &info, &payload), MXL_STATUS_OK) << i;
        EXPECT_EQ(info.validSlices, lines);
        EXPECT_EQ(firstPatternMismatch(payload, 0, grainBytes, i), grainBytes) << i;
    }
}

TEST_F(KilledWriter, FlowIsInactiveAndGarbageCollectionRemovesIt)
{
    bool active = true;
    ASSERT_EQ(mxlIsFlowActive(instance.get(), id.c_str(), &active), MXL_STATUS_OK);
    EXPECT_FALSE(active);
    EXPECT_TRUE(std::filesystem::exists(flowDir()));

    ASSERT_EQ(mxlGarbageCollectFlows(instance.get()), MXL_STATUS_OK);
    EXPECT_FALSE(std::filesystem::exists(flowDir()));
    EXPECT_EQ(mxlIsFlowActive(instance.get(), id.c_str(), &active), MXL_ERR_FLOW_NOT_FOUND);

    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    EXPECT_EQ(mxlFlowReaderGetGrain(reader, partialIndex + 1, 20'000'000, &info, &payload), MXL_ERR_FLOW_INVALID);
    EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, partialIndex, &info, &payload), MXL_ERR_FLOW_INVALID);

    // A new writer creates the flow afresh; new readers read it, the old reader stays invalid.
    mxlFlowWriter writer = nullptr;
    bool created = false;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), def.c_str(), nullptr, &writer, nullptr, &created), MXL_STATUS_OK);
    EXPECT_TRUE(created);
    ASSERT_EQ(writeWholeGrain(writer, partialIndex, 1), MXL_STATUS_OK);
    mxlFlowReader fresh = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &fresh), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowReaderGetGrainNonBlocking(fresh, partialIndex, &info, &payload), MXL_STATUS_OK);
    EXPECT_EQ(firstPatternMismatch(payload, 0, grainBytes, partialIndex, 1), grainBytes);
    EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, partialIndex, &info, &payload), MXL_ERR_FLOW_INVALID);
}

TEST_F(KilledWriter, OpeningTheDomainAgainCollectsTheStaleFlow)
{
    ScopedInstance later{domain.str()};
    ASSERT_TRUE(later);
    EXPECT_FALSE(std::filesystem::exists(flowDir()));
}

TEST_F(KilledWriter, NewWriterWithTheSameGeometryAdoptsTheStaleFlow)
{
    mxlFlowWriter writer = nullptr;
    bool created = true;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), def.c_str(), nullptr, &writer, nullptr, &created), MXL_STATUS_OK);
    EXPECT_FALSE(created);
    bool active = false;
    ASSERT_EQ(mxlIsFlowActive(instance.get(), id.c_str(), &active), MXL_STATUS_OK);
    EXPECT_TRUE(active);

    // The old reader goes on: the abandoned grain is rewritten from scratch and completes.
    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    ASSERT_EQ(mxlFlowWriterOpenGrain(writer, partialIndex, &info, &payload), MXL_STATUS_OK);
    EXPECT_EQ(info.validSlices, 0U);
    mxlGrainInfo seen{};
    std::uint8_t* p = nullptr;
    ASSERT_EQ(mxlFlowReaderGetGrainSliceNonBlocking(reader, partialIndex, MXL_GRAIN_VALID_SLICES_ANY, &seen, &p), MXL_STATUS_OK);
    EXPECT_EQ(seen.validSlices, 0U);
    fillPattern(payload, 0, grainBytes, partialIndex, 1);
    info.validSlices = lines;
    ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &info), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowReaderGetGrain(reader, partialIndex, 0, &seen, &p), MXL_STATUS_OK);
    EXPECT_EQ(firstPatternMismatch(p, 0, grainBytes, partialIndex, 1), grainBytes);
    ASSERT_EQ(writeWholeGrain(writer, partialIndex + 1, 1), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowReaderGetGrain(reader, partialIndex + 1, 0, &seen, &p), MXL_STATUS_OK);
    EXPECT_EQ(firstPatternMismatch(p, 0, grainBytes, partialIndex + 1, 1), grainBytes);

    // Collection leaves the adopted flow alone.
    ASSERT_EQ(mxlGarbageCollectFlows(instance.get()), MXL_STATUS_OK);
    EXPECT_TRUE(std::filesystem::exists(flowDir()));
}

TEST_F(KilledWriter, NewWriterWithAnotherGeometryReplacesTheStaleFlow)
{
    mxlFlowWriter writer = nullptr;
    bool created = false;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(id, "v210", 128, lines, 50, 1).c_str(), nullptr, &writer, nullptr, &created),
        MXL_STATUS_OK);
    EXPECT_TRUE(created);
    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    EXPECT_EQ(mxlFlowReaderGetGrain(reader, partialIndex + 1, 20'000'000, &info, &payload), MXL_ERR_FLOW_INVALID);
    mxlFlowReader fresh = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &fresh), MXL_STATUS_OK);
    mxlFlowConfigInfo config{};
    ASSERT_EQ(mxlFlowReaderGetConfigInfo(fresh, &config), MXL_STATUS_OK);
    EXPECT_EQ(config.common.grainRate.numerator, 50);
    EXPECT_EQ(config.discrete.sliceSizes[0], 384U);
}
