// SPDX-License-Identifier: Apache-2.0
#include <chrono>

#include <gtest/gtest.h>

#include "TestSupport.hpp"

namespace mxl::ofi::test
{
    TEST(OfiTcpConnection, PassiveEndpointOnServiceZeroReportsItsBoundPort)
    {
        auto server = Server{};

        auto const port = require(server.listener.port(), "port");

        EXPECT_NE(port, 0);
        EXPECT_EQ(server.info.providerName(), "tcp");
        EXPECT_EQ(server.info.endpointType(), FI_EP_MSG);
    }

    TEST(OfiTcpConnection, ClientAndServerBothSeeConnectedThroughEventQueueFds)
    {
        auto server = Server{};
        auto client = Client{require(server.listener.port(), "port")};
        auto const both = std::vector{server.watched(), client.watched()};

        require(client.endpoint.connect(), "connect");
        ASSERT_TRUE(pumpUntil(both, [&] { return server.inbox.find(CmEventKind::ConnectionRequest, server.listener.fid()) != nullptr; }));
        server.accept();
        ASSERT_TRUE(pumpUntil(both, [&] {
            return server.inbox.find(CmEventKind::Connected, server.endpoint->fid()) != nullptr &&
                   client.inbox.find(CmEventKind::Connected, client.endpoint.fid()) != nullptr;
        }));

        EXPECT_EQ(server.inbox.find(CmEventKind::Connected, server.endpoint->fid())->code, FI_CONNECTED);
        EXPECT_EQ(client.inbox.find(CmEventKind::Error, client.endpoint.fid()), nullptr);
    }

    TEST(OfiTcpConnection, ConnectionDataReachesTheListenerIntact)
    {
        // 49 bytes is a data endpoint's connect proof, 56 the most verbs' rdma_cm carries, 256 the
        // most tcp carries (and what EventQueue::read leaves room for).
        for (std::size_t const size : {std::size_t{1}, std::size_t{49}, std::size_t{56}, std::size_t{256}})
        {
            auto server = Server{};
            auto client = Client{require(server.listener.port(), "port")};
            auto const both = std::vector{server.watched(), client.watched()};
            auto const data = pattern(size, static_cast<std::uint8_t>(size));

            require(client.endpoint.connect(data), "connect");

            ASSERT_TRUE(pumpUntil(both, [&] { return server.inbox.find(CmEventKind::ConnectionRequest, server.listener.fid()) != nullptr; }));
            EXPECT_EQ(server.inbox.find(CmEventKind::ConnectionRequest, server.listener.fid())->data, data) << size << " bytes";
        }
    }

    TEST(OfiTcpConnection, AConnectionRequestWithoutDataCarriesNone)
    {
        auto server = Server{};
        auto client = Client{require(server.listener.port(), "port")};
        auto const both = std::vector{server.watched(), client.watched()};

        require(client.endpoint.connect(), "connect");

        ASSERT_TRUE(pumpUntil(both, [&] { return server.inbox.find(CmEventKind::ConnectionRequest, server.listener.fid()) != nullptr; }));
        EXPECT_TRUE(server.inbox.find(CmEventKind::ConnectionRequest, server.listener.fid())->data.empty());
        server.accept();
        ASSERT_TRUE(pumpUntil(both, [&] { return client.inbox.find(CmEventKind::Connected, client.endpoint.fid()) != nullptr; }));
        EXPECT_TRUE(client.inbox.find(CmEventKind::Connected, client.endpoint.fid())->data.empty()) << "fi_accept sent none";
    }

    TEST(OfiTcpConnection, EventQueueWaitTimesOutWhenNothingHappens)
    {
        auto server = Server{};
        auto const started = std::chrono::steady_clock::now();

        auto const event = server.events.wait(100ms);

        auto const elapsed = std::chrono::steady_clock::now() - started;
        ASSERT_FALSE(event);
        EXPECT_EQ(event.error().status, MXL_ERR_TIMEOUT);
        EXPECT_GE(elapsed, 100ms);
        EXPECT_LT(elapsed, 10s) << "the wait did not return at its timeout";
    }

    TEST(OfiTcpConnection, ClientShutdownReachesServerAsShutdownEvent)
    {
        auto connection = Connection{};

        require(connection.client.endpoint.shutdown(), "shutdown");

        auto& server = connection.server;
        EXPECT_TRUE(connection.pumpUntil([&] { return server.inbox.find(CmEventKind::Shutdown, server.endpoint->fid()) != nullptr; }));
    }

    TEST(OfiTcpConnection, RejectedConnectionRequestReachesClientAsErrorEvent)
    {
        auto server = Server{};
        auto client = Client{require(server.listener.port(), "port")};
        auto const both = std::vector{server.watched(), client.watched()};
        require(client.endpoint.connect(), "connect");
        ASSERT_TRUE(pumpUntil(both, [&] { return server.inbox.find(CmEventKind::ConnectionRequest, server.listener.fid()) != nullptr; }));

        require(server.listener.reject(*server.inbox.find(CmEventKind::ConnectionRequest, server.listener.fid())->info), "reject");

        ASSERT_TRUE(pumpUntil(both, [&] { return client.inbox.find(CmEventKind::Error, client.endpoint.fid()) != nullptr; }));
        auto const* error = client.inbox.find(CmEventKind::Error, client.endpoint.fid());
        EXPECT_EQ(error->error, FI_ECONNREFUSED) << error->message;
        EXPECT_EQ(client.inbox.find(CmEventKind::Connected, client.endpoint.fid()), nullptr);
    }

    TEST(OfiTcpConnection, ConnectingToAPortNobodyListensOnReportsAnErrorEvent)
    {
        auto const port = require(Server{}.listener.port(), "port");
        auto client = Client{port};

        require(client.endpoint.connect(), "connect");

        auto const event = require(client.events.wait(kTimeout), "client event");
        EXPECT_EQ(event.kind, CmEventKind::Error);
        EXPECT_EQ(event.fid, client.endpoint.fid());
        EXPECT_NE(event.error, 0) << event.message;
    }
}
