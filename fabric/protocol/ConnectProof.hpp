// SPDX-License-Identifier: Apache-2.0
#pragma once

// The proof a source sends with its connection request to a sink's data endpoint: that it holds the
// grant (whose connect key only the sink and the grant's recipient know), for this flow and session.
//   version (1 byte, 1) | nonce (16 random bytes) | HMAC-SHA256(connect key, label | flow id |
//   epoch (u64 little-endian) | nonce)
// with label "mxl-fabric data endpoint v1". 49 bytes: within the 56 bytes of private data that
// verbs' rdma_cm carries. A fresh nonce for every attempt lets the sink refuse a replayed request.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/Expected.hpp"
#include "base/Uuid.hpp"

namespace mxl::fabric
{
    inline constexpr std::size_t connectKeySize = 32;
    inline constexpr std::size_t connectNonceSize = 16;
    inline constexpr std::size_t connectMacSize = 32;
    inline constexpr std::uint8_t connectProofVersion = 1;
    inline constexpr std::size_t connectProofSize = 1 + connectNonceSize + connectMacSize;

    /// A sink's secret for its data endpoint; travels only inside a RegionGrant. Never log it.
    using ConnectKey = std::array<std::byte, connectKeySize>;
    using ConnectNonce = std::array<std::byte, connectNonceSize>;
    /// The connection data of one connect attempt.
    using ConnectProof = std::array<std::byte, connectProofSize>;

    /// A fresh key from the one random source (base/Random.hpp). MXL_ERR_INTERNAL when the kernel gives no randomness: never a
    /// predictable key.
    [[nodiscard]] Expected<ConnectKey> makeConnectKey();

    /// The proof for one connect attempt, with a fresh random nonce. MXL_ERR_INTERNAL when there is no
    /// randomness or no HMAC.
    [[nodiscard]] Expected<ConnectProof> makeConnectProof(ConnectKey const& key, Uuid const& flowId, std::uint64_t epoch);

    /// The proof with the given nonce (what a replay, or a test, sends).
    [[nodiscard]] Expected<ConnectProof> makeConnectProof(ConnectKey const& key, Uuid const& flowId, std::uint64_t epoch,
        ConnectNonce const& nonce);

    /// Whether data proves the key for this flow and epoch: nullopt if it does, otherwise why not ("no
    /// connection data", "wrong length N", "unknown format version N", "bad MAC"). The MAC is compared
    /// in constant time. Says nothing about replays (see ConnectProofChecker).
    [[nodiscard]] std::optional<std::string> verifyConnectProof(std::span<std::byte const> data, ConnectKey const& key, Uuid const& flowId,
        std::uint64_t epoch);

    /// The sink's side: verifies each connection request's proof and refuses a nonce it accepted
    /// before ("replayed nonce"). Remembers the last rememberedNonces nonces it accepted; only proofs
    /// made with the key fill that memory, so nobody without the key can push a nonce out of it.
    class ConnectProofChecker
    {
    public:
        static constexpr std::size_t rememberedNonces = 1024;

        /// nullopt when data is a valid proof with a nonce not seen before (which is then
        /// remembered), otherwise the reason for refusing the connection.
        [[nodiscard]] std::optional<std::string> admit(std::span<std::byte const> data, ConnectKey const& key, Uuid const& flowId,
            std::uint64_t epoch);

        /// Forgets every nonce (for a new key: proofs of the old one fail their MAC anyway).
        void forget() noexcept;

    private:
        std::vector<ConnectNonce> _nonces;
        std::size_t _next{0};
    };
}
