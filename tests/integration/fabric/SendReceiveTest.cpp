// SPDX-License-Identifier: Apache-2.0
// The send/receive transfer (Transfer::SendReceive), over the real tcp provider on loopback: the
// byte-exact replication scenarios that RMA passes pass the same way when every chunk travels as a
// message into the sink's bounce buffers; and a hand-made source shows that the sink copies only
// messages of its session, in sequence, whose bytes fall inside the mirror, and that any other
// message closes the source's session, ignoring whatever else it sent, until the next source.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ReceiverSession.hpp"
#include "ReplicationScenarios.hpp"
#include "flow/Flow.hpp"
#include "protocol/BounceHeader.hpp"
#include "replication/FabricHints.hpp"
#include "replication/Sender.hpp"

namespace mxl::fabric::test
{
    namespace
    {
        ReplicationOptions const sendReceive{"tcp", Transfer::SendReceive};

        Receiver::Options sendReceiveSink()
        {
            Receiver::Options options;
            options.transfer = Transfer::SendReceive;
            return options;
        }

        /// A source that connects to a send/receive sink with its own libfabric objects and sends
        /// whatever message a test makes: what a broken or hostile peer could send.
        class BounceSource
        {
        public:
            explicit BounceSource(RegionGrant const& grant)
                : _epoch{grant.epoch}
                , _info{require(ofi::Info::query(sourceHints(grant.provider, grant.node, grant.service, Transfer::SendReceive)), "fi_getinfo")}
                , _fabric{require(ofi::Fabric::open(_info), "fabric")}
                , _events{require(ofi::EventQueue::open(_fabric), "event queue")}
                , _domain{require(ofi::Domain::open(_fabric, _info), "domain")}
                , _cq{require(ofi::CompletionQueue::open(_domain, 256), "completion queue")}
                , _endpoint{require(ofi::Endpoint::open(_domain, _info, ofi::EndpointQueues{_cq, _cq, &_events, nullptr}), "endpoint")}
                , _memory(sizeof(BounceHeader) + 2 * bounceChunkSize)
                , _mr{require(ofi::MemoryRegion::create(_domain, _memory, FI_SEND), "memory region")}
            {
                require(_endpoint.connect(require(makeConnectProof(grant.connectKey, grant.flowId, grant.epoch), "connect proof")), "connect");
                if (!pumpUntil([this] { return _connected || _shutDown; }) || !_connected)
                {
                    throw std::runtime_error("the bounce source could not connect to the sink");
                }
            }

            /// Sends header then payload as one message, and waits until it left.
            void send(BounceHeader const& header, std::span<std::byte const> payload = {})
            {
                ASSERT_LE(sizeof header + payload.size(), _memory.size());
                std::memcpy(_memory.data(), &header, sizeof header);
                if (!payload.empty())
                {
                    // memcpy from an empty span's null pointer is undefined even for 0 bytes.
                    std::memcpy(_memory.data() + sizeof header, payload.data(), payload.size());
                }
                auto const message = std::span{_memory}.first(sizeof header + payload.size());
                auto const sent = _sent;
                for (;;)
                {
                    auto const result = _endpoint.send(message, _mr.desc(), nullptr);
                    if (result.posted())
                    {
                        break;
                    }
                    drain();
                    if (_shutDown)
                    {
                        // The sink closed the session: what this source would still send goes nowhere.
                        return;
                    }
                    ASSERT_TRUE(result.again()) << fi_strerror(result.error());
                }
                ASSERT_TRUE(pumpUntil([&] { return _sent > sent || _shutDown; }));
            }

            /// A Data message in sequence, for this session unless told otherwise.
            void data(std::uint64_t index, std::uint64_t offset, std::span<std::byte const> payload)
            {
                send(dataHeader(_sequence++, _epoch, index, offset, static_cast<std::uint32_t>(payload.size())), payload);
            }

            /// A Commit message in sequence.
            void commit(std::uint64_t index, std::uint16_t validSlices, CommitKind kind = CommitKind::Grain, std::uint32_t count = 0)
            {
                send(commitHeader(CommitRecord{_epoch, index, _sequence++, 0, validSlices, kind, count}));
            }

            bool pumpUntil(std::function<bool()> const& done, std::chrono::milliseconds timeout = pumpTimeout)
            {
                auto const deadline = std::chrono::steady_clock::now() + timeout;
                for (;;)
                {
                    drain();
                    if (done())
                    {
                        return true;
                    }
                    if (std::chrono::steady_clock::now() >= deadline)
                    {
                        return false;
                    }
                    std::this_thread::sleep_for(std::chrono::milliseconds{1});
                }
            }

            std::uint32_t& sequence() noexcept
            {
                return _sequence;
            }

            [[nodiscard]] std::uint64_t epoch() const noexcept
            {
                return _epoch;
            }

            [[nodiscard]] bool shutDown() const noexcept
            {
                return _shutDown;
            }

        private:
            void drain()
            {
                std::array<fi_cq_data_entry, 16> entries;
                for (auto n = _cq.read(entries); n != 0; n = _cq.read(entries))
                {
                    if (n == ofi::kCompletionErrorAvailable)
                    {
                        ofi::CompletionError error;
                        (void)_cq.readError(error);
                        ++_sent;
                        continue;
                    }
                    if (n < 0)
                    {
                        break;
                    }
                    _sent += static_cast<std::size_t>(n);
                }
                for (auto event = _events.read(); event && event->has_value(); event = _events.read())
                {
                    _connected = _connected || (*event)->kind == ofi::CmEventKind::Connected;
                    _shutDown = _shutDown || (*event)->kind == ofi::CmEventKind::Shutdown;
                }
            }

            std::uint64_t _epoch;
            std::uint32_t _sequence{0};
            ofi::Info _info;
            ofi::Fabric _fabric;
            ofi::EventQueue _events;
            ofi::Domain _domain;
            ofi::CompletionQueue _cq;
            ofi::Endpoint _endpoint;
            std::vector<std::byte> _memory;
            ofi::MemoryRegion _mr;
            std::size_t _sent{0};
            bool _connected{false};
            bool _shutDown{false};
        };

        std::vector<std::byte> patternBytes(std::uint64_t index, std::size_t from, std::size_t to)
        {
            std::vector<std::byte> bytes;
            for (auto i = from; i < to; ++i)
            {
                bytes.push_back(std::byte{pattern(index, i)});
            }
            return bytes;
        }

        std::size_t nonZero(std::uint8_t const* bytes, std::size_t size)
        {
            return static_cast<std::size_t>(std::count_if(bytes, bytes + size, [](auto b) { return b != 0; }));
        }

        /// The mirror's memory as it is, whatever its headers say.
        std::unique_ptr<Flow> openMirror(MirrorSession const& session)
        {
            return require(Flow::open(session.sinkDomain->flowDir(session.uuid), FlowAccess::ReadOnly), "mirror");
        }

        /// Bytes a refused message carries: neither zero nor the pattern, so that any of them landing shows.
        std::vector<std::byte> const foreign(1024, std::byte{0xAB});

        /// The first slices of grain index, with the pattern, published on a session of its own: the
        /// state that the refused sessions after it must leave alone.
        void publishOnASessionOfItsOwn(MirrorSession& session, std::uint64_t index, std::uint16_t slices)
        {
            auto const sliceBytes = session.offer.grainSize / session.offer.totalSlices;
            auto const commits = session.receiver->counters().commits;
            onASessionOfItsOwn<BounceSource>(session, [&](BounceSource& peer) {
                peer.data(index, 0, patternBytes(index, 0, slices * sliceBytes));
                peer.commit(index, slices);
                ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().commits == commits + 1; }));
            });
        }

        /// On a session of its own, the receiver refuses what sendBad sends and closes the session.
        void expectRefusedAndClosed(MirrorSession& session, RefusalCounter counter, std::function<void(BounceSource&)> const& sendBad,
            std::uint64_t applied = 0)
        {
            test::expectRefusedAndClosed<BounceSource>(session, counter, sendBad, applied);
        }

        /// Grain index holds its first slices with the pattern and is the head; every other byte of
        /// the mirror is zero.
        void expectTheMirrorHolds(MirrorSession& session, Flow const& mirror, std::uint64_t index, std::uint16_t slices)
        {
            EXPECT_EQ(peek(*session.sink, index), std::make_pair(MXL_STATUS_OK, slices)) << "a refused message changed a grain header";
            EXPECT_EQ(session.sink->headIndex(), index) << "a refused message moved the head";
            auto const grainSize = session.offer.grainSize;
            auto const published = slices * (grainSize / session.offer.totalSlices);
            for (std::uint32_t slot = 0; slot < mirror.grainCount(); ++slot)
            {
                auto const* payload = mirror.grainPayload(slot);
                auto const held = slot == index % mirror.grainCount() ? published : 0;
                EXPECT_EQ(wrongBytes(payload, index, 0, held), 0U) << "slot " << slot << ": published bytes changed";
                EXPECT_EQ(nonZero(payload + held, grainSize - held), 0U) << "slot " << slot << ": refused bytes landed";
            }
        }
    }

    TEST(SendReceive, V210GrainsArriveByteExactWithTheSameIndices)
    {
        replicateAndVerify(sendReceive, "v210", 1920, 1080, 20);
    }

    TEST(SendReceive, V210aFillAndKeyPlanesArriveByteExact)
    {
        replicateAndVerify(sendReceive, "v210a", 1280, 720, 20);
    }

    TEST(SendReceive, AncillaryDataGrainsArriveByteExact)
    {
        replicateAndVerify(sendReceive, "smpte291", 0, 0, 50);
    }

    TEST(SendReceive, PartialV210SlicesArriveProgressivelyOnTheSink)
    {
        partialSlicesArriveProgressively(sendReceive, "v210", 1920, 1080, 8);
    }

    TEST(SendReceive, PartialV210aSlicesArriveProgressivelyInBothPlanes)
    {
        partialSlicesArriveProgressively(sendReceive, "v210a", 1280, 720, 8);
    }

    TEST(SendReceive, ThousandSmallGrainsArriveWithoutOneCorruptGrain)
    {
        thousandSmallGrainsArriveIntact(sendReceive);
    }

    TEST(SendReceive, AWriterThatRewindsIsFollowedAndItsNewGrainsArriveByteExact)
    {
        mxl::fabric::test::writerRewindIsFollowed(sendReceive);
    }

    TEST(SendReceive, AudioBatchesCrossingTheRingEdgeArriveExactInEveryChannel)
    {
        audioBatchesCrossTheRingEdgeExact(sendReceive);
    }

    TEST(SendReceive, SinkGrantsBounceBuffersInsteadOfRegions)
    {
        MirrorSession session{"v210", sendReceiveSink()};

        auto const decoded = decodeRegionGrant(encode(session.grant()));

        ASSERT_TRUE(decoded) << decoded.error().message;
        EXPECT_EQ(decoded->transfer, Transfer::SendReceive);
        EXPECT_TRUE(decoded->regions.empty()) << "nothing of the mirror is registered for remote access";
        EXPECT_EQ(decoded->commitEntries, 0U);
        EXPECT_EQ(decoded->maxChunk, bounceChunkSize);
    }

    TEST(SendReceive, DataAndCommitMessagesPublishAGrainLikeRecords)
    {
        MirrorSession session{"v210", sendReceiveSink()};
        BounceSource peer{session.grant()};
        auto const index = session.source.currentIndex();
        auto const grainSize = session.offer.grainSize;
        auto const sliceBytes = grainSize / session.offer.totalSlices;

        // Ten slices in two chunks, the second one first: only the commit publishes them.
        peer.data(index, 4 * sliceBytes, patternBytes(index, 4 * sliceBytes, 10 * sliceBytes));
        peer.data(index, 0, patternBytes(index, 0, 4 * sliceBytes));
        peer.commit(index, 10);

        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().commits == 1; }));
        mxlGrainInfo info{};
        std::uint8_t* payload = nullptr;
        ASSERT_EQ(mxlFlowReaderGetGrainSlice(session.sink->reader, index, 10, waitNs, &info, &payload), MXL_STATUS_OK);
        EXPECT_EQ(info.validSlices, 10);
        EXPECT_EQ(wrongBytes(payload, index, 0, 10 * sliceBytes), 0U);
        EXPECT_EQ(nonZero(payload + 10 * sliceBytes, grainSize - 10 * sliceBytes), 0U);
        EXPECT_EQ(session.receiver->counters().slices, 10U);
        EXPECT_EQ(session.receiver->counters().refusedRange + session.receiver->counters().refusedSequence, 0U);
    }

    TEST(SendReceive, DataOutsideTheGrainClosesTheSessionAndNothingOfItIsCopied)
    {
        MirrorSession session{"v210", sendReceiveSink()};
        auto const mirror = openMirror(session);
        auto const index = session.source.currentIndex();
        auto const grainSize = session.offer.grainSize;
        auto const sliceBytes = grainSize / session.offer.totalSlices;
        auto const bytes = std::span{foreign}.first(64);
        publishOnASessionOfItsOwn(session, index, 2);

        struct Chunk
        {
            std::uint64_t index, offset;
        };
        for (auto const chunk : {
                 Chunk{index, grainSize - 32},  // straddles the end of the payload
                 Chunk{index, grainSize},       // just past it
                 Chunk{index, UINT64_MAX - 16}, // wraps around 64 bits
                 Chunk{UINT64_MAX, 0},          // the index that means "none"
             })
        {
            expectRefusedAndClosed(session, &CounterSnapshot::refusedRange, [&](BounceSource& peer) { peer.data(chunk.index, chunk.offset, bytes); });
            expectTheMirrorHolds(session, *mirror, index, 2);
        }

        // An empty chunk inside the grain is harmless: that session goes on.
        onASessionOfItsOwn<BounceSource>(session, [&](BounceSource& peer) {
            peer.data(index, 0, bytes.first(0));
            peer.data(index, 2 * sliceBytes, patternBytes(index, 2 * sliceBytes, 3 * sliceBytes));
            peer.commit(index, 3);
            ASSERT_TRUE(peer.pumpUntil([&] { return peek(*session.sink, index).second == 3; }));
        });
        expectTheMirrorHolds(session, *mirror, index, 3);
        EXPECT_EQ(refusals(session.receiver->counters()), 4U);

        expectACorrectSourceReplicatesAfterwards(session);
    }

    TEST(SendReceive, MessagesOfAnotherEpochCloseTheSessionAndLeaveTheMirrorAlone)
    {
        MirrorSession session{"v210", sendReceiveSink()};
        auto const mirror = openMirror(session);
        auto const index = session.source.currentIndex();
        publishOnASessionOfItsOwn(session, index, 2);

        // Data over the published bytes, then a commit that would publish the whole grain.
        expectRefusedAndClosed(session, &CounterSnapshot::refusedEpoch, [&](BounceSource& peer) {
            peer.send(dataHeader(peer.sequence()++, peer.epoch() ^ 1, index, 0, 1024), foreign);
        });
        expectTheMirrorHolds(session, *mirror, index, 2);
        expectRefusedAndClosed(session, &CounterSnapshot::refusedEpoch, [&](BounceSource& peer) {
            auto const total = session.offer.totalSlices;
            peer.send(commitHeader(CommitRecord{peer.epoch() + 1, index, peer.sequence()++, 0, total, CommitKind::Grain, total}));
        });
        expectTheMirrorHolds(session, *mirror, index, 2);
    }

    TEST(SendReceive, MalformedFramesCloseTheSession)
    {
        MirrorSession session{"v210", sendReceiveSink()};
        auto const mirror = openMirror(session);
        auto const index = session.source.currentIndex();
        auto const epoch = session.grant().epoch;
        auto const bytes = std::span{foreign}.first(100);
        publishOnASessionOfItsOwn(session, index, 2);

        // Each the first message of its session, over the published bytes.
        auto longer = dataHeader(0, epoch, index, 0, 101); // says more than follows
        auto shorter = dataHeader(0, epoch, index, 0, 99);
        auto magic = dataHeader(0, epoch, index, 0, 100);
        magic.magic ^= 1;
        auto kind = dataHeader(0, epoch, index, 0, 100);
        kind.kind = BounceKind{3};
        auto commitWithPayload = commitHeader(CommitRecord{epoch, index, 0, 0, 1, CommitKind::Grain, 1});
        commitWithPayload.length = 100;
        for (auto const& header : {longer, shorter, magic, kind, commitWithPayload})
        {
            expectRefusedAndClosed(session, &CounterSnapshot::refusedRange, [&](BounceSource& peer) { peer.send(header, bytes); });
            expectTheMirrorHolds(session, *mirror, index, 2);
        }
    }

    TEST(SendReceive, ADuplicatedOrLostMessageClosesTheSessionAndNothingAfterItIsCopiedOrPublished)
    {
        MirrorSession session{"v210", sendReceiveSink()};
        auto const mirror = openMirror(session);
        auto const index = session.source.currentIndex();
        auto const sliceBytes = session.offer.grainSize / session.offer.totalSlices;
        auto const slices = patternBytes(index, 0, 4 * sliceBytes);

        // Two slices published, then a duplicate of their commit; what follows it would be in sequence.
        expectRefusedAndClosed(
            session, &CounterSnapshot::refusedSequence,
            [&](BounceSource& peer) {
                peer.data(index, 0, std::span{slices}.first(2 * sliceBytes));
                peer.commit(index, 2);
                ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().commits == 1; }));
                --peer.sequence();
                peer.commit(index, 2);
                peer.data(index, 2 * sliceBytes, std::span{slices}.subspan(2 * sliceBytes));
                peer.commit(index, 4);
            },
            1);
        expectTheMirrorHolds(session, *mirror, index, 2);

        // A new session whose first message is lost.
        expectRefusedAndClosed(session, &CounterSnapshot::refusedSequence, [&](BounceSource& peer) {
            ++peer.sequence();
            peer.data(index, 2 * sliceBytes, std::span{slices}.subspan(2 * sliceBytes));
            peer.commit(index, 4);
        });
        expectTheMirrorHolds(session, *mirror, index, 2);
    }

    TEST(SendReceive, AudioDataOutsideTheChannelsClosesTheSession)
    {
        MirrorSession session{"audio", sendReceiveSink()};
        auto const mirror = openMirror(session);
        auto const size = mirror->channelsMapping().size();
        auto const valid = patternBytes(0, 0, 64);
        auto const landed = [&](std::size_t offset) { return std::memcmp(mirror->channels() + offset, valid.data(), valid.size()) == 0; };
        onASessionOfItsOwn<BounceSource>(session, [&](BounceSource& peer) {
            peer.data(0, 0, valid);
            ASSERT_TRUE(peer.pumpUntil([&] { return landed(0); }));
        });

        for (auto const offset : {size - 32, size, std::uint64_t{UINT64_MAX - 16}})
        {
            expectRefusedAndClosed(session, &CounterSnapshot::refusedRange,
                [&](BounceSource& peer) { peer.data(0, offset, std::span{foreign}.first(64)); });
            EXPECT_TRUE(landed(0)) << "refused bytes landed over valid ones";
            EXPECT_EQ(nonZero(mirror->channels() + valid.size(), size - valid.size()), 0U) << "refused bytes landed";
        }

        // A new session's data at the very end of the channels lands.
        BounceSource peer{session.grant()};
        peer.data(0, size - 64, valid);
        ASSERT_TRUE(peer.pumpUntil([&] { return landed(size - 64); }));
    }

    TEST(SendReceive, ACorrectSenderReplicatesAfterAHostileSession)
    {
        MirrorSession session{"v210", sendReceiveSink()};
        expectRefusedAndClosed(session, &CounterSnapshot::refusedSequence, [&](BounceSource& peer) {
            ++peer.sequence();
            peer.commit(session.source.currentIndex(), 1);
        });

        expectACorrectSourceReplicatesAfterwards(session);
    }

    TEST(SendReceive, ARemoteWriteWithImmediateDataClosesTheSessionAndNothingAfterItIsApplied)
    {
        // A send/receive sink has no commit ring: remote CQ data must never be taken for a commit.
        MirrorSession session{"v210", sendReceiveSink()};
        auto const mirror = openMirror(session);
        auto const index = session.source.currentIndex();
        publishOnASessionOfItsOwn(session, index, 2);

        for (auto const imm : {std::uint64_t{0}, std::uint64_t{7}, std::uint64_t{0xFFFFFFFF}})
        {
            // An RMA source's endpoint holding the grant: its zero-byte write needs no key.
            test::expectRefusedAndClosed<HostileSource>(session, &CounterSnapshot::refusedOperation, [&](HostileSource& peer) {
                peer.writeOnlyData(imm);
                peer.memory()[0] = std::byte{0xAB};
                peer.send(0, sizeof(BounceHeader));
            });
            expectTheMirrorHolds(session, *mirror, index, 2);
        }

        expectACorrectSourceReplicatesAfterwards(session);
    }

    TEST(SendReceive, StalledSinkNeverHandsAudioReadersThePreviousLap)
    {
        mxl::fabric::test::stalledSinkNeverHandsAudioReadersThePreviousLap(sendReceive);
    }
}
