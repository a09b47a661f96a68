// SPDX-License-Identifier: Apache-2.0
// Sessions on a receiver's reliable-datagram (FI_EP_RDM) endpoint, where there are no connections:
// anyone who knows the address can send it messages, so a Hello is admitted only with a valid proof
// of the grant, one source at a time, and a source leaves with a Bye; refusals never touch the
// attached source's session; renew() tells the source its session is over.
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "ReceiverSession.hpp"
#include "ofi/AddressVector.hpp"
#include "ofi/MemoryRegion.hpp"
#include "protocol/DataHello.hpp"
#include "replication/FabricHints.hpp"
#include "replication/Sender.hpp"

namespace mxl::fabric::test
{
    namespace
    {
        /// A raw datagram endpoint that sends whatever bytes a test gives it to a grant's address.
        class DatagramCaller
        {
        public:
            explicit DatagramCaller(RegionGrant const& grant)
                : _info{require(ofi::Info::query(replicationHints(grant.provider, FI_EP_RDM)), "fi_getinfo")}
                , _fabric{require(ofi::Fabric::open(_info), "fabric")}
                , _domain{require(ofi::Domain::open(_fabric, _info), "domain")}
                , _cq{require(ofi::CompletionQueue::open(_domain, 64), "completion queue")}
                , _av{require(ofi::AddressVector::open(_domain, 4), "address vector")}
                , _endpoint{require(ofi::Endpoint::open(_domain, _info, ofi::EndpointQueues{_cq, _cq, nullptr, &_av}), "endpoint")}
                , _buffer(bufferSize)
                , _mr{require(ofi::MemoryRegion::create(_domain, _buffer, FI_SEND | FI_RECV | FI_WRITE, &_endpoint), "buffer")}
                , _peer{require(_av.insert(grant.address), "the sink's address")}
            {}

            /// Sends bytes and waits until the provider reports the send done (or failed).
            void send(std::vector<std::byte> const& bytes)
            {
                std::memcpy(_buffer.data(), bytes.data(), bytes.size());
                post([&] { return _endpoint.send(std::span{_buffer.data(), bytes.size()}, _mr.desc(), _buffer.data(), _peer); });
            }

            /// Attaches as the grant's source would (a Hello with a valid proof and this endpoint's
            /// address); true once the sink's welcome arrived.
            bool attach(RegionGrant const& grant)
            {
                postReceive();
                auto address = require(_endpoint.address(), "own address");
                send(encode(DataHello{DataHelloKind::Hello, require(makeConnectProof(grant.connectKey, grant.flowId, grant.epoch), "p"), address}));
                auto const welcome = waitForMessage();
                postReceive();
                return welcome && welcome->magic == welcomeMagic && welcome->epoch == grant.epoch;
            }

            /// Writes a commit record into the commit ring's slot with the immediate data imm.
            void commit(RegionGrant const& grant, CommitRecord const& record, std::uint32_t slot, std::uint64_t imm)
            {
                std::memcpy(_buffer.data() + recordOffset, &record, sizeof record);
                auto const target = grant.commitRing.target(std::uint64_t{slot} * sizeof record, sizeof record);
                ASSERT_TRUE(target);
                post([&] {
                    return _endpoint.writeWithData(std::span{_buffer.data() + recordOffset, sizeof record}, _mr.desc(), *target, imm, _buffer.data(), _peer);
                });
            }

            /// The next message the sink sent (a welcome, credit or close notice), within pumpTimeout.
            std::optional<CreditRecord> waitForMessage()
            {
                auto const deadline = std::chrono::steady_clock::now() + pumpTimeout;
                while (!_message && std::chrono::steady_clock::now() < deadline)
                {
                    drain();
                    (void)_cq.wait(std::chrono::milliseconds{1});
                }
                return std::exchange(_message, std::nullopt);
            }

        private:
            static constexpr std::size_t recordOffset = 1024;
            static constexpr std::size_t receiveOffset = 2048;
            static constexpr std::size_t bufferSize = 4096;

            void postReceive()
            {
                auto const result = _endpoint.recv(std::span{_buffer.data() + receiveOffset, sizeof(CreditRecord)}, _mr.desc(), _buffer.data() + receiveOffset);
                ASSERT_TRUE(result.posted()) << fi_strerror(result.error());
            }

            /// Posts (again while the queue is full) and waits until the operation completed.
            void post(std::function<ofi::PostResult()> const& attempt)
            {
                auto const deadline = std::chrono::steady_clock::now() + pumpTimeout;
                auto posted = false;
                auto done = false;
                while (!done && std::chrono::steady_clock::now() < deadline)
                {
                    if (!posted)
                    {
                        auto const result = attempt();
                        ASSERT_TRUE(result.posted() || result.again()) << fi_strerror(result.error());
                        posted = result.posted();
                    }
                    done = drain() || done;
                    (void)_cq.wait(std::chrono::milliseconds{1});
                }
                ASSERT_TRUE(done) << "the operation never completed";
            }

            /// Reads the queue: keeps a message that arrived (it may come before the completion of
            /// the send that caused it); true when the operation posted from the buffer completed.
            bool drain()
            {
                auto done = false;
                _cq.drain(
                    [&](std::span<fi_cq_data_entry const> entries) {
                        for (auto const& e : entries)
                        {
                            done = done || e.op_context == _buffer.data();
                            if ((e.flags & FI_RECV) != 0 && e.len == sizeof(CreditRecord))
                            {
                                _message.emplace();
                                std::memcpy(&*_message, _buffer.data() + receiveOffset, sizeof(CreditRecord));
                            }
                        }
                    },
                    [&](ofi::CompletionError const& e) { done = done || e.context == _buffer.data(); });
                return done;
            }

            ofi::Info _info;
            ofi::Fabric _fabric;
            ofi::Domain _domain;
            ofi::CompletionQueue _cq;
            ofi::AddressVector _av;
            ofi::Endpoint _endpoint;
            std::vector<std::byte> _buffer;
            ofi::MemoryRegion _mr;
            fi_addr_t _peer;
            std::optional<CreditRecord> _message;
        };

        std::vector<std::byte> hello(DataHelloKind kind, ConnectProof const& proof)
        {
            DataHello message{kind, proof, {}};
            if (kind == DataHelloKind::Hello)
            {
                message.address = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
            }
            return encode(message);
        }

        Receiver::Options over(std::string const& provider)
        {
            Receiver::Options options;
            options.provider = provider;
            return options;
        }

        class RdmDataEndpoint : public ::testing::TestWithParam<std::string>
        {
        protected:
            void SetUp() override
            {
                if (!replicationEndpointType(GetParam()))
                {
                    GTEST_SKIP() << "libfabric offers no " << GetParam() << " here";
                }
            }
        };

        std::string testName(::testing::TestParamInfo<std::string> const& info)
        {
            return info.param == "shm" ? "shm" : "tcp_ofi_rxm";
        }
    }

    TEST_P(RdmDataEndpoint, HellosWithoutAValidProofAreRefusedAndTheGrantedSourceKeepsReplicating)
    {
        MirrorSession session{"v210", over(GetParam())};
        auto const& grant = session.grant();
        ASSERT_FALSE(grant.address.empty()) << "a reliable-datagram grant names the endpoint's address";
        auto sender = require(Sender::create(*session.sourceDomain, session.uuid, grant, {}), "sender");
        sender->start();
        auto index = session.source.currentIndex();
        session.source.writeGrain(index);
        ASSERT_EQ(session.sink->verify(index), 0U);

        auto wrongMac = require(makeConnectProof(grant.connectKey, grant.flowId, grant.epoch), "proof");
        wrongMac.back() ^= std::byte{0x01};
        auto const otherKey = require(makeConnectKey(), "another key");
        std::vector<std::pair<std::string, std::vector<std::byte>>> const attempts{
            {"bytes that are no hello", std::vector<std::byte>(40, std::byte{0x5a})},
            {"a hello with a wrong MAC", hello(DataHelloKind::Hello, wrongMac)},
            {"a hello for another epoch", hello(DataHelloKind::Hello, require(makeConnectProof(grant.connectKey, grant.flowId, grant.epoch + 1), "p"))},
            {"a hello made with another key", hello(DataHelloKind::Hello, require(makeConnectProof(otherKey, grant.flowId, grant.epoch), "p"))},
            {"a bye with a wrong MAC", hello(DataHelloKind::Bye, wrongMac)},
            {"a valid hello while the granted source is attached",
                hello(DataHelloKind::Hello, require(makeConnectProof(grant.connectKey, grant.flowId, grant.epoch), "p"))},
        };
        DatagramCaller caller{grant};
        std::uint64_t refused = 0;
        for (auto const& [what, bytes] : attempts)
        {
            caller.send(bytes);
            ++refused;
            EXPECT_TRUE(eventually([&] { return session.receiver->counters().refusedConnections == refused; })) << what;
            ++index;
            session.source.writeGrain(index);
            EXPECT_EQ(session.sink->verify(index), 0U) << "after " << what;
            EXPECT_TRUE(session.receiver->connected()) << "after " << what;
        }

        sender->stop();
        EXPECT_FALSE(sender->failed()) << sender->counters().lastError;
        auto const counters = session.receiver->counters();
        EXPECT_EQ(counters.refusedConnections, attempts.size());
        EXPECT_EQ(refusals(counters), 0U) << "a refused hello closed the granted source's session";
        EXPECT_TRUE(eventually([&] { return !session.receiver->connected(); })) << "the source's Bye ends its session";
    }

    TEST_P(RdmDataEndpoint, ASecondSourceWaitsUntilTheFirstSaysGoodbye)
    {
        MirrorSession session{"v210", over(GetParam())};
        auto first = require(Sender::create(*session.sourceDomain, session.uuid, session.grant(), {}), "first sender");
        first->start();
        Sender::Options impatient;
        impatient.connectTimeout = std::chrono::milliseconds{300};
        auto second = Sender::create(*session.sourceDomain, session.uuid, session.grant(), impatient);
        ASSERT_FALSE(second) << "a second source attached beside the first";
        EXPECT_EQ(second.error().status, MXL_ERR_TIMEOUT) << second.error().message;
        EXPECT_EQ(session.receiver->counters().refusedConnections, 1U);

        first->stop();
        first.reset();
        ASSERT_TRUE(eventually([&] { return !session.receiver->connected(); })) << "the Bye did not end the first session";
        auto again = require(Sender::create(*session.sourceDomain, session.uuid, session.grant(), {}), "the next sender");
        again->start();
        auto const index = session.source.currentIndex();
        session.source.writeGrain(index);
        EXPECT_EQ(session.sink->verify(index), 0U);
        again->stop();
    }

    TEST_P(RdmDataEndpoint, RenewTellsTheSourceItsSessionIsOver)
    {
        MirrorSession session{"v210", over(GetParam())};
        auto sender = require(Sender::create(*session.sourceDomain, session.uuid, session.grant(), {}), "sender");
        sender->start();
        auto const index = session.source.currentIndex();
        session.source.writeGrain(index);
        ASSERT_EQ(session.sink->verify(index), 0U);

        require(session.receiver->renew(), "renew");
        ASSERT_TRUE(eventually([&] { return sender->failed(); })) << "the source never heard that its session ended";
        EXPECT_NE(sender->counters().lastError.find("the sink closed the session"), std::string::npos) << sender->counters().lastError;
        sender->stop();

        auto next = require(Sender::create(*session.sourceDomain, session.uuid, session.grant(), {}), "a sender with the new grant");
        next->start();
        session.source.writeGrain(index + 1);
        EXPECT_EQ(session.sink->verify(index + 1), 0U);
        next->stop();
    }

    TEST_P(RdmDataEndpoint, ForgedRecordsCloseTheSessionWithANoticeAndAreCountedByKind)
    {
        MirrorSession session{"v210", over(GetParam())};
        auto const& grant = session.grant();
        auto const index = session.source.currentIndex();
        struct Forgery
        {
            char const* what;
            CommitRecord record;
            std::uint64_t imm;
            RefusalCounter counter;
        };
        // What the holder of a grant may write over a datagram endpoint as over a connection.
        std::vector<Forgery> const forgeries{
            {"a record of another session", CommitRecord{grant.epoch + 1, index, 0, 0, 1, CommitKind::Grain, 0}, 0, &CounterSnapshot::refusedEpoch},
            {"a record whose sequence is not its immediate data", CommitRecord{grant.epoch, index, 7, 0, 1, CommitKind::Grain, 0}, 0,
                &CounterSnapshot::refusedSequence},
            {"more slices than a grain has", CommitRecord{grant.epoch, index, 0, 0, 60000, CommitKind::Grain, 0}, 0, &CounterSnapshot::refusedRange},
            {"the index that means none", CommitRecord{grant.epoch, UINT64_MAX, 0, 0, 1, CommitKind::Grain, 0}, 0, &CounterSnapshot::refusedRange},
            {"a claim beyond any real index", CommitRecord{grant.epoch, (std::uint64_t{1} << 62) + 1, 0, 0, 0, CommitKind::Claim, 0}, 0,
                &CounterSnapshot::refusedRange},
            {"samples in a grain flow", CommitRecord{grant.epoch, index + 480, 0, 0, 0, CommitKind::Samples, 480}, 0, &CounterSnapshot::refusedRange},
            {"a record of no known kind", CommitRecord{grant.epoch, index, 0, 0, 1, static_cast<CommitKind>(7), 0}, 0, &CounterSnapshot::refusedRange},
        };
        for (auto const& forgery : forgeries)
        {
            auto const before = session.receiver->counters();
            DatagramCaller hostile{grant};
            ASSERT_TRUE(hostile.attach(grant)) << "no welcome for a valid Hello before " << forgery.what;
            ASSERT_TRUE(eventually([&] { return session.receiver->connected(); }));
            hostile.commit(grant, forgery.record, 0, forgery.imm);
            EXPECT_TRUE(eventually([&] { return session.receiver->counters().*forgery.counter == before.*forgery.counter + 1; }))
                << forgery.what << " was not refused as such";
            auto notice = hostile.waitForMessage();
            ASSERT_TRUE(notice) << "the source of " << forgery.what << " was not told";
            EXPECT_EQ(notice->magic, closeMagic) << forgery.what;
            EXPECT_TRUE(eventually([&] { return !session.receiver->connected(); })) << forgery.what;
            EXPECT_EQ(refusals(session.receiver->counters()), refusals(before) + 1) << forgery.what;
        }
        EXPECT_EQ(session.receiver->counters().commits, 0U);
        expectACorrectSourceReplicatesAfterwards(session);
    }

    TEST_P(RdmDataEndpoint, RecordsLandingOutOfOrderAreAppliedInTheOrderTheyWereMade)
    {
        // What a provider whose writes are not ordered may do to an honest source's records: the
        // grain's second slice batch and the next grain land before the first batch.
        MirrorSession session{"v210", over(GetParam())};
        auto const& grant = session.grant();
        auto const index = session.source.currentIndex() + 1;
        auto const record = [&](std::uint64_t grain, std::uint32_t sequence, std::uint16_t slices) {
            return CommitRecord{grant.epoch, grain, sequence, 0, slices, CommitKind::Grain, 0};
        };
        {
            DatagramCaller source{grant};
            ASSERT_TRUE(source.attach(grant));
            source.commit(grant, record(index + 1, 2, 1), 2, 2);
            source.commit(grant, record(index, 1, 2), 1, 1);
            ASSERT_TRUE(eventually([&] { return session.receiver->counters().reorderedRecords == 2; }));
            EXPECT_EQ(session.receiver->counters().commits, 0U) << "a record was applied before the one made before it";
            EXPECT_NE(peek(*session.sink, index).first, MXL_STATUS_OK);

            source.commit(grant, record(index, 0, 1), 0, 0);
            ASSERT_TRUE(eventually([&] { return session.receiver->counters().commits == 3; }));
            EXPECT_EQ(peek(*session.sink, index), std::make_pair(MXL_STATUS_OK, std::uint16_t{2})) << "the first batch was applied last";
            EXPECT_EQ(peek(*session.sink, index + 1), std::make_pair(MXL_STATUS_OK, std::uint16_t{1}));
            EXPECT_EQ(refusals(session.receiver->counters()), 0U);
            EXPECT_TRUE(session.receiver->connected());

            // The same sequence again is no reordering: the source is broken or hostile.
            source.commit(grant, record(index, 1, 2), 1, 1);
            EXPECT_TRUE(eventually([&] { return session.receiver->counters().refusedSequence == 1; }));
            auto const notice = source.waitForMessage();
            ASSERT_TRUE(notice);
            EXPECT_EQ(notice->magic, closeMagic);
            EXPECT_TRUE(eventually([&] { return !session.receiver->connected(); }));
        }
        {
            // Further ahead than any source keeps records in flight: refused, nothing applied.
            DatagramCaller source{grant};
            ASSERT_TRUE(source.attach(grant));
            ASSERT_TRUE(eventually([&] { return session.receiver->connected(); }));
            source.commit(grant, record(index + 2, commitReorderWindow, 1), commitReorderWindow % commitRingEntries, commitReorderWindow);
            EXPECT_TRUE(eventually([&] { return session.receiver->counters().refusedSequence == 2; }));
            auto const notice = source.waitForMessage();
            ASSERT_TRUE(notice);
            EXPECT_EQ(notice->magic, closeMagic);
            EXPECT_EQ(session.receiver->counters().commits, 3U);
        }
        expectACorrectSourceReplicatesAfterwards(session);
    }

    INSTANTIATE_TEST_SUITE_P(Providers, RdmDataEndpoint, ::testing::Values("tcp;ofi_rxm", "shm"), testName);
}
