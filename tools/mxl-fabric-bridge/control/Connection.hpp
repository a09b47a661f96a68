// SPDX-License-Identifier: Apache-2.0
#pragma once

// One control connection: a non-blocking TCP socket with an input buffer that cuts frames and an
// output buffer that drains when the socket is writable. The owner waits on fd() with epoll (EPOLLIN,
// and EPOLLOUT while wantsWrite()). Once authenticate() is called, every frame sent carries a
// 32-byte trailer HMAC-SHA256(sessionKey, direction | sequence (u64) | frame) and every frame received
// must carry a valid one (direction: the sender's Role; sequence: counts frames per direction from 0),
// so that frames cannot be forged, replayed, reordered or reflected after the handshake.
// Before authenticate() only Hello, Auth, Error and Goodbye are accepted (the last two so that a peer can
// say why it gives up, e.g. on a wrong key).

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/Expected.hpp"
#include "common/Fd.hpp"
#include "control/Auth.hpp"
#include "control/Protocol.hpp"

namespace mxl::bridge
{
    class Connection
    {
    public:
        /// Takes a connected (or connecting) socket and makes it non-blocking. role: this side's role.
        Connection(Fd socket, Role role);

        [[nodiscard]] int fd() const noexcept
        {
            return _socket.get();
        }

        [[nodiscard]] Role role() const noexcept
        {
            return _role;
        }

        /// From now on frames are authenticated both ways (call right after both Auth messages, then call
        /// receive() again: frames that arrived behind the peer's Auth are buffered, not signalled anew).
        void authenticate(Mac const& sessionKey);

        /// Reads what the socket has and appends every complete frame to out. Until authenticate() is
        /// called it returns at most up to and including the first Auth frame and keeps later bytes
        /// buffered (they must be checked under the session key); a later call decodes buffered frames
        /// first, even when the socket has nothing new (EAGAIN is not an error). Errors (the session must
        /// then be closed; the message says why): peer closed (MXL_ERR_FLOW_NOT_FOUND is not used:
        /// status MXL_ERR_UNKNOWN, "peer closed the connection"), socket error, a malformed header or
        /// body, a bad or missing MAC. Frames decoded before the error are still in out.
        /// Statuses: MXL_ERR_UNKNOWN for peer closed and socket errors ("recv from the peer failed: ...");
        /// MXL_ERR_INVALID_ARG for malformed frames (MXL_ERR_UNSUPPORTED_OPERATION for another protocol
        /// version); MXL_ERR_PERMISSION_DENIED for a bad MAC or a message not allowed before authentication.
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

        /// Bytes received but not yet returned (for tests and metrics); at most maxBufferedBytes.
        [[nodiscard]] std::size_t bufferedBytes() const noexcept
        {
            return _in.size();
        }

        static constexpr std::size_t maxQueuedBytes = 16 * 1024 * 1024;
        static constexpr std::size_t readChunk = 64 * 1024;
        /// What one receive() takes at most: frames decoded, and bytes read from the socket.
        static constexpr std::size_t maxFramesPerReceive = 256;
        static constexpr std::size_t maxBytesPerReceive = 4 * readChunk;
        /// One maximal frame with its MAC, plus one read.
        static constexpr std::size_t maxBufferedBytes = controlHeaderSize + maxControlBody + controlMacSize + readChunk;

    private:
        /// Cuts and checks the complete frames at the front of _in.
        Expected<void> decodeBuffered(std::vector<ControlMessage>& out, std::size_t maxFrames);

        Fd _socket;
        Role _role;
        std::optional<Mac> _sessionKey;
        std::uint64_t _sentFrames{0};
        std::uint64_t _receivedFrames{0};
        bool _awaitingSessionKey{false}; ///< The peer's Auth was returned; later frames wait for the key.
        std::vector<std::byte> _in;
        std::vector<std::byte> _out;
        std::size_t _outOffset{0};
    };
}
