// SPDX-License-Identifier: Apache-2.0
#pragma once

// Mutual challenge-response authentication of two bridges with a pre-shared key (HMAC-SHA256 from
// OpenSSL's libcrypto), and the per-session key that then authenticates every frame.
//
// Each side sends Hello with a fresh random nonce, then Auth with
//   mac = HMAC-SHA256(key, "mxl-fabric-bridge auth v1" | role | ownBridgeId | peerBridgeId | ownNonce | peerNonce)
// where role is 'C' for the side that connected and 'S' for the side that accepted. A side checks the
// peer's MAC by computing it with the peer's role and the ids and nonces swapped, in constant time.
// Neither side learns anything usable from a failed attempt: nonces are never reused, and a reflected
// Auth fails because the role differs.
// After both Auth messages check out, both derive
//   sessionKey = HMAC-SHA256(key, "mxl-fabric-bridge session v1" | clientNonce | serverNonce)
// and every later frame carries a trailer MAC under it (Connection.hpp).
// --insecure uses a fixed, public key: the handshake then only detects accidents, not attackers.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/Expected.hpp"
#include "common/Uuid.hpp"
#include "control/Protocol.hpp"

namespace mxl::bridge
{
    enum class Role : char
    {
        Client = 'C', ///< Connected to the peer's --listen address.
        Server = 'S', ///< Accepted the connection.
    };

    /// Key bytes. Never logged, never formatted; wiped on destruction.
    class PresharedKey
    {
    public:
        PresharedKey() = default;
        explicit PresharedKey(std::vector<std::byte> bytes) noexcept
            : _bytes{std::move(bytes)}
        {}
        ~PresharedKey();
        PresharedKey(PresharedKey&&) noexcept = default;
        /// Assignments wipe the bytes they replace.
        PresharedKey& operator=(PresharedKey&& other) noexcept;
        PresharedKey(PresharedKey const&) = default;
        PresharedKey& operator=(PresharedKey const& other);

        [[nodiscard]] std::span<std::byte const> bytes() const noexcept
        {
            return _bytes;
        }

        /// The fixed public key of --insecure.
        static PresharedKey insecure();

    private:
        std::vector<std::byte> _bytes;
    };

    /// Reads a key file: its content with one trailing newline (LF or CRLF) removed; at least 16 bytes
    /// and at most 4096. Errors (INVALID_ARG, message naming the file and what is wrong, never the
    /// content): unreadable, empty, too short, too long, or readable by group or others (mode & 077).
    Expected<PresharedKey> loadPresharedKey(std::filesystem::path const& file);

    /// 32 bytes from getrandom().
    Nonce randomNonce();

    Mac authMac(PresharedKey const& key, Role role, Uuid const& ownId, Uuid const& peerId, Nonce const& ownNonce, Nonce const& peerNonce);

    /// Whether mac is what a peer with role peerRole must have sent (constant-time comparison).
    bool verifyAuthMac(PresharedKey const& key, Role peerRole, Uuid const& peerId, Uuid const& ownId, Nonce const& peerNonce, Nonce const& ownNonce,
        Mac const& mac);

    Mac sessionKey(PresharedKey const& key, Nonce const& clientNonce, Nonce const& serverNonce);

    /// The trailer of an authenticated frame (Connection.hpp):
    /// HMAC-SHA256(sessionKey, sender role | sequence (u64 LE) | frame), frame without its trailer.
    Mac frameMac(Mac const& sessionKey, Role sender, std::uint64_t sequence, std::span<std::byte const> frame);

    /// HMAC-SHA256(key, data); the building block, exposed for tests.
    Mac hmacSha256(std::span<std::byte const> key, std::span<std::byte const> data);
}
