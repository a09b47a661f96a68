// SPDX-License-Identifier: Apache-2.0
#pragma once

// TLS 1.3 with an external pre-shared key (OpenSSL's libssl) for the control channel between two
// bridges: both ends prove they hold the key, and everything after the handshake (grants with region
// keys, epochs) is encrypted and integrity-protected. No certificates, no session tickets, no
// resumption; (EC)DHE with the PSK (psk_dhe_ke) gives forward secrecy.
//
//   PSK          = HMAC-SHA256(key file bytes, "mxl-fabric-bridge tls13 psk v2")   (32 bytes)
//   PSK identity = "mxl-fabric-bridge control 2" (or "... 2 insecure" under --insecure, whose key is
//                  a fixed public one)
//   cipher suites: TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256 (both SHA-256, as the PSK)
//
// A TlsChannel does no I/O itself: ciphertext comes in through receiveCiphertext() and goes out through
// takeCiphertext() (memory BIOs), so that its owner (Connection) keeps control of the socket, its
// buffers and their bounds.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/Expected.hpp"
#include "control/Auth.hpp"

using SSL_CTX = struct ssl_ctx_st;
using SSL = struct ssl_st;

namespace mxl::bridge
{
    /// What every control session of a bridge shares: the PSK and the two OpenSSL contexts.
    class TlsContext
    {
    public:
        /// Errors: MXL_ERR_UNKNOWN when libssl cannot set up TLS 1.3 with a PSK (message from OpenSSL).
        static Expected<std::shared_ptr<TlsContext const>> create(PresharedKey const& key, bool insecure);

        ~TlsContext();
        TlsContext(TlsContext const&) = delete;
        TlsContext& operator=(TlsContext const&) = delete;

        [[nodiscard]] bool insecure() const noexcept
        {
            return _insecure;
        }

        /// Used by the PSK callbacks.
        [[nodiscard]] std::span<unsigned char const> psk() const noexcept
        {
            return _psk;
        }

        [[nodiscard]] std::string const& identity() const noexcept
        {
            return _identity;
        }

        [[nodiscard]] std::string const& otherIdentity() const noexcept
        {
            return _otherIdentity;
        }

        [[nodiscard]] SSL_CTX* raw(Role role) const noexcept
        {
            return role == Role::Client ? _client : _server;
        }

    private:
        TlsContext() = default;

        bool _insecure{false};
        std::vector<unsigned char> _psk;
        std::string _identity;      ///< Ours.
        std::string _otherIdentity; ///< The one the other --insecure setting uses (for a clear refusal).
        SSL_CTX* _client{nullptr};
        SSL_CTX* _server{nullptr};
    };

    /// One TLS connection's state machine over memory buffers.
    class TlsChannel
    {
    public:
        /// Errors: MXL_ERR_UNKNOWN when libssl cannot create the connection.
        static Expected<TlsChannel> open(std::shared_ptr<TlsContext const> context, Role role);

        ~TlsChannel();
        TlsChannel(TlsChannel&&) noexcept;
        TlsChannel& operator=(TlsChannel&&) noexcept;
        TlsChannel(TlsChannel const&) = delete;
        TlsChannel& operator=(TlsChannel const&) = delete;

        /// Ciphertext from the peer.
        void receiveCiphertext(std::span<std::byte const> bytes);

        /// Moves the handshake on with what has arrived (the client's first call produces its
        /// ClientHello). Errors end the connection: MXL_ERR_PERMISSION_DENIED when a side does not hold
        /// the key or runs the other --insecure setting (the message says which), MXL_ERR_INVALID_ARG
        /// for anything else the handshake refuses (the message names OpenSSL's reason).
        Expected<void> handshake();

        [[nodiscard]] bool established() const noexcept
        {
            return _established;
        }

        /// Plaintext into out; 0 when a whole record has not arrived yet (or the handshake is not done).
        /// Errors: a record that fails its integrity check or a protocol violation (MXL_ERR_PERMISSION_DENIED),
        /// the peer's close_notify (MXL_ERR_UNKNOWN, "peer closed the TLS session").
        Expected<std::size_t> read(std::span<std::byte> out);

        /// Encrypts plaintext (established channels only); the records wait in takeCiphertext().
        Expected<void> write(std::span<std::byte const> plaintext);

        /// Appends the ciphertext waiting to be sent to out.
        void takeCiphertext(std::vector<std::byte>& out);

        /// Ciphertext received and not yet decrypted, in bytes.
        [[nodiscard]] std::size_t bufferedCiphertext() const noexcept;

    private:
        struct State;
        explicit TlsChannel(std::unique_ptr<State> state) noexcept;

        Expected<void> failure(int result, char const* what);

        std::unique_ptr<State> _state;
        bool _established{false};
    };
}
