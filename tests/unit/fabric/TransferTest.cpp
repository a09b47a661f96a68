// SPDX-License-Identifier: Apache-2.0
// The send/receive transfer: its message header, the grant's fields for it, and when a sink should
// choose it over RMA.
#include <array>
#include <cstring>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/BounceHeader.hpp"
#include "protocol/Messages.hpp"
#include "replication/FabricHints.hpp"

namespace mxl::fabric
{
    namespace
    {
        std::vector<std::byte> message(BounceHeader const& header, std::size_t payload)
        {
            std::vector<std::byte> bytes(sizeof header + payload, std::byte{0x5A});
            std::memcpy(bytes.data(), &header, sizeof header);
            return bytes;
        }

        RegionGrant sendReceiveGrant()
        {
            RegionGrant g;
            g.flowId = randomUuid().value();
            g.epoch = 0x0123456789ABCDEFULL;
            g.provider = "tcp";
            g.transfer = Transfer::SendReceive;
            g.node = "127.0.0.1";
            g.service = "40123";
            g.maxChunk = bounceChunkSize;
            return g;
        }
    }

    TEST(BounceHeader, DataHeaderIsLaidOutAsDocumented)
    {
        auto const header = dataHeader(7, 0x1122334455667788ULL, 42, 4096, 1000);
        std::array<std::byte, sizeof header> bytes;
        std::memcpy(bytes.data(), &header, sizeof header);
        auto const at = [&](std::size_t offset, auto value) {
            decltype(value) read;
            std::memcpy(&read, bytes.data() + offset, sizeof read);
            return read == value;
        };

        EXPECT_TRUE(at(0, std::uint32_t{0x424C584DU}));
        EXPECT_EQ(std::memcmp(bytes.data(), "MXLB", 4), 0);
        EXPECT_TRUE(at(4, std::uint16_t{1}));
        EXPECT_TRUE(at(8, std::uint32_t{7}));
        EXPECT_TRUE(at(12, std::uint32_t{1000}));
        EXPECT_TRUE(at(16, std::uint64_t{0x1122334455667788ULL}));
        EXPECT_TRUE(at(24, std::uint64_t{42}));
        EXPECT_TRUE(at(32, std::uint64_t{4096}));
    }

    TEST(BounceHeader, CommitCarriesEveryFieldOfTheRecord)
    {
        auto const record = CommitRecord{99, 12345, 17, MXL_GRAIN_FLAG_INVALID, 540, CommitKind::Grain, 60};

        auto const header = readBounceHeader(message(commitHeader(record), 0));

        ASSERT_TRUE(header);
        EXPECT_EQ(header->kind, BounceKind::Commit);
        EXPECT_EQ(header->sequence, 17U);
        auto const back = commitRecord(*header);
        EXPECT_EQ(std::memcmp(&record, &back, sizeof record), 0);
    }

    TEST(BounceHeader, DataWhoseLengthIsWhatFollowsIsAccepted)
    {
        auto const header = readBounceHeader(message(dataHeader(0, 1, 2, 3, 1000), 1000));

        ASSERT_TRUE(header);
        EXPECT_EQ(header->kind, BounceKind::Data);
        EXPECT_EQ(header->length, 1000U);
        EXPECT_EQ(header->offset, 3U);
    }

    TEST(BounceHeader, MalformedFramesAreRefused)
    {
        auto badMagic = dataHeader(0, 1, 2, 3, 10);
        badMagic.magic = 0x464C584DU;
        auto badKind = dataHeader(0, 1, 2, 3, 10);
        badKind.kind = BounceKind{0};
        auto commitWithPayload = commitHeader(CommitRecord{1, 2, 0, 0, 1, CommitKind::Grain, 1});
        commitWithPayload.length = 10;
        auto const whole = message(dataHeader(0, 1, 2, 3, 10), 10);

        EXPECT_FALSE(readBounceHeader(message(badMagic, 10)));
        EXPECT_FALSE(readBounceHeader(message(badKind, 10)));
        EXPECT_FALSE(readBounceHeader(message(commitWithPayload, 10)));
        EXPECT_FALSE(readBounceHeader(message(dataHeader(0, 1, 2, 3, 10), 9))) << "shorter than announced";
        EXPECT_FALSE(readBounceHeader(message(dataHeader(0, 1, 2, 3, 10), 11))) << "longer than announced";
        EXPECT_FALSE(readBounceHeader(message(dataHeader(0, 1, 2, 3, 0xFFFFFFFFU), 0)));
        for (std::size_t size = 0; size < sizeof(BounceHeader); ++size)
        {
            EXPECT_FALSE(readBounceHeader(std::span{whole}.first(size))) << size << " bytes";
        }
    }

    TEST(BounceHeader, SendReceiveGrantCarriesItsChunkSize)
    {
        auto const original = sendReceiveGrant();

        auto const encoded = encode(original);
        auto const decoded = decodeRegionGrant(encoded);

        ASSERT_TRUE(decoded) << decoded.error().message;
        EXPECT_EQ(decoded->maxChunk, bounceChunkSize);
        EXPECT_TRUE(decoded->regions.empty());
        EXPECT_EQ(encode(decoded.value()), encoded);
    }

    TEST(BounceHeader, SendReceiveGrantWithoutOrWithAnOverLargeChunkIsRefused)
    {
        auto none = sendReceiveGrant();
        none.maxChunk = 0;
        auto huge = sendReceiveGrant();
        huge.maxChunk = maxBounceChunkSize + 1;
        auto ring = sendReceiveGrant();
        ring.commitEntries = 4;

        for (auto const& g : {none, huge, ring})
        {
            auto const decoded = decodeRegionGrant(encode(g));
            ASSERT_FALSE(decoded);
            EXPECT_EQ(decoded.error().status, MXL_ERR_INVALID_ARG);
        }
        EXPECT_NE(decodeRegionGrant(encode(none)).error().message.find("chunk"), std::string::npos);
    }

    TEST(TransferChoice, TcpOffersRmaWithRemoteCqDataSoSinksPreferIt)
    {
        EXPECT_TRUE(rmaAvailable("tcp"));
        EXPECT_EQ(preferredTransfer("tcp"), Transfer::Rma);
    }

    TEST(TransferChoice, AProviderThatIsNotThereOffersNoRma)
    {
        EXPECT_FALSE(rmaAvailable("no-such-provider"));
    }
}
