// SPDX-License-Identifier: Apache-2.0
// Grain semantics within one process: ranges, slot identity, partial grains, flags and the writer's
// state machine.

#include <atomic>
#include <cstdint>
#include <future>
#include <string>
#include <thread>

#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include "EngineTestSupport.hpp"
#include "support/TestDomain.hpp"

using namespace mxl::test;

namespace
{
    constexpr std::uint32_t lines = 16;
    constexpr std::uint32_t lineBytes = 256; // 64 pixels of v210 padded to 48-pixel groups: 2 x 128
    constexpr std::uint32_t grainBytes = lines * lineBytes;
    constexpr std::uint64_t grainCount = 5; // 200 ms at 25 Hz

    /// A 64x16 v210 flow at 25 Hz (a ring of 5 grains) with one writer and one reader.
    class DiscreteFlow : public ::testing::Test
    {
    protected:
        void SetUp() override
        {
            ASSERT_TRUE(instance);
            mxlFlowConfigInfo config{};
            bool created = false;
            ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(id, "v210", 64, lines, 25, 1).c_str(), nullptr, &writer, &config, &created),
                MXL_STATUS_OK);
            ASSERT_TRUE(created);
            ASSERT_EQ(config.discrete.grainCount, grainCount);
            ASSERT_EQ(config.discrete.sliceSizes[0], lineBytes);
            ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);
        }

        mxlStatus read(std::uint64_t index, std::uint16_t minSlices = MXL_GRAIN_VALID_SLICES_ALL)
        {
            info = {};
            payload = nullptr;
            return mxlFlowReaderGetGrainSliceNonBlocking(reader, index, minSlices, &info, &payload);
        }

        /// Opens grain index and commits its first `slices` lines of pattern.
        mxlStatus writePartial(std::uint64_t index, std::uint16_t slices, std::uint8_t generation = 0)
        {
            mxlGrainInfo w{};
            std::uint8_t* p = nullptr;
            if (auto const s = mxlFlowWriterOpenGrain(writer, index, &w, &p); s != MXL_STATUS_OK)
            {
                return s;
            }
            fillPattern(p, 0, std::size_t{slices} * lineBytes, index, generation);
            w.validSlices = slices;
            return mxlFlowWriterCommitGrain(writer, &w);
        }

        TestDomain domain;
        ScopedInstance instance{domain.str()};
        std::string id = newFlowId();
        mxlFlowWriter writer = nullptr;
        mxlFlowReader reader = nullptr;
        mxlGrainInfo info{};
        std::uint8_t* payload = nullptr;
    };
}

TEST_F(DiscreteFlow, CommittedGrainReadsBackInPlaceWithItsHeader)
{
    std::uint64_t const index = 1'000'000;
    ASSERT_EQ(writeWholeGrain(writer, index), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowReaderGetGrain(reader, index, 0, &info, &payload), MXL_STATUS_OK);
    EXPECT_EQ(info.version, 1U);
    EXPECT_EQ(info.size, 4096U);
    EXPECT_EQ(info.index, index);
    EXPECT_EQ(info.flags, 0U);
    EXPECT_EQ(info.grainSize, grainBytes);
    EXPECT_EQ(info.totalSlices, lines);
    EXPECT_EQ(info.validSlices, lines);
    ASSERT_NE(payload, nullptr);
    EXPECT_EQ(firstPatternMismatch(payload, 0, grainBytes, index), grainBytes);
    EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, index, &info, &payload), MXL_STATUS_OK);
}

TEST_F(DiscreteFlow, GrainsAfterTheHeadAreTooEarlyAndGrainsOlderThanTheRingTooLate)
{
    std::uint64_t const head = 500;
    for (auto i = head - grainCount + 1; i <= head; ++i)
    {
        ASSERT_EQ(writeWholeGrain(writer, i), MXL_STATUS_OK);
    }
    EXPECT_EQ(read(head + 1), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
    EXPECT_EQ(read(head + 1000), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
    EXPECT_EQ(read(head + 1, MXL_GRAIN_VALID_SLICES_ANY), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
    for (auto i = head - grainCount + 1; i <= head; ++i)
    {
        EXPECT_EQ(read(i), MXL_STATUS_OK) << i;
        EXPECT_EQ(info.index, i);
        EXPECT_EQ(firstPatternMismatch(payload, 0, grainBytes, i), grainBytes) << i;
    }
    EXPECT_EQ(read(head - grainCount), MXL_ERR_OUT_OF_RANGE_TOO_LATE);
    EXPECT_EQ(read(0), MXL_ERR_OUT_OF_RANGE_TOO_LATE);
    EXPECT_EQ(read(head - grainCount, MXL_GRAIN_VALID_SLICES_ANY), MXL_ERR_OUT_OF_RANGE_TOO_LATE);

    // A blocking read of a future grain gives up with TOO_EARLY, not TIMEOUT.
    EXPECT_EQ(mxlFlowReaderGetGrain(reader, head + 1, 20'000'000, &info, &payload), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
}

TEST_F(DiscreteFlow, SlotHoldingAnOlderGrainIsNeverReturnedForTheRequestedIndex)
{
    // Grain 2 is complete in slot 2; the writer then skips ahead to 9, so 7 (slot 2) is within the
    // ring's range but was never written.
    ASSERT_EQ(writeWholeGrain(writer, 2), MXL_STATUS_OK);
    ASSERT_EQ(writeWholeGrain(writer, 9), MXL_STATUS_OK);
    EXPECT_EQ(read(7), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
    EXPECT_EQ(read(7, MXL_GRAIN_VALID_SLICES_ANY), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
    EXPECT_EQ(mxlFlowReaderGetGrain(reader, 7, 10'000'000, &info, &payload), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
    // The untouched slots (5, 6, 8 map to slots 0, 1, 3 that hold the initial index 0) are not grains 5, 6, 8 either.
    for (std::uint64_t const i : {5, 6, 8})
    {
        EXPECT_NE(read(i, MXL_GRAIN_VALID_SLICES_ANY), MXL_STATUS_OK) << i;
    }

    // Writer opens 12 (slot 2) but does not commit: the head stays at 9, grain 7 is gone for good.
    mxlGrainInfo w{};
    std::uint8_t* p = nullptr;
    ASSERT_EQ(mxlFlowWriterOpenGrain(writer, 12, &w, &p), MXL_STATUS_OK);
    EXPECT_EQ(read(7, MXL_GRAIN_VALID_SLICES_ANY), MXL_ERR_OUT_OF_RANGE_TOO_LATE);
    EXPECT_EQ(read(2, MXL_GRAIN_VALID_SLICES_ANY), MXL_ERR_OUT_OF_RANGE_TOO_LATE);
    EXPECT_EQ(read(12, MXL_GRAIN_VALID_SLICES_ANY), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
    EXPECT_EQ(read(9), MXL_STATUS_OK);
    EXPECT_EQ(info.index, 9U);

    // Once committed, 12 reads as itself and 7 is older than the ring.
    fillPattern(p, 0, grainBytes, 12);
    w.validSlices = lines;
    ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_STATUS_OK);
    EXPECT_EQ(read(12), MXL_STATUS_OK);
    EXPECT_EQ(info.index, 12U);
    EXPECT_EQ(firstPatternMismatch(payload, 0, grainBytes, 12), grainBytes);
    EXPECT_EQ(read(7), MXL_ERR_OUT_OF_RANGE_TOO_LATE);
}

TEST_F(DiscreteFlow, OpeningAGrainResetsValidSlicesOfItsSlot)
{
    ASSERT_EQ(writeWholeGrain(writer, 40), MXL_STATUS_OK);
    ASSERT_EQ(read(40), MXL_STATUS_OK);

    // Reopening the same index: readers must not take the old lines for the new grain.
    mxlGrainInfo w{};
    std::uint8_t* p = nullptr;
    ASSERT_EQ(mxlFlowWriterOpenGrain(writer, 40, &w, &p), MXL_STATUS_OK);
    EXPECT_EQ(w.validSlices, 0U);
    EXPECT_EQ(w.index, 40U);
    EXPECT_EQ(read(40), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
    EXPECT_EQ(read(40, 1), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
    ASSERT_EQ(read(40, MXL_GRAIN_VALID_SLICES_ANY), MXL_STATUS_OK);
    EXPECT_EQ(info.validSlices, 0U);
    mxlGrainInfo slot{};
    ASSERT_EQ(mxlFlowWriterGetGrainInfo(writer, 40, &slot), MXL_STATUS_OK);
    EXPECT_EQ(slot.validSlices, 0U);

    // Opening the next grain of the slot claims it for the new index at once.
    ASSERT_EQ(mxlFlowWriterOpenGrain(writer, 45, &w, &p), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowWriterGetGrainInfo(writer, 45, &slot), MXL_STATUS_OK);
    EXPECT_EQ(slot.index, 45U);
    EXPECT_EQ(slot.validSlices, 0U);
    EXPECT_EQ(read(40, MXL_GRAIN_VALID_SLICES_ANY), MXL_ERR_OUT_OF_RANGE_TOO_LATE);

    // Cancelling leaves the slot empty.
    ASSERT_EQ(mxlFlowWriterCancelGrain(writer), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowWriterCancelGrain(writer), MXL_ERR_INVALID_STATE);
    ASSERT_EQ(mxlFlowWriterGetGrainInfo(writer, 45, &slot), MXL_STATUS_OK);
    EXPECT_EQ(slot.validSlices, 0U);
}

TEST_F(DiscreteFlow, PartialGrainsAreVisibleSliceBySlice)
{
    mxlGrainInfo w{};
    std::uint8_t* p = nullptr;
    ASSERT_EQ(mxlFlowWriterOpenGrain(writer, 60, &w, &p), MXL_STATUS_OK);
    for (std::uint16_t committed = 2; committed <= lines; committed += 2)
    {
        fillPattern(p, std::size_t{committed - 2U} * lineBytes, std::size_t{committed} * lineBytes, 60);
        w.validSlices = committed;
        ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_STATUS_OK);

        ASSERT_EQ(read(60, committed), MXL_STATUS_OK);
        EXPECT_EQ(info.validSlices, committed);
        EXPECT_EQ(firstPatternMismatch(payload, 0, std::size_t{committed} * lineBytes, 60), std::size_t{committed} * lineBytes);
        if (committed < lines)
        {
            EXPECT_EQ(read(60, static_cast<std::uint16_t>(committed + 1)), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
            EXPECT_EQ(read(60), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
        }
    }
    // Asking for more slices than a grain has means "all of them".
    EXPECT_EQ(read(60, 1000), MXL_STATUS_OK);
    EXPECT_EQ(read(60), MXL_STATUS_OK);
    // The full commit closed the grain.
    EXPECT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_ERR_INVALID_STATE);
}

TEST_F(DiscreteFlow, BlockingSliceReadReturnsOnceEnoughSlicesAreCommitted)
{
    mxlGrainInfo w{};
    std::uint8_t* p = nullptr;
    ASSERT_EQ(mxlFlowWriterOpenGrain(writer, 80, &w, &p), MXL_STATUS_OK);
    fillPattern(p, 0, 4 * lineBytes, 80);
    w.validSlices = 4;
    ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_STATUS_OK);
    ASSERT_EQ(read(80, 4), MXL_STATUS_OK);
    ASSERT_EQ(read(80, 10), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);

    std::atomic<pid_t> readerTid{0};
    auto waiting = std::async(std::launch::async, [&] {
        readerTid = static_cast<pid_t>(::syscall(SYS_gettid));
        mxlGrainInfo got{};
        std::uint8_t* bytes = nullptr;
        auto const status = mxlFlowReaderGetGrainSlice(reader, 80, 10, 10'000'000'000ULL, &got, &bytes);
        return std::make_pair(status, got.validSlices);
    });
    while (readerTid.load() == 0)
    {
        std::this_thread::yield();
    }
    // Commit while the reader sleeps in its futex (if /proc tells us; otherwise just commit).
    (void)waitUntilInFutex(::getpid(), readerTid.load());
    fillPattern(p, 4 * lineBytes, 7 * lineBytes, 80);
    w.validSlices = 7;
    ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_STATUS_OK);
    fillPattern(p, 7 * lineBytes, 12 * lineBytes, 80);
    w.validSlices = 12;
    ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_STATUS_OK);

    ASSERT_EQ(waiting.wait_for(std::chrono::seconds{5}), std::future_status::ready) << "reader was not woken";
    auto const [status, valid] = waiting.get();
    EXPECT_EQ(status, MXL_STATUS_OK);
    EXPECT_GE(valid, 10U);
}

TEST_F(DiscreteFlow, InvalidFlaggedGrainIsReturnedWithItsFlag)
{
    mxlGrainInfo w{};
    std::uint8_t* p = nullptr;
    ASSERT_EQ(mxlFlowWriterOpenGrain(writer, 90, &w, &p), MXL_STATUS_OK);
    w.flags = MXL_GRAIN_FLAG_INVALID;
    w.validSlices = 0;
    ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowReaderGetGrain(reader, 90, 0, &info, &payload), MXL_STATUS_OK);
    EXPECT_EQ(info.flags & MXL_GRAIN_FLAG_INVALID, static_cast<std::uint32_t>(MXL_GRAIN_FLAG_INVALID));
    EXPECT_EQ(info.validSlices, 0U);
    EXPECT_EQ(info.index, 90U);
    // The flag closed the grain, and the next open of the slot clears it.
    EXPECT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_ERR_INVALID_STATE);
    ASSERT_EQ(writeWholeGrain(writer, 95), MXL_STATUS_OK);
    ASSERT_EQ(read(95), MXL_STATUS_OK);
    EXPECT_EQ(info.flags, 0U);
}

TEST_F(DiscreteFlow, CommitRefusesSlicesBeyondTheGrainOrGoingBackwards)
{
    mxlGrainInfo w{};
    std::uint8_t* p = nullptr;
    ASSERT_EQ(mxlFlowWriterOpenGrain(writer, 100, &w, &p), MXL_STATUS_OK);
    w.validSlices = lines + 1;
    EXPECT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_ERR_INVALID_ARG);
    w.validSlices = 0xFFFF;
    EXPECT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_ERR_INVALID_ARG);
    w.validSlices = 8;
    ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_STATUS_OK);
    w.validSlices = 7;
    EXPECT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_ERR_INVALID_ARG);
    // Refused commits change nothing.
    ASSERT_EQ(read(100, MXL_GRAIN_VALID_SLICES_ANY), MXL_STATUS_OK);
    EXPECT_EQ(info.validSlices, 8U);
    // Committing another index than the open one is refused too.
    w.index = 101;
    w.validSlices = 9;
    EXPECT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_ERR_INVALID_ARG);
    w.index = 100;
    EXPECT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowWriterCommitGrain(writer, nullptr), MXL_ERR_INVALID_ARG);
}

TEST_F(DiscreteFlow, CommitOrCancelWithoutAnOpenGrainIsInvalidState)
{
    mxlGrainInfo w{};
    w.index = 0;
    w.validSlices = lines;
    EXPECT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_ERR_INVALID_STATE);
    EXPECT_EQ(mxlFlowWriterCancelGrain(writer), MXL_ERR_INVALID_STATE);
    ASSERT_EQ(writeWholeGrain(writer, 3), MXL_STATUS_OK);
    w.index = 3;
    EXPECT_EQ(mxlFlowWriterCommitGrain(writer, &w), MXL_ERR_INVALID_STATE);
}

TEST_F(DiscreteFlow, OpeningASecondGrainAbandonsTheFirst)
{
    mxlGrainInfo first{};
    mxlGrainInfo second{};
    std::uint8_t* p = nullptr;
    ASSERT_EQ(mxlFlowWriterOpenGrain(writer, 20, &first, &p), MXL_STATUS_OK);
    first.validSlices = 3;
    ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &first), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowWriterOpenGrain(writer, 21, &second, &p), MXL_STATUS_OK);
    first.validSlices = lines;
    EXPECT_EQ(mxlFlowWriterCommitGrain(writer, &first), MXL_ERR_INVALID_ARG);
    ASSERT_EQ(read(20, MXL_GRAIN_VALID_SLICES_ANY), MXL_STATUS_OK);
    EXPECT_EQ(info.validSlices, 3U);
}

TEST_F(DiscreteFlow, WriterGrainInfoDescribesTheSlotOfAnIndex)
{
    ASSERT_EQ(writeWholeGrain(writer, 33), MXL_STATUS_OK);
    mxlGrainInfo slot{};
    ASSERT_EQ(mxlFlowWriterGetGrainInfo(writer, 33, &slot), MXL_STATUS_OK);
    EXPECT_EQ(slot.index, 33U);
    EXPECT_EQ(slot.validSlices, lines);
    EXPECT_EQ(slot.totalSlices, lines);
    EXPECT_EQ(slot.grainSize, grainBytes);
    // 38 shares the slot; the header tells which grain is there now.
    ASSERT_EQ(mxlFlowWriterGetGrainInfo(writer, 38, &slot), MXL_STATUS_OK);
    EXPECT_EQ(slot.index, 33U);
    EXPECT_EQ(mxlFlowWriterGetGrainInfo(writer, 33, nullptr), MXL_ERR_INVALID_ARG);
}

TEST_F(DiscreteFlow, NullOutputPointersAreInvalidArguments)
{
    ASSERT_EQ(writeWholeGrain(writer, 1), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowReaderGetGrain(reader, 1, 0, nullptr, &payload), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowReaderGetGrain(reader, 1, 0, &info, nullptr), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowReaderGetGrainNonBlocking(reader, 1, nullptr, &payload), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowWriterOpenGrain(writer, 2, nullptr, &payload), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowWriterOpenGrain(writer, 2, &info, nullptr), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowWriterOpenGrain(writer, MXL_UNDEFINED_INDEX, &info, &payload), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowReaderGetInfo(reader, nullptr), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowReaderGetConfigInfo(reader, nullptr), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowReaderGetRuntimeInfo(reader, nullptr), MXL_ERR_INVALID_ARG);
}

TEST_F(DiscreteFlow, SampleCallsAreRefusedOnGrainFlows)
{
    size_t count = 0;
    mxlWrappedMultiBufferSlice slices{};
    mxlMutableWrappedMultiBufferSlice mutableSlices{};
    EXPECT_EQ(mxlFlowReaderGetMaxReadLengthSamples(reader, &count), MXL_ERR_INVALID_FLOW_READER);
    EXPECT_EQ(mxlFlowReaderGetSamples(reader, 100, 10, 0, &slices), MXL_ERR_INVALID_FLOW_READER);
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, 100, 10, &slices), MXL_ERR_INVALID_FLOW_READER);
    EXPECT_EQ(mxlFlowWriterGetMaxWriteLengthSamples(writer, &count), MXL_ERR_INVALID_FLOW_WRITER);
    EXPECT_EQ(mxlFlowWriterOpenSamples(writer, 100, 10, &mutableSlices), MXL_ERR_INVALID_FLOW_WRITER);
    EXPECT_EQ(mxlFlowWriterCommitSamples(writer), MXL_ERR_INVALID_FLOW_WRITER);
    EXPECT_EQ(mxlFlowWriterCancelSamples(writer), MXL_ERR_INVALID_FLOW_WRITER);
}
