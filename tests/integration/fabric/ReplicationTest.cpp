// SPDX-License-Identifier: Apache-2.0
// Replication of flows between a source and a sink domain by a Sender and a Receiver in separate
// processes, over RDMA writes on the real tcp provider on loopback. The sink's readers use only the
// public C API: the mirror is an ordinary MXL flow. The same scenarios run over send/receive in
// SendReceiveTest.cpp.
#include <cstdint>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>

#include "ReplicationHarness.hpp"
#include "ReplicationMedia.hpp"
#include "ReplicationScenarios.hpp"
#include "base/Fd.hpp"
#include "base/Uuid.hpp"
#include "support/TestDomain.hpp"

namespace
{
    using mxl::fabric::test::expectCleanSession;
    using mxl::fabric::test::pattern;
    using mxl::fabric::test::Replication;
    using mxl::fabric::test::ReplicationOptions;
    using mxl::fabric::test::Sink;
    using mxl::fabric::test::Source;
    using mxl::fabric::test::waitNs;
    using mxl::fabric::test::wrongBytes;
    using mxl::test::TestDomain;

    ReplicationOptions const rma{};
}

TEST(Replication, V210GrainsArriveByteExactWithTheSameIndices)
{
    mxl::fabric::test::replicateAndVerify(rma, "v210", 1920, 1080, 20);
}

TEST(Replication, V210aFillAndKeyPlanesArriveByteExact)
{
    mxl::fabric::test::replicateAndVerify(rma, "v210a", 1280, 720, 20);
}

TEST(Replication, AncillaryDataGrainsArriveByteExact)
{
    mxl::fabric::test::replicateAndVerify(rma, "smpte291", 0, 0, 50);
}

TEST(Replication, PartialV210SlicesArriveProgressivelyOnTheSink)
{
    mxl::fabric::test::partialSlicesArriveProgressively(rma, "v210", 1920, 1080, 8);
}

TEST(Replication, PartialV210aSlicesArriveProgressivelyInBothPlanes)
{
    mxl::fabric::test::partialSlicesArriveProgressively(rma, "v210a", 1280, 720, 8);
}

TEST(Replication, ThousandSmallGrainsArriveWithoutOneCorruptGrain)
{
    mxl::fabric::test::thousandSmallGrainsArriveIntact(rma);
}

TEST(AudioReplication, BatchesCrossingTheRingEdgeArriveExactInEveryChannel)
{
    mxl::fabric::test::audioBatchesCrossTheRingEdgeExact(rma);
}

TEST(Replication, InvalidFlaggedGrainsArriveFlaggedInvalid)
{
    TestDomain a, b;
    auto const id = mxl::formatUuid(mxl::randomUuid().value());
    Source source{a, mxl::test::flowDef(id, "v210", 1280, 720, 50, 1)};
    Replication replication{a.str(), b.str(), *mxl::parseUuid(id)};
    ASSERT_TRUE(replication.start()) << replication.error();
    Sink sink{b, id};

    // A grain given up before any slice, one given up halfway, then an ordinary one.
    auto const first = source.currentIndex();
    mxlGrainInfo info;
    std::uint8_t* payload = nullptr;
    ASSERT_EQ(mxlFlowWriterOpenGrain(source.writer, first, &info, &payload), MXL_STATUS_OK);
    info.flags = MXL_GRAIN_FLAG_INVALID;
    ASSERT_EQ(mxlFlowWriterCommitGrain(source.writer, &info), MXL_STATUS_OK);
    ASSERT_EQ(mxlFlowWriterOpenGrain(source.writer, first + 1, &info, &payload), MXL_STATUS_OK);
    for (std::size_t i = 0; i < info.grainSize; ++i)
    {
        payload[i] = pattern(first + 1, i);
    }
    auto const half = static_cast<std::uint16_t>(info.totalSlices / 2);
    info.validSlices = half;
    ASSERT_EQ(mxlFlowWriterCommitGrain(source.writer, &info), MXL_STATUS_OK);
    info.flags = MXL_GRAIN_FLAG_INVALID;
    ASSERT_EQ(mxlFlowWriterCommitGrain(source.writer, &info), MXL_STATUS_OK);
    source.writeGrain(first + 2);

    ASSERT_EQ(mxlFlowReaderGetGrain(sink.reader, first, waitNs, &info, &payload), MXL_STATUS_OK);
    EXPECT_EQ(info.index, first);
    EXPECT_EQ(info.flags & MXL_GRAIN_FLAG_INVALID, MXL_GRAIN_FLAG_INVALID);
    EXPECT_EQ(info.validSlices, 0);
    ASSERT_EQ(mxlFlowReaderGetGrain(sink.reader, first + 1, waitNs, &info, &payload), MXL_STATUS_OK);
    EXPECT_EQ(info.index, first + 1);
    EXPECT_EQ(info.flags & MXL_GRAIN_FLAG_INVALID, MXL_GRAIN_FLAG_INVALID);
    EXPECT_EQ(info.validSlices, half);
    EXPECT_EQ(wrongBytes(payload, first + 1, 0, info.grainSize / 2), 0U) << "the slices committed before the writer gave up";
    EXPECT_EQ(sink.verify(first + 2, &info), 0U);
    EXPECT_EQ(info.flags, 0U);

    replication.stop();
    expectCleanSession(replication, 3);
}

TEST(Replication, AnIndexTheWriterSkippedDoesNotHoldBackLaterGrains)
{
    TestDomain a, b;
    auto const id = mxl::formatUuid(mxl::randomUuid().value());
    Source source{a, mxl::test::flowDef(id, "v210", 320, 180, 50, 1)};
    Replication replication{a.str(), b.str(), *mxl::parseUuid(id)};
    ASSERT_TRUE(replication.start()) << replication.error();
    Sink sink{b, id};

    // A dropped frame: the writer never opens first + 3.
    auto const first = source.currentIndex();
    auto const dropped = first + 3;
    for (auto i = first; i < first + 10; ++i)
    {
        if (i != dropped)
        {
            source.writeGrain(i);
            EXPECT_EQ(sink.verify(i), 0U) << "grain " << i - first << " after the writer skipped grain 3";
        }
    }
    mxlGrainInfo info;
    std::uint8_t* payload = nullptr;
    EXPECT_NE(mxlFlowReaderGetGrainNonBlocking(sink.reader, dropped, &info, &payload), MXL_STATUS_OK) << "a grain never written";

    replication.stop();
    expectCleanSession(replication, 9);
}

TEST(Replication, AWriterThatRewindsIsFollowedAndItsNewGrainsArriveByteExact)
{
    mxl::fabric::test::writerRewindIsFollowed(rma);
}

TEST(AudioReplication, StalledSinkNeverHandsAudioReadersThePreviousLap)
{
    mxl::fabric::test::stalledSinkNeverHandsAudioReadersThePreviousLap(rma);
}

TEST(Replication, ACorruptSourceHeadStopsTheSenderWithAReasonInsteadOfSpinning)
{
    // Anyone who may write the domain may write the flow header: a head of 2^64 - 1 would have the sender
    // scan through every index up to it, and hold its stop() up for ever.
    mxl::fabric::test::ReplicatedFlow flow{rma, [](std::string const& id) { return mxl::test::flowDef(id, "v210", 320, 180, 50, 1); }};
    ASSERT_TRUE(flow.start()) << flow.replication.error();
    auto const first = flow.source.currentIndex();
    for (auto i = first; i < first + 3; ++i)
    {
        flow.source.writeGrain(i);
        ASSERT_EQ(flow.sink->verify(i), 0U);
    }

    mxl::Fd data{::open((flow.a.path() / (flow.id + ".mxl-flow") / "data").c_str(), O_RDWR | O_CLOEXEC)};
    ASSERT_TRUE(data.valid());
    std::uint64_t const corrupt = UINT64_MAX;
    constexpr off_t headIndexOffset = 200; // runtime.headIndex in the flow header
    ASSERT_EQ(::pwrite(data.get(), &corrupt, sizeof corrupt, headIndexOffset), static_cast<ssize_t>(sizeof corrupt));

    auto const failure = flow.replication.waitForSenderFailure(10000);
    ASSERT_TRUE(failure) << "the sender went on with a head of " << corrupt;
    EXPECT_NE(failure->find("head index"), std::string::npos) << *failure;
    flow.replication.stop(); // returns: the sender's thread is not stuck in a scan
}
