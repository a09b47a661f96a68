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
        // Connection throws unless the request, the accept and both FI_CONNECTED events arrive,
        // each found by polling the event queues' wait fds.
        auto const started = std::chrono::steady_clock::now();
        auto connection = Connection{};

        EXPECT_TRUE(connection.server.endpoint.has_value());
        EXPECT_LT(std::chrono::steady_clock::now() - started, kTimeout);
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
        EXPECT_LT(elapsed, 2s);
    }

    TEST(OfiTcpConnection, ClientShutdownReachesServerAsShutdownEvent)
    {
        auto connection = Connection{};

        require(connection.client.endpoint.shutdown(), "shutdown");

        auto const event = awaitEvent(connection.server.events, CmEventKind::Shutdown, connection.server.endpoint->fid());
        EXPECT_EQ(event.code, FI_SHUTDOWN);
    }

    TEST(OfiTcpConnection, RejectedConnectionRequestReachesClientAsErrorEvent)
    {
        auto server = Server{};
        auto client = Client{require(server.listener.port(), "port")};
        require(client.endpoint.connect(), "connect");

        auto request = awaitEvent(server.events, CmEventKind::ConnectionRequest, server.listener.fid());
        require(server.listener.reject(*request.info), "reject");

        auto const event = require(client.events.wait(kTimeout), "client event");
        EXPECT_EQ(event.kind, CmEventKind::Error);
        EXPECT_EQ(event.fid, client.endpoint.fid());
        EXPECT_EQ(event.error, FI_ECONNREFUSED) << event.message;
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
