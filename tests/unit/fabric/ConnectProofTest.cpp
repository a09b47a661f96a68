// SPDX-License-Identifier: Apache-2.0
// The proof a source sends with its connection request: it depends on every bit of the key, the
// flow, the epoch and the nonce; any change to it is refused with a reason; and the sink's checker
// refuses a nonce it has accepted before.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "base/Uuid.hpp"
#include "protocol/ConnectProof.hpp"

namespace mxl::fabric::test
{
    namespace
    {
        constexpr std::uint64_t epoch = 0x0123456789ABCDEFULL;

        template<typename T>
        T require(Expected<T> result)
        {
            if (!result)
            {
                throw std::runtime_error(result.error().message);
            }
            return std::move(result).value();
        }

        ConnectKey key()
        {
            ConnectKey k{};
            for (std::size_t i = 0; i < k.size(); ++i)
            {
                k[i] = static_cast<std::byte>(0x30 + i);
            }
            return k;
        }

        Uuid flow()
        {
            Uuid id{};
            for (std::size_t i = 0; i < id.size(); ++i)
            {
                id[i] = static_cast<std::uint8_t>(0xC0 + i);
            }
            return id;
        }

        ConnectNonce nonce(std::uint8_t seed = 0)
        {
            ConnectNonce n{};
            for (std::size_t i = 0; i < n.size(); ++i)
            {
                n[i] = static_cast<std::byte>(seed * 17 + i);
            }
            return n;
        }

        ConnectProof proof(ConnectKey const& k, Uuid const& id, std::uint64_t e, ConnectNonce const& n)
        {
            auto made = makeConnectProof(k, id, e, n);
            EXPECT_TRUE(made) << made.error().message;
            return made ? *made : ConnectProof{};
        }

        std::span<std::byte const> macOf(ConnectProof const& p)
        {
            return std::span{p}.subspan(1 + connectNonceSize);
        }

        template<typename Bytes>
        Bytes flipped(Bytes bytes, std::size_t bit)
        {
            bytes[bit / 8] ^= static_cast<std::remove_reference_t<decltype(bytes[0])>>(1U << (bit % 8));
            return bytes;
        }

        void expectReason(std::optional<std::string> const& reason, std::string const& expected)
        {
            ASSERT_TRUE(reason) << "accepted; expected refusal for " << expected;
            EXPECT_EQ(*reason, expected);
        }
    }

    TEST(ConnectProof, AProofMadeWithTheGrantsKeyIsAccepted)
    {
        auto const p = require(makeConnectProof(key(), flow(), epoch));

        EXPECT_EQ(verifyConnectProof(p, key(), flow(), epoch), std::nullopt);
    }

    TEST(ConnectProof, FitsTheConnectionDataOfEveryProvider)
    {
        auto const n = nonce();
        auto const p = proof(key(), flow(), epoch, n);

        EXPECT_EQ(p.size(), 49U);
        EXPECT_LE(p.size(), 56U) << "verbs' rdma_cm carries 56 bytes of private data";
        EXPECT_EQ(p[0], std::byte{1}) << "format version";
        EXPECT_TRUE(std::equal(n.begin(), n.end(), p.begin() + 1)) << "the nonce travels in the clear after the version";
    }

    TEST(ConnectProof, EveryAttemptHasAFreshNonce)
    {
        std::set<std::vector<std::byte>> seen;
        for (int i = 0; i < 64; ++i)
        {
            auto const p = require(makeConnectProof(key(), flow(), epoch));
            EXPECT_TRUE(seen.emplace(p.begin() + 1, p.begin() + 1 + connectNonceSize).second) << "a nonce came twice";
        }
    }

    TEST(ConnectProof, EveryBitOfKeyFlowEpochAndNonceChangesTheMac)
    {
        auto const original = proof(key(), flow(), epoch, nonce());
        auto const mac = macOf(original);
        auto const macOfOriginal = std::vector<std::byte>(mac.begin(), mac.end());
        auto const differs = [&](ConnectProof const& other) {
            return !std::ranges::equal(macOf(other), macOfOriginal);
        };

        for (std::size_t bit = 0; bit < connectKeySize * 8; ++bit)
        {
            auto const other = flipped(key(), bit);
            EXPECT_TRUE(differs(proof(other, flow(), epoch, nonce()))) << "key bit " << bit;
            EXPECT_EQ(verifyConnectProof(original, other, flow(), epoch), "bad MAC") << "key bit " << bit;
        }
        for (std::size_t bit = 0; bit < sizeof(Uuid) * 8; ++bit)
        {
            auto const other = flipped(flow(), bit);
            EXPECT_TRUE(differs(proof(key(), other, epoch, nonce()))) << "flow id bit " << bit;
            EXPECT_EQ(verifyConnectProof(original, key(), other, epoch), "bad MAC") << "flow id bit " << bit;
        }
        for (std::size_t bit = 0; bit < 64; ++bit)
        {
            auto const other = epoch ^ (std::uint64_t{1} << bit);
            EXPECT_TRUE(differs(proof(key(), flow(), other, nonce()))) << "epoch bit " << bit;
            EXPECT_EQ(verifyConnectProof(original, key(), flow(), other), "bad MAC") << "epoch bit " << bit;
        }
        for (std::size_t bit = 0; bit < connectNonceSize * 8; ++bit)
        {
            EXPECT_TRUE(differs(proof(key(), flow(), epoch, flipped(nonce(), bit)))) << "nonce bit " << bit;
        }
    }

    TEST(ConnectProof, EveryBitFlippedInTransitIsRefused)
    {
        auto const original = proof(key(), flow(), epoch, nonce());

        for (std::size_t bit = 0; bit < original.size() * 8; ++bit)
        {
            auto const reason = verifyConnectProof(flipped(original, bit), key(), flow(), epoch);
            ASSERT_TRUE(reason) << "bit " << bit << " flipped was accepted";
            EXPECT_EQ(*reason, bit < 8 ? "unknown format version " + std::to_string(1U ^ (1U << bit)) : std::string{"bad MAC"}) << "bit " << bit;
        }
    }

    TEST(ConnectProof, NoDataOrAnotherLengthIsRefusedNamingIt)
    {
        auto const p = proof(key(), flow(), epoch, nonce());
        std::vector<std::byte> longer(p.begin(), p.end());
        longer.push_back(std::byte{0});

        expectReason(verifyConnectProof({}, key(), flow(), epoch), "no connection data");
        expectReason(verifyConnectProof(std::span{p}.first(48), key(), flow(), epoch), "wrong length 48");
        expectReason(verifyConnectProof(std::span{p}.first(1), key(), flow(), epoch), "wrong length 1");
        expectReason(verifyConnectProof(longer, key(), flow(), epoch), "wrong length 50");
    }

    TEST(ConnectProof, AnUnknownFormatVersionIsRefusedBeforeTheMacIsLookedAt)
    {
        auto p = proof(key(), flow(), epoch, nonce());
        p[0] = std::byte{2};

        expectReason(verifyConnectProof(p, key(), flow(), epoch), "unknown format version 2");
    }

    TEST(ConnectProof, FreshKeysDiffer)
    {
        auto const a = require(makeConnectKey());
        auto const b = require(makeConnectKey());

        EXPECT_NE(a, b);
        EXPECT_NE(a, ConnectKey{});
    }

    TEST(ConnectProofChecker, AcceptsAProofOnceAndRefusesItsReplay)
    {
        ConnectProofChecker checker;
        auto const p = proof(key(), flow(), epoch, nonce(1));

        EXPECT_EQ(checker.admit(p, key(), flow(), epoch), std::nullopt);
        expectReason(checker.admit(p, key(), flow(), epoch), "replayed nonce");
        EXPECT_EQ(checker.admit(proof(key(), flow(), epoch, nonce(2)), key(), flow(), epoch), std::nullopt) << "a fresh nonce is accepted";
    }

    TEST(ConnectProofChecker, AForgedProofDoesNotUseUpItsNonce)
    {
        ConnectProofChecker checker;
        auto const forged = proof(flipped(key(), 0), flow(), epoch, nonce(3));

        expectReason(checker.admit(forged, key(), flow(), epoch), "bad MAC");
        EXPECT_EQ(checker.admit(proof(key(), flow(), epoch, nonce(3)), key(), flow(), epoch), std::nullopt);
    }

    TEST(ConnectProofChecker, RemembersTheLast1024AcceptedNonces)
    {
        ConnectProofChecker checker;
        auto const first = require(makeConnectProof(key(), flow(), epoch));
        ASSERT_EQ(checker.admit(first, key(), flow(), epoch), std::nullopt);
        std::vector<ConnectProof> later;
        for (std::size_t i = 0; i < ConnectProofChecker::rememberedNonces - 1; ++i)
        {
            later.push_back(require(makeConnectProof(key(), flow(), epoch)));
            ASSERT_EQ(checker.admit(later.back(), key(), flow(), epoch), std::nullopt);
        }

        expectReason(checker.admit(first, key(), flow(), epoch), "replayed nonce");
        ASSERT_EQ(checker.admit(require(makeConnectProof(key(), flow(), epoch)), key(), flow(), epoch), std::nullopt);
        EXPECT_EQ(checker.admit(first, key(), flow(), epoch), std::nullopt) << "the oldest nonce is forgotten once 1024 newer ones came";
        expectReason(checker.admit(later.back(), key(), flow(), epoch), "replayed nonce");
    }
}
