// SPDX-License-Identifier: Apache-2.0
// Replication of a continuous (audio) flow: sample ranges of every channel, wrapped around the
// ring in two fragments, arrive exact and the mirror's head follows the source's.
#include <chrono>
#include <cstring>

#include <gtest/gtest.h>

#include "ReplicationHarness.hpp"
#include "ReplicationMedia.hpp"
#include "common/Uuid.hpp"
#include "support/TestDomain.hpp"

namespace mxl::fabric::test
{
    TEST(AudioReplication, BatchesCrossingTheRingEdgeArriveExactInEveryChannel)
    {
        constexpr std::uint32_t channels = 4;
        mxl::test::TestDomain a, b;
        auto const id = formatUuid(randomUuid());
        Source source{a, mxl::test::flowDef(id, "audio", 0, 0, 48000, 1, channels)};
        Replication replication{a.str(), b.str(), *parseUuid(id)};
        ASSERT_TRUE(replication.start()) << replication.error();
        Sink sink{b, id};
        std::size_t maxRead = 0;
        ASSERT_EQ(mxlFlowReaderGetMaxReadLengthSamples(sink.reader, &maxRead), MXL_STATUS_OK);
        auto const length = std::uint64_t{source.config.continuous.bufferLength};
        ASSERT_EQ(maxRead * 2, length);
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

        mxlFlowRuntimeInfo sourceRuntime{};
        mxlFlowReader sourceReader = nullptr;
        ASSERT_EQ(mxlCreateFlowReader(source.instance, id.c_str(), nullptr, &sourceReader), MXL_STATUS_OK);
        ASSERT_EQ(mxlFlowReaderGetRuntimeInfo(sourceReader, &sourceRuntime), MXL_STATUS_OK);
        mxlReleaseFlowReader(source.instance, sourceReader);
        EXPECT_EQ(sourceRuntime.headIndex, index);
        EXPECT_EQ(sink.headIndex(), sourceRuntime.headIndex);

        replication.stop();
        auto const& sent = replication.senderCounters();
        auto const& received = replication.receiverCounters();
        EXPECT_EQ(received.bytes, sent.bytes);
        EXPECT_EQ(received.slices, sent.slices) << "samples moved";
        EXPECT_EQ(received.commits, sent.commits);
        EXPECT_EQ(sent.skippedGrains, 0U) << "samples given up";
        EXPECT_EQ(received.refusedEpoch + received.refusedRange + received.refusedSequence, 0U);
        EXPECT_EQ(sent.errors, 0U) << sent.lastError;
    }
}
