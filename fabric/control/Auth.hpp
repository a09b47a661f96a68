// SPDX-License-Identifier: Apache-2.0
#pragma once

// The pre-shared key that authenticates two bridges to each other, and HMAC-SHA256 (OpenSSL's
// libcrypto). The key itself never crosses the network: TLS 1.3 proves it (Tls.hpp), keyed by a value
// derived from it. --insecure uses a fixed, public key: the handshake then only detects accidents,
// not attackers.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/Expected.hpp"
#include "base/Uuid.hpp"
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

    /// HMAC-SHA256(key, data).
    Mac hmacSha256(std::span<std::byte const> key, std::span<std::byte const> data);
}
