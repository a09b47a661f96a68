// SPDX-License-Identifier: Apache-2.0
// The receiver's data endpoint admits only a source that proves it holds the grant: a connection
// request without a proof, with a forged one, with one for another flow or epoch, or with one
// already used is rejected, while the granted source goes on replicating byte exact; and the
// refusals are logged at a bounded rate, without secrets.
#include <algorithm>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include "ReceiverSession.hpp"
#include "common/Logging.hpp"
#include "protocol/ConnectProof.hpp"
#include "replication/FabricHints.hpp"
#include "replication/Sender.hpp"

namespace mxl::fabric::test
{
    namespace
    {
        enum class Answer
        {
            Accepted,
            Refused,
            Other,
        };

        std::ostream& operator<<(std::ostream& out, Answer answer)
        {
            return out << (answer == Answer::Accepted ? "accepted" : answer == Answer::Refused ? "refused" : "neither accepted nor refused");
        }

        /// A raw endpoint that connects to where a grant says the sink listens, with whatever
        /// connection data a test gives it; stays connected while it lives.
        class Caller
        {
        public:
            explicit Caller(RegionGrant const& grant)
                : _info{require(ofi::Info::query(sourceHints(grant.provider, grant.node, grant.service, grant.transfer)), "fi_getinfo")}
                , _fabric{require(ofi::Fabric::open(_info), "fabric")}
                , _events{require(ofi::EventQueue::open(_fabric), "event queue")}
                , _domain{require(ofi::Domain::open(_fabric, _info), "domain")}
                , _cq{require(ofi::CompletionQueue::open(_domain, 64), "completion queue")}
                , _endpoint{require(ofi::Endpoint::open(_domain, _info, ofi::EndpointQueues{_cq, _cq, &_events, nullptr}), "endpoint")}
            {}

            Answer call(std::span<std::byte const> data)
            {
                require(_endpoint.connect(data), "connect");
                auto const deadline = std::chrono::steady_clock::now() + pumpTimeout;
                while (std::chrono::steady_clock::now() < deadline)
                {
                    auto const event = _events.wait(std::chrono::milliseconds{50});
                    if (!event)
                    {
                        continue;
                    }
                    switch (event->kind)
                    {
                        case ofi::CmEventKind::Connected: return Answer::Accepted;
                        case ofi::CmEventKind::Error: return event->error == FI_ECONNREFUSED ? Answer::Refused : Answer::Other;
                        case ofi::CmEventKind::Shutdown: return Answer::Other;
                        default: break;
                    }
                }
                return Answer::Other;
            }

        private:
            ofi::Info _info;
            ofi::Fabric _fabric;
            ofi::EventQueue _events;
            ofi::Domain _domain;
            ofi::CompletionQueue _cq;
            ofi::Endpoint _endpoint;
        };

        Answer call(RegionGrant const& grant, std::span<std::byte const> data)
        {
            return Caller{grant}.call(data);
        }

        std::vector<std::byte> proofOf(ConnectKey const& key, Uuid const& flowId, std::uint64_t epoch)
        {
            auto const proof = require(makeConnectProof(key, flowId, epoch), "connect proof");
            return {proof.begin(), proof.end()};
        }

        std::vector<std::byte> proofOf(RegionGrant const& grant)
        {
            return proofOf(grant.connectKey, grant.flowId, grant.epoch);
        }

        /// Collects what the library logs while it lives (add it before the threads that log start).
        class CapturedLog
        {
        public:
            CapturedLog()
                : _sink{std::make_shared<spdlog::sinks::ostream_sink_mt>(_text)}
            {
                log().sinks().push_back(_sink);
            }

            ~CapturedLog()
            {
                auto& sinks = log().sinks();
                sinks.erase(std::remove(sinks.begin(), sinks.end(), _sink), sinks.end());
            }

            CapturedLog(CapturedLog const&) = delete;
            CapturedLog& operator=(CapturedLog const&) = delete;

            /// The lines that contain text.
            [[nodiscard]] std::vector<std::string> lines(std::string const& text) const
            {
                log().flush();
                std::vector<std::string> found;
                std::istringstream in{_text.str()};
                for (std::string line; std::getline(in, line);)
                {
                    if (line.find(text) != std::string::npos)
                    {
                        found.push_back(line);
                    }
                }
                return found;
            }

            [[nodiscard]] std::string all() const
            {
                log().flush();
                return _text.str();
            }

        private:
            std::ostringstream _text;
            std::shared_ptr<spdlog::sinks::ostream_sink_mt> _sink;
        };

        constexpr char const* refusalLine = "refused a connection to the data endpoint";
    }

    TEST(DataEndpoint, ConnectionWithoutProofIsRefusedAndTheGrantedSourceKeepsReplicating)
    {
        MirrorSession session{"v210"};
        auto const& grant = session.grant();
        auto sender = require(Sender::create(*session.sourceDomain, session.uuid, grant, {}), "sender");
        sender->start();
        auto index = session.source.currentIndex();
        session.source.writeGrain(index);
        ASSERT_EQ(session.sink->verify(index), 0U);

        auto wrongMac = proofOf(grant);
        wrongMac.back() ^= std::byte{0x01};
        auto otherVersion = proofOf(grant);
        otherVersion[0] = std::byte{2};
        auto const otherKey = require(makeConnectKey(), "another key");
        std::vector<std::pair<std::string, std::vector<std::byte>>> const attempts{
            {"no connection data", {}},
            {"a wrong MAC", wrongMac},
            {"a proof for another flow", proofOf(grant.connectKey, randomUuid().value(), grant.epoch)},
            {"a proof for another epoch", proofOf(grant.connectKey, grant.flowId, grant.epoch + 1)},
            {"a proof made with another key", proofOf(otherKey, grant.flowId, grant.epoch)},
            {"a proof cut short", std::vector<std::byte>(wrongMac.begin(), wrongMac.end() - 1)},
            {"a proof of another format version", otherVersion},
            {"a valid proof while the granted source is connected", proofOf(grant)},
        };
        for (auto const& [what, data] : attempts)
        {
            EXPECT_EQ(call(grant, data), Answer::Refused) << what;
            ++index;
            session.source.writeGrain(index);
            EXPECT_EQ(session.sink->verify(index), 0U) << "after " << what;
            EXPECT_TRUE(session.receiver->connected()) << "after " << what;
        }

        sender->stop();
        EXPECT_FALSE(sender->failed()) << sender->counters().lastError;
        EXPECT_EQ(sender->counters().errors, 0U) << sender->counters().lastError;
        auto const counters = session.receiver->counters();
        EXPECT_EQ(counters.refusedConnections, attempts.size());
        EXPECT_EQ(refusals(counters), 0U) << "a refused connection closed the granted source's session";
        EXPECT_GE(counters.grains, attempts.size() + 1);
    }

    TEST(DataEndpoint, ReplayedProofIsRefused)
    {
        MirrorSession session{"v210"};
        auto const proof = proofOf(session.grant());
        {
            Caller first{session.grant()};
            ASSERT_EQ(first.call(proof), Answer::Accepted);
            ASSERT_TRUE(eventually([&] { return session.receiver->connected(); }));
        }
        ASSERT_TRUE(eventually([&] { return !session.receiver->connected(); }));

        EXPECT_EQ(call(session.grant(), proof), Answer::Refused) << "the same connection data a second time";

        EXPECT_EQ(session.receiver->counters().refusedConnections, 1U);
        EXPECT_FALSE(session.receiver->connected());
        expectACorrectSourceReplicatesAfterwards(session);
    }

    TEST(DataEndpoint, ARenewedReceiverRefusesProofsOfTheGrantBefore)
    {
        MirrorSession session{"v210"};
        auto const before = session.grant();
        require(session.receiver->renew(), "renew");
        auto const& after = session.grant();
        ASSERT_NE(after.epoch, before.epoch);
        EXPECT_NE(after.connectKey, before.connectKey) << "a renewed grant has a new connect key";

        EXPECT_EQ(call(after, proofOf(before)), Answer::Refused) << "the earlier grant's proof";
        EXPECT_EQ(call(after, proofOf(before.connectKey, after.flowId, after.epoch)), Answer::Refused) << "the earlier key with the new epoch";

        EXPECT_EQ(session.receiver->counters().refusedConnections, 2U);
        expectACorrectSourceReplicatesAfterwards(session);
    }

    TEST(DataEndpoint, RefusalsAreLoggedAtMostOnceEveryTenSecondsWithoutSecrets)
    {
        CapturedLog captured;
        {
            MirrorSession session{"v210"};
            auto const& grant = session.grant();
            auto forged = proofOf(grant);
            forged[10] ^= std::byte{0x80};

            ASSERT_EQ(call(grant, {}), Answer::Refused);
            auto const firstLine = std::chrono::steady_clock::now();
            for (int i = 0; i < 4; ++i)
            {
                ASSERT_EQ(call(grant, forged), Answer::Refused);
            }
            EXPECT_TRUE(eventually([&] { return session.receiver->counters().refusedConnections == 5; }));
            auto lines = captured.lines(refusalLine);
            ASSERT_EQ(lines.size(), 1U) << captured.all();
            EXPECT_NE(lines[0].find(formatUuid(session.uuid)), std::string::npos) << lines[0];
            EXPECT_NE(lines[0].find("no connection data"), std::string::npos) << lines[0];
            EXPECT_NE(lines[0].find("from 127.0.0.1:"), std::string::npos) << lines[0];

            std::this_thread::sleep_until(firstLine + std::chrono::milliseconds{10'100});
            ASSERT_EQ(call(grant, forged), Answer::Refused);
            // The request is rejected before the line is written.
            EXPECT_TRUE(eventually([&] { return captured.lines(refusalLine).size() == 2; }));
            lines = captured.lines(refusalLine);
            ASSERT_EQ(lines.size(), 2U) << captured.all();
            EXPECT_NE(lines[1].find("bad MAC"), std::string::npos) << lines[1];
            EXPECT_NE(lines[1].find("(4 more refused since the last such line)"), std::string::npos) << lines[1];
            EXPECT_EQ(session.receiver->counters().refusedConnections, 6U);

            auto const text = captured.all();
            std::string hex, hexUpper;
            for (auto const b : grant.connectKey)
            {
                hex += fmt::format("{:02x}", std::to_integer<unsigned>(b));
                hexUpper += fmt::format("{:02X}", std::to_integer<unsigned>(b));
            }
            auto const raw = std::string(reinterpret_cast<char const*>(grant.connectKey.data()), grant.connectKey.size());
            EXPECT_EQ(text.find(hex), std::string::npos) << "the connect key was logged";
            EXPECT_EQ(text.find(hexUpper), std::string::npos) << "the connect key was logged";
            EXPECT_EQ(text.find(raw), std::string::npos) << "the connect key was logged";
        }
    }
}
