// SPDX-License-Identifier: Apache-2.0
// The command ring under several producers (threads and processes), a flooding client, and clients
// that wait for replies, give up, die or lie about who they are.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include <signal.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include "remote/CommandChannel.hpp"
#include "support/ChildProcess.hpp"
#include "support/TestDomain.hpp"

namespace mxl::fabric::remote
{
    namespace
    {
        using namespace std::chrono_literals;
        using test::ChildProcess;
        using test::TestDomain;

        /// Lease ids carry their producer and sequence: producer << 32 | n, n from 1.
        std::uint64_t leaseOf(std::uint64_t producer, std::uint64_t n)
        {
            return producer << 32 | n;
        }

        /// Sends count Release requests from this process, retrying a full ring.
        bool produce(std::filesystem::path const& domain, std::uint64_t producer, std::uint64_t count)
        {
            auto client = CommandClient::open(domain);
            if (!client)
            {
                return false;
            }
            for (std::uint64_t n = 1; n <= count; ++n)
            {
                if (!client->send(ReleaseRequest{leaseOf(producer, n)}, 20s))
                {
                    return false;
                }
            }
            return true;
        }

        /// Takes requests until count came or timeout; checks that each producer's come in order
        /// and that none is lost or duplicated.
        void consumeExactly(CommandServer& server, std::map<std::uint64_t, std::uint64_t> const& expected, std::chrono::seconds timeout = 60s)
        {
            std::uint64_t total = 0;
            for (auto const& [p, n] : expected)
            {
                total += n;
            }
            std::map<std::uint64_t, std::uint64_t> last;
            std::uint64_t seen = 0;
            Received batch;
            auto const until = std::chrono::steady_clock::now() + timeout;
            while (seen < total && std::chrono::steady_clock::now() < until)
            {
                server.receive(batch, 100ms);
                ASSERT_TRUE(batch.refusals.empty()) << batch.refusals.front().reason;
                for (auto const& r : batch.requests)
                {
                    auto const lease = std::get<ReleaseRequest>(r.body).leaseId;
                    auto const producer = lease >> 32;
                    auto const n = lease & 0xFFFF'FFFFU;
                    ASSERT_EQ(n, last[producer] + 1) << "producer " << producer << ": lost or duplicated";
                    last[producer] = n;
                    ++seen;
                }
            }
            EXPECT_EQ(seen, total);
            for (auto const& [p, n] : expected)
            {
                EXPECT_EQ(last[p], n) << "producer " << p;
            }
        }

        ServerOptions unlimited()
        {
            ServerOptions o;
            o.ring = RingOptions{64, 16, 2s};
            o.ratePerClient = 1e12;
            o.burstPerClient = 1e12;
            o.rateTotal = 1e12;
            o.burstTotal = 1e12;
            return o;
        }
    }

    TEST(CommandRingConcurrency, FourProducerThreadsLoseAndDuplicateNothing)
    {
        TestDomain domain;
        auto server = CommandServer::create(domain.path(), unlimited());
        ASSERT_TRUE(server) << server.error().message;
        constexpr std::uint64_t perProducer = 20000;
        std::atomic<int> failures{0};
        std::vector<std::thread> producers;
        std::map<std::uint64_t, std::uint64_t> expected;
        for (std::uint64_t p = 1; p <= 4; ++p)
        {
            expected[p] = perProducer;
            producers.emplace_back([&, p] {
                if (!produce(domain.path(), p, perProducer))
                {
                    ++failures;
                }
            });
        }
        consumeExactly(*server, expected);
        for (auto& t : producers)
        {
            t.join();
        }
        EXPECT_EQ(failures.load(), 0);
    }

    TEST(CommandRingConcurrency, ProducerProcessesLoseAndDuplicateNothing)
    {
        TestDomain domain;
        auto server = CommandServer::create(domain.path(), unlimited());
        ASSERT_TRUE(server) << server.error().message;
        constexpr std::uint64_t perProducer = 20000;
        std::vector<std::unique_ptr<ChildProcess>> children;
        std::map<std::uint64_t, std::uint64_t> expected;
        for (std::uint64_t p = 1; p <= 3; ++p)
        {
            expected[p] = perProducer;
            children.push_back(std::make_unique<ChildProcess>([&, p] { return produce(domain.path(), p, perProducer) ? 0 : 1; }));
        }
        consumeExactly(*server, expected);
        for (auto& c : children)
        {
            EXPECT_EQ(c->wait(), 0);
        }
    }

    TEST(CommandRingConcurrency, FloodingClientIsRateLimitedAndOthersGetThrough)
    {
        TestDomain domain;
        ServerOptions options;
        options.ring = RingOptions{64, 16, 2s};
        options.ratePerClient = 50;
        options.burstPerClient = 10;
        auto server = CommandServer::create(domain.path(), options);
        ASSERT_TRUE(server) << server.error().message;

        // The flood: another process sending as fast as the ring takes it.
        ChildProcess flood{[&] {
            auto client = CommandClient::open(domain.path());
            for (std::uint64_t n = 1; client && n < 100'000'000; ++n)
            {
                [[maybe_unused]] auto sent = client->send(ReleaseRequest{n}, 1ms);
            }
            return 0;
        }};
        // Polite clients (threads of this process: one pid, one allowance) ask and wait for replies.
        std::atomic<int> answered{0};
        std::atomic<int> failed{0};
        std::thread polite{[&] {
            auto client = CommandClient::open(domain.path());
            for (int i = 0; client && i < 5; ++i)
            {
                auto reply = client->release(1000 + static_cast<std::uint64_t>(i), 20s);
                (reply && reply->status == ReplyStatus::Ok ? answered : failed)++;
                std::this_thread::sleep_for(20ms);
            }
        }};
        std::uint64_t floodRefused = 0;
        std::uint64_t floodPassed = 0;
        Received batch;
        auto const until = std::chrono::steady_clock::now() + 60s;
        // Until the polite client is done and the flood has been at it for a while (on a loaded
        // host the flooding process may start late).
        while ((answered + failed < 5 || floodRefused < 1000) && std::chrono::steady_clock::now() < until)
        {
            server->receive(batch, 50ms);
            for (auto const& r : batch.requests)
            {
                if (r.client.pid == static_cast<std::uint32_t>(flood.pid()))
                {
                    ++floodPassed;
                }
                EXPECT_TRUE(server->reply(r, ReplyStatus::Ok, 0, ""));
            }
            for (auto const& f : batch.refusals)
            {
                EXPECT_EQ(f.client.pid, static_cast<std::uint32_t>(flood.pid())) << f.reason;
                EXPECT_EQ(f.status, ReplyStatus::Busy);
                ++floodRefused;
            }
        }
        polite.join();
        flood.kill(SIGKILL);
        EXPECT_EQ(answered.load(), 5);
        EXPECT_GE(floodRefused, 1000U);
        EXPECT_GT(floodRefused, floodPassed);
    }

    TEST(CommandRingConcurrency, ClientGetsItsReplyAndALateReplyIsRefused)
    {
        TestDomain domain;
        auto server = CommandServer::create(domain.path());
        ASSERT_TRUE(server) << server.error().message;
        std::thread bridge{[&] {
            Received batch;
            for (int handled = 0; handled < 2;)
            {
                server->receive(batch, 1s);
                for (auto const& r : batch.requests)
                {
                    ++handled;
                    if (r.kind() == RequestKind::Acquire)
                    {
                        EXPECT_EQ(std::get<AcquireRequest>(r.body).host, "host-b");
                        EXPECT_TRUE(server->reply(r, ReplyStatus::NotFound, 0, "no flow like that on host-b"));
                    }
                    else
                    {
                        // The client gives up before this reply: the bridge learns it.
                        std::this_thread::sleep_for(300ms);
                        EXPECT_FALSE(server->reply(r, ReplyStatus::Ok, 0, ""));
                    }
                }
            }
        }};
        auto client = CommandClient::open(domain.path());
        ASSERT_TRUE(client) << client.error().message;
        Uuid flow{};
        flow[0] = 1;
        auto reply = client->acquire("host-b", 7400, flow, 1000);
        ASSERT_TRUE(reply) << reply.error().message;
        EXPECT_EQ(reply->status, ReplyStatus::NotFound);
        EXPECT_EQ(toStatus(reply->status), MXL_ERR_NOT_FOUND);
        EXPECT_EQ(reply->reason, "no flow like that on host-b");

        auto late = client->release(5, 50ms);
        ASSERT_FALSE(late);
        EXPECT_EQ(late.error().status, MXL_ERR_TIMEOUT);
        bridge.join();

        auto bad = client->acquire("bad/host", 7400, flow, 1000);
        ASSERT_FALSE(bad);
        EXPECT_EQ(bad.error().status, MXL_ERR_INVALID_ARG);
        EXPECT_NE(bad.error().message.find("'host'"), std::string::npos);
    }

    TEST(CommandRingConcurrency, DeadClientsReplySlotIsReclaimed)
    {
        TestDomain domain;
        auto server = CommandServer::create(domain.path(), ServerOptions{RingOptions{16, 1, 1s}});
        ASSERT_TRUE(server) << server.error().message;
        ChildProcess child{[&] {
            auto client = CommandClient::open(domain.path());
            [[maybe_unused]] auto r = client ? client->release(1, 60s) : Expected<Reply>{fail(MXL_ERR_UNKNOWN, "")};
            return 0;
        }};
        Received batch;
        for (int attempt = 0; attempt < 30 && batch.requests.empty(); ++attempt)
        {
            server->receive(batch, 1s);
        }
        ASSERT_EQ(batch.requests.size(), 1U);
        auto const request = batch.requests.front();
        EXPECT_EQ(request.client.pid, static_cast<std::uint32_t>(child.pid()));
        child.kill(SIGKILL);
        EXPECT_FALSE(child.wait().has_value());

        // The only reply slot is the dead client's: a new client finds none until it is reclaimed.
        auto other = CommandClient::open(domain.path());
        ASSERT_TRUE(other);
        auto none = other->release(2, 10ms);
        ASSERT_FALSE(none);
        EXPECT_EQ(none.error().status, MXL_ERR_NOT_READY);
        EXPECT_TRUE(server->reclaimDeadClients().empty()); // first sight
        auto const reclaimed = server->reclaimDeadClients();
        ASSERT_EQ(reclaimed.size(), 1U);
        EXPECT_EQ(reclaimed.front(), request.client);
        EXPECT_FALSE(server->reply(request, ReplyStatus::Ok, 1, "")); // nobody waits for it
        EXPECT_TRUE(other->ring().claimReply(other->identity()).has_value());
    }

    TEST(CommandRingConcurrency, ForgedIdentityIsRefusedWithPermissionDenied)
    {
        TestDomain domain;
        auto server = CommandServer::create(domain.path());
        ASSERT_TRUE(server) << server.error().message;
        auto client = CommandClient::open(domain.path());
        ASSERT_TRUE(client);
        auto& ring = client->ring();
        auto ticket = ring.claimReply(client->identity());
        ASSERT_TRUE(ticket);
        // This process's pid with another start time: a forgery (or a reused pid).
        Request const forged{{client->identity().pid, client->identity().startTime + 5}, 1, ticket->slot, ticket->generation, ReleaseRequest{3}};
        auto claim = ring.tryClaim();
        ASSERT_TRUE(claim);
        encodeRequest(forged, claim->position, claim->entry());
        ASSERT_EQ(ring.publish(*claim), PublishStatus::Published);
        Received batch;
        server->receive(batch, 1s);
        EXPECT_TRUE(batch.requests.empty());
        ASSERT_EQ(batch.refusals.size(), 1U);
        EXPECT_EQ(batch.refusals.front().status, ReplyStatus::PermissionDenied);
        EXPECT_NE(batch.refusals.front().reason.find("forged"), std::string::npos);
        auto reply = ring.waitReply(*ticket, 1s);
        ASSERT_TRUE(reply) << reply.error().message;
        EXPECT_EQ(toStatus(reply->status), MXL_ERR_PERMISSION_DENIED);

        // And the real identity passes.
        ASSERT_TRUE(client->send(ReleaseRequest{4}, 1s));
        server->receive(batch, 1s);
        EXPECT_EQ(batch.requests.size(), 1U);
    }

    TEST(CommandRingConcurrency, ManyClientsTogetherAreHeldToTheTotalRate)
    {
        TestDomain domain;
        ServerOptions options;
        options.ring = RingOptions{64, 16, 2s};
        options.verifyClients = false; // the pids below are made up: each a client of its own
        options.rateTotal = 1;         // a token a second: the burst is all this test sees
        options.burstTotal = 5;
        auto server = CommandServer::create(domain.path(), options);
        ASSERT_TRUE(server) << server.error().message;
        auto producer = CommandRing::open(domain.path());
        ASSERT_TRUE(producer);
        for (std::uint32_t pid = 100; pid < 120; ++pid)
        {
            auto claim = producer->tryClaim();
            ASSERT_TRUE(claim);
            encodeRequest(Request{{pid, 1}, 1, noReply, 0, ReleaseRequest{pid}}, claim->position, claim->entry());
            ASSERT_EQ(producer->publish(*claim), PublishStatus::Published);
        }
        Received batch;
        std::size_t passed = 0;
        std::size_t refused = 0;
        for (auto const until = std::chrono::steady_clock::now() + 5s; passed + refused < 20 && std::chrono::steady_clock::now() < until;)
        {
            server->receive(batch, 50ms);
            passed += batch.requests.size();
            for (auto const& f : batch.refusals)
            {
                EXPECT_EQ(f.status, ReplyStatus::Busy);
                EXPECT_NE(f.reason.find("from all clients"), std::string::npos) << f.reason;
                ++refused;
            }
        }
        EXPECT_EQ(passed, 5U) << "each client is within its own rate; together they are not";
        EXPECT_EQ(refused, 15U);
    }
}
