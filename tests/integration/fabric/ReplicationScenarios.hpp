// SPDX-License-Identifier: Apache-2.0
#pragma once

// Byte-exact replication scenarios, each run by a Sender and a Receiver in two processes with the
// given options, so that every transfer mode proves the same behaviour with the same test.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/time.h>

#include "ReplicationHarness.hpp"
#include "ReplicationMedia.hpp"
#include "base/Uuid.hpp"
#include "support/TestDomain.hpp"

namespace mxl::fabric::test
{
    /// A source flow in one domain replicated into another by a Sender and a Receiver in two
    /// processes, and a reader of the mirror once started.
    struct ReplicatedFlow
    {
        ReplicatedFlow(ReplicationOptions const& options, std::function<std::string(std::string const& id)> const& definition)
            : source{a, definition(id)}
            , replication{a.str(), b.str(), *parseUuid(id), options}
        {}

        /// Starts both sides and opens the reader; false, with the reason in replication.error(), when
        /// either side failed.
        bool start()
        {
            if (!replication.start())
            {
                return false;
            }
            sink.emplace(b, id);
            return true;
        }

        mxl::test::TestDomain a, b;
        std::string id{formatUuid(randomUuid().value())};
        Source source;
        Replication replication;
        std::optional<Sink> sink;
    };

    inline void expectCleanSession(Replication const& replication, std::uint64_t grains)
    {
        auto const& sent = replication.senderCounters();
        auto const& received = replication.receiverCounters();
        EXPECT_EQ(sent.grains, grains);
        EXPECT_EQ(received.grains, grains);
        EXPECT_EQ(received.bytes, sent.bytes);
        EXPECT_EQ(received.slices, sent.slices);
        EXPECT_EQ(received.commits, sent.commits);
        EXPECT_EQ(sent.skippedGrains, 0U);
        EXPECT_EQ(received.refusedEpoch + received.refusedRange + received.refusedSequence + received.refusedOperation, 0U);
        EXPECT_EQ(received.refusedConnections, 0U) << "the source's own connection was refused";
        EXPECT_EQ(sent.refusedOperation, 0U) << sent.lastError;
        EXPECT_EQ(sent.errors, 0U) << sent.lastError;
        EXPECT_EQ(received.errors, 0U) << received.lastError;
    }

    /// Writes grains whole grains and checks each on the sink as it arrives.
    inline void replicateAndVerify(ReplicationOptions const& options, std::string const& media, int width, int height, unsigned grains)
    {
        ReplicatedFlow flow{options, [&](std::string const& id) { return mxl::test::flowDef(id, media, width, height, 50, 1); }};
        auto& source = flow.source;
        ASSERT_TRUE(flow.start()) << flow.replication.error();
        auto& replication = flow.replication;
        auto& sink = *flow.sink;

        mxlFlowConfigInfo mirrorConfig;
        ASSERT_EQ(mxlFlowReaderGetConfigInfo(sink.reader, &mirrorConfig), MXL_STATUS_OK);
        EXPECT_EQ(std::memcmp(&mirrorConfig, &source.config, sizeof mirrorConfig), 0) << "the mirror's configuration must be the source's";

        auto const first = source.currentIndex();
        for (auto i = first; i < first + grains; ++i)
        {
            source.writeGrain(i);
            EXPECT_EQ(sink.verify(i), 0U) << "grain " << i << " differs";
        }
        replication.stop();
        expectCleanSession(replication, grains);
    }

    /// Commits each grain in `batches` steps. After every commit the sink must hold exactly the
    /// slices committed so far, byte exact, and nothing of the slices beyond them, although the
    /// whole grain is in the source's memory from the start.
    inline void partialSlicesArriveProgressively(ReplicationOptions const& options, std::string const& media, int width, int height,
        unsigned batches)
    {
        ReplicatedFlow flow{options, [&](std::string const& id) { return mxl::test::flowDef(id, media, width, height, 50, 1); }};
        auto& source = flow.source;
        ASSERT_TRUE(flow.start()) << flow.replication.error();
        auto& replication = flow.replication;
        auto& sink = *flow.sink;
        constexpr std::uint64_t grains = 3;
        ASSERT_GE(source.config.discrete.grainCount, grains) << "each grain must land in a fresh (zeroed) slot of the mirror";
        auto const& sliceSizes = source.config.discrete.sliceSizes;

        auto const first = source.currentIndex();
        for (auto index = first; index < first + grains; ++index)
        {
            mxlGrainInfo info;
            std::uint8_t* payload = nullptr;
            ASSERT_EQ(mxlFlowWriterOpenGrain(source.writer, index, &info, &payload), MXL_STATUS_OK);
            for (std::size_t i = 0; i < info.grainSize; ++i)
            {
                payload[i] = pattern(index, i);
            }
            auto const total = info.totalSlices;
            for (unsigned batch = 1; batch <= batches; ++batch)
            {
                auto const end = static_cast<std::uint16_t>(total * batch / batches);
                info.validSlices = end;
                ASSERT_EQ(mxlFlowWriterCommitGrain(source.writer, &info), MXL_STATUS_OK);

                mxlGrainInfo arrived;
                std::uint8_t* mirrored = nullptr;
                ASSERT_EQ(mxlFlowReaderGetGrainSlice(sink.reader, index, end, waitNs, &arrived, &mirrored), MXL_STATUS_OK)
                    << "grain " << index << ", batch " << batch;
                ASSERT_EQ(arrived.index, index);
                EXPECT_EQ(arrived.validSlices, end) << "grain " << index << ", batch " << batch;
                std::size_t wrong = 0;
                std::size_t early = 0;
                std::size_t plane = 0;
                for (std::size_t p = 0; p < MXL_MAX_PLANES_PER_GRAIN && sliceSizes[p] != 0; ++p)
                {
                    auto const committed = plane + std::size_t{end} * sliceSizes[p];
                    auto const planeEnd = plane + std::size_t{total} * sliceSizes[p];
                    wrong += wrongBytes(mirrored, index, plane, committed);
                    early += static_cast<std::size_t>(std::count_if(mirrored + committed, mirrored + planeEnd, [](auto byte) { return byte != 0; }));
                    plane = planeEnd;
                }
                ASSERT_EQ(plane, info.grainSize);
                EXPECT_EQ(wrong, 0U) << "committed slices differ: grain " << index << ", batch " << batch;
                EXPECT_EQ(early, 0U) << "bytes beyond validSlices reached the sink: grain " << index << ", batch " << batch;
            }
        }
        replication.stop();
        expectCleanSession(replication, grains);
        EXPECT_EQ(replication.receiverCounters().commits, grains * batches);
    }

    /// 1000 small grains written at full speed, the sink's reader a few grains behind.
    inline void thousandSmallGrainsArriveIntact(ReplicationOptions const& options)
    {
        constexpr std::uint64_t grains = 1000;
        // How far the writer may run ahead of the sink's reader: well within the ring, so that no
        // grain is overwritten before it is read.
        constexpr std::uint64_t lag = 16;
        ReplicatedFlow flow{options, [&](std::string const& id) { return mxl::test::flowDef(id, "v210", 320, 180, 500, 1); }};
        auto& source = flow.source;
        ASSERT_GT(source.config.discrete.grainCount, 4 * lag);
        ASSERT_TRUE(flow.start()) << flow.replication.error();
        auto& replication = flow.replication;
        auto& sink = *flow.sink;

        std::vector<std::uint64_t> corrupt;
        auto const first = source.currentIndex();
        for (auto i = first; i < first + grains + lag; ++i)
        {
            if (i < first + grains)
            {
                source.writeGrain(i);
            }
            if (i >= first + lag && sink.verify(i - lag) != 0)
            {
                corrupt.push_back(i - lag - first);
            }
        }
        EXPECT_TRUE(corrupt.empty()) << corrupt.size() << " corrupt or missing grains, the first at offset " << corrupt.front();

        replication.stop();
        expectCleanSession(replication, grains);
        EXPECT_EQ(replication.senderCounters().bytes, grains * 161'280U) << "320x180 v210 grains are 896 x 180 bytes";
    }

    /// Audio batches of 480 samples in 4 channels, over and over across the ring's edge.
    inline void audioBatchesCrossTheRingEdgeExact(ReplicationOptions const& options)
    {
        constexpr std::uint32_t channels = 4;
        ReplicatedFlow flow{options, [&](std::string const& id) { return mxl::test::flowDef(id, "audio", 0, 0, 48000, 1, channels); }};
        auto& source = flow.source;
        ASSERT_TRUE(flow.start()) << flow.replication.error();
        auto& replication = flow.replication;
        auto& sink = *flow.sink;
        auto const length = std::uint64_t{source.config.continuous.bufferLength};
        // One sync batch per commit, so that each commit wakes the sink's reader; the ring length
        // is a multiple of 1024 samples, so batches of 480 straddle its edge over and over.
        auto const batch = std::size_t{source.config.common.maxSyncBatchSizeHint};
        ASSERT_EQ(batch, 480U);
        auto const batches = 10 * length / batch;

        auto index = source.currentIndex();
        std::uint64_t wrapped = 0;
        std::uint64_t wrong = 0;
        for (std::uint64_t k = 0; k < batches; ++k)
        {
            index += batch;
            source.writeSamples(index, batch);
            bool wraps = false;
            auto const mismatches = sink.verifySamples(index, batch, channels, &wraps);
            ASSERT_NE(mismatches, SIZE_MAX) << "batch " << k << " did not arrive";
            wrong += mismatches;
            wrapped += wraps;
        }
        EXPECT_EQ(wrong, 0U);
        EXPECT_GE(wrapped, 9U) << "the batches must have crossed the ring's edge on the sink";
        EXPECT_EQ(sink.headIndex(), index);

        replication.stop();
        auto const& sent = replication.senderCounters();
        auto const& received = replication.receiverCounters();
        EXPECT_EQ(received.bytes, sent.bytes);
        EXPECT_EQ(received.slices, sent.slices) << "samples moved";
        EXPECT_EQ(received.commits, sent.commits);
        EXPECT_EQ(sent.skippedGrains, 0U) << "samples given up";
        EXPECT_EQ(received.refusedEpoch + received.refusedRange + received.refusedSequence + received.refusedOperation, 0U);
        EXPECT_EQ(received.refusedConnections, 0U) << "the source's own connection was refused";
        EXPECT_EQ(sent.refusedOperation, 0U) << sent.lastError;
        EXPECT_EQ(sent.errors, 0U) << sent.lastError;
        EXPECT_EQ(received.errors, 0U) << received.lastError;
    }

    /// A writer whose clock stepped back (a restart with an earlier time) writes indices far below
    /// the head: the sender follows from there (over RMA it claims again), and the mirror's head
    /// comes back as a local flow's would.
    inline void writerRewindIsFollowed(ReplicationOptions const& options)
    {
        ReplicatedFlow flow{options, [&](std::string const& id) { return mxl::test::flowDef(id, "v210", 320, 180, 50, 1); }};
        auto& source = flow.source;
        ASSERT_TRUE(flow.start()) << flow.replication.error();
        auto& replication = flow.replication;
        auto& sink = *flow.sink;

        auto const first = source.currentIndex();
        for (auto i = first; i < first + 5; ++i)
        {
            source.writeGrain(i);
            EXPECT_EQ(sink.verify(i), 0U) << "grain " << i - first << " before the rewind";
        }
        auto const back = first - 10 * source.config.discrete.grainCount;
        for (auto i = back; i < back + 5; ++i)
        {
            source.writeGrain(i);
            // Until the mirror's head has come back, a reader asking for an index this old is told
            // TOO_LATE at once, as on the source host: wait for the head first.
            mxlFlowRuntimeInfo runtime{};
            auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
            while ((mxlFlowReaderGetRuntimeInfo(sink.reader, &runtime) != MXL_STATUS_OK || runtime.headIndex != i) &&
                   std::chrono::steady_clock::now() < deadline)
            {
                std::this_thread::sleep_for(std::chrono::milliseconds{1});
            }
            EXPECT_EQ(runtime.headIndex, i) << "the mirror's head did not follow the rewound writer to grain " << i - back;
            EXPECT_EQ(sink.verify(i), 0U) << "grain " << i - back << " after the rewind";
        }

        replication.stop();
        expectCleanSession(replication, 10);
    }
    /// A live audio writer (10 ms batches) while the sink's process is stopped three times for
    /// 300 ms, three times half its ring: a reader of the oldest samples the mirror serves gets the
    /// right samples or silence for lost ones, never samples of an earlier lap.
    inline void stalledSinkNeverHandsAudioReadersThePreviousLap(ReplicationOptions const& options)
    {
        constexpr std::uint32_t channels = 2;
        constexpr std::uint64_t batch = 480;
        constexpr std::uint64_t block = 240;
        ReplicatedFlow flow{options, [&](std::string const& id) { return mxl::test::flowDef(id, "audio", 0, 0, 48000, 1, channels); }};
        auto& source = flow.source;
        ASSERT_TRUE(flow.start()) << flow.replication.error();
        auto& replication = flow.replication;
        auto& sink = *flow.sink;
        auto const half = std::uint64_t{source.config.continuous.bufferLength / 2};

        std::atomic<bool> stop{false};
        std::thread writer{[&] {
            auto index = source.currentIndex();
            while (!stop.load())
            {
                index += batch;
                source.writeSamples(index, batch);
                std::this_thread::sleep_for(std::chrono::milliseconds{10});
            }
        }};
        std::thread stalls{[pid = replication.receiverProcess()->pid()] {
            for (int i = 0; i < 3; ++i)
            {
                std::this_thread::sleep_for(std::chrono::milliseconds{700});
                ::kill(pid, SIGSTOP);
                std::this_thread::sleep_for(std::chrono::milliseconds{300});
                ::kill(pid, SIGCONT);
            }
        }};
        std::uint64_t checked = 0;
        std::uint64_t wrong = 0;
        std::uint64_t firstWrong = 0;
        auto const until = std::chrono::steady_clock::now() + std::chrono::milliseconds{3500};
        while (std::chrono::steady_clock::now() < until)
        {
            std::this_thread::sleep_for(std::chrono::milliseconds{1});
            auto const head = sink.headIndex();
            if (head < half + block)
            {
                continue;
            }
            auto const from = head - half;
            mxlWrappedMultiBufferSlice slices;
            if (mxlFlowReaderGetSamplesNonBlocking(sink.reader, from + block, block, &slices) != MXL_STATUS_OK)
            {
                continue;
            }
            std::uint64_t bad = 0;
            std::uint64_t badAt = 0;
            for (std::uint32_t c = 0; c < slices.count; ++c)
            {
                auto n = from;
                for (auto const& fragment : slices.base.fragments)
                {
                    auto const* samples = reinterpret_cast<float const*>(static_cast<std::uint8_t const*>(fragment.pointer) + c * slices.stride);
                    for (std::size_t i = 0; i < fragment.size / sizeof(float); ++i, ++n)
                    {
                        if (samples[i] != sampleValue(n, c) && samples[i] != 0.0F)
                        {
                            badAt = bad == 0 ? n : badAt;
                            ++bad;
                        }
                    }
                }
            }
            if (sink.headIndex() > from + half)
            {
                continue; // Overwritten while being read, and the head says so.
            }
            ++checked;
            if (bad > 0 && wrong++ == 0)
            {
                firstWrong = badAt;
            }
        }
        stalls.join();
        stop.store(true);
        writer.join();
        replication.stop();
        EXPECT_GT(checked, 20U);
        EXPECT_EQ(wrong, 0U) << wrong << " of " << checked << " oldest blocks held samples of an earlier lap; the first at sample " << firstWrong;
        EXPECT_EQ(replication.receiverCounters().refusedEpoch + replication.receiverCounters().refusedRange +
                      replication.receiverCounters().refusedSequence,
            0U);
    }
}
