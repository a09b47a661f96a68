// SPDX-License-Identifier: Apache-2.0
// The control messages between a source and a sink: what is encoded decodes to the same fields,
// and anything malformed is refused with a status and a message that names the problem, never
// read past its end.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "base/Uuid.hpp"
#include "protocol/CommitRecord.hpp"
#include "protocol/Messages.hpp"
#include "protocol/Wire.hpp"

namespace mxl::fabric::test
{
    namespace
    {
        // Offsets in the encoded messages, as the wire format lays them out.
        constexpr std::size_t versionOffset = 4;
        constexpr std::size_t typeOffset = 6;
        constexpr std::size_t lengthOffset = 8;
        constexpr std::size_t offerConfigOffset = messageHeaderSize + 16;
        constexpr std::size_t offerGrainSizeOffset = offerConfigOffset + sizeof(mxlFlowConfigInfo);
        constexpr std::size_t offerTotalSlicesOffset = offerGrainSizeOffset + 4;
        constexpr std::size_t offerWordSizeOffset = offerTotalSlicesOffset + 2;
        constexpr std::size_t grantEpochOffset = messageHeaderSize + 16;
        constexpr std::size_t grantConnectKeyOffset = grantEpochOffset + 8;
        constexpr std::size_t grantProviderOffset = grantConnectKeyOffset + connectKeySize;

        FlowOffer videoOffer()
        {
            FlowOffer offer;
            offer.flowId = randomUuid().value();
            std::memcpy(offer.config.common.id, offer.flowId.data(), offer.flowId.size());
            offer.config.common.format = MXL_DATA_FORMAT_VIDEO;
            offer.config.common.grainRate = {50, 1};
            offer.config.common.maxCommitBatchSizeHint = 1080;
            offer.config.common.maxSyncBatchSizeHint = 1080;
            offer.config.common.deviceIndex = -1;
            offer.config.discrete.sliceSizes[0] = 5120;
            offer.config.discrete.grainCount = 10;
            offer.grainSize = 5120 * 1080;
            offer.totalSlices = 1080;
            offer.flowDef = R"({"id":"...","format":"urn:x-nmos:format:video"})";
            return offer;
        }

        FlowOffer audioOffer()
        {
            FlowOffer offer;
            offer.flowId = randomUuid().value();
            std::memcpy(offer.config.common.id, offer.flowId.data(), offer.flowId.size());
            offer.config.common.format = MXL_DATA_FORMAT_AUDIO;
            offer.config.common.grainRate = {48000, 1};
            offer.config.common.maxCommitBatchSizeHint = 480;
            offer.config.common.maxSyncBatchSizeHint = 480;
            offer.config.continuous.channelCount = 4;
            offer.config.continuous.bufferLength = 19456;
            offer.sampleWordSize = 4;
            offer.flowDef = R"({"id":"...","format":"urn:x-nmos:format:audio"})";
            return offer;
        }

        RegionGrant grant(std::size_t regions = 10)
        {
            RegionGrant g;
            g.flowId = randomUuid().value();
            g.epoch = 0x0123456789ABCDEFULL;
            for (std::size_t i = 0; i < g.connectKey.size(); ++i)
            {
                g.connectKey[i] = static_cast<std::byte>(0xA0 + i);
            }
            g.provider = "tcp";
            g.transfer = Transfer::Rma;
            g.node = "127.0.0.1";
            g.service = "40123";
            g.commitRing = {0x7F0000001000ULL, commitRingEntries * sizeof(CommitRecord), 0xDEADBEEFULL};
            g.commitEntries = commitRingEntries;
            for (std::size_t i = 0; i < regions; ++i)
            {
                g.regions.push_back({0x7F0000100000ULL + i * 0x600000ULL, 5529600, 1000 + i});
            }
            return g;
        }

        /// Where the region count of an encoded grant is.
        std::size_t grantCountOffset(RegionGrant const& g)
        {
            return grantProviderOffset + 2 + g.provider.size() + 1 + 2 + g.node.size() + 2 + g.service.size() + 24 + 4;
        }

        template<typename T>
        void poke(std::vector<std::byte>& message, std::size_t offset, T value)
        {
            ASSERT_LE(offset + sizeof value, message.size());
            std::memcpy(message.data() + offset, &value, sizeof value);
        }

        /// Makes the header's body length match the bytes present, so that only the body's own
        /// checks can refuse the message.
        void fixLength(std::vector<std::byte>& message)
        {
            poke(message, lengthOffset, static_cast<std::uint32_t>(message.size() - messageHeaderSize));
        }

        template<typename T>
        void expectRefused(Expected<T> const& result, mxlStatus status, std::string_view mention)
        {
            ASSERT_FALSE(result) << "accepted a message that should be refused for: " << mention;
            EXPECT_EQ(result.error().status, status) << result.error().message;
            EXPECT_NE(result.error().message.find(mention), std::string::npos) << "message \"" << result.error().message
                                                                                << "\" does not mention \"" << mention << "\"";
        }

        void expectSameOffer(FlowOffer const& a, FlowOffer const& b)
        {
            EXPECT_EQ(a.flowId, b.flowId);
            EXPECT_EQ(std::memcmp(&a.config, &b.config, sizeof a.config), 0);
            EXPECT_EQ(a.grainSize, b.grainSize);
            EXPECT_EQ(a.totalSlices, b.totalSlices);
            EXPECT_EQ(a.sampleWordSize, b.sampleWordSize);
            EXPECT_EQ(a.flowDef, b.flowDef);
        }

        void expectSameRegion(ofi::RemoteRegion const& a, ofi::RemoteRegion const& b)
        {
            EXPECT_EQ(a.address, b.address);
            EXPECT_EQ(a.length, b.length);
            EXPECT_EQ(a.key, b.key);
        }

        void expectSameGrant(RegionGrant const& a, RegionGrant const& b)
        {
            EXPECT_EQ(a.flowId, b.flowId);
            EXPECT_EQ(a.epoch, b.epoch);
            EXPECT_EQ(a.connectKey, b.connectKey);
            EXPECT_EQ(a.provider, b.provider);
            EXPECT_EQ(a.transfer, b.transfer);
            EXPECT_EQ(a.node, b.node);
            EXPECT_EQ(a.service, b.service);
            expectSameRegion(a.commitRing, b.commitRing);
            EXPECT_EQ(a.commitEntries, b.commitEntries);
            ASSERT_EQ(a.regions.size(), b.regions.size());
            for (std::size_t i = 0; i < a.regions.size(); ++i)
            {
                expectSameRegion(a.regions[i], b.regions[i]);
            }
        }

        /// Every prefix of message is refused, both as it is (the header's length disagrees) and
        /// with the length fixed up (a field runs past the end).
        template<typename Decode>
        void expectEveryTruncationRefused(std::vector<std::byte> const& message, Decode decode)
        {
            for (std::size_t n = 0; n < message.size(); ++n)
            {
                auto prefix = std::vector<std::byte>(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(n));
                auto const raw = decode(prefix);
                ASSERT_FALSE(raw) << "a message cut to " << n << " of " << message.size() << " bytes was accepted";
                EXPECT_EQ(raw.error().status, MXL_ERR_INVALID_ARG) << n << ": " << raw.error().message;
                if (n >= messageHeaderSize)
                {
                    fixLength(prefix);
                    auto const fixed = decode(prefix);
                    ASSERT_FALSE(fixed) << "a body cut to " << n - messageHeaderSize << " bytes was accepted";
                    EXPECT_EQ(fixed.error().status, MXL_ERR_INVALID_ARG) << n << ": " << fixed.error().message;
                }
            }
        }
    }

    TEST(FabricMessages, VideoOfferRoundTripsEveryField)
    {
        auto const offer = videoOffer();

        auto const message = encode(offer);
        auto const decoded = decodeFlowOffer(message);

        ASSERT_TRUE(decoded) << decoded.error().message;
        expectSameOffer(decoded.value(), offer);
        EXPECT_EQ(encode(decoded.value()), message);
        EXPECT_EQ(peekMessageType(message).value(), MessageType::FlowOffer);
    }

    TEST(FabricMessages, AudioOfferRoundTripsEveryField)
    {
        auto const offer = audioOffer();

        auto const message = encode(offer);
        auto const decoded = decodeFlowOffer(message);

        ASSERT_TRUE(decoded) << decoded.error().message;
        expectSameOffer(decoded.value(), offer);
        EXPECT_EQ(encode(decoded.value()), message);
    }

    TEST(FabricMessages, RegionGrantRoundTripsEveryField)
    {
        auto const original = grant();

        auto const message = encode(original);
        auto const decoded = decodeRegionGrant(message);

        ASSERT_TRUE(decoded) << decoded.error().message;
        expectSameGrant(decoded.value(), original);
        EXPECT_EQ(encode(decoded.value()), message);
        EXPECT_EQ(peekMessageType(message).value(), MessageType::RegionGrant);
    }

    TEST(FabricMessages, SendReceiveGrantNeedsNoCommitRingOrRegions)
    {
        auto original = grant(0);
        original.transfer = Transfer::SendReceive;
        original.commitRing = {};
        original.commitEntries = 0;
        original.maxChunk = 256 * 1024;

        auto const decoded = decodeRegionGrant(encode(original));

        ASSERT_TRUE(decoded) << decoded.error().message;
        expectSameGrant(decoded.value(), original);
    }

    TEST(FabricMessages, OfferTruncatedAtEveryLengthIsRefused)
    {
        expectEveryTruncationRefused(encode(videoOffer()), [](auto const& m) { return decodeFlowOffer(m); });
    }

    TEST(FabricMessages, GrantTruncatedAtEveryLengthIsRefused)
    {
        expectEveryTruncationRefused(encode(grant(3)), [](auto const& m) { return decodeRegionGrant(m); });
    }

    TEST(FabricMessages, TrailingBytesAreRefused)
    {
        auto offer = encode(videoOffer());
        offer.push_back(std::byte{0});
        fixLength(offer);
        auto grantMessage = encode(grant());
        grantMessage.push_back(std::byte{0});
        fixLength(grantMessage);

        expectRefused(decodeFlowOffer(offer), MXL_ERR_INVALID_ARG, "trailing");
        expectRefused(decodeRegionGrant(grantMessage), MXL_ERR_INVALID_ARG, "bytes follow");
    }

    TEST(FabricMessages, WrongMagicIsRefused)
    {
        auto message = encode(videoOffer());
        message[0] = std::byte{'X'};

        expectRefused(decodeFlowOffer(message), MXL_ERR_INVALID_ARG, "magic");
        expectRefused(peekMessageType(message), MXL_ERR_INVALID_ARG, "magic");
    }

    TEST(FabricMessages, OtherProtocolVersionIsUnsupported)
    {
        auto offer = encode(videoOffer());
        poke(offer, versionOffset, static_cast<std::uint16_t>(protocolVersion + 1));
        auto grantMessage = encode(grant());
        poke(grantMessage, versionOffset, std::uint16_t{0});
        auto const thisVersion = "this build speaks version " + std::to_string(protocolVersion);

        expectRefused(decodeFlowOffer(offer), MXL_ERR_UNSUPPORTED_OPERATION, "peer speaks protocol version " + std::to_string(protocolVersion + 1));
        expectRefused(decodeFlowOffer(offer), MXL_ERR_UNSUPPORTED_OPERATION, thisVersion);
        expectRefused(decodeRegionGrant(grantMessage), MXL_ERR_UNSUPPORTED_OPERATION, "version 0");
    }

    TEST(FabricMessages, AGrantOfTheVersionBeforeConnectKeysIsRefusedByVersion)
    {
        // A version 2 peer frames the same header; its grant has no connect key.
        auto grantMessage = encode(grant());
        poke(grantMessage, versionOffset, std::uint16_t{2});

        expectRefused(decodeRegionGrant(grantMessage), MXL_ERR_UNSUPPORTED_OPERATION, "peer speaks protocol version 2; this build speaks version 4");
    }

    TEST(FabricMessages, AGrantOfTheVersionBeforeDatagramAddressesIsRefusedByVersion)
    {
        // A version 3 source would try to connect to a reliable-datagram sink that does not listen.
        auto grantMessage = encode(grant());
        poke(grantMessage, versionOffset, std::uint16_t{3});
        expectRefused(decodeRegionGrant(grantMessage), MXL_ERR_UNSUPPORTED_OPERATION, "peer speaks protocol version 3; this build speaks version 4");
    }

    TEST(FabricMessages, GrantCarriesADatagramSinksAddressAndRefusesOneTooLongOrOnSendReceive)
    {
        auto g = grant();
        g.address.assign(24, std::byte{0xa5});
        auto const decoded = decodeRegionGrant(encode(g));
        ASSERT_TRUE(decoded) << decoded.error().message;
        EXPECT_EQ(decoded->address, g.address);

        g.address.assign(maxDataAddressSize + 1, std::byte{1});
        expectRefused(decodeRegionGrant(encode(g)), MXL_ERR_INVALID_ARG, "a data endpoint address of 257 bytes");

        g.address.assign(16, std::byte{1});
        g.transfer = Transfer::SendReceive;
        g.maxChunk = 4096;
        expectRefused(decodeRegionGrant(encode(g)), MXL_ERR_INVALID_ARG, "only RMA runs over those");
    }

    TEST(FabricMessages, GrantCarriesItsConnectKeyAfterTheEpoch)
    {
        auto const g = grant();
        auto const message = encode(g);

        ASSERT_GE(message.size(), grantProviderOffset + 2);
        EXPECT_EQ(std::memcmp(message.data() + grantConnectKeyOffset, g.connectKey.data(), connectKeySize), 0);
        std::uint16_t providerLength = 0;
        std::memcpy(&providerLength, message.data() + grantProviderOffset, sizeof providerLength);
        EXPECT_EQ(providerLength, g.provider.size());
    }

    TEST(FabricMessages, UnknownTypeIsRefused)
    {
        auto message = encode(grant());
        poke(message, typeOffset, std::uint16_t{7});

        expectRefused(decodeRegionGrant(message), MXL_ERR_INVALID_ARG, "unknown message type 7");
        expectRefused(peekMessageType(message), MXL_ERR_INVALID_ARG, "unknown message type 7");
    }

    TEST(FabricMessages, OneMessageTypeIsNotDecodedAsTheOther)
    {
        expectRefused(decodeRegionGrant(encode(videoOffer())), MXL_ERR_INVALID_ARG, "message type 1 where 2 was expected");
        expectRefused(decodeFlowOffer(encode(grant())), MXL_ERR_INVALID_ARG, "message type 2 where 1 was expected");
    }

    TEST(FabricMessages, BodyLengthThatDisagreesWithTheMessageIsRefused)
    {
        auto longer = encode(grant());
        poke(longer, lengthOffset, static_cast<std::uint32_t>(longer.size()));
        auto shorter = encode(videoOffer());
        poke(shorter, lengthOffset, static_cast<std::uint32_t>(shorter.size() - messageHeaderSize - 1));

        expectRefused(decodeRegionGrant(longer), MXL_ERR_INVALID_ARG, "body length");
        expectRefused(decodeFlowOffer(shorter), MXL_ERR_INVALID_ARG, "body length");
    }

    TEST(FabricMessages, TooManyRegionsAreRefusedBeforeAnyIsRead)
    {
        auto const g = grant(2);
        auto message = encode(g);
        poke(message, grantCountOffset(g), std::uint32_t{100'001});

        expectRefused(decodeRegionGrant(message), MXL_ERR_INVALID_ARG, "100001 regions (at most 100000)");

        poke(message, grantCountOffset(g), std::uint32_t{0xFFFFFFFFU});
        expectRefused(decodeRegionGrant(message), MXL_ERR_INVALID_ARG, "regions (at most");
    }

    TEST(FabricMessages, RegionCountThatDisagreesWithTheRegionsPresentIsRefused)
    {
        auto const g = grant(2);
        auto message = encode(g);
        poke(message, grantCountOffset(g), std::uint32_t{3});

        expectRefused(decodeRegionGrant(message), MXL_ERR_INVALID_ARG, "3 regions announced, 48 bytes follow");
    }

    TEST(FabricMessages, EpochZeroIsRefused)
    {
        auto message = encode(grant());
        poke(message, grantEpochOffset, std::uint64_t{0});

        expectRefused(decodeRegionGrant(message), MXL_ERR_INVALID_ARG, "epoch 0");
    }

    TEST(FabricMessages, CommitRingWhoseSizeDoesNotMatchItsEntriesIsRefused)
    {
        auto shortRing = grant();
        shortRing.commitRing.length -= 1;
        auto noEntries = grant();
        noEntries.commitEntries = 0;
        noEntries.commitRing.length = 0;
        auto hugeRing = grant();
        hugeRing.commitEntries = 65537;
        hugeRing.commitRing.length = 65537ULL * sizeof(CommitRecord);

        expectRefused(decodeRegionGrant(encode(shortRing)), MXL_ERR_INVALID_ARG, "commit ring size");
        expectRefused(decodeRegionGrant(encode(noEntries)), MXL_ERR_INVALID_ARG, "commit ring size");
        expectRefused(decodeRegionGrant(encode(hugeRing)), MXL_ERR_INVALID_ARG, "commit ring size");
    }

    TEST(FabricMessages, RmaGrantWithoutRegionsIsRefused)
    {
        expectRefused(decodeRegionGrant(encode(grant(0))), MXL_ERR_INVALID_ARG, "no regions");
    }

    TEST(FabricMessages, UnknownTransferModeIsRefused)
    {
        auto const g = grant();
        auto message = encode(g);
        poke(message, grantProviderOffset + 2 + g.provider.size(), std::uint8_t{3});

        expectRefused(decodeRegionGrant(message), MXL_ERR_INVALID_ARG, "unknown transfer mode 3");
    }

    TEST(FabricMessages, OverLongNamesAreRefused)
    {
        auto g = grant();
        g.node = std::string(256, 'n');

        expectRefused(decodeRegionGrant(encode(g)), MXL_ERR_INVALID_ARG, "over-long");
    }

    TEST(FabricMessages, OverLongFlowDefinitionIsRefused)
    {
        auto offer = videoOffer();
        offer.flowDef = std::string(maxFlowDefinitionSize + 1, ' ');

        expectRefused(decodeFlowOffer(encode(offer)), MXL_ERR_INVALID_ARG, "over-long");
    }

    TEST(FabricMessages, OfferWhoseIdDiffersFromItsConfigurationsIdIsRefused)
    {
        auto offer = videoOffer();
        offer.config.common.id[15] ^= 0xFF;

        expectRefused(decodeFlowOffer(encode(offer)), MXL_ERR_INVALID_ARG, "flow id differs");
    }

    TEST(FabricMessages, OfferWithUnsupportedFormatOrRateIsRefused)
    {
        auto unspecified = videoOffer();
        unspecified.config.common.format = MXL_DATA_FORMAT_UNSPECIFIED;
        auto zeroRate = videoOffer();
        zeroRate.config.common.grainRate = {50, 0};
        auto negativeRate = audioOffer();
        negativeRate.config.common.grainRate = {-48000, 1};

        expectRefused(decodeFlowOffer(encode(unspecified)), MXL_ERR_INVALID_ARG, "unsupported data format 0");
        expectRefused(decodeFlowOffer(encode(zeroRate)), MXL_ERR_INVALID_ARG, "grain rate");
        expectRefused(decodeFlowOffer(encode(negativeRate)), MXL_ERR_INVALID_ARG, "grain rate");
    }

    TEST(FabricMessages, OfferWithInconsistentGrainGeometryIsRefused)
    {
        auto wrongSize = videoOffer();
        wrongSize.grainSize += 1;
        auto noSlices = videoOffer();
        noSlices.totalSlices = 0;
        noSlices.grainSize = 0;
        auto noGrains = videoOffer();
        noGrains.config.discrete.grainCount = 0;
        auto tooManyGrains = videoOffer();
        tooManyGrains.config.discrete.grainCount = 100'001;
        auto extraPlane = videoOffer();
        extraPlane.config.discrete.sliceSizes[1] = 1280;

        for (auto const* offer : {&wrongSize, &noSlices, &noGrains, &tooManyGrains, &extraPlane})
        {
            expectRefused(decodeFlowOffer(encode(*offer)), MXL_ERR_INVALID_ARG, "inconsistent grain geometry");
        }
    }

    TEST(FabricMessages, OfferWithInconsistentChannelGeometryIsRefused)
    {
        auto noChannels = audioOffer();
        noChannels.config.continuous.channelCount = 0;
        auto tooManyChannels = audioOffer();
        tooManyChannels.config.continuous.channelCount = 1025;
        auto shortBuffer = audioOffer();
        shortBuffer.config.continuous.bufferLength = 1;
        auto hugeBuffer = audioOffer();
        hugeBuffer.config.continuous.bufferLength = (1U << 30) + 1;
        auto oddWord = audioOffer();
        oddWord.sampleWordSize = 3;

        for (auto const* offer : {&noChannels, &tooManyChannels, &shortBuffer, &hugeBuffer, &oddWord})
        {
            expectRefused(decodeFlowOffer(encode(*offer)), MXL_ERR_INVALID_ARG, "inconsistent channel geometry");
        }
    }

    TEST(FabricMessages, OfferFieldsAtFixedOffsets)
    {
        // Pins the wire layout that the offsets above (and other implementations) rely on.
        auto const offer = videoOffer();
        auto const message = encode(offer);
        std::uint32_t grainSize = 0;
        std::uint16_t totalSlices = 0;
        std::uint16_t wordSize = 1;
        std::memcpy(&grainSize, message.data() + offerGrainSizeOffset, sizeof grainSize);
        std::memcpy(&totalSlices, message.data() + offerTotalSlicesOffset, sizeof totalSlices);
        std::memcpy(&wordSize, message.data() + offerWordSizeOffset, sizeof wordSize);

        EXPECT_EQ(std::memcmp(message.data() + offerConfigOffset, &offer.config, sizeof offer.config), 0);
        EXPECT_EQ(grainSize, offer.grainSize);
        EXPECT_EQ(totalSlices, offer.totalSlices);
        EXPECT_EQ(wordSize, 0);
        EXPECT_EQ(message.size(), offerWordSizeOffset + 2 + 4 + offer.flowDef.size());
    }

    TEST(FabricMessages, FuzzSeedsAreValidMessages)
    {
        std::size_t offers = 0;
        std::size_t grants = 0;
        for (auto const& entry : std::filesystem::directory_iterator{MXL_FABRIC_MESSAGE_SEEDS})
        {
            std::ifstream in{entry.path(), std::ios::binary};
            std::vector<char> const raw{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
            auto const message = std::as_bytes(std::span{raw});
            auto const type = peekMessageType(message);
            ASSERT_TRUE(type) << entry.path() << ": " << type.error().message;
            if (type.value() == MessageType::FlowOffer)
            {
                auto const offer = decodeFlowOffer(message);
                EXPECT_TRUE(offer) << entry.path() << ": " << offer.error().message;
                ++offers;
            }
            else
            {
                auto const g = decodeRegionGrant(message);
                EXPECT_TRUE(g) << entry.path() << ": " << g.error().message;
                ++grants;
            }
        }
        EXPECT_GE(offers, 1U);
        EXPECT_GE(grants, 1U);
    }
}

namespace mxl::fabric::test
{
    TEST(FabricMessages, TheConfigurationTravelsFieldByFieldInTheLittleEndianLayoutOfProtocol3)
    {
        // Protocol 3 sent the configuration as the struct's bytes; the field-by-field codec must send
        // exactly those bytes (every field little-endian, the reserved bytes as they are), for both
        // views of the union.
        for (auto offer : {videoOffer(), audioOffer()})
        {
            offer.config.common.reserved[5] = 0x5A;
            offer.config.common.grainRate.denominator = 1001;
            auto const bytes = encode(offer);
            ASSERT_GE(bytes.size(), offerConfigOffset + sizeof offer.config);
            EXPECT_EQ(std::memcmp(bytes.data() + offerConfigOffset, &offer.config, sizeof offer.config), 0);
            auto decoded = decodeFlowOffer(bytes);
            ASSERT_TRUE(decoded) << decoded.error().message;
            EXPECT_EQ(std::memcmp(&decoded->config, &offer.config, sizeof offer.config), 0);
        }
    }

    TEST(FabricMessages, ScalarsAreLittleEndianOnTheWire)
    {
        WireWriter w;
        w.put(std::uint32_t{0x01020304});
        w.put(std::int16_t{-2});
        w.put(1.5);
        auto const& b = w.data();
        ASSERT_EQ(b.size(), 14U);
        EXPECT_EQ(b[0], std::byte{0x04});
        EXPECT_EQ(b[3], std::byte{0x01});
        EXPECT_EQ(b[4], std::byte{0xFE});
        EXPECT_EQ(b[5], std::byte{0xFF});
        EXPECT_EQ(b[13], std::byte{0x3F}); // 1.5 = 0x3FF8000000000000
        WireReader r{b};
        std::uint32_t u = 0;
        std::int16_t i = 0;
        double d = 0;
        ASSERT_TRUE(r.get(u) && r.get(i) && r.get(d));
        EXPECT_EQ(u, 0x01020304U);
        EXPECT_EQ(i, -2);
        EXPECT_EQ(d, 1.5);
        EXPECT_FALSE(r.get(u)) << "read past the end";
    }
}
