// SPDX-License-Identifier: Apache-2.0
#include <array>
#include <chrono>
#include <cstring>
#include <span>
#include <vector>
#include <string_view>

#include <gtest/gtest.h>

#include "TestSupport.hpp"
#include "ofi/MemoryRegion.hpp"

namespace mxl::ofi::test
{
    TEST(OfiTcpLoopback, SmallMessageArrivesInRegisteredReceiveBuffer)
    {
        auto connection = Connection{};
        auto& sender = connection.client;
        auto& receiver = connection.server;
        auto inbox = std::vector<std::byte>(4096, std::byte{0});
        auto const message = pattern(200, 5);
        auto const inboxRegion = require(MemoryRegion::create(receiver.domain, inbox, FI_RECV), "receive region");
        auto const messageRegion = require(MemoryRegion::create(sender.domain, message, FI_SEND), "send region");
        int receiveContext = 0;
        int sendContext = 0;

        ASSERT_TRUE(receiver.endpoint->recv(inbox, inboxRegion.desc(), &receiveContext).posted());
        ASSERT_TRUE(sender.endpoint.send(message, messageRegion.desc(), &sendContext).posted());

        auto const& sent = sender.inbox.completions;
        auto const& received = receiver.inbox.completions;
        ASSERT_TRUE(connection.pumpUntil([&] { return sent.total() == 1 && received.total() == 1; }));
        ASSERT_TRUE(sent.errors.empty());
        ASSERT_TRUE(received.errors.empty());
        EXPECT_EQ(sent.entries[0].op_context, &sendContext);
        EXPECT_NE(sent.entries[0].flags & FI_SEND, 0u);
        auto const& arrival = received.entries[0];
        EXPECT_EQ(arrival.op_context, &receiveContext);
        EXPECT_NE(arrival.flags & FI_RECV, 0u);
        EXPECT_NE(arrival.flags & FI_MSG, 0u);
        EXPECT_EQ(arrival.len, message.size());
        EXPECT_EQ(std::memcmp(inbox.data(), message.data(), message.size()), 0);
        EXPECT_EQ(inbox[message.size()], std::byte{0});
    }

    TEST(OfiTcpLoopback, MessageGatheredFromTwoRegionsArrivesAsOne)
    {
        auto connection = Connection{};
        auto& sender = connection.client;
        auto& receiver = connection.server;
        auto inbox = std::vector<std::byte>(4096, std::byte{0});
        auto const header = pattern(64, 1);
        auto const payload = pattern(1000, 2);
        auto const inboxRegion = require(MemoryRegion::create(receiver.domain, inbox, FI_RECV), "receive region");
        auto const headerRegion = require(MemoryRegion::create(sender.domain, header, FI_SEND), "header region");
        auto const payloadRegion = require(MemoryRegion::create(sender.domain, payload, FI_SEND), "payload region");
        auto const parts = std::array<iovec, 2>{{{const_cast<std::byte*>(header.data()), header.size()},
            {const_cast<std::byte*>(payload.data()), payload.size()}}};
        auto descs = std::array<void*, 2>{headerRegion.desc(), payloadRegion.desc()};
        ASSERT_GE(sender.endpoint.transmitIovLimit(), 2U);

        ASSERT_TRUE(receiver.endpoint->recv(inbox, inboxRegion.desc(), nullptr).posted());
        ASSERT_TRUE(sender.endpoint.sendv(parts, descs.data(), nullptr).posted());

        auto const& received = receiver.inbox.completions;
        ASSERT_TRUE(connection.pumpUntil([&] { return sender.inbox.completions.total() == 1 && received.total() == 1; }));
        ASSERT_TRUE(received.errors.empty());
        EXPECT_EQ(received.entries[0].len, header.size() + payload.size());
        EXPECT_EQ(std::memcmp(inbox.data(), header.data(), header.size()), 0);
        EXPECT_EQ(std::memcmp(inbox.data() + header.size(), payload.data(), payload.size()), 0);
    }

    // The send/receive transfer relies on this: a sink with every bounce buffer busy holds the
    // sender back (TCP flow control) instead of dropping or truncating its messages.
    TEST(OfiTcpLoopback, MessagesWaitForReceivesToBePostedAndArriveInOrder)
    {
        constexpr std::size_t count = 8;
        constexpr std::size_t size = 64 * 1024;
        auto connection = Connection{};
        auto& sender = connection.client;
        auto& receiver = connection.server;
        auto const outbox = pattern(count * size, 4);
        auto inbox = std::vector<std::byte>(count * size, std::byte{0});
        auto const outboxRegion = require(MemoryRegion::create(sender.domain, outbox, FI_SEND), "send region");
        auto const inboxRegion = require(MemoryRegion::create(receiver.domain, inbox, FI_RECV), "receive region");
        for (std::size_t i = 0; i < count; ++i)
        {
            ASSERT_TRUE(sender.endpoint.send(std::span{outbox}.subspan(i * size, size), outboxRegion.desc(), nullptr).posted());
        }

        auto const& received = receiver.inbox.completions;
        EXPECT_FALSE(connection.pumpUntil([&] { return received.total() > 0; }, std::chrono::milliseconds{300}));
        for (std::size_t i = 0; i < count; ++i)
        {
            ASSERT_TRUE(receiver.endpoint->recv(std::span{inbox}.subspan(i * size, size), inboxRegion.desc(), nullptr).posted());
        }

        ASSERT_TRUE(connection.pumpUntil([&] { return received.total() == count && sender.inbox.completions.total() == count; }));
        EXPECT_TRUE(received.errors.empty());
        EXPECT_TRUE(sender.inbox.completions.errors.empty());
        EXPECT_EQ(inbox, outbox);
    }

    TEST(OfiTcpLoopback, GatherBeyondTheIovLimitIsRefusedWithoutPosting)
    {
        auto connection = Connection{};
        auto const data = pattern(64, 3);
        auto const parts = std::vector<iovec>(connection.client.endpoint.transmitIovLimit() + 1, iovec{const_cast<std::byte*>(data.data()), 1});
        auto descs = std::vector<void*>(parts.size(), nullptr);

        auto const result = connection.client.endpoint.sendv(parts, descs.data(), nullptr);

        EXPECT_FALSE(result.posted());
        EXPECT_EQ(result.error(), FI_EINVAL);
    }
}
