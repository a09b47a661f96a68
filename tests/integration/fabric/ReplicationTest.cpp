// SPDX-License-Identifier: Apache-2.0
// Replication of flows between a source and a sink domain by a Sender and a Receiver in separate
// processes, over the real tcp provider on loopback. The sink's readers use only the public C API:
// the mirror is an ordinary MXL flow.
#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/time.h>

#include "ReplicationHarness.hpp"
#include "ReplicationMedia.hpp"
#include "common/Uuid.hpp"
#include "support/TestDomain.hpp"

namespace
{
    using mxl::fabric::test::pattern;
    using mxl::fabric::test::Replication;
    using mxl::fabric::test::Sink;
    using mxl::fabric::test::Source;
    using mxl::fabric::test::waitNs;
    using mxl::fabric::test::wrongBytes;
    using mxl::test::TestDomain;

    void expectCleanSession(Replication const& replication, std::uint64_t grains)
    {
        auto const& sent = replication.senderCounters();
        auto const& received = replication.receiverCounters();
        EXPECT_EQ(sent.grains, grains);
        EXPECT_EQ(received.grains, grains);
        EXPECT_EQ(received.bytes, sent.bytes);
        EXPECT_EQ(received.slices, sent.slices);
        EXPECT_EQ(received.commits, sent.commits);
        EXPECT_EQ(sent.skippedGrains, 0U);
        EXPECT_EQ(received.refusedEpoch + received.refusedRange + received.refusedSequence, 0U);
        EXPECT_EQ(sent.errors, 0U) << sent.lastError;
        EXPECT_EQ(received.errors, 0U) << received.lastError;
    }

    void replicateAndVerify(std::string const& media, int width, int height, unsigned grains)
    {
        TestDomain a, b;
        auto const id = mxl::formatUuid(mxl::randomUuid());
        Source source{a, mxl::test::flowDef(id, media, width, height, 50, 1)};
        Replication replication{a.str(), b.str(), *mxl::parseUuid(id)};
        ASSERT_TRUE(replication.start()) << replication.error();
        Sink sink{b, id};

        mxlFlowConfigInfo mirrorConfig;
        ASSERT_EQ(mxlFlowReaderGetConfigInfo(sink.reader, &mirrorConfig), MXL_STATUS_OK);
        EXPECT_EQ(std::memcmp(&mirrorConfig, &source.config, sizeof mirrorConfig), 0) << "the mirror's configuration must be the source's";

        auto const first = mxlGetCurrentIndex(&source.config.common.grainRate);
        for (std::uint64_t i = first; i < first + grains; ++i)
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
    void partialSlicesArriveProgressively(std::string const& media, int width, int height, unsigned batches)
    {
        TestDomain a, b;
        auto const id = mxl::formatUuid(mxl::randomUuid());
        Source source{a, mxl::test::flowDef(id, media, width, height, 50, 1)};
        Replication replication{a.str(), b.str(), *mxl::parseUuid(id)};
        ASSERT_TRUE(replication.start()) << replication.error();
        Sink sink{b, id};
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
}

TEST(Replication, V210GrainsArriveByteExactWithTheSameIndices)
{
    replicateAndVerify("v210", 1920, 1080, 20);
}

TEST(Replication, V210aFillAndKeyPlanesArriveByteExact)
{
    replicateAndVerify("v210a", 1280, 720, 20);
}

TEST(Replication, AncillaryDataGrainsArriveByteExact)
{
    replicateAndVerify("smpte291", 0, 0, 50);
}

TEST(Replication, PartialV210SlicesArriveProgressivelyOnTheSink)
{
    partialSlicesArriveProgressively("v210", 1920, 1080, 8);
}

TEST(Replication, PartialV210aSlicesArriveProgressivelyInBothPlanes)
{
    partialSlicesArriveProgressively("v210a", 1280, 720, 8);
}

TEST(Replication, ThousandSmallGrainsArriveWithoutOneCorruptGrain)
{
    constexpr std::uint64_t grains = 1000;
    // How far the writer may run ahead of the sink's reader: well within the ring, so that no grain
    // is overwritten before it is read.
    constexpr std::uint64_t lag = 16;
    TestDomain a, b;
    auto const id = mxl::formatUuid(mxl::randomUuid());
    Source source{a, mxl::test::flowDef(id, "v210", 320, 180, 500, 1)};
    ASSERT_GT(source.config.discrete.grainCount, 4 * lag);
    Replication replication{a.str(), b.str(), *mxl::parseUuid(id)};
    ASSERT_TRUE(replication.start()) << replication.error();
    Sink sink{b, id};

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

TEST(Replication, InvalidFlaggedGrainsArriveFlaggedInvalid)
{
    TestDomain a, b;
    auto const id = mxl::formatUuid(mxl::randomUuid());
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
    auto const id = mxl::formatUuid(mxl::randomUuid());
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
