// SPDX-License-Identifier: Apache-2.0
#include <algorithm>

#include <gtest/gtest.h>

#include "TestSupport.hpp"
#include "ofi/MemoryRegion.hpp"
#include "ofi/Provider.hpp"

namespace mxl::ofi::test
{
    TEST(OfiProvider, TcpIsListedAsAvailable)
    {
        auto const providers = availableProviders();

        ASSERT_TRUE(providers) << providers.error().message;
        EXPECT_NE(std::ranges::find(providers.value(), Provider::Tcp), providers.value().end()) << formatProviderList(providers.value());
    }

    TEST(OfiProvider, NamesRoundTripThroughParseAndFormat)
    {
        for (auto const provider : kAllProviders)
        {
            EXPECT_EQ(parseProvider(providerName(provider)), provider);
        }
        EXPECT_EQ(parseProvider("VERBS"), Provider::Verbs);
        EXPECT_FALSE(parseProvider("tcp;ofi_rxm"));

        auto const list = parseProviderList("verbs,tcp");
        ASSERT_TRUE(list) << list.error().message;
        EXPECT_EQ(list.value(), (std::vector{Provider::Verbs, Provider::Tcp}));
        EXPECT_EQ(formatProviderList(list.value()), "verbs,tcp");
        EXPECT_TRUE(parseProviderList("").value().empty());
    }

    TEST(OfiProvider, ProviderListRefusesUnknownDuplicateAndEmptyNames)
    {
        for (auto const* bad : {"tcp,psm3", "tcp,tcp", "tcp,", ",tcp", "tcp,,shm"})
        {
            auto const list = parseProviderList(bad);
            ASSERT_FALSE(list) << bad;
            EXPECT_EQ(list.error().status, MXL_ERR_INVALID_ARG);
        }
    }

    TEST(OfiProvider, UnknownProviderIsReportedAsNoFabric)
    {
        auto const info = Info::query(Hints{}.provider("no-such-provider"));

        ASSERT_FALSE(info);
        EXPECT_EQ(info.error().status, MXL_ERR_NO_FABRIC);
        EXPECT_NE(info.error().message.find("fi_getinfo"), std::string::npos) << info.error().message;
        EXPECT_NE(info.error().message.find("no-such-provider"), std::string::npos) << info.error().message;
    }

    TEST(OfiProvider, TcpImposesOnlyRegistrationModesWeImplement)
    {
        auto const info = require(Info::query(tcpListenHints()), "fi_getinfo");

        EXPECT_EQ(info.mrMode() & ~kSupportedMrModes, 0u);
        EXPECT_EQ(info.mode() & ~kSupportedModes, 0u);
        EXPECT_GE(info.cqDataSize(), 4u);
        EXPECT_GT(info.maxMessageSize(), 0u);
        EXPECT_GT(info.transmitSize(), 0u);
        EXPECT_GT(info.receiveSize(), 0u);
        EXPECT_GE(info.transmitIovLimit(), 1u);
        EXPECT_GE(info.rmaIovLimit(), 1u);
    }

    TEST(OfiVerbs, DomainOpensAndRegistersMemoryWhereAVerbsDeviceExists)
    {
        auto const providers = require(availableProviders(), "provider listing");
        if (std::ranges::find(providers, Provider::Verbs) == providers.end())
        {
            GTEST_SKIP() << "no verbs device (or no verbs provider in this libfabric build): fi_getinfo with provider verbs and FI_RMA "
                            "found nothing; load rdma_rxe or use an RDMA NIC to run this test";
        }
        auto const info = require(Info::query(Hints{}.provider(Provider::Verbs)), "verbs fi_getinfo");
        auto fabric = require(Fabric::open(info), "verbs fabric");
        auto domain = require(Domain::open(fabric, info), "verbs domain");
        auto buffer = std::vector<std::byte>(4096);

        auto const region = MemoryRegion::create(domain, buffer, FI_REMOTE_WRITE);

        ASSERT_TRUE(region) << region.error().message;
        EXPECT_EQ(region->remoteRegion().length, buffer.size());
    }
}
