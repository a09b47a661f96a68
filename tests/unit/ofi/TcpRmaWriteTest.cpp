// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cstring>
#include <set>

#include <gtest/gtest.h>

#include "TestSupport.hpp"
#include "ofi/MemoryRegion.hpp"

namespace mxl::ofi::test
{
    namespace
    {
        constexpr auto kFill = std::byte{0xA5};

        /// Under FI_RX_CQ_DATA each incoming write with data consumes a posted receive.
        void postReceivesForCqData(Endpoint& endpoint, std::size_t count)
        {
            for (std::size_t i = 0; i < count && endpoint.requiresRxCqData(); ++i)
            {
                ASSERT_TRUE(endpoint.recv({}, nullptr, nullptr).posted());
            }
        }

        std::size_t countRemoteData(Completions const& completions)
        {
            return static_cast<std::size_t>(std::ranges::count_if(completions.entries, [](auto const& e) { return (e.flags & FI_REMOTE_CQ_DATA) != 0; }));
        }
    }

    TEST(OfiTcpLoopback, RmaWriteWithImmediateDataLandsAndSignalsReceiver)
    {
        auto connection = Connection{};
        auto& sender = connection.client;
        auto& receiver = connection.server;
        auto target = std::vector<std::byte>(1 << 20, kFill);
        auto const source = pattern(64 * 1024, 1);
        auto const targetRegion = require(MemoryRegion::create(receiver.domain, target, FI_REMOTE_WRITE | FI_RECV), "target region");
        auto const sourceRegion = require(MemoryRegion::create(sender.domain, source, FI_WRITE), "source region");
        postReceivesForCqData(*receiver.endpoint, 1);
        constexpr auto kOffset = std::size_t{12345};
        constexpr auto kData = std::uint64_t{0xFEDCBA9876543210};
        auto const where = targetRegion.remoteRegion().target(kOffset, source.size());
        ASSERT_TRUE(where);
        int context = 0;

        ASSERT_TRUE(sender.endpoint.writeWithData(source, sourceRegion.desc(), *where, kData, &context).posted());

        auto sent = Completions{};
        auto received = Completions{};
        ASSERT_TRUE(pumpUntil({{&sender.cq, &sent}, {&receiver.cq, &received}}, [&] { return sent.total() == 1 && received.total() == 1; }));
        ASSERT_TRUE(sent.errors.empty()) << sent.errors.front().providerMessage.data();
        ASSERT_TRUE(received.errors.empty()) << received.errors.front().providerMessage.data();
        EXPECT_EQ(sent.entries[0].op_context, &context);
        EXPECT_NE(sent.entries[0].flags & FI_WRITE, 0u);

        auto const& arrival = received.entries[0];
        EXPECT_NE(arrival.flags & FI_REMOTE_CQ_DATA, 0u);
        EXPECT_NE(arrival.flags & FI_REMOTE_WRITE, 0u);
        EXPECT_EQ(receiver.endpoint->cqDataSize(), 8u) << "tcp carries 64 bits of remote CQ data";
        EXPECT_EQ(arrival.data & cqDataMask(receiver.endpoint->cqDataSize()), kData & cqDataMask(receiver.endpoint->cqDataSize()));
        EXPECT_EQ(arrival.data, kData);

        EXPECT_EQ(std::memcmp(target.data() + kOffset, source.data(), source.size()), 0);
        EXPECT_TRUE(std::all_of(target.begin(), target.begin() + kOffset, [](auto b) { return b == kFill; }));
        EXPECT_TRUE(std::all_of(target.begin() + kOffset + source.size(), target.end(), [](auto b) { return b == kFill; }));
    }

    TEST(OfiTcpLoopback, ManyWritesInFlightAllCompleteByteExact)
    {
        constexpr auto kRegionSize = std::size_t{4} << 20;
        constexpr auto kWriteSize = std::size_t{64} << 10;
        constexpr auto kWrites = std::size_t{64};
        auto connection = Connection{};
        auto& sender = connection.client;
        auto& receiver = connection.server;
        auto target = std::vector<std::byte>(kRegionSize, kFill);
        auto const source = pattern(kRegionSize, 2);
        auto const targetRegion = require(MemoryRegion::create(receiver.domain, target, FI_REMOTE_WRITE | FI_RECV), "target region");
        auto const sourceRegion = require(MemoryRegion::create(sender.domain, source, FI_WRITE), "source region");
        postReceivesForCqData(*receiver.endpoint, kWrites);

        auto sent = Completions{};
        auto received = Completions{};
        auto busy = 0;
        for (std::size_t i = 0; i < kWrites; ++i)
        {
            // Scattered, distinct offsets: ordering must not matter for where bytes land.
            auto const offset = ((i * 37) % kWrites) * kWriteSize;
            auto const where = targetRegion.remoteRegion().target(offset, kWriteSize);
            ASSERT_TRUE(where);
            auto const chunk = std::span{source}.subspan(offset, kWriteSize);
            while (true)
            {
                auto const result = sender.endpoint.writeWithData(chunk, sourceRegion.desc(), *where, i, nullptr);
                if (result.posted())
                {
                    break;
                }
                ASSERT_TRUE(result.again()) << fi_strerror(result.error());
                ++busy;
                auto const before = sent.total();
                ASSERT_TRUE(pumpUntil({{&sender.cq, &sent}, {&receiver.cq, &received}}, [&] { return sent.total() > before; }));
            }
        }

        ASSERT_TRUE(pumpUntil({{&sender.cq, &sent}, {&receiver.cq, &received}},
            [&] { return sent.total() == kWrites && countRemoteData(received) == kWrites; }));
        EXPECT_TRUE(sent.errors.empty());
        EXPECT_TRUE(received.errors.empty());
        auto data = std::set<std::uint64_t>{};
        for (auto const& entry : received.entries)
        {
            data.insert(entry.data);
        }
        EXPECT_EQ(data.size(), kWrites);
        EXPECT_EQ(*data.rbegin(), kWrites - 1);
        EXPECT_TRUE(target == source) << "the region differs from the source after " << busy << " FI_EAGAIN retries";
    }
}
