// SPDX-License-Identifier: Apache-2.0
// The command ring's messages: the encodings round-trip, and the decoder refuses every kind of bad
// field with a sentence naming it.
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "protocol/Wire.hpp"
#include "remote/Requests.hpp"

namespace mxl::fabric::remote
{
    namespace
    {
        using Entry = std::array<std::byte, layout::entrySize>;

        Request acquire()
        {
            AcquireRequest a{"bridge-a.example", 7400, {}, 2000};
            for (std::size_t i = 0; i < a.flowId.size(); ++i)
            {
                a.flowId[i] = static_cast<std::uint8_t>(i + 1);
            }
            return Request{{4242, 987654}, 17, 3, 9, a};
        }

        Entry encoded(Request const& r, std::uint64_t position = 5)
        {
            Entry e{};
            encodeRequest(r, position, e);
            return e;
        }

        /// Changes the byte at offset and refreshes the checksum, so that only that field is wrong.
        Entry withByte(Entry e, std::size_t offset, std::uint8_t value)
        {
            e[offset] = std::byte{value};
            wire::store(entryChecksum(e), e.data() + 40);
            return e;
        }

        std::string refusal(Entry const& e, std::uint64_t position = 5)
        {
            auto r = decodeRequest(e, position, 16);
            EXPECT_FALSE(r.has_value());
            return r ? std::string{} : r.error().message;
        }
    }

    TEST(CommandRequests, AcquireAndReleaseRoundTrip)
    {
        auto const a = acquire();
        auto decoded = decodeRequest(encoded(a), 5, 16);
        ASSERT_TRUE(decoded) << decoded.error().message;
        EXPECT_EQ(*decoded, a);

        Request const release{{1, 2}, 99, noReply, 0, ReleaseRequest{0xABCDEF}};
        auto back = decodeRequest(encoded(release, 1234567), 1234567, 16);
        ASSERT_TRUE(back) << back.error().message;
        EXPECT_EQ(*back, release);
        EXPECT_EQ(back->kind(), RequestKind::Release);
    }

    TEST(CommandRequests, EncodingIsLittleEndianAtDocumentedOffsets)
    {
        auto const e = encoded(acquire(), 0x0102030405060708ULL);
        EXPECT_EQ(e[0], std::byte{1});                  // version
        EXPECT_EQ(e[1], std::byte{1});                  // kind: Acquire
        EXPECT_EQ(wire::load<std::uint32_t>(e.data() + 4), 3U);
        EXPECT_EQ(wire::load<std::uint32_t>(e.data() + 12), 4242U);
        EXPECT_EQ(e[32], std::byte{0x08});               // position, least significant byte first
        EXPECT_EQ(wire::load<std::uint16_t>(e.data() + 48), 7400);
        EXPECT_EQ(e[50], std::byte{16});                 // host length
        EXPECT_EQ(std::memcmp(e.data() + 72, "bridge-a.example", 16), 0);
    }

    TEST(CommandRequests, DecoderNamesTheWrongField)
    {
        auto const good = encoded(acquire());
        EXPECT_NE(refusal(withByte(good, 0, 2)).find("'version'"), std::string::npos);
        EXPECT_NE(refusal(withByte(good, 1, 9)).find("'kind'"), std::string::npos);
        EXPECT_NE(refusal(withByte(good, 2, 1)).find("'reserved'"), std::string::npos);
        EXPECT_NE(refusal(withByte(good, 4, 16)).find("'replySlot'"), std::string::npos);
        EXPECT_NE(refusal(withByte(good, 11, 0xC0)).find("'replyGeneration'"), std::string::npos);
        EXPECT_NE(refusal(withByte(withByte(good, 12, 0), 13, 0)).find("'clientPid'"), std::string::npos);
        EXPECT_NE(refusal(withByte(good, 15, 0x40)).find("'clientPid'"), std::string::npos);
        EXPECT_NE(refusal(withByte(withByte(withByte(good, 16, 0), 17, 0), 18, 0)).find("'clientStartTime'"), std::string::npos);
        EXPECT_NE(refusal(good, 6).find("'position'"), std::string::npos);
        EXPECT_NE(refusal(withByte(withByte(good, 48, 0), 49, 0)).find("'port'"), std::string::npos);
        EXPECT_NE(refusal(withByte(good, 50, 0)).find("'hostLength'"), std::string::npos);
        EXPECT_NE(refusal(withByte(good, 50, 200)).find("'hostLength'"), std::string::npos);
        EXPECT_NE(refusal(withByte(good, 51, 1)).find("'reserved'"), std::string::npos);
        EXPECT_NE(refusal(withByte(good, 55, 0x7F)).find("'timeoutMs'"), std::string::npos);
        EXPECT_NE(refusal(withByte(good, 72, '/')).find("'host'"), std::string::npos);
        EXPECT_NE(refusal(withByte(good, 72, '-')).find("'host'"), std::string::npos);
        EXPECT_NE(refusal(withByte(good, 200, 'x')).find("'host'"), std::string::npos);

        Entry damaged = good;
        damaged[100] ^= std::byte{0x10};
        EXPECT_NE(refusal(damaged).find("'checksum'"), std::string::npos);

        auto nilFlow = acquire();
        std::get<AcquireRequest>(nilFlow.body).flowId = {};
        EXPECT_NE(refusal(encoded(nilFlow)).find("'flowId'"), std::string::npos);

        Request release{{1, 2}, 99, noReply, 0, ReleaseRequest{0}};
        EXPECT_NE(refusal(encoded(release)).find("'leaseId'"), std::string::npos);
        std::get<ReleaseRequest>(release.body).leaseId = 7;
        EXPECT_NE(refusal(withByte(encoded(release), 100, 1)).find("'body'"), std::string::npos);
    }

    TEST(CommandRequests, GarbageIsRefusedNotCrashedOn)
    {
        Entry e{};
        for (std::size_t i = 0; i < e.size(); ++i)
        {
            e[i] = static_cast<std::byte>(i * 37 + 11);
        }
        EXPECT_FALSE(decodeRequest(e, entryPosition(e), 16));
        e.fill(std::byte{0});
        EXPECT_NE(refusal(e, 0).find("'version'"), std::string::npos);
    }

    TEST(CommandRequests, RepliesRoundTripAndMapToStatuses)
    {
        std::array<std::byte, layout::replyBodySize> bytes{};
        Reply const r{ReplyStatus::NoFabric, 17, 0x1234, "no provider reaches bridge-a"};
        encodeReply(r, bytes);
        auto back = decodeReply(bytes);
        ASSERT_TRUE(back) << back.error().message;
        EXPECT_EQ(*back, r);

        encodeReply(Reply{ReplyStatus::Ok, 1, 2, std::string(200, 'x') + "\n"}, bytes);
        back = decodeReply(bytes);
        ASSERT_TRUE(back);
        EXPECT_EQ(back->reason.size(), maxReasonLength);

        wire::store(std::uint32_t{99}, bytes.data());
        ASSERT_FALSE(decodeReply(bytes));
        EXPECT_NE(decodeReply(bytes).error().message.find("'status'"), std::string::npos);

        EXPECT_EQ(toStatus(ReplyStatus::Ok), MXL_STATUS_OK);
        EXPECT_EQ(toStatus(ReplyStatus::Timeout), MXL_ERR_TIMEOUT);
        EXPECT_EQ(toStatus(ReplyStatus::NotFound), MXL_ERR_NOT_FOUND);
        EXPECT_EQ(toStatus(ReplyStatus::NoFabric), MXL_ERR_NO_FABRIC);
        EXPECT_EQ(toStatus(ReplyStatus::PermissionDenied), MXL_ERR_PERMISSION_DENIED);
        EXPECT_EQ(toStatus(ReplyStatus::InvalidArg), MXL_ERR_INVALID_ARG);
        EXPECT_EQ(toStatus(ReplyStatus::Busy), MXL_ERR_NOT_READY);
    }

    TEST(CommandRequests, StartTimeIsField22EvenWithParenthesesInTheName)
    {
        EXPECT_EQ(parseStartTime("123 (a) b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4567 19 20"), 4567U);
        EXPECT_EQ(parseStartTime("123 (x) S 1 2"), 0U);
        EXPECT_EQ(parseStartTime("garbage"), 0U);
        auto self = selfIdentity();
        ASSERT_TRUE(self) << self.error().message;
        EXPECT_EQ(check(*self), Liveness::Alive);
        EXPECT_EQ(check({self->pid, self->startTime + 1}), Liveness::Mismatch);
    }

    TEST(CommandRequests, SeedCorpusDecodes)
    {
        std::size_t valid = 0;
        for (auto const& file : std::filesystem::directory_iterator{MXL_COMMAND_REQUEST_SEEDS})
        {
            std::ifstream in{file.path(), std::ios::binary};
            std::string const bytes{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
            if (!file.path().filename().string().starts_with("valid_"))
            {
                continue;
            }
            ASSERT_EQ(bytes.size(), layout::entrySize) << file.path();
            Entry e{};
            std::memcpy(e.data(), bytes.data(), e.size());
            auto r = decodeRequest(e, entryPosition(e), 256);
            EXPECT_TRUE(r) << file.path() << ": " << (r ? "" : r.error().message);
            ++valid;
        }
        EXPECT_GE(valid, 2U);
    }
}
