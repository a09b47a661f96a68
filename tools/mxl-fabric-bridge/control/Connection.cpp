// SPDX-License-Identifier: Apache-2.0
#include "control/Connection.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <openssl/crypto.h>

namespace mxl::bridge
{
    namespace
    {
        Role opposite(Role role) noexcept
        {
            return role == Role::Client ? Role::Server : Role::Client;
        }

        /// Before the session key, a peer may introduce itself, prove the key, or say why it gives up.
        bool allowedBeforeAuthentication(ControlType type) noexcept
        {
            return type == ControlType::Hello || type == ControlType::Auth || type == ControlType::Error || type == ControlType::Goodbye;
        }

        Unexpected socketError(char const* what, int error)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("{} the peer failed: {}", what, std::strerror(error)));
        }
    }

    Connection::Connection(Fd socket, Role role)
        : _socket{std::move(socket)}
        , _role{role}
    {
        auto const flags = ::fcntl(_socket.get(), F_GETFL);
        if (flags >= 0)
        {
            ::fcntl(_socket.get(), F_SETFL, flags | O_NONBLOCK);
        }
        // Fails, harmlessly, where the socket is not TCP (socket pairs in tests).
        int const one = 1;
        ::setsockopt(_socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }

    void Connection::authenticate(Mac const& sessionKey)
    {
        _sessionKey = sessionKey;
        _awaitingSessionKey = false;
    }

    Expected<void> Connection::decodeBuffered(std::vector<ControlMessage>& out, std::size_t maxFrames)
    {
        std::span<std::byte const> const input{_in};
        std::size_t offset = 0;
        Expected<void> result{};
        std::size_t decoded = 0;
        while (!_awaitingSessionKey && input.size() - offset >= controlHeaderSize && decoded < maxFrames)
        {
            auto const available = input.subspan(offset);
            auto bodySize = controlBodySize(available.first(controlHeaderSize));
            if (!bodySize)
            {
                result = bodySize.take_error();
                break;
            }
            if (!_sessionKey && bodySize.value() > maxPreAuthenticationBody)
            {
                // Before authentication only Hello and Auth are expected: a few dozen bytes each.
                result = fail(MXL_ERR_INVALID_ARG, fmt::format("a control frame of {} bytes before authentication (at most {})", bodySize.value(),
                                                       maxPreAuthenticationBody));
                break;
            }
            auto const frameSize = controlHeaderSize + bodySize.value();
            auto const trailerSize = _sessionKey ? controlMacSize : 0;
            if (available.size() < frameSize + trailerSize)
            {
                break;
            }
            auto const frame = available.first(frameSize);
            if (_sessionKey)
            {
                auto const expected = frameMac(*_sessionKey, opposite(_role), _receivedFrames, frame);
                if (CRYPTO_memcmp(expected.data(), available.data() + frameSize, controlMacSize) != 0)
                {
                    result = fail(MXL_ERR_PERMISSION_DENIED, fmt::format("control frame #{} from the peer has a bad MAC (forged, replayed, reordered or "
                                                                         "reflected)",
                                                                 _receivedFrames));
                    break;
                }
                ++_receivedFrames;
            }
            auto message = decodeControl(frame);
            if (!message)
            {
                result = message.take_error();
                break;
            }
            auto const type = controlType(message.value());
            if (!_sessionKey && !allowedBeforeAuthentication(type))
            {
                result = fail(MXL_ERR_PERMISSION_DENIED, fmt::format("control message {} before authentication", controlTypeName(type)));
                break;
            }
            offset += frameSize + trailerSize;
            _awaitingSessionKey = !_sessionKey && type == ControlType::Auth;
            out.push_back(std::move(message).value());
            ++decoded;
        }
        _in.erase(_in.begin(), _in.begin() + static_cast<std::ptrdiff_t>(offset));
        return result;
    }

    Expected<void> Connection::receive(std::vector<ControlMessage>& out)
    {
        // Bounded per call in frames and bytes: a peer sending as fast as it can gets its share of the
        // event loop, the rest waits in the socket (epoll is level-triggered: the next turn goes on).
        auto const before = out.size();
        std::size_t readNow = 0;
        for (;;)
        {
            if (auto decoded = decodeBuffered(out, maxFramesPerReceive - (out.size() - before)); !decoded)
            {
                return decoded;
            }
            if (out.size() - before >= maxFramesPerReceive || readNow >= maxBytesPerReceive)
            {
                return {};
            }
            // What is left is less than one frame, unless frames wait for the session key.
            if (_in.size() >= maxBufferedBytes - readChunk)
            {
                return {};
            }
            auto const old = _in.size();
            if (_in.capacity() < old + readChunk)
            {
                _in.reserve(std::min(maxBufferedBytes, std::max(old + readChunk, 2 * _in.capacity())));
            }
            _in.resize(old + readChunk);
            auto const n = ::recv(_socket.get(), _in.data() + old, readChunk, 0);
            auto const error = errno;
            _in.resize(old + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
            if (n > 0)
            {
                readNow += static_cast<std::size_t>(n);
                continue;
            }
            if (n == 0)
            {
                return fail(MXL_ERR_UNKNOWN, "peer closed the connection");
            }
            if (error == EINTR)
            {
                continue;
            }
            if (error == EAGAIN || error == EWOULDBLOCK)
            {
                return {};
            }
            return socketError("recv from", error);
        }
    }

    Expected<void> Connection::send(ControlMessage const& message)
    {
        auto frame = encodeControl(message);
        if (frame.size() - controlHeaderSize > maxControlBody)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("control message {}: body of {} bytes exceeds {}; not sent",
                                                 controlTypeName(controlType(message)), frame.size() - controlHeaderSize, maxControlBody));
        }
        auto const queued = _out.size() - _outOffset;
        auto const adding = frame.size() + (_sessionKey ? controlMacSize : 0);
        if (queued + adding > maxQueuedBytes)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("peer is not reading: {} bytes queued, {} more would exceed {}", queued, adding, maxQueuedBytes));
        }
        _out.insert(_out.end(), frame.begin(), frame.end());
        if (_sessionKey)
        {
            auto const mac = frameMac(*_sessionKey, _role, _sentFrames++, frame);
            _out.insert(_out.end(), mac.begin(), mac.end());
        }
        return flush();
    }

    Expected<void> Connection::flush()
    {
        while (_outOffset < _out.size())
        {
            auto const n = ::send(_socket.get(), _out.data() + _outOffset, _out.size() - _outOffset, MSG_NOSIGNAL);
            if (n > 0)
            {
                _outOffset += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR)
            {
                continue;
            }
            if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
            {
                break;
            }
            return socketError("send to", errno);
        }
        if (_outOffset == _out.size())
        {
            // A burst towards a slow peer may have grown the queue to maxQueuedBytes: give that back.
            if (_out.capacity() > 2 * (controlHeaderSize + maxControlBody))
            {
                _out = {};
            }
            _out.clear();
            _outOffset = 0;
        }
        else if (_outOffset >= _out.size() / 2)
        {
            _out.erase(_out.begin(), _out.begin() + static_cast<std::ptrdiff_t>(_outOffset));
            _outOffset = 0;
        }
        return {};
    }
}
