// SPDX-License-Identifier: Apache-2.0
// Addresses as the bridge shows and compares them.
#include <gtest/gtest.h>

#include "control/Network.hpp"

namespace mxl::bridge
{
    namespace
    {
        SocketAddress parsed(char const* text)
        {
            auto address = parseSocketAddress(text);
            EXPECT_TRUE(address) << text << ": " << address.error().message;
            return address ? *address : SocketAddress{};
        }
    }

    TEST(SocketAddress, Ipv4MappedPeersAreShownAndComparedInTheirIpv4Form)
    {
        // What a dual-stack listener ([::]:7400) sees of an IPv4 peer.
        auto const mapped = parsed("[::ffff:10.0.0.1]:7400");
        EXPECT_TRUE(mapped.mappedIpv4());
        EXPECT_EQ(mapped.host(), "10.0.0.1");
        EXPECT_EQ(mapped.text(), "10.0.0.1:7400");
        EXPECT_EQ(mapped.host(), parsed("10.0.0.1:7400").host());
        EXPECT_EQ(mapped.port(), 7400);
    }

    TEST(SocketAddress, Ipv4AndIpv6KeepTheirForms)
    {
        auto const v4 = parsed("192.0.2.7:9400");
        EXPECT_FALSE(v4.mappedIpv4());
        EXPECT_EQ(v4.text(), "192.0.2.7:9400");
        auto const v6 = parsed("[fd00::1]:7400");
        EXPECT_FALSE(v6.mappedIpv4());
        EXPECT_EQ(v6.host(), "fd00::1");
        EXPECT_EQ(v6.text(), "[fd00::1]:7400");
    }

    TEST(SocketAddress, AmbiguousOrNonNumericAddressesAreRefusedNamingTheText)
    {
        // One parser for --listen, --import and --metrics: what it refuses, it refuses for all three.
        for (auto const* text : {"1.2.3:7400", "10.1:7400", "[1.2.3.4]:7400", "::1:7400", "localhost:7400", "[::1]7400", "[::1]:", "10.0.0.1:65536",
                 "10.0.0.1:-1", "10.0.0.1", ""})
        {
            auto const address = parseSocketAddress(text);
            ASSERT_FALSE(address) << text;
            EXPECT_EQ(address.error().status, MXL_ERR_INVALID_ARG);
            EXPECT_NE(address.error().message.find(std::string{"'"} + text + "'"), std::string::npos) << address.error().message;
        }
        EXPECT_EQ(parsed("[::1]:0").text(), "[::1]:0");
        EXPECT_EQ(parsed("0.0.0.0:7400").text(), "0.0.0.0:7400");
    }

    TEST(SocketAddress, ResolveHostTakesNumericHostsAsTheyAreAndNamesThroughTheResolver)
    {
        EXPECT_EQ(resolveHost("10.0.0.1", 7400).value().text(), "10.0.0.1:7400");
        EXPECT_EQ(resolveHost("fd00::1", 7401).value().text(), "[fd00::1]:7401");
        // localhost is in /etc/hosts on every machine this runs on: no DNS server needed.
        auto const local = resolveHost("localhost", 7402);
        ASSERT_TRUE(local) << local.error().message;
        EXPECT_EQ(local->port(), 7402);
        EXPECT_TRUE(local->host() == "127.0.0.1" || local->host() == "::1") << local->host();
        // .invalid never resolves (RFC 6761).
        auto const none = resolveHost("no-such-host.invalid", 7400);
        ASSERT_FALSE(none);
        EXPECT_EQ(none.error().status, MXL_ERR_NOT_FOUND);
        EXPECT_NE(none.error().message.find("no-such-host.invalid"), std::string::npos) << none.error().message;
    }
}
