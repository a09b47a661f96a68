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

        bool untouched(std::span<std::byte const> bytes)
        {
            return std::ranges::all_of(bytes, [](auto b) { return b == kFill; });
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

        auto const& sent = sender.inbox.completions;
        auto const& received = receiver.inbox.completions;
        ASSERT_TRUE(connection.pumpUntil([&] { return sent.total() == 1 && received.total() == 1; }));
        ASSERT_TRUE(sent.errors.empty()) << sent.errors.front().providerMessage.data();
        ASSERT_TRUE(received.errors.empty()) << received.errors.front().providerMessage.data();
        EXPECT_EQ(sent.entries[0].op_context, &context);
        EXPECT_NE(sent.entries[0].flags & FI_WRITE, 0u);

        auto const& arrival = received.entries[0];
        auto const mask = cqDataMask(receiver.endpoint->cqDataSize());
        EXPECT_EQ(receiver.endpoint->cqDataSize(), 8u) << "tcp carries 64 bits of remote CQ data";
        EXPECT_NE(arrival.flags & FI_REMOTE_CQ_DATA, 0u);
        EXPECT_NE(arrival.flags & FI_REMOTE_WRITE, 0u);
        EXPECT_EQ(arrival.data & mask, kData & mask);
        EXPECT_EQ(arrival.data, kData);

        EXPECT_EQ(std::memcmp(target.data() + kOffset, source.data(), source.size()), 0);
        EXPECT_TRUE(untouched(std::span{target}.first(kOffset)));
        EXPECT_TRUE(untouched(std::span{target}.subspan(kOffset + source.size())));
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
        auto const& sent = sender.inbox.completions;
        auto const& received = receiver.inbox.completions;

        auto busy = 0;
        for (std::size_t i = 0; i < kWrites; ++i)
        {
            // Scattered, distinct offsets: where bytes land must not depend on completion order.
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
                ASSERT_TRUE(connection.pumpUntil([&] { return sent.total() > before; }));
            }
        }

        ASSERT_TRUE(connection.pumpUntil([&] { return sent.total() == kWrites && received.count(FI_REMOTE_CQ_DATA) == kWrites; }));
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

    // What tcp in libfabric 1.17 does with a write the target refuses (wrong key, or a range outside
    // the region): the target drops the connection and places nothing. Both sides see FI_SHUTDOWN;
    // the target's CQ reports nothing. With the default (transmit-complete) semantics the refused
    // write itself completes successfully on the sender, since it left the socket; only later
    // operations fail (FI_ENOTCONN). Under FI_DELIVERY_COMPLETE the refused write fails on the
    // sender's CQ with FI_ECANCELED.
    class OfiTcpRefusedWrite : public ::testing::TestWithParam<bool>
    {
    protected:
        static constexpr auto kRegionSize = std::size_t{1} << 16;
        static constexpr auto kWriteSize = std::size_t{4096};

        /// Posts one write to `target`, then one valid write, and waits for both sides to shut down.
        void writeAndObserve(RmaTarget where)
        {
            ASSERT_TRUE(connection.client.endpoint.writeWithData(source, sourceRegion.desc(), where, 42, &refusedContext).posted());
            ASSERT_TRUE(connection.pumpUntil([&] { return sent.total() >= 1; }));
            auto const valid = targetRegion.remoteRegion().target(0, kWriteSize);
            auto const next = connection.client.endpoint.writeWithData(source, sourceRegion.desc(), *valid, 43, &nextContext);
            ASSERT_TRUE(next.posted() || next.error() != 0);
            ASSERT_TRUE(connection.pumpUntil([&] {
                return connection.server.inbox.find(CmEventKind::Shutdown, connection.server.endpoint->fid()) != nullptr &&
                       connection.client.inbox.find(CmEventKind::Shutdown, connection.client.endpoint.fid()) != nullptr &&
                       (!next.posted() || sent.total() == 2);
            }));
        }

        void expectRefused()
        {
            EXPECT_TRUE(untouched(target)) << "a refused write changed the target region";
            EXPECT_EQ(connection.server.inbox.completions.count(FI_REMOTE_CQ_DATA), 0u);
            EXPECT_TRUE(connection.server.inbox.completions.errors.empty());
            auto const refused = std::ranges::find_if(sent.errors, [&](auto const& e) { return e.context == &refusedContext; });
            if (GetParam())
            {
                ASSERT_NE(refused, sent.errors.end()) << "under FI_DELIVERY_COMPLETE the refused write must fail on the sender";
                EXPECT_EQ(refused->error, FI_ECANCELED) << fi_strerror(refused->error);
            }
            else
            {
                EXPECT_EQ(refused, sent.errors.end()) << "tcp 1.17 completes a refused write successfully under transmit-complete";
            }
            auto const next = std::ranges::find_if(sent.errors, [&](auto const& e) { return e.context == &nextContext; });
            if (next != sent.errors.end())
            {
                EXPECT_EQ(next->error, FI_ENOTCONN) << fi_strerror(next->error);
            }
            EXPECT_EQ(std::ranges::count_if(sent.entries, [&](auto const& e) { return e.op_context == &nextContext; }), 0)
                << "a write after the refused one succeeded on a broken connection";
        }

        Connection connection{GetParam()};
        std::vector<std::byte> target = std::vector<std::byte>(kRegionSize, kFill);
        std::vector<std::byte> const source = pattern(kWriteSize, 3);
        MemoryRegion const targetRegion = require(MemoryRegion::create(connection.server.domain, target, FI_REMOTE_WRITE), "target region");
        MemoryRegion const sourceRegion = require(MemoryRegion::create(connection.client.domain, source, FI_WRITE), "source region");
        Completions const& sent = connection.client.inbox.completions;
        int refusedContext = 0;
        int nextContext = 0;
    };

    TEST_P(OfiTcpRefusedWrite, WriteWithWrongKeyNeverLandsAndIsReported)
    {
        auto where = *targetRegion.remoteRegion().target(0, kWriteSize);
        where.key += 1;

        writeAndObserve(where);

        expectRefused();
    }

    TEST_P(OfiTcpRefusedWrite, WriteBeyondTheRegionNeverLandsAndIsReported)
    {
        auto const region = targetRegion.remoteRegion();
        ASSERT_FALSE(region.target(region.length - 100, kWriteSize)) << "RemoteRegion must refuse a range it does not contain";

        writeAndObserve(RmaTarget{region.address + region.length - 100, region.key});

        expectRefused();
    }

    INSTANTIATE_TEST_SUITE_P(CompletionSemantics, OfiTcpRefusedWrite, ::testing::Bool(),
        [](auto const& param) { return param.param ? "DeliveryComplete" : "TransmitComplete"; });
}
