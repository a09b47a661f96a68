// SPDX-License-Identifier: Apache-2.0
// A broken or hostile source connected to a Receiver: records of another session, immediate data
// that does not match, counts out of range and writes outside the granted regions are refused;
// the mirror's headers change only through valid records, and the receiver keeps serving.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include <gtest/gtest.h>

#include "ReceiverSession.hpp"
#include "flow/Flow.hpp"
#include "replication/Sender.hpp"

namespace mxl::fabric::test
{
    namespace
    {
        CommitRecord grainRecord(std::uint64_t epoch, std::uint64_t index, std::uint32_t sequence, std::uint16_t validSlices)
        {
            return CommitRecord{epoch, index, sequence, 0, validSlices, CommitKind::Grain, validSlices};
        }

        CommitRecord samplesRecord(std::uint64_t epoch, std::uint64_t index, std::uint32_t sequence, std::uint32_t count)
        {
            return CommitRecord{epoch, index, sequence, 0, 0, CommitKind::Samples, count};
        }

        /// The mirror's header for grain index as a reader sees it now: its status and slices.
        std::pair<mxlStatus, std::uint16_t> peek(Sink& sink, std::uint64_t index)
        {
            mxlGrainInfo info{};
            std::uint8_t* payload = nullptr;
            auto const status = mxlFlowReaderGetGrainSliceNonBlocking(sink.reader, index, MXL_GRAIN_VALID_SLICES_ANY, &info, &payload);
            return {status, status == MXL_STATUS_OK ? info.validSlices : std::uint16_t{0}};
        }

        /// After a hostile session, a correct Sender connects to the same receiver and a grain
        /// written at the source arrives byte exact.
        void expectACorrectSourceReplicatesAfterwards(MirrorSession& session)
        {
            ASSERT_TRUE(eventually([&] { return !session.receiver->connected(); })) << "the receiver kept the broken connection";
            auto sender = Sender::create(*session.sourceDomain, session.uuid, session.grant(), {});
            ASSERT_TRUE(sender) << sender.error().message;
            (*sender)->start();
            auto const index = session.source.currentIndex();
            session.source.writeGrain(index);
            EXPECT_EQ(session.sink->verify(index), 0U);
            (*sender)->stop();
            EXPECT_EQ((*sender)->counters().errors, 0U) << (*sender)->counters().lastError;
            EXPECT_GE(session.receiver->counters().grains, 1U);
        }

        bool allZero(std::uint8_t const* bytes, std::size_t size)
        {
            return std::all_of(bytes, bytes + size, [](auto b) { return b == 0; });
        }
    }

    TEST(HostilePeer, RecordsOfAnotherEpochAreRefusedAndLeaveTheMirrorAlone)
    {
        MirrorSession session{"v210"};
        auto const epoch = session.grant().epoch;
        auto const total = session.offer.totalSlices;
        HostileSource peer{session.grant()};
        auto const index = session.source.currentIndex();

        // A valid partial commit first: this peer's records do reach the receiver and apply.
        peer.commit(grainRecord(epoch, index, 0, 100), 0, 0);
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().commits == 1; }));
        ASSERT_EQ(peek(*session.sink, index), std::make_pair(MXL_STATUS_OK, std::uint16_t{100}));
        ASSERT_EQ(session.sink->headIndex(), index);

        peer.commit(grainRecord(epoch ^ 1, index, 1, total), 1, 1);
        peer.commit(grainRecord(epoch + 1, index + 1, 2, total), 2, 2);
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().refusedEpoch == 2; }));

        EXPECT_EQ(session.receiver->counters().commits, 1U);
        EXPECT_EQ(peek(*session.sink, index), std::make_pair(MXL_STATUS_OK, std::uint16_t{100})) << "a refused record changed a grain header";
        EXPECT_EQ(peek(*session.sink, index + 1).first, MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
        EXPECT_EQ(session.sink->headIndex(), index) << "a refused record moved the head";
    }

    TEST(HostilePeer, ImmediateDataThatDoesNotMatchTheRecordIsRefused)
    {
        MirrorSession session{"v210"};
        auto const epoch = session.grant().epoch;
        auto const total = session.offer.totalSlices;
        auto const headBefore = session.sink->headIndex();
        HostileSource peer{session.grant()};
        auto const index = session.source.currentIndex();

        // The record sits in its own slot, but the immediate data names a sequence a ring later;
        // then immediate data naming a slot that holds no record.
        peer.commit(grainRecord(epoch, index, 5, total), 5, 5 + commitRingEntries);
        peer.commit(grainRecord(epoch, index, 7, total), 7, 8);
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().refusedSequence == 2; }));

        EXPECT_EQ(session.receiver->counters().commits, 0U);
        EXPECT_EQ(peek(*session.sink, index).first, MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
        EXPECT_EQ(session.sink->headIndex(), headBefore);
    }

    TEST(HostilePeer, SliceCountsAndIndicesOutOfRangeAreRefused)
    {
        MirrorSession session{"v210"};
        auto const epoch = session.grant().epoch;
        auto const total = session.offer.totalSlices;
        HostileSource peer{session.grant()};
        auto const index = session.source.currentIndex();
        peer.commit(grainRecord(epoch, index, 0, 100), 0, 0);
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().commits == 1; }));

        peer.commit(grainRecord(epoch, index, 1, static_cast<std::uint16_t>(total + 1)), 1, 1);
        peer.commit(grainRecord(epoch, index, 2, 50), 2, 2);
        peer.commit(grainRecord(epoch, UINT64_MAX, 3, total), 3, 3);
        peer.commit(samplesRecord(epoch, index + 1, 4, 480), 4, 4);
        auto unknownKind = grainRecord(epoch, index + 1, 5, total);
        unknownKind.kind = static_cast<CommitKind>(7);
        peer.commit(unknownKind, 5, 5);
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().refusedRange == 5; }))
            << session.receiver->counters().refusedRange << " of 5 refused";

        EXPECT_EQ(session.receiver->counters().commits, 1U);
        EXPECT_EQ(peek(*session.sink, index), std::make_pair(MXL_STATUS_OK, std::uint16_t{100})) << "slices beyond the grain or going back";
        EXPECT_EQ(peek(*session.sink, index + 1).first, MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
        EXPECT_EQ(session.sink->headIndex(), index);
    }

    TEST(HostilePeer, SampleCountsOutOfRangeAreRefused)
    {
        MirrorSession session{"audio"};
        auto const epoch = session.grant().epoch;
        auto const maxBatch = session.offer.config.continuous.bufferLength / 2;
        HostileSource peer{session.grant()};
        auto const index = session.source.currentIndex();
        peer.commit(samplesRecord(epoch, index, 0, 480), 0, 0);
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().commits == 1; }));
        ASSERT_EQ(session.sink->headIndex(), index);

        peer.commit(samplesRecord(epoch, index + maxBatch + 1, 1, maxBatch + 1), 1, 1);
        peer.commit(samplesRecord(epoch, index + 480, 2, 0), 2, 2);
        peer.commit(samplesRecord(epoch, 100, 3, 101), 3, 3);
        peer.commit(samplesRecord(epoch, UINT64_MAX, 4, 480), 4, 4);
        peer.commit(grainRecord(epoch, index + 480, 5, 1), 5, 5);
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().refusedRange == 5; }))
            << session.receiver->counters().refusedRange << " of 5 refused";

        EXPECT_EQ(session.receiver->counters().commits, 1U);
        EXPECT_EQ(session.sink->headIndex(), index) << "a refused record moved the head";
    }

    TEST(HostilePeer, WriteWithAnUnknownKeyNeverLandsAndOnlyDropsThatConnection)
    {
        MirrorSession session{"v210"};
        auto const region = session.grant().regions[0];
        auto mirror = require(Flow::open(session.sinkDomain->flowDir(session.uuid), FlowAccess::ReadOnly), "mirror");
        {
            HostileSource peer{session.grant()};
            std::fill_n(peer.memory().begin() + HostileSource::payloadOffset, 4096, std::byte{0xAB});
            auto target = *region.target(0, 4096);
            target.key += 1;

            peer.write(HostileSource::payloadOffset, 4096, target);

            EXPECT_TRUE(peer.pumpUntil([&] { return peer.shutDown(); })) << "the receiver kept a connection that wrote with a wrong key";
        }
        EXPECT_TRUE(allZero(mirror->grainPayload(0), 4096)) << "a write with a wrong key landed";
        EXPECT_EQ(session.receiver->counters().commits, 0U);

        expectACorrectSourceReplicatesAfterwards(session);
    }

    TEST(HostilePeer, WriteBeyondAGrantedRegionNeverLandsAndOnlyDropsThatConnection)
    {
        MirrorSession session{"v210"};
        auto const region = session.grant().regions[0];
        auto const grainSize = session.offer.grainSize;
        ASSERT_EQ(region.length, grainSize);
        auto mirror = require(Flow::open(session.sinkDomain->flowDir(session.uuid), FlowAccess::ReadOnly), "mirror");
        {
            HostileSource peer{session.grant()};
            std::fill_n(peer.memory().begin() + HostileSource::payloadOffset, 4096, std::byte{0xAB});
            ASSERT_FALSE(region.target(region.length - 100, 4096));

            peer.write(HostileSource::payloadOffset, 4096, ofi::RmaTarget{region.address + region.length - 100, region.key});

            EXPECT_TRUE(peer.pumpUntil([&] { return peer.shutDown(); })) << "the receiver kept a connection that wrote out of bounds";
        }
        EXPECT_TRUE(allZero(mirror->grainPayload(0) + grainSize - 100, 100)) << "the part inside the region landed";
        EXPECT_TRUE(allZero(mirror->grainPayload(1), 4096)) << "bytes landed beyond the region";
        EXPECT_EQ(session.receiver->counters().commits, 0U);

        expectACorrectSourceReplicatesAfterwards(session);
    }
}
