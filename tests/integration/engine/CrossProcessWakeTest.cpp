// SPDX-License-Identifier: Apache-2.0
// Readers and writers in separate processes: a blocked reader is woken by another process's commit,
// and partial grains become visible slice batch by slice batch.

#include <chrono>
#include <cstdint>
#include <ctime>
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
    std::uint64_t monotonicNs()
    {
        timespec ts{};
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
    }

    struct WakeResult
    {
        int status;
        std::uint64_t index;
        std::uint64_t firstMismatch;
        std::uint64_t grainSize;
        std::uint64_t returnedAt; // CLOCK_MONOTONIC, comparable across processes
    };

    struct AudioResult
    {
        int status;
        int badSamples;
    };
}

TEST(CrossProcess, BlockedReaderProcessIsWokenByAWriterProcessCommit)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(id, "v210", 1280, 720, 50, 1).c_str(), nullptr, &writer, nullptr, nullptr), MXL_STATUS_OK);

    constexpr std::uint64_t first = 7'000'000;
    constexpr int rounds = 4;
    constexpr std::uint64_t timeoutNs = 10'000'000'000ULL;
    Pipe waiting;
    Pipe results;
    ChildProcess readerProcess{[&] {
        ScopedInstance own{domain.str()};
        mxlFlowReader reader = nullptr;
        if (!own || mxlCreateFlowReader(own.get(), id.c_str(), nullptr, &reader) != MXL_STATUS_OK)
        {
            return 1;
        }
        for (int round = 0; round < rounds; ++round)
        {
            auto const index = first + static_cast<std::uint64_t>(round);
            waiting.send(index);
            mxlGrainInfo info{};
            std::uint8_t* payload = nullptr;
            auto const status = mxlFlowReaderGetGrain(reader, index, timeoutNs, &info, &payload);
            WakeResult result{status, info.index, 0, info.grainSize, monotonicNs()};
            if (status == MXL_STATUS_OK)
            {
                result.firstMismatch = firstPatternMismatch(payload, 0, info.grainSize, index);
            }
            results.send(result);
        }
        return 0;
    }};

    for (int round = 0; round < rounds; ++round)
    {
        SCOPED_TRACE(round);
        auto const index = first + static_cast<std::uint64_t>(round);
        auto const asked = waiting.receive<std::uint64_t>();
        ASSERT_EQ(asked, std::optional<std::uint64_t>{index});
        // Commit only once the reader sleeps in the futex, so that only a wake-up can return it early.
        ASSERT_TRUE(waitUntilInFutex(readerProcess.pid(), readerProcess.pid())) << "reader never blocked in futex(2)";
        auto const committedAt = monotonicNs();
        ASSERT_EQ(writeWholeGrain(writer, index), MXL_STATUS_OK);

        auto const result = results.receive<WakeResult>(std::chrono::seconds{15});
        ASSERT_TRUE(result.has_value()) << "no answer from the reader";
        EXPECT_EQ(result->status, MXL_STATUS_OK);
        EXPECT_EQ(result->index, index);
        EXPECT_EQ(result->firstMismatch, result->grainSize) << "payload differs from what was written";
        EXPECT_GE(result->returnedAt, committedAt);
        // Well before the reader's own timeout: it was woken, not timed out.
        EXPECT_LT(result->returnedAt - committedAt, timeoutNs / 2);
    }
    EXPECT_EQ(readerProcess.wait(), std::optional<int>{0});
}

TEST(CrossProcess, BlockedAudioReaderProcessIsWokenByAWriterProcessCommit)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(id, "audio", 0, 0, 48000, 1, 2).c_str(), nullptr, &writer, nullptr, nullptr),
        MXL_STATUS_OK);
    constexpr std::uint64_t index = 48000ULL * 3600;
    Pipe waiting;
    Pipe results;
    ChildProcess readerProcess{[&] {
        ScopedInstance own{domain.str()};
        mxlFlowReader reader = nullptr;
        if (!own || mxlCreateFlowReader(own.get(), id.c_str(), nullptr, &reader) != MXL_STATUS_OK)
        {
            return 1;
        }
        waiting.send(1);
        mxlWrappedMultiBufferSlice slices{};
        auto const status = mxlFlowReaderGetSamples(reader, index, 480, 10'000'000'000ULL, &slices);
        int bad = 0;
        if (status == MXL_STATUS_OK)
        {
            for (std::size_t c = 0; c < slices.count; ++c)
            {
                auto const* samples = reinterpret_cast<float const*>(static_cast<std::uint8_t const*>(slices.base.fragments[0].pointer) + c * slices.stride);
                for (std::size_t n = 0; n < 480; ++n)
                {
                    bad += samples[n] != static_cast<float>(c * 480 + n) ? 1 : 0;
                }
            }
        }
        results.send(AudioResult{static_cast<int>(status), bad});
        return 0;
    }};
    ASSERT_TRUE(waiting.receive<int>().has_value());
    ASSERT_TRUE(waitUntilInFutex(readerProcess.pid(), readerProcess.pid()));
    mxlMutableWrappedMultiBufferSlice out{};
    ASSERT_EQ(mxlFlowWriterOpenSamples(writer, index, 480, &out), MXL_STATUS_OK);
    ASSERT_EQ(out.base.fragments[1].size, 0U);
    for (std::size_t c = 0; c < out.count; ++c)
    {
        auto* samples = reinterpret_cast<float*>(static_cast<std::uint8_t*>(out.base.fragments[0].pointer) + c * out.stride);
        for (std::size_t n = 0; n < 480; ++n)
        {
            samples[n] = static_cast<float>(c * 480 + n);
        }
    }
    ASSERT_EQ(mxlFlowWriterCommitSamples(writer), MXL_STATUS_OK);
    auto const result = results.receive<AudioResult>(std::chrono::seconds{5});
    ASSERT_TRUE(result.has_value()) << "reader was not woken";
    EXPECT_EQ(result->status, MXL_STATUS_OK);
    EXPECT_EQ(result->badSamples, 0);
    EXPECT_EQ(readerProcess.wait(), std::optional<int>{0});
}

namespace
{
    struct SliceCheck
    {
        int status;
        std::uint16_t validSlices;
        std::uint16_t tooEarlyForOneMore; // 1 if asking for one more slice was TOO_EARLY
        std::uint16_t wholeGrainStatus;
        std::uint64_t committedBad;    // bytes of committed slices that differ from the new grain
        std::uint64_t uncommittedBad;  // bytes of later slices that differ from the old grain
    };
}

TEST(CrossProcess, PartialGrainBecomesVisibleBatchByBatchInAnotherProcess)
{
    constexpr std::uint16_t lines = 64;
    constexpr std::size_t lineBytes = 256; // 64 pixels of v210
    constexpr std::uint16_t batch = 8;
    constexpr std::uint64_t oldIndex = 995;
    constexpr std::uint64_t index = 1000; // same slot as 995 in a ring of 5
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    mxlFlowWriter writer = nullptr;
    mxlFlowConfigInfo config{};
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(id, "v210", 64, lines, 25, 1).c_str(), nullptr, &writer, &config, nullptr),
        MXL_STATUS_OK);
    ASSERT_EQ(config.discrete.grainCount, 5U);
    ASSERT_EQ(config.discrete.sliceSizes[0], lineBytes);
    // The slot holds a complete older grain whose bytes must show through until overwritten.
    ASSERT_EQ(writeWholeGrain(writer, oldIndex, 7), MXL_STATUS_OK);

    Pipe waiting;
    Pipe checks;
    ChildProcess readerProcess{[&] {
        ScopedInstance own{domain.str()};
        mxlFlowReader reader = nullptr;
        if (!own || mxlCreateFlowReader(own.get(), id.c_str(), nullptr, &reader) != MXL_STATUS_OK)
        {
            return 1;
        }
        for (std::uint16_t wanted = batch; wanted <= lines; wanted = static_cast<std::uint16_t>(wanted + batch))
        {
            waiting.send(wanted);
            mxlGrainInfo info{};
            std::uint8_t* payload = nullptr;
            SliceCheck check{};
            check.status = mxlFlowReaderGetGrainSlice(reader, index, wanted, 10'000'000'000ULL, &info, &payload);
            if (check.status == MXL_STATUS_OK)
            {
                check.validSlices = info.validSlices;
                auto const committed = std::size_t{info.validSlices} * lineBytes;
                std::size_t const total = lines * lineBytes;
                for (std::size_t i = 0; i < committed; ++i)
                {
                    check.committedBad += payload[i] != patternByte(index, i) ? 1 : 0;
                }
                for (std::size_t i = committed; i < total; ++i)
                {
                    check.uncommittedBad += payload[i] != patternByte(oldIndex, i, 7) ? 1 : 0;
                }
                mxlGrainInfo more{};
                std::uint8_t* p = nullptr;
                auto const next = static_cast<std::uint16_t>(info.validSlices + 1);
                check.tooEarlyForOneMore =
                    mxlFlowReaderGetGrainSliceNonBlocking(reader, index, next, &more, &p) == MXL_ERR_OUT_OF_RANGE_TOO_EARLY ? 1 : 0;
                check.wholeGrainStatus = static_cast<std::uint16_t>(mxlFlowReaderGetGrainNonBlocking(reader, index, &more, &p));
            }
            checks.send(check);
        }
        return 0;
    }};

    mxlGrainInfo info{};
    std::uint8_t* payload = nullptr;
    ASSERT_EQ(mxlFlowWriterOpenGrain(writer, index, &info, &payload), MXL_STATUS_OK);
    for (std::uint16_t committed = batch; committed <= lines; committed = static_cast<std::uint16_t>(committed + batch))
    {
        SCOPED_TRACE(committed);
        ASSERT_EQ(waiting.receive<std::uint16_t>(), std::optional<std::uint16_t>{committed});
        ASSERT_TRUE(waitUntilInFutex(readerProcess.pid(), readerProcess.pid())) << "reader never blocked in futex(2)";
        fillPattern(payload, static_cast<std::size_t>(committed - batch) * lineBytes, std::size_t{committed} * lineBytes, index);
        info.validSlices = committed;
        ASSERT_EQ(mxlFlowWriterCommitGrain(writer, &info), MXL_STATUS_OK);

        auto const check = checks.receive<SliceCheck>(std::chrono::seconds{15});
        ASSERT_TRUE(check.has_value());
        EXPECT_EQ(check->status, MXL_STATUS_OK);
        // The writer waits for this answer before committing more, so the reader sees exactly this batch.
        EXPECT_EQ(check->validSlices, committed);
        EXPECT_EQ(check->committedBad, 0U);
        EXPECT_EQ(check->uncommittedBad, 0U);
        if (committed < lines)
        {
            EXPECT_EQ(check->tooEarlyForOneMore, 1U);
            EXPECT_EQ(check->wholeGrainStatus, MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
        }
        else
        {
            EXPECT_EQ(check->wholeGrainStatus, MXL_STATUS_OK);
        }
    }
    EXPECT_EQ(readerProcess.wait(), std::optional<int>{0});
}
