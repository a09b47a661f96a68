// SPDX-License-Identifier: Apache-2.0
#include <cstring>

#include <gtest/gtest.h>

#include "TestSupport.hpp"
#include "ofi/AddressVector.hpp"
#include "ofi/MemoryRegion.hpp"

namespace mxl::ofi::test
{
    namespace
    {
        /// A reliable-datagram endpoint (tcp layered under ofi_rxm) with its own domain.
        struct RdmPeer
        {
            RdmPeer()
                : info{require(Info::query(Hints{}.provider(Provider::Tcp).endpointType(FI_EP_RDM).source(kLoopback, "0")), "fi_getinfo")}
                , fabric{require(Fabric::open(info), "rdm fabric")}
                , domain{require(Domain::open(fabric, info), "rdm domain")}
                , cq{require(CompletionQueue::open(domain, 256), "rdm completion queue")}
                , av{require(AddressVector::open(domain, 4), "address vector")}
                , endpoint{require(Endpoint::open(domain, info, EndpointQueues{cq, cq, nullptr, &av}), "rdm endpoint")}
            {}

            Info info;
            Fabric fabric;
            Domain domain;
            CompletionQueue cq;
            AddressVector av;
            Endpoint endpoint;
            Inbox inbox;
        };
    }

    TEST(OfiTcpRdm, WriteWithDataReachesPeerInsertedIntoAddressVector)
    {
        auto sender = RdmPeer{};
        auto receiver = RdmPeer{};
        ASSERT_EQ(sender.info.endpointType(), FI_EP_RDM);
        auto const peer = require(sender.av.insert(require(receiver.endpoint.address(), "receiver address")), "insert");
        auto target = std::vector<std::byte>(8192, std::byte{0});
        auto const source = pattern(4096, 9);
        auto const targetRegion = require(MemoryRegion::create(receiver.domain, target, FI_REMOTE_WRITE), "target region");
        auto const sourceRegion = require(MemoryRegion::create(sender.domain, source, FI_WRITE), "source region");
        auto const where = targetRegion.remoteRegion().target(4096, source.size());
        ASSERT_TRUE(where);
        ASSERT_FALSE(sender.endpoint.requiresRxCqData());

        auto const both = std::vector{Watched{nullptr, &sender.cq, &sender.inbox}, Watched{nullptr, &receiver.cq, &receiver.inbox}};
        auto const& sent = sender.inbox.completions;
        auto const& received = receiver.inbox.completions;

        // ofi_rxm connects on first use and answers FI_EAGAIN until the connection is up.
        while (true)
        {
            auto const result = sender.endpoint.writeWithData(source, sourceRegion.desc(), *where, 77, nullptr, peer);
            if (result.posted())
            {
                break;
            }
            ASSERT_TRUE(result.again()) << fi_strerror(result.error());
            pumpUntil(both, [] { return false; }, 10ms);
        }

        ASSERT_TRUE(pumpUntil(both, [&] { return sent.total() == 1 && received.total() == 1; }));
        ASSERT_TRUE(sent.errors.empty()) << sent.errors.front().providerMessage.data();
        ASSERT_TRUE(received.errors.empty());
        EXPECT_NE(received.entries[0].flags & FI_REMOTE_CQ_DATA, 0u);
        EXPECT_EQ(received.entries[0].data, 77u);
        EXPECT_EQ(std::memcmp(target.data() + 4096, source.data(), source.size()), 0);
        require(sender.av.remove(peer), "remove");
    }
}
