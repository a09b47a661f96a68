// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "TestSupport.hpp"
#include "ofi/MemoryRegion.hpp"

namespace mxl::ofi::test
{
    namespace
    {
        struct TcpDomain
        {
            Info info = require(Info::query(tcpListenHints()), "fi_getinfo");
            Fabric fabric = require(Fabric::open(info), "fabric");
            Domain domain = require(Domain::open(fabric, info), "domain");
        };
    }

    TEST(OfiMemoryRegion, RemoteAddressesFollowTheDomainsMrMode)
    {
        auto tcp = TcpDomain{};
        auto memory = std::vector<std::byte>(8192);

        auto const region = require(MemoryRegion::create(tcp.domain, memory, FI_REMOTE_WRITE), "region");

        auto const inside = memory.data() + 100;
        if ((tcp.domain.mrMode() & FI_MR_VIRT_ADDR) != 0)
        {
            EXPECT_EQ(region.remoteAddress(inside), reinterpret_cast<std::uintptr_t>(inside));
        }
        else
        {
            EXPECT_EQ(region.remoteAddress(inside), 100u);
            EXPECT_EQ(region.remoteRegion().address, 0u);
        }
        EXPECT_EQ(region.remoteRegion().length, memory.size());
        EXPECT_EQ(region.remoteRegion().key, region.key());
    }

    TEST(OfiMemoryRegion, KeysChosenByUsAreDistinctAndNotSequential)
    {
        auto tcp = TcpDomain{};
        if ((tcp.domain.mrMode() & FI_MR_PROV_KEY) != 0)
        {
            GTEST_SKIP() << "the provider chooses keys (FI_MR_PROV_KEY)";
        }
        auto memory = std::vector<std::byte>(3 * 4096);
        auto const a = require(MemoryRegion::create(tcp.domain, std::span{memory}.first(4096), FI_REMOTE_WRITE), "a");
        auto const b = require(MemoryRegion::create(tcp.domain, std::span{memory}.subspan(4096, 4096), FI_REMOTE_WRITE), "b");
        auto const c = require(MemoryRegion::create(tcp.domain, std::span{memory}.last(4096), FI_REMOTE_WRITE), "c");

        EXPECT_NE(a.key(), b.key());
        EXPECT_NE(b.key(), c.key());
        EXPECT_FALSE(b.key() == a.key() + 1 && c.key() == b.key() + 1) << "a peer could guess the next region's key";
    }

    TEST(OfiMemoryRegion, RefusesEmptyMemoryAndUnknownAccessFlags)
    {
        auto tcp = TcpDomain{};
        auto memory = std::vector<std::byte>(64);

        auto const empty = MemoryRegion::create(tcp.domain, {}, FI_REMOTE_WRITE);
        auto const noAccess = MemoryRegion::create(tcp.domain, memory, 0);
        auto const unknownAccess = MemoryRegion::create(tcp.domain, memory, FI_REMOTE_WRITE | FI_TAGGED);

        ASSERT_FALSE(empty);
        EXPECT_EQ(empty.error().status, MXL_ERR_INVALID_ARG);
        ASSERT_FALSE(noAccess);
        EXPECT_EQ(noAccess.error().status, MXL_ERR_INVALID_ARG);
        ASSERT_FALSE(unknownAccess);
        EXPECT_EQ(unknownAccess.error().status, MXL_ERR_INVALID_ARG);
    }

    TEST(OfiRemoteRegion, TargetRefusesRangesOutsideTheRegion)
    {
        auto const region = RemoteRegion{1000, 4096, 7};

        EXPECT_EQ(region.target(0, 4096)->address, 1000u);
        EXPECT_EQ(region.target(96, 4000)->address, 1096u);
        EXPECT_EQ(region.target(4096, 0)->address, 5096u);
        EXPECT_FALSE(region.target(1, 4096));
        EXPECT_FALSE(region.target(4097, 0));
        EXPECT_FALSE(region.target(~std::uint64_t{0}, 2));
        EXPECT_FALSE(region.target(2, ~std::uint64_t{0}));
    }
}
