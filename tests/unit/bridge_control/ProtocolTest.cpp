// SPDX-License-Identifier: Apache-2.0
// The control messages between two bridges: what is encoded decodes to the same message, and any
// malformed frame is refused with a message that names the message type and the field, never read
// past its end.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "SampleMessages.hpp"
#include "control/Protocol.hpp"
#include "protocol/Wire.hpp"

namespace mxl::bridge::test
{
    namespace
    {
        constexpr std::size_t versionOffset = 4;
        constexpr std::size_t typeOffset = 6;
        constexpr std::size_t lengthOffset = 8;

        std::vector<std::byte> frameOf(std::uint16_t type, std::vector<std::byte> const& body, std::uint32_t magic = controlMagic,
            std::uint16_t version = controlVersion)
        {
            fabric::WireWriter w;
            w.put(magic);
            w.put(version);
            w.put(type);
            w.put(static_cast<std::uint32_t>(body.size()));
            w.bytes(body);
            return std::move(w.data());
        }

        std::vector<std::byte> frameOf(ControlType type, fabric::WireWriter& body)
        {
            return frameOf(static_cast<std::uint16_t>(type), body.data());
        }

        void setBodyLength(std::vector<std::byte>& frame, std::uint32_t length)
        {
            std::memcpy(frame.data() + lengthOffset, &length, sizeof length);
        }

        void putUuid(fabric::WireWriter& w, Uuid const& id)
        {
            w.bytes(std::as_bytes(std::span{id}));
        }

        /// Decoding frame fails with status and a message that contains every one of parts.
        ::testing::AssertionResult refused(std::vector<std::byte> const& frame, mxlStatus status, std::vector<std::string> const& parts)
        {
            auto const decoded = decodeControl(frame);
            if (decoded)
            {
                return ::testing::AssertionFailure() << "decoded as " << controlTypeName(controlType(decoded.value()));
            }
            if (decoded.error().status != status)
            {
                return ::testing::AssertionFailure() << "status " << decoded.error().status << " (" << decoded.error().message << ")";
            }
            for (auto const& part : parts)
            {
                if (decoded.error().message.find(part) == std::string::npos)
                {
                    return ::testing::AssertionFailure() << "message \"" << decoded.error().message << "\" lacks \"" << part << "\"";
                }
            }
            return ::testing::AssertionSuccess();
        }

        std::string lower(std::string text)
        {
            std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            return text;
        }
    }

    TEST(ControlProtocol, EveryMessageRoundTrips)
    {
        auto const samples = sampleMessages();
        std::set<std::string> names;
        for (std::size_t i = 0; i < samples.size(); ++i)
        {
            auto const& message = samples[i];
            auto const type = controlType(message);
            EXPECT_EQ(static_cast<std::size_t>(type), i + 1);
            names.insert(controlTypeName(type));

            auto const frame = encodeControl(message);
            if (retired(message))
            {
                EXPECT_TRUE(refused(frame, MXL_ERR_INVALID_ARG, {"unknown message type 2"}));
                continue;
            }
            ASSERT_GE(frame.size(), controlHeaderSize);
            auto const body = controlBodySize(std::span{frame}.first(controlHeaderSize));
            ASSERT_TRUE(body) << body.error().message;
            EXPECT_EQ(body.value(), frame.size() - controlHeaderSize);

            auto const decoded = decodeControl(frame);
            ASSERT_TRUE(decoded) << controlTypeName(type) << ": " << decoded.error().message;
            EXPECT_EQ(decoded.value(), message) << controlTypeName(type);
        }
        EXPECT_EQ(names.size(), std::variant_size_v<ControlMessage>);
        EXPECT_EQ(names.count("unknown"), 0U);
    }

    TEST(ControlProtocol, DefaultMessagesAreRefusedWhereAFieldMustBeSet)
    {
        // A default Offer, Grant, Started or FlowGone has offer epoch 0: encodable, but no peer takes it.
        for (ControlMessage const& message : {ControlMessage{Offer{}}, ControlMessage{Grant{}}, ControlMessage{Started{}}, ControlMessage{FlowGone{}}})
        {
            EXPECT_TRUE(refused(encodeControl(message), MXL_ERR_INVALID_ARG, {controlTypeName(controlType(message)), "offerEpoch is 0"}));
        }
        for (ControlMessage const& message : {ControlMessage{Hello{}}, ControlMessage{Capabilities{}},
                 ControlMessage{Catalogue{}}, ControlMessage{Heartbeat{}}, ControlMessage{ControlError{}}, ControlMessage{Goodbye{}}})
        {
            auto const decoded = decodeControl(encodeControl(message));
            ASSERT_TRUE(decoded) << decoded.error().message;
            EXPECT_EQ(decoded.value(), message);
        }
    }

    TEST(ControlProtocol, TruncatedFramesAreRefusedAtEveryLength)
    {
        for (auto const& message : sampleMessages())
        {
            if (retired(message))
            {
                continue;
            }
            auto const frame = encodeControl(message);
            auto const* name = controlTypeName(controlType(message));
            for (std::size_t length = 0; length < frame.size(); ++length)
            {
                std::vector<std::byte> const cut{frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(length)};
                EXPECT_TRUE(refused(cut, MXL_ERR_INVALID_ARG, {"control"})) << name << " cut to " << length;
                if (length >= controlHeaderSize)
                {
                    // The length field agrees with the shorter body: the body decoder itself must notice.
                    auto consistent = cut;
                    setBodyLength(consistent, static_cast<std::uint32_t>(length - controlHeaderSize));
                    EXPECT_TRUE(refused(consistent, MXL_ERR_INVALID_ARG, {std::string{"control message "} + name + ":"}))
                        << name << " cut to " << length;
                }
            }
        }
    }

    TEST(ControlProtocol, PeerTextsReachLogsWithoutControlCharacters)
    {
        // A reason or a label with a newline could forge a log line; an escape sequence could rewrite an operator's terminal.
        auto decoded = decodeControl(encodeControl(Goodbye{.reason = "stopping\n[mxl] [info] forged\x1b[2J\x7f done"}));
        ASSERT_TRUE(decoded) << decoded.error().message;
        EXPECT_EQ(std::get<Goodbye>(*decoded).reason, "stopping?[mxl] [info] forged?[2J? done");
        auto hello = decodeControl(encodeControl(Hello{.bridgeId = sampleUuid(1), .software = "mxl\rbridge\t1"}));
        ASSERT_TRUE(hello) << hello.error().message;
        EXPECT_EQ(std::get<Hello>(*hello).software, "mxl?bridge?1");
    }

    TEST(ControlProtocol, TrailingBytesAreRefused)
    {
        for (auto const& message : sampleMessages())
        {
            if (retired(message))
            {
                continue;
            }
            auto frame = encodeControl(message);
            frame.push_back(std::byte{0});
            EXPECT_TRUE(refused(frame, MXL_ERR_INVALID_ARG, {"body length field says"}));
            setBodyLength(frame, static_cast<std::uint32_t>(frame.size() - controlHeaderSize));
            EXPECT_TRUE(refused(frame, MXL_ERR_INVALID_ARG, {controlTypeName(controlType(message)), "1 trailing bytes"}));
        }
    }

    TEST(ControlProtocol, OversizedLengthIsRefusedBeforeReading)
    {
        auto header = frameOf(static_cast<std::uint16_t>(ControlType::Offer), {});
        setBodyLength(header, static_cast<std::uint32_t>(maxControlBody));
        auto const largest = controlBodySize(header);
        ASSERT_TRUE(largest) << largest.error().message;
        EXPECT_EQ(largest.value(), maxControlBody);

        // Only the 12-byte header: the size is refused without any body present.
        setBodyLength(header, static_cast<std::uint32_t>(maxControlBody + 1));
        auto const tooLarge = controlBodySize(header);
        ASSERT_FALSE(tooLarge);
        EXPECT_EQ(tooLarge.error().status, MXL_ERR_INVALID_ARG);
        EXPECT_NE(tooLarge.error().message.find("control message Offer: body length 1048577 exceeds 1048576"), std::string::npos)
            << tooLarge.error().message;
        setBodyLength(header, 0xFFFFFFFFU);
        EXPECT_FALSE(controlBodySize(header));
        EXPECT_TRUE(refused(header, MXL_ERR_INVALID_ARG, {"exceeds"}));
    }

    TEST(ControlProtocol, ShortHeaderIsRefused)
    {
        auto const frame = encodeControl(Heartbeat{});
        for (std::size_t length = 0; length < controlHeaderSize; ++length)
        {
            auto const size = controlBodySize(std::span{frame}.first(length));
            ASSERT_FALSE(size) << length;
            EXPECT_NE(size.error().message.find("shorter than the 12-byte header"), std::string::npos) << size.error().message;
        }
    }

    TEST(ControlProtocol, BadMagicUnknownTypeAndOtherVersionAreRefused)
    {
        EXPECT_TRUE(refused(frameOf(12, std::vector<std::byte>(16), 0x434C584EU), MXL_ERR_INVALID_ARG, {"bad magic"}));
        for (std::uint16_t const type : std::initializer_list<std::uint16_t>{0, 2, 16, 0xFFFF})
        {
            EXPECT_TRUE(refused(frameOf(type, {}), MXL_ERR_INVALID_ARG, {"unknown message type " + std::to_string(type)}));
        }
        auto frame = encodeControl(Heartbeat{});
        std::uint16_t const version = 1;
        std::memcpy(frame.data() + versionOffset, &version, sizeof version);
        EXPECT_TRUE(refused(frame, MXL_ERR_UNSUPPORTED_OPERATION, {"version 1"}));
    }

    TEST(ControlProtocol, BodyOfAnotherTypeIsRefused)
    {
        // A Heartbeat's 16-byte body read as a Started: the flow id fits, the epoch is missing.
        auto frame = encodeControl(Heartbeat{.sequence = 1, .sendTime = 2});
        std::uint16_t const started = static_cast<std::uint16_t>(ControlType::Started);
        std::memcpy(frame.data() + typeOffset, &started, sizeof started);
        EXPECT_TRUE(refused(frame, MXL_ERR_INVALID_ARG, {"control message Started: offerEpoch truncated"}));
    }

    TEST(ControlProtocol, BlobLongerThanLimitIsRefused)
    {
        fabric::WireWriter w;
        putUuid(w, sampleUuid(1));
        w.put(std::uint64_t{7});
        w.put(std::uint32_t{5000000});
        w.bytes(sampleBlob(64, 1));
        EXPECT_TRUE(refused(frameOf(ControlType::Offer, w), MXL_ERR_INVALID_ARG, {"control message Offer: flowOffer length 5000000 exceeds 1048576"}));

        fabric::WireWriter g;
        putUuid(g, sampleUuid(1));
        g.put(std::uint64_t{7});
        g.put(std::uint32_t{0}); // part 0
        g.put(std::uint32_t{1}); // of 1
        g.put(std::uint32_t{100});
        g.bytes(sampleBlob(99, 1));
        EXPECT_TRUE(refused(frameOf(ControlType::Grant, g), MXL_ERR_INVALID_ARG, {"control message Grant: regionGrant truncated"}));
    }

    TEST(ControlProtocol, TextLongerThanLimitIsRefused)
    {
        fabric::WireWriter w;
        w.string16(std::string(maxTextSize + 1, 'x'));
        EXPECT_TRUE(refused(frameOf(ControlType::Goodbye, w), MXL_ERR_INVALID_ARG, {"control message Goodbye: reason length 1025 exceeds 1024"}));

        fabric::WireWriter exact;
        exact.string16(std::string(maxTextSize, 'x'));
        auto const decoded = decodeControl(frameOf(ControlType::Goodbye, exact));
        ASSERT_TRUE(decoded) << decoded.error().message;
        EXPECT_EQ(std::get<Goodbye>(decoded.value()).reason.size(), maxTextSize);
    }

    TEST(ControlProtocol, EncoderCutsLongTextAtACharacterBoundary)
    {
        // "é" is two bytes and would straddle the limit: it goes entirely.
        std::string const reason = std::string(maxTextSize - 1, 'a') + "\xc3\xa9" + "tail";
        auto const decoded = decodeControl(encodeControl(Goodbye{.reason = reason}));
        ASSERT_TRUE(decoded) << decoded.error().message;
        EXPECT_EQ(std::get<Goodbye>(decoded.value()).reason, std::string(maxTextSize - 1, 'a'));

        std::string const label = std::string(maxTextSize + 500, 'b');
        auto const catalogue = decodeControl(encodeControl(Catalogue{.flows = {{.flowId = sampleUuid(1), .label = label, .format = "video"}}}));
        ASSERT_TRUE(catalogue) << catalogue.error().message;
        EXPECT_EQ(std::get<Catalogue>(catalogue.value()).flows.at(0).label, std::string(maxTextSize, 'b'));
    }

    TEST(ControlProtocol, CountsAboveLimitsAreRefused)
    {
        Capabilities capabilities{.providers = std::vector<std::string>(maxProviders + 1, "tcp")};
        EXPECT_TRUE(refused(encodeControl(capabilities), MXL_ERR_INVALID_ARG, {"control message Capabilities: providers count 33 exceeds 32"}));
        capabilities.providers.resize(maxProviders);
        EXPECT_TRUE(decodeControl(encodeControl(capabilities)));

        Catalogue catalogue;
        catalogue.flows.resize(maxCatalogueEntries + 1, CatalogueEntry{.flowId = sampleUuid(2), .label = "l", .format = "video"});
        EXPECT_TRUE(refused(encodeControl(catalogue), MXL_ERR_INVALID_ARG, {"control message Catalogue: flows count 257 exceeds 256"}));
        catalogue.flows.resize(maxCatalogueEntries);
        EXPECT_TRUE(decodeControl(encodeControl(catalogue)));

        // A count larger than the body holds is refused as truncation, without reserving for it.
        fabric::WireWriter w;
        w.put(std::uint32_t{0});
        w.put(std::uint32_t{1});
        w.put(std::uint32_t{200});
        EXPECT_TRUE(refused(frameOf(ControlType::Catalogue, w), MXL_ERR_INVALID_ARG, {"flows[0]: flowId truncated"}));
    }

    TEST(ControlProtocol, CataloguePagesAndGrantPartsOutOfRangeAreRefused)
    {
        for (auto const& [page, pages] : {std::pair{0U, 0U}, std::pair{1U, 1U}, std::pair{5U, 3U}, std::pair{0U, maxCataloguePages + 1}})
        {
            EXPECT_TRUE(refused(encodeControl(Catalogue{.page = page, .pages = pages, .flows = {}}), MXL_ERR_INVALID_ARG,
                {"control message Catalogue: page " + std::to_string(page) + " of " + std::to_string(pages)}));
        }
        EXPECT_TRUE(decodeControl(encodeControl(Catalogue{.page = maxCataloguePages - 1, .pages = maxCataloguePages, .flows = {}})));
        for (auto const& [part, parts] : {std::pair{0U, 0U}, std::pair{2U, 2U}, std::pair{0U, maxGrantParts + 1}})
        {
            EXPECT_TRUE(refused(encodeControl(Grant{.flowId = sampleUuid(1), .offerEpoch = 1, .part = part, .parts = parts, .regionGrant = {}}),
                MXL_ERR_INVALID_ARG, {"control message Grant: part " + std::to_string(part) + " of " + std::to_string(parts)}));
        }
        EXPECT_TRUE(refused(encodeControl(Grant{.flowId = sampleUuid(1), .offerEpoch = 1, .regionGrant = sampleBlob(maxGrantChunk + 1, 1)}),
            MXL_ERR_INVALID_ARG, {"a region grant part of 65537 bytes (at most 65536)"}));
        EXPECT_TRUE(decodeControl(encodeControl(Grant{.flowId = sampleUuid(1), .offerEpoch = 1, .part = 63, .parts = 64, .regionGrant = sampleBlob(maxGrantChunk, 1)})));
    }

    TEST(ControlProtocol, AFullCataloguePageOfTheLongestLabelsFitsOneMessage)
    {
        // The exporter pages by entry count; the longest labels and formats must still fit a message.
        Catalogue page{.page = 0, .pages = 1, .flows = {}};
        page.flows.resize(maxCatalogueEntries,
            CatalogueEntry{.flowId = sampleUuid(2), .label = std::string(maxTextSize, 'x'), .format = std::string(maxTextSize, 'y'), .active = true});
        auto const frame = encodeControl(page);
        EXPECT_LE(frame.size() - controlHeaderSize, maxControlBody);
        auto decoded = decodeControl(frame);
        ASSERT_TRUE(decoded) << decoded.error().message;
        EXPECT_EQ(decoded.value(), ControlMessage{page});
    }

    TEST(ControlProtocol, BooleanOtherThanZeroOrOneIsRefused)
    {
        auto frame = encodeControl(Catalogue{.flows = {{.flowId = sampleUuid(3), .label = "a", .format = "video", .active = true}}});
        ASSERT_EQ(frame.back(), std::byte{1});
        frame.back() = std::byte{2};
        EXPECT_TRUE(refused(frame, MXL_ERR_INVALID_ARG, {"control message Catalogue: flows[0]: active is 2, not 0 or 1"}));
    }

    TEST(ControlProtocol, EmptyVersionRangeIsRefused)
    {
        EXPECT_TRUE(refused(encodeControl(Hello{.minVersion = 2, .maxVersion = 1, .software = ""}), MXL_ERR_INVALID_ARG, {"control message Hello: version range 2..1"}));
        EXPECT_TRUE(refused(encodeControl(Hello{.minVersion = 0, .maxVersion = 1, .software = ""}), MXL_ERR_INVALID_ARG, {"version range 0..1"}));
        EXPECT_TRUE(decodeControl(encodeControl(Hello{.minVersion = 1, .maxVersion = 7, .software = ""})));
    }

    TEST(ControlProtocol, UnknownFlagBitsAreRefused)
    {
        EXPECT_TRUE(refused(encodeControl(Hello{.flags = 0x02, .software = ""}), MXL_ERR_INVALID_ARG, {"control message Hello: unknown flags 0x02"}));
        EXPECT_TRUE(
            refused(encodeControl(Capabilities{.providers = {}, .transfers = 0x04}), MXL_ERR_INVALID_ARG, {"control message Capabilities: unknown transfers 0x04"}));
    }

    TEST(ControlProtocol, RandomMutationsAreRefusedOrRoundTrip)
    {
        std::mt19937 random{20240611};
        auto const samples = sampleMessages();
        std::size_t refusedCount = 0;
        for (int round = 0; round < 20000; ++round)
        {
            auto const& sample = samples[random() % samples.size()];
            if (retired(sample))
            {
                continue;
            }
            auto frame = encodeControl(sample);
            auto const flips = 1 + random() % 4;
            for (std::size_t i = 0; i < flips; ++i)
            {
                frame[random() % frame.size()] ^= static_cast<std::byte>(1U << (random() % 8));
            }
            auto const decoded = decodeControl(frame);
            if (!decoded)
            {
                ASSERT_FALSE(decoded.error().message.empty());
                ++refusedCount;
                continue;
            }
            // Texts come back with control characters replaced by '?' (one byte for one): the same size, and
            // a fixed point from there on.
            auto const encoded = encodeControl(decoded.value());
            EXPECT_EQ(encoded.size(), frame.size());
            auto again = decodeControl(encoded);
            ASSERT_TRUE(again) << again.error().message;
            EXPECT_EQ(again.value(), decoded.value());
        }
        EXPECT_GT(refusedCount, 0U);
    }

    TEST(ControlProtocol, SeedCorpusHoldsEveryMessageTypeAsEncodedToday)
    {
        // MXL_WRITE_CONTROL_SEEDS=1 rewrites the fuzzer's seeds from sampleMessages() first.
        std::filesystem::path const dir{MXL_CONTROL_MESSAGE_SEEDS};
        auto const samples = sampleMessages();
        if (auto const* write = std::getenv("MXL_WRITE_CONTROL_SEEDS"); write != nullptr && std::string{write} == "1")
        {
            std::filesystem::create_directories(dir);
            for (auto const& message : samples)
            {
                if (retired(message))
                {
                    continue;
                }
                auto const frame = encodeControl(message);
                std::ofstream out{dir / lower(controlTypeName(controlType(message))), std::ios::binary | std::ios::trunc};
                out.write(reinterpret_cast<char const*>(frame.data()), static_cast<std::streamsize>(frame.size()));
                ASSERT_TRUE(out);
            }
        }
        std::set<ControlType> types;
        for (auto const& entry : std::filesystem::directory_iterator{dir})
        {
            std::ifstream in{entry.path(), std::ios::binary};
            std::vector<char> const raw{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
            auto const frame = std::as_bytes(std::span{raw});
            auto const decoded = decodeControl(frame);
            ASSERT_TRUE(decoded) << entry.path() << ": " << decoded.error().message;
            auto const type = controlType(decoded.value());
            EXPECT_EQ(entry.path().filename().string(), lower(controlTypeName(type)));
            EXPECT_EQ(decoded.value(), samples[static_cast<std::size_t>(type) - 1]) << entry.path();
            types.insert(type);
        }
        EXPECT_EQ(types.size(), samples.size() - 1) << "a seed for every type but the retired one";
    }
}
