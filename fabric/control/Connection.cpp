// SPDX-License-Identifier: Apache-2.0
#include "control/Connection.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <fmt/format.h>

namespace mxl::bridge
{
    namespace
    {
        Unexpected socketError(char const* what, int error)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("{} the peer failed: {}", what, std::strerror(error)));
        }

        /// TLS record content types: change_cipher_spec (20), alert (21), handshake (22), application data (23).
        bool tlsRecordType(std::byte first) noexcept
        {
            return first >= std::byte{20} && first <= std::byte{23};
        }
        constexpr std::array<std::byte, 4> controlMagicBytes{std::byte{'M'}, std::byte{'X'}, std::byte{'L'}, std::byte{'C'}};
    }

    Expected<Connection> Connection::open(Fd socket, Role role, std::shared_ptr<TlsContext const> tls)
    {
        auto channel = TlsChannel::open(std::move(tls), role);
        if (!channel)
        {
            return channel.take_error();
        }
        return Connection{std::move(socket), role, std::move(channel).value()};
    }

    Connection::Connection(Fd socket, Role role, TlsChannel tls)
        : _socket{std::move(socket)}
        , _role{role}
        , _tls{std::move(tls)}
    {
        auto const flags = ::fcntl(_socket.get(), F_GETFL);
        if (flags >= 0)
        {
            ::fcntl(_socket.get(), F_SETFL, flags | O_NONBLOCK);
        }
        // Fails, harmlessly, where the socket is not TCP (socket pairs in tests).
        int const one = 1;
        ::setsockopt(_socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (_role == Role::Client)
        {
            // The ClientHello waits in _out for the first flush (the socket may still be connecting).
            (void)advanceHandshake();
        }
    }

    Expected<void> Connection::checkFirstBytes(std::span<std::byte const> bytes)
    {
        // Up to the four bytes that tell a protocol-1 frame ("MXLC") from a TLS record (0x16 0x03 ..., or
        // the alert with which a server refuses the client).
        for (std::size_t i = 0; i < bytes.size() && _firstBytesSeen < controlMagicBytes.size(); ++i)
        {
            auto const position = _firstBytesSeen++;
            if (position == 0 && tlsRecordType(bytes[i]))
            {
                _firstBytesSeen = controlMagicBytes.size(); // TLS: OpenSSL checks the rest
                return {};
            }
            if (bytes[i] != controlMagicBytes[position])
            {
                return fail(MXL_ERR_INVALID_ARG,
                    fmt::format("the peer speaks neither TLS nor the mxl-fabric-bridge control protocol (byte {} is 0x{:02x}): not a bridge", position,
                        static_cast<unsigned>(bytes[i])));
            }
            if (position + 1 < controlMagicBytes.size())
            {
                continue;
            }
            // A protocol-1 bridge. The version follows the magic (u16 LE), when this read holds it.
            auto const version = i + 2 < bytes.size() ? static_cast<unsigned>(bytes[i + 1]) | (static_cast<unsigned>(bytes[i + 2]) << 8) : 1U;
            // Tell it why in its own framing, once, best effort (it accepts an Error frame before
            // authentication), then refuse by name.
            auto reply = encodeControl(ControlError{MXL_ERR_UNSUPPORTED_OPERATION, {},
                fmt::format("this bridge speaks control protocol {} (TLS 1.3 with the pre-shared key) and refuses protocol {}: upgrade this bridge",
                    controlVersion, version)});
            reply[4] = std::byte{static_cast<unsigned char>(version)};
            reply[5] = std::byte{static_cast<unsigned char>(version >> 8)};
            (void)::send(_socket.get(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            return fail(MXL_ERR_UNSUPPORTED_OPERATION,
                fmt::format("the peer speaks control protocol {} (HMAC-authenticated frames in clear text); this bridge speaks protocol {} (TLS 1.3 "
                            "with the pre-shared key) and refuses protocol {}: upgrade the peer",
                    version, controlVersion, version));
        }
        return {};
    }

    Expected<void> Connection::advanceHandshake()
    {
        auto const result = _tls.handshake();
        _tls.takeCiphertext(_out);
        if (!result)
        {
            return result;
        }
        if (_tls.established() && !_waiting.empty())
        {
            if (auto written = _tls.write(_waiting); !written)
            {
                return written;
            }
            _tls.takeCiphertext(_out);
            _waiting = {};
        }
        return {};
    }

    Expected<void> Connection::decodeBuffered(std::vector<ControlMessage>& out, std::size_t maxFrames)
    {
        std::span<std::byte const> const input{_in};
        std::size_t offset = 0;
        Expected<void> result{};
        std::size_t decoded = 0;
        while (input.size() - offset >= controlHeaderSize && decoded < maxFrames)
        {
            auto const available = input.subspan(offset);
            auto bodySize = controlBodySize(available.first(controlHeaderSize));
            if (!bodySize)
            {
                result = bodySize.take_error();
                break;
            }
            auto const frameSize = controlHeaderSize + bodySize.value();
            if (available.size() < frameSize)
            {
                break;
            }
            auto message = decodeControl(available.first(frameSize));
            if (!message)
            {
                result = message.take_error();
                break;
            }
            offset += frameSize;
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
        // The socket is read only when TLS holds no whole record, so ciphertext buffered here stays
        // within one read.
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
            if (_tls.established() && _in.size() < maxBufferedBytes)
            {
                auto const old = _in.size();
                auto const room = std::min(readChunk, maxBufferedBytes - old);
                if (_in.capacity() < old + room)
                {
                    _in.reserve(std::min(maxBufferedBytes, std::max(old + room, 2 * _in.capacity())));
                }
                _in.resize(old + room);
                auto plain = _tls.read(std::span{_in}.subspan(old, room));
                _in.resize(old + (plain ? plain.value() : 0));
                _tls.takeCiphertext(_out); // a post-handshake message (key update) may want an answer
                if (!plain)
                {
                    return plain.take_error();
                }
                if (plain.value() > 0)
                {
                    continue;
                }
            }
            _raw.resize(readChunk);
            auto const n = ::recv(_socket.get(), _raw.data(), _raw.size(), 0);
            auto const error = errno;
            if (n == 0)
            {
                return fail(MXL_ERR_UNKNOWN, _tls.established() ? "peer closed the connection" : "peer closed the connection during the TLS handshake");
            }
            if (n < 0)
            {
                if (error == EINTR)
                {
                    continue;
                }
                if (error == EAGAIN || error == EWOULDBLOCK)
                {
                    return flush();
                }
                return socketError("recv from", error);
            }
            readNow += static_cast<std::size_t>(n);
            auto const bytes = std::span<std::byte const>{_raw}.first(static_cast<std::size_t>(n));
            if (!_tls.established())
            {
                if (auto checked = checkFirstBytes(bytes); !checked)
                {
                    return checked;
                }
            }
            _tls.receiveCiphertext(bytes);
            if (!_tls.established())
            {
                if (auto advanced = advanceHandshake(); !advanced)
                {
                    (void)flush(); // the alert that tells the peer why
                    return advanced;
                }
                if (auto flushed = flush(); !flushed)
                {
                    return flushed;
                }
            }
        }
    }

    Expected<void> Connection::queueFrame(std::span<std::byte const> frame)
    {
        if (!_tls.established())
        {
            _waiting.insert(_waiting.end(), frame.begin(), frame.end());
            return {};
        }
        if (auto written = _tls.write(frame); !written)
        {
            return written;
        }
        _tls.takeCiphertext(_out);
        return {};
    }

    Expected<void> Connection::send(ControlMessage const& message)
    {
        auto frame = encodeControl(message);
        if (frame.size() - controlHeaderSize > maxControlBody)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("control message {}: body of {} bytes exceeds {}; not sent",
                                                 controlTypeName(controlType(message)), frame.size() - controlHeaderSize, maxControlBody));
        }
        auto const queued = _out.size() - _outOffset + _waiting.size();
        auto const adding = frame.size();
        if (queued + adding > maxQueuedBytes)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("peer is not reading: {} bytes queued, {} more would exceed {}", queued, adding, maxQueuedBytes));
        }
        if (auto queuedNow = queueFrame(frame); !queuedNow)
        {
            return queuedNow;
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
