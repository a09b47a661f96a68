// SPDX-License-Identifier: Apache-2.0
// Sample rings of audio flows: fragments at the ring's edge, per-channel layout, read and write
// windows.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <future>
#include <string>
#include <thread>

#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include "EngineTestSupport.hpp"
#include "support/TestDomain.hpp"

using namespace mxl::test;

namespace
{
    constexpr std::size_t channels = 4;
    constexpr std::uint64_t bufferLength = 19456; // 48 kHz, 200 ms of history, in floats
    constexpr std::size_t maxCount = bufferLength / 2;

    float sampleValue(std::size_t channel, std::uint64_t sample)
    {
        return static_cast<float>(channel * 1'000'000 + sample % 999'983);
    }

    class ContinuousFlow : public ::testing::Test
    {
    protected:
        void SetUp() override
        {
            ASSERT_TRUE(instance);
            mxlFlowConfigInfo config{};
            ASSERT_EQ(mxlCreateFlowWriter(instance.get(), flowDef(id, "audio", 0, 0, 48000, 1, channels).c_str(), nullptr, &writer, &config,
                          nullptr),
                MXL_STATUS_OK);
            ASSERT_EQ(config.continuous.bufferLength, bufferLength);
            ASSERT_EQ(config.continuous.channelCount, channels);
            ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);
        }

        /// Writes samples index-count .. index-1 of every channel and commits them.
        mxlStatus write(std::uint64_t index, std::size_t count)
        {
            mxlMutableWrappedMultiBufferSlice slices{};
            if (auto const s = mxlFlowWriterOpenSamples(writer, index, count, &slices); s != MXL_STATUS_OK)
            {
                return s;
            }
            for (std::size_t c = 0; c < slices.count; ++c)
            {
                auto sample = index - count;
                for (auto const& fragment : slices.base.fragments)
                {
                    auto* floats = reinterpret_cast<float*>(static_cast<std::uint8_t*>(fragment.pointer) + c * slices.stride);
                    for (std::size_t n = 0; n < fragment.size / sizeof(float); ++n)
                    {
                        floats[n] = sampleValue(c, sample++);
                    }
                }
            }
            return mxlFlowWriterCommitSamples(writer);
        }

        /// Number of samples in [index-count, index) whose value differs from what write() put there.
        std::size_t mismatches(mxlWrappedMultiBufferSlice const& slices, std::uint64_t index, std::size_t count)
        {
            std::size_t bad = 0;
            for (std::size_t c = 0; c < slices.count; ++c)
            {
                auto sample = index - count;
                for (auto const& fragment : slices.base.fragments)
                {
                    auto const* floats = reinterpret_cast<float const*>(static_cast<std::uint8_t const*>(fragment.pointer) + c * slices.stride);
                    for (std::size_t n = 0; n < fragment.size / sizeof(float); ++n)
                    {
                        bad += floats[n] != sampleValue(c, sample++) ? 1 : 0;
                    }
                }
            }
            return bad;
        }

        TestDomain domain;
        ScopedInstance instance{domain.str()};
        std::string id = newFlowId();
        mxlFlowWriter writer = nullptr;
        mxlFlowReader reader = nullptr;
    };
}

TEST_F(ContinuousFlow, MaxReadAndWriteLengthsAreHalfTheRing)
{
    std::size_t count = 0;
    ASSERT_EQ(mxlFlowReaderGetMaxReadLengthSamples(reader, &count), MXL_STATUS_OK);
    EXPECT_EQ(count, maxCount);
    count = 0;
    ASSERT_EQ(mxlFlowWriterGetMaxWriteLengthSamples(writer, &count), MXL_STATUS_OK);
    EXPECT_EQ(count, maxCount);
    EXPECT_EQ(mxlFlowReaderGetMaxReadLengthSamples(reader, nullptr), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowWriterGetMaxWriteLengthSamples(writer, nullptr), MXL_ERR_INVALID_ARG);
}

TEST_F(ContinuousFlow, RangeAcrossTheRingEdgeComesAsTwoFragments)
{
    // 300 samples starting 100 before the end of the ring: 100 at the end, 200 at the start.
    std::uint64_t const index = bufferLength * 1000 + 200;
    std::size_t const count = 300;
    mxlMutableWrappedMultiBufferSlice out{};
    ASSERT_EQ(mxlFlowWriterOpenSamples(writer, index, count, &out), MXL_STATUS_OK);
    EXPECT_EQ(out.count, channels);
    EXPECT_EQ(out.stride, bufferLength * sizeof(float));
    EXPECT_EQ(out.base.fragments[0].size, 100 * sizeof(float));
    EXPECT_EQ(out.base.fragments[1].size, 200 * sizeof(float));
    auto const* writerRing = static_cast<std::uint8_t*>(out.base.fragments[1].pointer);
    EXPECT_EQ(static_cast<std::uint8_t*>(out.base.fragments[0].pointer), writerRing + (bufferLength - 100) * sizeof(float));
    ASSERT_EQ(mxlFlowWriterCancelSamples(writer), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowWriterCancelSamples(writer), MXL_ERR_INVALID_STATE);
    EXPECT_EQ(mxlFlowWriterCommitSamples(writer), MXL_ERR_INVALID_STATE);

    ASSERT_EQ(write(index, count), MXL_STATUS_OK);
    mxlWrappedMultiBufferSlice in{};
    ASSERT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, index, count, &in), MXL_STATUS_OK);
    EXPECT_EQ(in.count, channels);
    EXPECT_EQ(in.stride, bufferLength * sizeof(float));
    EXPECT_EQ(in.base.fragments[0].size, 100 * sizeof(float));
    EXPECT_EQ(in.base.fragments[1].size, 200 * sizeof(float));
    auto const* readerRing = static_cast<std::uint8_t const*>(in.base.fragments[1].pointer);
    EXPECT_EQ(static_cast<std::uint8_t const*>(in.base.fragments[0].pointer), readerRing + (bufferLength - 100) * sizeof(float));
    EXPECT_EQ(mismatches(in, index, count), 0U);

    // The same samples read as one fragment when the range does not wrap.
    ASSERT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, index, 150, &in), MXL_STATUS_OK);
    EXPECT_EQ(in.base.fragments[0].size, 150 * sizeof(float));
    EXPECT_EQ(in.base.fragments[1].size, 0U);
    EXPECT_EQ(static_cast<std::uint8_t const*>(in.base.fragments[0].pointer), readerRing + 50 * sizeof(float));
    EXPECT_EQ(mismatches(in, index, 150), 0U);
}

TEST_F(ContinuousFlow, RangeEndingExactlyAtTheRingEdgeIsOneFragment)
{
    std::uint64_t const index = bufferLength * 3;
    ASSERT_EQ(write(index, 512), MXL_STATUS_OK);
    mxlWrappedMultiBufferSlice in{};
    ASSERT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, index, 512, &in), MXL_STATUS_OK);
    EXPECT_EQ(in.base.fragments[0].size, 512 * sizeof(float));
    EXPECT_EQ(in.base.fragments[1].size, 0U);
    EXPECT_EQ(mismatches(in, index, 512), 0U);
}

TEST_F(ContinuousFlow, EveryChannelReadsBackWhatWasWrittenOverManyLaps)
{
    // Write 5 laps of the ring in blocks of 1000 (never aligned to the ring), reading each back.
    std::uint64_t index = 1'234'567;
    std::size_t total = 0;
    while (total < 5 * bufferLength)
    {
        index += 1000;
        ASSERT_EQ(write(index, 1000), MXL_STATUS_OK);
        mxlWrappedMultiBufferSlice in{};
        ASSERT_EQ(mxlFlowReaderGetSamples(reader, index, 1000, 0, &in), MXL_STATUS_OK);
        ASSERT_EQ(mismatches(in, index, 1000), 0U) << "at " << index;
        total += 1000;
    }
    // After all those laps the whole readable window (half the ring) is intact.
    mxlWrappedMultiBufferSlice in{};
    ASSERT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, index, maxCount, &in), MXL_STATUS_OK);
    EXPECT_EQ(mismatches(in, index, maxCount), 0U);
    mxlFlowRuntimeInfo runtime{};
    ASSERT_EQ(mxlFlowReaderGetRuntimeInfo(reader, &runtime), MXL_STATUS_OK);
    EXPECT_EQ(runtime.headIndex, index);
}

TEST_F(ContinuousFlow, ReadsBeyondTheHeadAreTooEarlyAndBeyondHalfTheRingTooLate)
{
    std::uint64_t const head = 10'000'000;
    ASSERT_EQ(write(head, maxCount), MXL_STATUS_OK);
    mxlWrappedMultiBufferSlice in{};
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, head, 1, &in), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, head + 1, 1, &in), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, head + 1, 100, &in), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
    EXPECT_EQ(mxlFlowReaderGetSamples(reader, head + 48, 48, 5'000'000, &in), MXL_ERR_OUT_OF_RANGE_TOO_EARLY);

    // index - count may go back to head - bufferLength/2, not one sample further.
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, head, maxCount, &in), MXL_STATUS_OK);
    EXPECT_EQ(mismatches(in, head, maxCount), 0U);
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, head - 1, maxCount, &in), MXL_ERR_OUT_OF_RANGE_TOO_LATE);
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, head - maxCount + 10, 10, &in), MXL_STATUS_OK);
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, head - maxCount + 9, 10, &in), MXL_ERR_OUT_OF_RANGE_TOO_LATE);
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, head - 100'000, 10, &in), MXL_ERR_OUT_OF_RANGE_TOO_LATE);
}

TEST_F(ContinuousFlow, CountsOfZeroOrAboveHalfTheRingAreInvalidArguments)
{
    std::uint64_t const head = 1'000'000;
    ASSERT_EQ(write(head, 1000), MXL_STATUS_OK);
    mxlWrappedMultiBufferSlice in{};
    mxlMutableWrappedMultiBufferSlice out{};
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, head, 0, &in), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, head, maxCount + 1, &in), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowReaderGetSamples(reader, head, maxCount + 1, 1000, &in), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, head, 10, nullptr), MXL_ERR_INVALID_ARG);
    // The first samples of all: an index smaller than the count has nothing before it.
    EXPECT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, 5, 10, &in), MXL_ERR_INVALID_ARG);

    EXPECT_EQ(mxlFlowWriterOpenSamples(writer, head + 100, 0, &out), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowWriterOpenSamples(writer, head + maxCount + 1, maxCount + 1, &out), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowWriterOpenSamples(writer, 5, 10, &out), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowWriterOpenSamples(writer, head + 100, 10, nullptr), MXL_ERR_INVALID_ARG);
    EXPECT_EQ(mxlFlowWriterOpenSamples(writer, head + maxCount, maxCount, &out), MXL_STATUS_OK);
    EXPECT_EQ(out.base.fragments[0].size + out.base.fragments[1].size, maxCount * sizeof(float));
    EXPECT_EQ(mxlFlowWriterCancelSamples(writer), MXL_STATUS_OK);
}

TEST_F(ContinuousFlow, BlockedReaderIsWokenWhenASyncBatchBoundaryIsCrossed)
{
    std::uint64_t const start = 48000ULL * 1000; // a multiple of the 480-sample sync batch
    ASSERT_EQ(write(start, 480), MXL_STATUS_OK);
    std::atomic<pid_t> tid{0};
    auto waiting = std::async(std::launch::async, [&] {
        tid = static_cast<pid_t>(::syscall(SYS_gettid));
        mxlWrappedMultiBufferSlice in{};
        auto const status = mxlFlowReaderGetSamples(reader, start + 480, 480, 10'000'000'000ULL, &in);
        return std::make_pair(status, status == MXL_STATUS_OK ? mismatches(in, start + 480, 480) : 0);
    });
    while (tid.load() == 0)
    {
        std::this_thread::yield();
    }
    (void)waitUntilInFutex(::getpid(), tid.load());
    ASSERT_EQ(write(start + 480, 480), MXL_STATUS_OK);
    ASSERT_EQ(waiting.wait_for(std::chrono::seconds{5}), std::future_status::ready);
    auto const [status, bad] = waiting.get();
    EXPECT_EQ(status, MXL_STATUS_OK);
    EXPECT_EQ(bad, 0U);
}

TEST(ContinuousFlowDoubles, SixtyFourBitSamplesUseEightByteWords)
{
    TestDomain domain;
    ScopedInstance instance{domain.str()};
    ASSERT_TRUE(instance);
    auto const id = newFlowId();
    auto def = nlohmann::json::parse(flowDef(id, "audio", 0, 0, 48000, 1, 2));
    def["bit_depth"] = 64;
    mxlFlowWriter writer = nullptr;
    mxlFlowConfigInfo config{};
    ASSERT_EQ(mxlCreateFlowWriter(instance.get(), def.dump().c_str(), nullptr, &writer, &config, nullptr), MXL_STATUS_OK);
    ASSERT_EQ(config.continuous.bufferLength, bufferLength);
    mxlFlowReader reader = nullptr;
    ASSERT_EQ(mxlCreateFlowReader(instance.get(), id.c_str(), nullptr, &reader), MXL_STATUS_OK);

    std::uint64_t const index = bufferLength * 2 + 10;
    mxlMutableWrappedMultiBufferSlice out{};
    ASSERT_EQ(mxlFlowWriterOpenSamples(writer, index, 30, &out), MXL_STATUS_OK);
    EXPECT_EQ(out.stride, bufferLength * sizeof(double));
    EXPECT_EQ(out.base.fragments[0].size, 20 * sizeof(double));
    EXPECT_EQ(out.base.fragments[1].size, 10 * sizeof(double));
    for (std::size_t c = 0; c < 2; ++c)
    {
        std::uint64_t sample = index - 30;
        for (auto const& fragment : out.base.fragments)
        {
            auto* doubles = reinterpret_cast<double*>(static_cast<std::uint8_t*>(fragment.pointer) + c * out.stride);
            for (std::size_t n = 0; n < fragment.size / sizeof(double); ++n)
            {
                doubles[n] = static_cast<double>(c) + static_cast<double>(sample++) * 1e-9;
            }
        }
    }
    ASSERT_EQ(mxlFlowWriterCommitSamples(writer), MXL_STATUS_OK);
    mxlWrappedMultiBufferSlice in{};
    ASSERT_EQ(mxlFlowReaderGetSamplesNonBlocking(reader, index, 30, &in), MXL_STATUS_OK);
    EXPECT_EQ(in.stride, bufferLength * sizeof(double));
    for (std::size_t c = 0; c < 2; ++c)
    {
        std::uint64_t sample = index - 30;
        for (auto const& fragment : in.base.fragments)
        {
            auto const* doubles = reinterpret_cast<double const*>(static_cast<std::uint8_t const*>(fragment.pointer) + c * in.stride);
            for (std::size_t n = 0; n < fragment.size / sizeof(double); ++n)
            {
                EXPECT_EQ(doubles[n], static_cast<double>(c) + static_cast<double>(sample++) * 1e-9);
            }
        }
    }
}
