// SPDX-License-Identifier: Apache-2.0
#include <cstring>
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
}
