// SPDX-License-Identifier: Apache-2.0
// mxlFabricsGetInterfaces on this host's real libfabric (tcp is everywhere; verbs, efa and shm when
// present), its filters, and the list's ownership.
#include <array>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "FabricsTestSupport.hpp"

namespace
{
    using FabricsInterfaces = mxl::test::FabricsFixture;

    struct Entry
    {
        mxlFabricsProvider provider;
        std::string node;
        std::string service;
        std::uint64_t flags;
        std::uint64_t maxMessageSize;
        std::string attr;
    };

    /// The list's entries, copied; checks what every entry must hold on the way.
    std::vector<Entry> entriesOf(mxlFabricsInterfaceList const* list)
    {
        std::vector<Entry> entries;
        for (auto const* it = list; it != nullptr; it = it->next)
        {
            auto const& i = it->interface;
            EXPECT_EQ(i.version, MXL_FABRICS_API_VERSION);
            EXPECT_EQ(i.caps.version, MXL_FABRICS_API_VERSION);
            EXPECT_NE(i.address.node, nullptr);
            EXPECT_NE(i.address.service, nullptr);
            if (i.address.node == nullptr || i.address.service == nullptr)
            {
                continue;
            }
            entries.push_back({i.provider, i.address.node, i.address.service, i.caps.flags, i.caps.maxMessageSize, i.attr != nullptr ? i.attr : ""});
        }
        return entries;
    }

    mxlFabricsInterfaceConfig query(mxlFabricsProvider provider, char const* node = nullptr)
    {
        mxlFabricsInterfaceConfig q{};
        q.version = MXL_FABRICS_API_VERSION;
        q.provider = provider;
        q.caps.version = MXL_FABRICS_API_VERSION;
        q.address.node = node;
        return q;
    }

    TEST_F(FabricsInterfaces, TcpOnLoopbackWritesSendsAndBlocks)
    {
        auto const q = query(MXL_FABRICS_PROVIDER_TCP, "127.0.0.1");
        mxlFabricsInterfaceList* list = nullptr;
        ASSERT_EQ(mxlFabricsGetInterfaces(fabrics, &q, &list), MXL_STATUS_OK);
        ASSERT_NE(list, nullptr);
        auto const entries = entriesOf(list);
        ASSERT_EQ(entries.size(), 1U) << "one entry per provider and address";
        auto const& e = entries.front();
        EXPECT_EQ(e.provider, MXL_FABRICS_PROVIDER_TCP);
        EXPECT_EQ(e.node, "127.0.0.1");
        EXPECT_EQ(e.service, "");
        // libfabric 1.17's tcp: RMA with 8 bytes of CQ data, messages, and completion queues with a wait fd.
        EXPECT_EQ(e.flags, std::uint64_t{MXL_FABRICS_IFACE_CAP_REMOTE_WRITE | MXL_FABRICS_IFACE_CAP_SEND_RECEIVE |
                                         MXL_FABRICS_IFACE_CAP_BLOCKING_OPERATIONS});
        EXPECT_GE(e.maxMessageSize, std::uint64_t{1} << 20);
        auto const attr = nlohmann::json::parse(e.attr, nullptr, false);
        ASSERT_TRUE(attr.is_object()) << e.attr;
        EXPECT_EQ(attr.value("endpointType", ""), "msg");
        EXPECT_EQ(attr.value("domain", ""), "lo");
        EXPECT_EQ(mxlFabricsFreeInterfaceList(list), MXL_STATUS_OK);
    }

    TEST_F(FabricsInterfaces, UnfilteredListHasLoopbackTcpAndNoDuplicates)
    {
        auto const any = query(MXL_FABRICS_PROVIDER_ANY);
        for (auto const* q : {static_cast<mxlFabricsInterfaceConfig const*>(nullptr), &any})
        {
            mxlFabricsInterfaceList* list = nullptr;
            ASSERT_EQ(mxlFabricsGetInterfaces(fabrics, q, &list), MXL_STATUS_OK);
            auto const entries = entriesOf(list);
            std::set<std::tuple<int, std::string, std::string>> seen;
            bool loopbackTcp = false;
            for (auto const& e : entries)
            {
                EXPECT_TRUE(seen.emplace(e.provider, e.node, e.service).second) << "listed twice: " << e.provider << " " << e.node;
                EXPECT_NE(e.provider, MXL_FABRICS_PROVIDER_ANY);
                EXPECT_LE(static_cast<int>(e.provider), static_cast<int>(MXL_FABRICS_PROVIDER_SHM));
                loopbackTcp = loopbackTcp || (e.provider == MXL_FABRICS_PROVIDER_TCP && e.node == "127.0.0.1");
            }
            EXPECT_TRUE(loopbackTcp);
            EXPECT_EQ(mxlFabricsFreeInterfaceList(list), MXL_STATUS_OK);
        }
    }

    TEST_F(FabricsInterfaces, FiltersByProvider)
    {
        std::array<char, 256> host{};
        ASSERT_EQ(::gethostname(host.data(), host.size() - 1), 0);
        for (auto const provider : {MXL_FABRICS_PROVIDER_TCP, MXL_FABRICS_PROVIDER_VERBS, MXL_FABRICS_PROVIDER_EFA, MXL_FABRICS_PROVIDER_SHM})
        {
            auto const q = query(provider);
            mxlFabricsInterfaceList* list = nullptr;
            ASSERT_EQ(mxlFabricsGetInterfaces(fabrics, &q, &list), MXL_STATUS_OK) << provider;
            auto const entries = entriesOf(list);
            for (auto const& e : entries)
            {
                EXPECT_EQ(e.provider, provider);
                if (provider == MXL_FABRICS_PROVIDER_SHM)
                {
                    EXPECT_EQ(e.node, host.data()) << "shm has no IP address: the host's name stands for it";
                }
            }
            if (provider == MXL_FABRICS_PROVIDER_TCP)
            {
                EXPECT_FALSE(entries.empty());
            }
            EXPECT_EQ(mxlFabricsFreeInterfaceList(list), MXL_STATUS_OK);
        }
    }

    TEST_F(FabricsInterfaces, FiltersByAddress)
    {
        // 192.0.2.254 (TEST-NET-1) is on no interface of a test host: nothing, and no error.
        auto q = query(MXL_FABRICS_PROVIDER_ANY, "192.0.2.254");
        mxlFabricsInterfaceList* list = nullptr;
        ASSERT_EQ(mxlFabricsGetInterfaces(fabrics, &q, &list), MXL_STATUS_OK);
        EXPECT_EQ(list, nullptr);
        EXPECT_EQ(mxlFabricsFreeInterfaceList(list), MXL_STATUS_OK);
        // An empty node filters nothing, like NULL.
        q = query(MXL_FABRICS_PROVIDER_TCP, "");
        ASSERT_EQ(mxlFabricsGetInterfaces(fabrics, &q, &list), MXL_STATUS_OK);
        EXPECT_GT(entriesOf(list).size(), 0U);
        EXPECT_EQ(mxlFabricsFreeInterfaceList(list), MXL_STATUS_OK);
        // The service is no filter: an interface has no port yet.
        q = query(MXL_FABRICS_PROVIDER_TCP, "127.0.0.1");
        q.address.service = "7400";
        ASSERT_EQ(mxlFabricsGetInterfaces(fabrics, &q, &list), MXL_STATUS_OK);
        EXPECT_EQ(entriesOf(list).size(), 1U);
        EXPECT_EQ(mxlFabricsFreeInterfaceList(list), MXL_STATUS_OK);
    }

    TEST_F(FabricsInterfaces, RefusesBadQueriesAndHandles)
    {
        mxlFabricsInterfaceList* list = nullptr;
        auto q = query(MXL_FABRICS_PROVIDER_TCP);
        EXPECT_EQ(mxlFabricsGetInterfaces(nullptr, &q, &list), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(mxlFabricsGetInterfaces(fabrics, &q, nullptr), MXL_ERR_INVALID_ARG);
        q.version = 1;
        EXPECT_EQ(mxlFabricsGetInterfaces(fabrics, &q, &list), MXL_ERR_INVALID_ARG);
        q = query(MXL_FABRICS_PROVIDER_TCP);
        q.caps.version = 1;
        EXPECT_EQ(mxlFabricsGetInterfaces(fabrics, &q, &list), MXL_ERR_INVALID_ARG);
        q = query(static_cast<mxlFabricsProvider>(5));
        EXPECT_EQ(mxlFabricsGetInterfaces(fabrics, &q, &list), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(list, nullptr);
        mxlFabricsTarget target = nullptr;
        ASSERT_EQ(mxlFabricsCreateTarget(fabrics, &target), MXL_STATUS_OK);
        q = query(MXL_FABRICS_PROVIDER_TCP);
        EXPECT_EQ(mxlFabricsGetInterfaces(reinterpret_cast<mxlFabricsInstance>(target), &q, &list), MXL_ERR_INVALID_ARG);
    }

    TEST_F(FabricsInterfaces, FreeTakesOnlyListsItHandedOutOnce)
    {
        auto const q = query(MXL_FABRICS_PROVIDER_TCP);
        mxlFabricsInterfaceList* list = nullptr;
        ASSERT_EQ(mxlFabricsGetInterfaces(fabrics, &q, &list), MXL_STATUS_OK);
        ASSERT_NE(list, nullptr);
        if (list->next != nullptr)
        {
            EXPECT_EQ(mxlFabricsFreeInterfaceList(list->next), MXL_ERR_INVALID_ARG) << "the middle of a list";
        }
        mxlFabricsInterfaceList own{};
        EXPECT_EQ(mxlFabricsFreeInterfaceList(&own), MXL_ERR_INVALID_ARG) << "the application's own struct";
        // Two lists at once are independent.
        mxlFabricsInterfaceList* second = nullptr;
        ASSERT_EQ(mxlFabricsGetInterfaces(fabrics, &q, &second), MXL_STATUS_OK);
        ASSERT_NE(second, list);
        EXPECT_EQ(mxlFabricsFreeInterfaceList(list), MXL_STATUS_OK);
        EXPECT_EQ(mxlFabricsFreeInterfaceList(list), MXL_ERR_INVALID_ARG) << "freed twice";
        EXPECT_FALSE(entriesOf(second).empty());
        EXPECT_EQ(mxlFabricsFreeInterfaceList(second), MXL_STATUS_OK);
    }
}
