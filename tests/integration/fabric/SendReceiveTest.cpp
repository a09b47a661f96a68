// SPDX-License-Identifier: Apache-2.0
// The send/receive transfer (Transfer::SendReceive), over the real tcp provider on loopback: the
// byte-exact replication scenarios that RMA passes pass the same way when every chunk travels as a
// message into the sink's bounce buffers; and a hand-made source shows that the sink copies only
// messages of its session, in sequence, whose bytes fall inside the mirror.
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
                require(_endpoint.connect(), "connect");
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
                std::memcpy(_memory.data() + sizeof header, payload.data(), payload.size());
                auto const message = std::span{_memory}.first(sizeof header + payload.size());
                auto const sent = _sent;
                for (;;)
                {
                    auto const result = _endpoint.send(message, _mr.desc(), nullptr);
                    if (result.posted())
                    {
                        break;
                    }
                    ASSERT_TRUE(result.again()) << fi_strerror(result.error());
                    drain();
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

        /// The mirror's header for grain index as a reader sees it now: its status and slices.
        std::pair<mxlStatus, std::uint16_t> peek(Sink& sink, std::uint64_t index)
        {
            mxlGrainInfo info{};
            std::uint8_t* payload = nullptr;
            auto const status = mxlFlowReaderGetGrainSliceNonBlocking(sink.reader, index, MXL_GRAIN_VALID_SLICES_ANY, &info, &payload);
            return {status, status == MXL_STATUS_OK ? info.validSlices : std::uint16_t{0}};
        }

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

    TEST(SendReceive, DataOutsideTheGrainIsRefusedAndNothingOfItIsCopied)
    {
        MirrorSession session{"v210", sendReceiveSink()};
        BounceSource peer{session.grant()};
        auto const index = session.source.currentIndex();
        auto const grainSize = session.offer.grainSize;
        auto const bytes = patternBytes(index, 0, 64);

        peer.data(index, grainSize - 32, bytes);        // straddles the end of the payload
        peer.data(index, grainSize, bytes);             // just past it
        peer.data(index, UINT64_MAX - 16, bytes);       // wraps around 64 bits
        peer.data(UINT64_MAX, 0, bytes);                // the index that means "none"
        peer.data(index, 0, std::span{bytes}.first(0)); // empty, inside: harmless
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().refusedRange == 4; }))
            << session.receiver->counters().refusedRange;

        auto const mirror = openMirror(session);
        for (std::uint32_t slot = 0; slot < mirror->grainCount(); ++slot)
        {
            EXPECT_EQ(nonZero(mirror->grainPayload(slot), grainSize), 0U) << "slot " << slot;
        }
        EXPECT_EQ(session.receiver->counters().refusedSequence, 0U) << "refused messages still count in the sequence";

        // The session goes on: the next message in sequence is taken.
        peer.data(index, 0, bytes);
        peer.commit(index, 1);
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().commits == 1; }));
        EXPECT_EQ(peek(*session.sink, index), std::make_pair(MXL_STATUS_OK, std::uint16_t{1}));
    }

    TEST(SendReceive, MessagesOfAnotherEpochAreRefusedAndLeaveTheMirrorAlone)
    {
        MirrorSession session{"v210", sendReceiveSink()};
        BounceSource peer{session.grant()};
        auto const index = session.source.currentIndex();
        auto const bytes = patternBytes(index, 0, 1024);

        peer.send(dataHeader(peer.sequence()++, peer.epoch() ^ 1, index, 0, 1024), bytes);
        peer.send(commitHeader(CommitRecord{peer.epoch() + 1, index, peer.sequence()++, 0, 1, CommitKind::Grain, 1}));
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().refusedEpoch == 2; }));

        EXPECT_EQ(session.receiver->counters().commits, 0U);
        EXPECT_EQ(peek(*session.sink, index).first, MXL_ERR_OUT_OF_RANGE_TOO_EARLY);
        auto const mirror = openMirror(session);
        EXPECT_EQ(nonZero(mirror->grainPayload(static_cast<std::uint32_t>(index % mirror->grainCount())), 1024), 0U);
    }

    TEST(SendReceive, MalformedFramesAreRefused)
    {
        MirrorSession session{"v210", sendReceiveSink()};
        BounceSource peer{session.grant()};
        auto const index = session.source.currentIndex();
        auto const bytes = patternBytes(index, 0, 100);

        auto longer = dataHeader(peer.sequence(), peer.epoch(), index, 0, 101); // says more than follows
        auto shorter = dataHeader(peer.sequence(), peer.epoch(), index, 0, 99);
        auto magic = dataHeader(peer.sequence(), peer.epoch(), index, 0, 100);
        magic.magic ^= 1;
        auto kind = dataHeader(peer.sequence(), peer.epoch(), index, 0, 100);
        kind.kind = BounceKind{3};
        auto commitWithPayload = commitHeader(CommitRecord{peer.epoch(), index, peer.sequence(), 0, 1, CommitKind::Grain, 1});
        commitWithPayload.length = 100;
        for (auto const& header : {longer, shorter, magic, kind, commitWithPayload})
        {
            peer.send(header, bytes);
        }
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().refusedRange == 5; }));

        EXPECT_EQ(session.receiver->counters().commits, 0U);
        auto const mirror = openMirror(session);
        EXPECT_EQ(nonZero(mirror->grainPayload(static_cast<std::uint32_t>(index % mirror->grainCount())), 100), 0U);
    }

    TEST(SendReceive, DuplicatedMessagesAreDroppedAndNothingAfterALostOneIsPublished)
    {
        MirrorSession session{"v210", sendReceiveSink()};
        BounceSource peer{session.grant()};
        auto const index = session.source.currentIndex();
        auto const sliceBytes = session.offer.grainSize / session.offer.totalSlices;
        auto const slices = patternBytes(index, 0, 4 * sliceBytes);

        peer.data(index, 0, std::span{slices}.first(2 * sliceBytes));
        peer.commit(index, 2);
        --peer.sequence();
        peer.commit(index, 2); // a duplicate of the commit
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().refusedSequence == 1; }));
        EXPECT_EQ(session.receiver->counters().commits, 1U);

        ++peer.sequence(); // a message is lost
        peer.data(index, 2 * sliceBytes, std::span{slices}.subspan(2 * sliceBytes));
        peer.commit(index, 4);
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().refusedSequence == 3; }));

        EXPECT_EQ(session.receiver->counters().commits, 1U);
        EXPECT_EQ(peek(*session.sink, index), std::make_pair(MXL_STATUS_OK, std::uint16_t{2}));
    }

    TEST(SendReceive, AudioDataOutsideTheChannelsIsRefused)
    {
        MirrorSession session{"audio", sendReceiveSink()};
        BounceSource peer{session.grant()};
        auto const mirror = openMirror(session);
        auto const size = mirror->channelsMapping().size();
        auto const bytes = patternBytes(0, 0, 64);

        peer.data(0, size - 32, bytes);
        peer.data(0, size, bytes);
        peer.data(0, UINT64_MAX - 16, bytes);
        ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().refusedRange == 3; }));
        EXPECT_EQ(nonZero(mirror->channels(), size), 0U);

        peer.data(0, size - 64, bytes);
        ASSERT_TRUE(peer.pumpUntil([&] { return nonZero(mirror->channels() + size - 64, 64) > 0; }));
        EXPECT_EQ(std::memcmp(mirror->channels() + size - 64, bytes.data(), bytes.size()), 0);
    }

    TEST(SendReceive, ACorrectSenderReplicatesAfterAHostileSession)
    {
        MirrorSession session{"v210", sendReceiveSink()};
        {
            BounceSource peer{session.grant()};
            ++peer.sequence();
            peer.commit(session.source.currentIndex(), 1);
            ASSERT_TRUE(peer.pumpUntil([&] { return session.receiver->counters().refusedSequence == 1; }));
        }
        ASSERT_TRUE(eventually([&] { return !session.receiver->connected(); })) << "the receiver kept the closed connection";

        auto sender = Sender::create(*session.sourceDomain, session.uuid, session.grant(), {});
        ASSERT_TRUE(sender) << sender.error().message;
        (*sender)->start();
        auto const index = session.source.currentIndex();
        session.source.writeGrain(index);
        EXPECT_EQ(session.sink->verify(index), 0U) << "a new connection starts a new sequence";
        (*sender)->stop();
        EXPECT_EQ((*sender)->counters().errors, 0U) << (*sender)->counters().lastError;
    }
}
