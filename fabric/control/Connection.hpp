// SPDX-License-Identifier: Apache-2.0
#pragma once

// One control connection: a non-blocking TCP socket carrying TLS 1.3 with the pre-shared key
// (Tls.hpp), with a plaintext input buffer that cuts frames and an output buffer of ciphertext that
// drains when the socket is writable. The owner waits on fd() with epoll (EPOLLIN, and EPOLLOUT while
// wantsWrite()). The connecting side is the TLS client. Messages sent before the handshake completes
// wait, in plaintext in this process, until it has; no frame is ever received or sent in clear text.
// A peer that speaks control protocol 1 (HMAC-authenticated frames in clear text) is recognised by its
// first bytes and refused by name, with a protocol-1 Error frame telling it why.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/Expected.hpp"
#include "base/Fd.hpp"
#include "control/Auth.hpp"
#include "control/Protocol.hpp"
#include "control/Tls.hpp"

namespace mxl::bridge
{
    class Connection
    {
    public:
        /// Takes a connected (or connecting) socket and makes it non-blocking. role: this side's role (the
        /// client starts the TLS handshake as soon as the socket is writable: call flush()).
        /// Errors: those of TlsChannel::open.
        static Expected<Connection> open(Fd socket, Role role, std::shared_ptr<TlsContext const> tls);

        [[nodiscard]] int fd() const noexcept
        {
            return _socket.get();
        }

        [[nodiscard]] Role role() const noexcept
        {
            return _role;
        }

        /// Whether the TLS handshake has completed (the peer holds the key).
        [[nodiscard]] bool secure() const noexcept
        {
            return _tls.established();
        }

        /// Reads what the socket has, moves the TLS handshake on, and appends every complete frame to out.
        /// Buffered plaintext and ciphertext are decoded first, even when the socket has nothing new
        /// (EAGAIN is not an error). Errors (the session must then be closed; the message says why); frames
        /// decoded before the error are still in out:
        /// - MXL_ERR_UNKNOWN: the peer closed the connection, or a socket error;
        /// - MXL_ERR_PERMISSION_DENIED: the peer does not hold the key, runs the other --insecure setting,
        ///   or a record fails its integrity check (Tls.hpp);
        /// - MXL_ERR_UNSUPPORTED_OPERATION: the peer speaks control protocol 1, or another frame version;
        /// - MXL_ERR_INVALID_ARG: neither TLS nor a control frame, a failed handshake, a malformed frame.
        Expected<void> receive(std::vector<ControlMessage>& out);

        /// Queues a message and writes as much as the socket takes. Errors: socket error, or more than
        /// maxQueuedBytes waiting (a peer that does not read), both MXL_ERR_UNKNOWN; a body larger than
        /// maxControlBody (MXL_ERR_INVALID_ARG). A refused message is not queued.
        Expected<void> send(ControlMessage const& message);

        /// Writes queued bytes (call when the socket is writable).
        Expected<void> flush();

        [[nodiscard]] bool wantsWrite() const noexcept
        {
            return _outOffset < _out.size();
        }

        /// Plaintext received but not yet returned (for tests and metrics); at most maxBufferedBytes.
        [[nodiscard]] std::size_t bufferedBytes() const noexcept
        {
            return _in.size();
        }

        static constexpr std::size_t maxQueuedBytes = 16 * 1024 * 1024;
        static constexpr std::size_t readChunk = 64 * 1024;
        /// What one receive() takes at most: frames decoded, and bytes read from the socket.
        static constexpr std::size_t maxFramesPerReceive = 256;
        static constexpr std::size_t maxBytesPerReceive = 4 * readChunk;
        /// One maximal frame, plus one read.
        static constexpr std::size_t maxBufferedBytes = controlHeaderSize + maxControlBody + readChunk;

    private:
        Connection(Fd socket, Role role, TlsChannel tls);

        /// Cuts and checks the complete frames at the front of _in.
        Expected<void> decodeBuffered(std::vector<ControlMessage>& out, std::size_t maxFrames);
        /// The first bytes from the peer, before the handshake: TLS, or a protocol-1 bridge, or neither.
        Expected<void> checkFirstBytes(std::span<std::byte const> bytes);
        /// Moves the handshake on; once done, encrypts the messages that waited for it.
        Expected<void> advanceHandshake();
        Expected<void> queueFrame(std::span<std::byte const> frame);

        Fd _socket;
        Role _role;
        TlsChannel _tls;
        std::size_t _firstBytesSeen{0};
        std::vector<std::byte> _in;          ///< Plaintext.
        std::vector<std::byte> _raw;         ///< One read from the socket.
        std::vector<std::byte> _waiting;     ///< Plaintext frames sent before the handshake completed.
        std::vector<std::byte> _out;         ///< Ciphertext.
        std::size_t _outOffset{0};
    };
}
