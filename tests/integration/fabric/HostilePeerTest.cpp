// A broken or hostile source connected to a Receiver: records of another session, immediate data
// that does not match, counts out of range and writes outside the granted regions are refused and
// close the source's session; the mirror's headers change only through valid records, and the
// receiver serves the next source. A commit whose record a ring later already overwrote is only
// counted: the receiver fell behind, the source did nothing wrong. A message on an RMA session is
// refused the same way; and a sink that writes into its source stops the Sender.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <rdma/fi_rma.h>

#include "ReceiverSession.hpp"
#include "flow/Flow.hpp"
#include "ofi/PassiveEndpoint.hpp"
#include "replication/FabricHints.hpp"
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

        /// Writes record into its own slot with its own sequence as immediate data, as a correct source does.
        void commitInItsSlot(HostileSource& peer, CommitRecord const& record)
        {
            peer.commit(record, record.sequence % commitRingEntries, record.sequence);
        }

        /// A valid record applied on a session of its own, which its source then ends: the state that
        /// the refused sessions after it must leave alone.
        void applyOnASessionOfItsOwn(MirrorSession& session, CommitRecord const& record)
        {
            auto const commits = session.receiver->counters().commits;
            onASessionOfItsOwn<HostileSource>(session, [&](HostileSource& peer) {
                commitInItsSlot(peer, record);
                ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().commits == commits + 1; }));
            });
        }

        /// On a session of its own, the receiver refuses what sendBad sends and closes the session.
        void expectRefusedAndClosed(MirrorSession& session, RefusalCounter counter, std::function<void(HostileSource&)> const& sendBad)
        {
            test::expectRefusedAndClosed<HostileSource>(session, counter, sendBad);
        }

        void expectRefusedAndClosed(MirrorSession& session, RefusalCounter counter, CommitRecord const& record)
        {
            expectRefusedAndClosed(session, counter, [&](HostileSource& peer) { commitInItsSlot(peer, record); });
        }

        /// Grain index holds validSlices and is the head; nothing after it is published.
        void expectTheMirrorHolds(MirrorSession& session, std::uint64_t index, std::uint16_t validSlices)
        {
            EXPECT_EQ(peek(*session.sink, index), std::make_pair(MXL_STATUS_OK, validSlices)) << "a refused record changed a grain header";
            EXPECT_EQ(peek(*session.sink, index + 1).first, MXL_ERR_OUT_OF_RANGE_TOO_EARLY) << "a refused record published a grain";
            EXPECT_EQ(session.sink->headIndex(), index) << "a refused record moved the head";
        }

        bool allZero(std::uint8_t const* bytes, std::size_t size)
        {
            return std::all_of(bytes, bytes + size, [](auto b) { return b == 0; });
        }

        /// A sink that accepts a source's connection (whatever its proof) and writes no bytes into no
        /// region with immediate data, a completion the source never asked for: as soon as it is
        /// connected, or when told to.
        class WritingSink
        {
        public:
            explicit WritingSink(bool writeOnceConnected)
                : _info{require(ofi::Info::query(sinkHints("tcp", "127.0.0.1", "0")), "fi_getinfo")}
                , _fabric{require(ofi::Fabric::open(_info), "fabric")}
                , _events{require(ofi::EventQueue::open(_fabric), "event queue")}
                , _listener{require(ofi::PassiveEndpoint::listen(_fabric, _info, _events), "listen")}
                , _domain{require(ofi::Domain::open(_fabric, _info), "domain")}
                , _cq{require(ofi::CompletionQueue::open(_domain, 64), "completion queue")}
                , _writeRequested{writeOnceConnected}
                , _thread{[this] { run(); }}
            {}

            ~WritingSink()
            {
                _stopping = true;
                _thread.join();
            }

            WritingSink(WritingSink const&) = delete;
            WritingSink& operator=(WritingSink const&) = delete;

            [[nodiscard]] std::string service()
            {
                return std::to_string(require(_listener.port(), "port"));
            }

            void write() noexcept
            {
                _writeRequested = true;
            }

            [[nodiscard]] bool wrote() const noexcept
            {
                return _wrote;
            }

        private:
            void run()
            {
                std::array<fi_cq_data_entry, 16> entries;
                while (!_stopping)
                {
                    (void)_cq.read(entries);
                    if (_connected && _writeRequested && !_wrote)
                    {
                        auto message = fi_msg_rma{};
                        message.data = 1;
                        _wrote = fi_writemsg(_endpoint->raw(), &message, FI_REMOTE_CQ_DATA | FI_COMPLETION) == 0;
                    }
                    auto event = _events.wait(std::chrono::milliseconds{5});
                    if (!event)
                    {
                        continue;
                    }
                    if (event->kind == ofi::CmEventKind::ConnectionRequest && !_endpoint)
                    {
                        _endpoint.emplace(require(ofi::Endpoint::open(_domain, *event->info, ofi::EndpointQueues{_cq, _cq, &_events, nullptr}),
                            "endpoint"));
                        require(_endpoint->accept(), "accept");
                    }
                    _connected = _connected || (event->kind == ofi::CmEventKind::Connected && _endpoint);
                }
            }

            ofi::Info _info;
            ofi::Fabric _fabric;
            ofi::EventQueue _events;
            ofi::PassiveEndpoint _listener;
            ofi::Domain _domain;
            ofi::CompletionQueue _cq;
            std::optional<ofi::Endpoint> _endpoint;
            bool _connected{false};
            std::atomic<bool> _writeRequested;
            std::atomic<bool> _wrote{false};
            std::atomic<bool> _stopping{false};
            std::thread _thread;
        };
    }

    TEST(HostilePeer, RecordsOfAnotherEpochCloseTheirSessionAndLeaveTheMirrorAlone)
    {
        MirrorSession session{"v210"};
        auto const epoch = session.grant().epoch;
        auto const total = session.offer.totalSlices;
        auto const index = session.source.currentIndex();
        applyOnASessionOfItsOwn(session, grainRecord(epoch, index, 0, 100));
        expectTheMirrorHolds(session, index, 100);

        for (auto const& record : {grainRecord(epoch ^ 1, index, 1, total), grainRecord(epoch + 1, index + 1, 2, total)})
        {
            expectRefusedAndClosed(session, &CounterSnapshot::refusedEpoch, record);
            expectTheMirrorHolds(session, index, 100);
        }

        expectACorrectSourceReplicatesAfterwards(session);
    }

    TEST(HostilePeer, ImmediateDataThatDoesNotMatchTheRecordClosesTheSession)
    {
        MirrorSession session{"v210"};
        auto const epoch = session.grant().epoch;
        auto const total = session.offer.totalSlices;
        auto const index = session.source.currentIndex();
        applyOnASessionOfItsOwn(session, grainRecord(epoch, index, 0, 100));

        // The record sits in its own slot, but the immediate data names a sequence a ring later.
        expectRefusedAndClosed(session, &CounterSnapshot::refusedSequence,
            [&](HostileSource& peer) { peer.commit(grainRecord(epoch, index, 5, total), 5, 5 + commitRingEntries); });
        expectTheMirrorHolds(session, index, 100);
        // The record in the slot is ahead of the immediate data, but not by a whole ring.
        expectRefusedAndClosed(session, &CounterSnapshot::refusedSequence,
            [&](HostileSource& peer) { peer.commit(grainRecord(epoch, index, 12, total), 10, 10); });
        expectTheMirrorHolds(session, index, 100);
        // Immediate data naming a slot that holds no record; then a valid record, which comes too late.
        expectRefusedAndClosed(session, &CounterSnapshot::refusedSequence, [&](HostileSource& peer) {
            peer.commit(grainRecord(epoch, index, 7, total), 7, 8);
            commitInItsSlot(peer, grainRecord(epoch, index, 9, total));
        });
        expectTheMirrorHolds(session, index, 100);
    }

    TEST(HostilePeer, ACommitWhoseRecordARingLaterOverwroteIsCountedAndTheSessionGoesOn)
    {
        MirrorSession session{"v210"};
        auto const epoch = session.grant().epoch;
        auto const index = session.source.currentIndex();
        auto const headBefore = session.sink->headIndex();
        HostileSource peer{session.grant()};

        // The receiver fell a ring behind: when it reads the commit of sequence 0, the record of
        // sequence 0 + 1024 has already taken slot 0.
        auto const later = grainRecord(epoch, index, commitRingEntries, 100);
        peer.commit(later, 0, 0);
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().refusedSequence == 1; }));
        EXPECT_EQ(session.receiver->counters().commits, 0U);
        EXPECT_EQ(peek(*session.sink, index).first, MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
        EXPECT_EQ(session.sink->headIndex(), headBefore);

        // The session stays: the records between land in their own slots (commits of the grain
        // before), then the later record's own commit applies, in its place in the order.
        for (std::uint32_t sequence = 1; sequence < commitRingEntries; ++sequence)
        {
            commitInItsSlot(peer, grainRecord(epoch, index - 1, sequence, 1));
        }
        peer.commit(later, 0, later.sequence);
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().commits == commitRingEntries; })) << "the session was closed";
        EXPECT_FALSE(peer.shutDown());
        EXPECT_TRUE(eventually([&] { return session.receiver->connected(); }));
        EXPECT_EQ(peek(*session.sink, index), std::make_pair(MXL_STATUS_OK, std::uint16_t{100}));
        EXPECT_EQ(session.receiver->counters().refusedSequence, 1U);
        EXPECT_EQ(refusals(session.receiver->counters()), 1U);
    }

    TEST(HostilePeer, SliceCountsAndIndicesOutOfRangeCloseTheSession)
    {
        MirrorSession session{"v210"};
        auto const epoch = session.grant().epoch;
        auto const total = session.offer.totalSlices;
        auto const index = session.source.currentIndex();
        applyOnASessionOfItsOwn(session, grainRecord(epoch, index, 0, 100));
        expectTheMirrorHolds(session, index, 100);

        // Each is the first record of its own session (sequence 0), so it is applied as it lands.
        auto unknownKind = grainRecord(epoch, index + 1, 0, total);
        unknownKind.kind = static_cast<CommitKind>(7);
        for (auto const& record : {
                 grainRecord(epoch, index, 0, static_cast<std::uint16_t>(total + 1)), // more slices than the grain has
                 grainRecord(epoch, index, 0, 50),                                   // slices going back
                 grainRecord(epoch, UINT64_MAX, 0, total),                           // the index that means "none"
                 grainRecord(epoch, UINT64_MAX - 1, 0, total),                       // its claim window would wrap to index 0
                 grainRecord(epoch, (std::uint64_t{1} << 62) + 1, 0, total),         // beyond any real index
                 samplesRecord(epoch, index + 1, 0, 480),                            // samples in a grain flow
                 unknownKind,
             })
        {
            expectRefusedAndClosed(session, &CounterSnapshot::refusedRange, record);
            expectTheMirrorHolds(session, index, 100);
        }

        expectACorrectSourceReplicatesAfterwards(session);
    }

    TEST(HostilePeer, AClaimOnlyClaimsSlotsAndIsAnsweredWithCredit)
    {
        MirrorSession session{"v210"};
        auto const epoch = session.grant().epoch;
        auto const index = session.source.currentIndex();
        applyOnASessionOfItsOwn(session, grainRecord(epoch, index, 0, 100));
        expectTheMirrorHolds(session, index, 100);

        // A source resuming four grains ahead asks for credit first.
        HostileSource peer{session.grant()};
        auto const wanted = index + 4;
        commitInItsSlot(peer, CommitRecord{epoch, wanted, 0, 0, 0, CommitKind::Claim, 0});
        ASSERT_TRUE(peer.pumpUntil([&] {
            return std::any_of(peer.credits().begin(), peer.credits().end(), [&](CreditRecord const& c) { return c.answers == wanted; });
        })) << "no credit answered the claim";
        auto const& credit = peer.credits().back();
        auto const grains = session.offer.config.discrete.grainCount;
        auto const window = claimWindowGrains(grains);
        EXPECT_EQ(credit.magic, creditMagic);
        EXPECT_EQ(credit.epoch, epoch);
        EXPECT_EQ(credit.answers, wanted);
        EXPECT_EQ(credit.claimedThrough, wanted + window - 1);
        // Claimed slots are not published: the head stays, and the claimed grains are still to come.
        expectTheMirrorHolds(session, index, 100);
        EXPECT_EQ(peek(*session.sink, wanted).first, MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
        EXPECT_EQ(session.receiver->counters().commits, 1U) << "a claim is not a commit";
        EXPECT_EQ(refusals(session.receiver->counters()), 0U);
    }

    TEST(HostilePeer, AClaimBeyondTheLastIndicesClosesTheSession)
    {
        MirrorSession session{"v210"};
        auto const epoch = session.grant().epoch;
        auto const index = session.source.currentIndex();
        applyOnASessionOfItsOwn(session, grainRecord(epoch, index, 0, 100));

        // Claiming the window from here would run past the largest index.
        expectRefusedAndClosed(session, &CounterSnapshot::refusedRange, CommitRecord{epoch, UINT64_MAX - 2, 1, 0, 0, CommitKind::Claim, 0});
        expectTheMirrorHolds(session, index, 100);
        expectRefusedAndClosed(session, &CounterSnapshot::refusedEpoch, CommitRecord{epoch ^ 1, index + 1, 2, 0, 0, CommitKind::Claim, 0});
        expectTheMirrorHolds(session, index, 100);
        EXPECT_EQ(peek(*session.sink, index + 1).first, MXL_ERR_OUT_OF_RANGE_TOO_EARLY);

        expectACorrectSourceReplicatesAfterwards(session);
    }

    TEST(HostilePeer, SampleCountsOutOfRangeCloseTheSession)
    {
        MirrorSession session{"audio"};
        auto const epoch = session.grant().epoch;
        auto const maxBatch = session.offer.config.continuous.bufferLength / 2;
        auto const index = session.source.currentIndex();
        applyOnASessionOfItsOwn(session, samplesRecord(epoch, index, 0, 480));
        ASSERT_EQ(session.sink->headIndex(), index);

        for (auto const& record : {
                 samplesRecord(epoch, index + maxBatch + 1, 1, maxBatch + 1), // more than a batch may hold
                 samplesRecord(epoch, index + 480, 2, 0),                     // none
                 samplesRecord(epoch, 100, 3, 101),                           // more than precede the index
                 samplesRecord(epoch, UINT64_MAX, 4, 480),
                 grainRecord(epoch, index + 480, 5, 1),                       // a grain in a sample flow
                 CommitRecord{epoch, UINT64_MAX - 10, 6, 0, 0, CommitKind::Claim, 0}, // a claim past the last indices
             })
        {
            expectRefusedAndClosed(session, &CounterSnapshot::refusedRange, record);
            EXPECT_EQ(session.sink->headIndex(), index) << "a refused record moved the head";
        }
    }

    TEST(HostilePeer, AnAudioClaimMovesTheHeadThroughSilenceAndIsAnsweredWithCredit)
    {
        MirrorSession session{"audio"};
        auto const epoch = session.grant().epoch;
        auto const length = std::uint64_t{session.offer.config.continuous.bufferLength};
        auto const half = length / 2;
        auto const index = session.source.currentIndex();
        HostileSource peer{session.grant()};

        // Every position of the mirror holds non-zero bytes, then a batch makes them readable.
        auto const bytes = static_cast<std::size_t>(session.grant().regions[0].length);
        ASSERT_LE(HostileSource::payloadOffset + bytes, peer.memory().size());
        std::fill_n(peer.memory().begin() + HostileSource::payloadOffset, bytes, std::byte{0x5A});
        peer.write(HostileSource::payloadOffset, bytes, *session.grant().regions[0].target(0, bytes));
        commitInItsSlot(peer, samplesRecord(epoch, index, 0, 480));
        ASSERT_TRUE(peer.pumpUntil([&] { return session.sink->headIndex() == index; }));

        // The source resumes three rings later: the head moves there, over silence.
        auto const resume = index + 3 * length;
        commitInItsSlot(peer, CommitRecord{epoch, resume, 1, 0, 0, CommitKind::Claim, 0});
        ASSERT_TRUE(peer.pumpUntil([&] {
            return std::any_of(peer.credits().begin(), peer.credits().end(), [&](CreditRecord const& c) { return c.answers == resume; });
        })) << "no credit answered the claim";
        EXPECT_EQ(session.sink->headIndex(), resume);
        EXPECT_EQ(peer.credits().back().claimedThrough, resume + half);
        mxlWrappedMultiBufferSlice slices;
        ASSERT_EQ(mxlFlowReaderGetSamplesNonBlocking(session.sink->reader, resume, half, &slices), MXL_STATUS_OK);
        std::size_t nonZero = 0;
        for (std::uint32_t c = 0; c < slices.count; ++c)
        {
            for (auto const& fragment : slices.base.fragments)
            {
                auto const* channel = static_cast<std::uint8_t const*>(fragment.pointer) + c * slices.stride;
                nonZero += static_cast<std::size_t>(std::count_if(channel, channel + fragment.size, [](auto b) { return b != 0; }));
            }
        }
        EXPECT_EQ(nonZero, 0U) << "the half ring readers may read after the jump must be silence";

        // A claim behind the head (a source restarting its session) moves nothing.
        commitInItsSlot(peer, CommitRecord{epoch, resume - 100, 2, 0, 0, CommitKind::Claim, 0});
        ASSERT_TRUE(peer.pumpUntil([&] {
            return std::any_of(peer.credits().begin(), peer.credits().end(), [&](CreditRecord const& c) { return c.answers == resume - 100; });
        }));
        EXPECT_EQ(session.sink->headIndex(), resume);
        EXPECT_EQ(peer.credits().back().claimedThrough, resume + half);
        EXPECT_EQ(refusals(session.receiver->counters()), 0U);
    }

    TEST(HostilePeer, AMessageOnAnRmaSessionClosesItAndNothingAfterItIsApplied)
    {
        // An RMA source sends no messages. The receiver keeps one small receive posted for the one
        // that may come anyway: without it tcp would stop reading the connection at the message,
        // and the session would hang with nothing counted.
        MirrorSession session{"v210"};
        auto const epoch = session.grant().epoch;
        auto const total = session.offer.totalSlices;
        auto const index = session.source.currentIndex();
        applyOnASessionOfItsOwn(session, grainRecord(epoch, index, 0, 100));

        // A message smaller than that receive, then a valid commit; and one larger than it.
        expectRefusedAndClosed(session, &CounterSnapshot::refusedOperation, [&](HostileSource& peer) {
            peer.send(HostileSource::payloadOffset, 32);
            commitInItsSlot(peer, grainRecord(epoch, index + 1, 0, total));
        });
        expectTheMirrorHolds(session, index, 100);
        expectRefusedAndClosed(session, &CounterSnapshot::refusedOperation,
            [&](HostileSource& peer) { peer.send(HostileSource::payloadOffset, 64 * 1024); });
        expectTheMirrorHolds(session, index, 100);

        expectACorrectSourceReplicatesAfterwards(session);
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

    TEST(HostilePeer, ASinkThatWritesIntoItsSourceStopsTheSender)
    {
        MirrorSession session{"v210"};
        WritingSink sink{false};
        auto grant = session.grant();
        grant.service = sink.service();
        auto sender = require(Sender::create(*session.sourceDomain, session.uuid, grant, {}), "sender");
        sender->start();

        sink.write();

        ASSERT_TRUE(eventually([&] { return sender->failed(); })) << "the sender went on after a write into it";
        EXPECT_TRUE(sink.wrote());
        auto const counters = sender->counters();
        EXPECT_EQ(counters.refusedOperation, 1U);
        EXPECT_NE(counters.lastError.find("the sink wrote into this source"), std::string::npos) << counters.lastError;
        sender->stop();
    }

    TEST(HostilePeer, ASinkThatWritesIntoItsSourceWhileItConnectsGetsNoSession)
    {
        MirrorSession session{"v210"};
        WritingSink sink{true};
        auto grant = session.grant();
        grant.service = sink.service();

        auto sender = Sender::create(*session.sourceDomain, session.uuid, grant, {});

        // The write lands while the source still waits for its connection, or right after.
        if (!sender)
        {
            EXPECT_NE(sender.error().message.find("sent a completion before the session started"), std::string::npos)
                << sender.error().message;
            return;
        }
        (*sender)->start();
        EXPECT_TRUE(eventually([&] { return (*sender)->failed(); })) << "the sender went on after a write into it";
        EXPECT_EQ((*sender)->counters().refusedOperation, 1U) << (*sender)->counters().lastError;
        (*sender)->stop();
    }
}
