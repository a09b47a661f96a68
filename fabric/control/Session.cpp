// SPDX-License-Identifier: Apache-2.0
#include "control/Session.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include <sys/epoll.h>
#include <fmt/format.h>

#include "common/Logging.hpp"
#include "time/Timing.hpp"

namespace mxl::bridge
{
    namespace
    {
        constexpr char software[] = "mxl-fabric-bridge, control protocol 2";
        constexpr double clockWarnMs = 1.0;
    }

    Session::Session(Connection connection, SocketAddress peer, LocalIdentity const& identity, SessionHandler& handler, bool connecting, std::uint64_t now)
        : _connection{std::move(connection)}
        , _peer{peer}
        , _peerText{peer.text()}
        , _identity{identity}
        , _handler{handler}
        , _phase{Phase::Connecting}
        , _phaseStarted{now}
        , _lastReceived{now}
    {
        if (!connecting)
        {
            onConnected(now);
        }
    }

    void Session::onConnected(std::uint64_t now)
    {
        _phase = Phase::Handshake;
        _everConnected = true;
        _phaseStarted = now;
        _lastReceived = now;
        if (auto local = localAddress(_connection.fd()); local)
        {
            _local = *local;
        }
        // Waits inside the connection until the TLS handshake is done.
        Hello hello;
        hello.bridgeId = _identity.bridgeId;
        hello.flags = _identity.insecure ? helloInsecure : 0;
        hello.software = software;
        sendRaw(hello);
    }

    void Session::onEvents(std::uint32_t events, std::uint64_t now)
    {
        if (_phase == Phase::Closed)
        {
            return;
        }
        if (_phase == Phase::Connecting)
        {
            if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0)
            {
                return;
            }
            if (auto r = finishConnect(_connection.fd()); !r)
            {
                close(fmt::format("cannot connect: {}", r.error().message));
                return;
            }
            onConnected(now);
        }
        if ((events & EPOLLOUT) != 0)
        {
            if (auto r = _connection.flush(); !r)
            {
                close(r.error().message);
                return;
            }
        }
        if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) == 0)
        {
            return;
        }
        // A bounded number of rounds per wake-up, so that one chatty peer cannot starve the others.
        std::vector<ControlMessage> messages;
        for (int round = 0; round < 4 && _phase != Phase::Closed; ++round)
        {
            messages.clear();
            auto const received = _connection.receive(messages);
            if (!messages.empty())
            {
                _lastReceived = now;
            }
            for (auto& message : messages)
            {
                dispatch(message, now);
                if (_phase == Phase::Closed)
                {
                    return;
                }
            }
            if (!received)
            {
                _authFailed = received.error().status == MXL_ERR_PERMISSION_DENIED && _phase == Phase::Handshake;
                close(received.error().message);
                return;
            }
            if (messages.empty())
            {
                return;
            }
        }
    }

    void Session::dispatch(ControlMessage& message, std::uint64_t now)
    {
        if (_phase != Phase::Established)
        {
            handshake(message, now);
            return;
        }
        std::visit(
            [&](auto& m) {
                using T = std::decay_t<decltype(m)>;
                if constexpr (std::is_same_v<T, Heartbeat>)
                {
                    onHeartbeat(m);
                }
                else if constexpr (std::is_same_v<T, HeartbeatReply>)
                {
                    onHeartbeatReply(m);
                }
                else if constexpr (std::is_same_v<T, Goodbye>)
                {
                    close(fmt::format("the peer stopped ({})", m.reason), false);
                }
                else if constexpr (std::is_same_v<T, Hello> || std::is_same_v<T, RetiredAuth> || std::is_same_v<T, Capabilities>)
                {
                    close(fmt::format("unexpected {} after the handshake", controlTypeName(controlType(message))));
                }
                else
                {
                    _handler.received(*this, message);
                }
            },
            message);
    }

    void Session::handshake(ControlMessage& message, std::uint64_t now)
    {
        if (auto* error = std::get_if<ControlError>(&message))
        {
            _authFailed = error->code == MXL_ERR_PERMISSION_DENIED;
            close(fmt::format("the peer refused the session: {}", error->reason));
            return;
        }
        if (auto* hello = std::get_if<Hello>(&message); hello != nullptr && !_helloReceived)
        {
            _helloReceived = true;
            _peerHello = *hello;
            if (hello->minVersion > controlVersion || hello->maxVersion < controlVersion)
            {
                auto const reason = fmt::format("the peer speaks control versions {}..{}, this bridge {}", hello->minVersion, hello->maxVersion, controlVersion);
                sendRaw(ControlError{MXL_ERR_UNSUPPORTED_OPERATION, {}, reason});
                close(reason);
                return;
            }
            if (((hello->flags & helloInsecure) != 0) != _identity.insecure)
            {
                auto const reason = _identity.insecure ? std::string{"the peer requires a key and this bridge runs --insecure"}
                                                       : std::string{"the peer runs --insecure and this bridge requires a key"};
                _authFailed = true;
                sendRaw(ControlError{MXL_ERR_PERMISSION_DENIED, {}, "authentication failed: " + reason});
                close("authentication failed: " + reason);
                return;
            }
            // Also what stops our own TLS connection reflected back to us ("Selfie"): same key, same id.
            if (hello->bridgeId == _identity.bridgeId)
            {
                _connectedToItself = true;
                sendRaw(ControlError{MXL_ERR_INVALID_ARG, {}, "a bridge connected to itself"});
                close("this bridge connected to itself (check --import addresses)");
                return;
            }
            sendRaw(_identity.capabilities);
            return;
        }
        if (auto* capabilities = std::get_if<Capabilities>(&message); capabilities != nullptr && _helloReceived)
        {
            _peerCapabilities = *capabilities;
            _phase = Phase::Established;
            _phaseStarted = now;
            _establishedTai = taiNow();
            _nextHeartbeat = now;
            log().info("peer {}: session established (bridge {}, {}, providers {})", _peerText, formatUuid(_peerHello.bridgeId), _peerHello.software,
                fmt::join(_peerCapabilities.providers, ","));
            _handler.established(*this);
            return;
        }
        close(fmt::format("unexpected {} during the handshake", controlTypeName(controlType(message))));
    }

    void Session::tick(std::uint64_t now)
    {
        switch (_phase)
        {
            case Phase::Connecting:
                if (now - _phaseStarted > connectTimeoutNs)
                {
                    close("connect timed out", false);
                }
                break;
            case Phase::Handshake:
                if (now - _phaseStarted > handshakeTimeoutNs)
                {
                    close("the handshake timed out");
                }
                break;
            case Phase::Established:
                if (now - _lastReceived > silenceTimeoutNs)
                {
                    close(fmt::format("the peer was silent for {} ms", (now - _lastReceived) / 1'000'000));
                    break;
                }
                if (now >= _nextHeartbeat)
                {
                    _nextHeartbeat = now + heartbeatIntervalNs;
                    send(Heartbeat{++_heartbeatSequence, taiNow()});
                }
                break;
            case Phase::Closed: break;
        }
    }

    void Session::onHeartbeat(Heartbeat const& heartbeat)
    {
        auto const received = taiNow();
        send(HeartbeatReply{heartbeat.sequence, heartbeat.sendTime, received, taiNow()});
    }

    void Session::onHeartbeatReply(HeartbeatReply const& reply)
    {
        auto const t4 = taiNow();
        if (reply.sequence != _heartbeatSequence || reply.echoTime > t4 || reply.receiveTime > reply.sendTime)
        {
            return; // late, or not ours: only the newest heartbeat is measured
        }
        auto const t1 = static_cast<double>(reply.echoTime);
        auto const t2 = static_cast<double>(reply.receiveTime);
        auto const t3 = static_cast<double>(reply.sendTime);
        auto const rtt = ((static_cast<double>(t4) - t1) - (t3 - t2)) / 1e6;
        _rttMs = std::max(0.0, rtt);
        _samples[_sampleCount++ % _samples.size()] = {*_rttMs, ((t2 - t1) + (t3 - static_cast<double>(t4))) / 2e6};
        auto const used = std::min(_sampleCount, _samples.size());
        auto const best = *std::min_element(_samples.begin(), _samples.begin() + static_cast<std::ptrdiff_t>(used));
        _clockOffsetMs = best.second;
        // The offset is known to within half the round trip it was measured with.
        if (used >= 4 && std::fabs(_clockOffsetMs) > clockWarnMs + best.first / 2 && !_clockWarned)
        {
            _clockWarned = true;
            log().warn("peer {}: the two hosts' clocks differ by {:.3f} ms (round trip {:.3f} ms); grain times and latencies across them are off by as "
                       "much: synchronise both hosts (PTP)",
                _peerText, _clockOffsetMs, best.first);
        }
        else if (std::fabs(_clockOffsetMs) < clockWarnMs / 2)
        {
            _clockWarned = false;
        }
    }

    void Session::send(ControlMessage const& message)
    {
        if (_phase != Phase::Established)
        {
            return;
        }
        sendRaw(message);
    }

    void Session::sendRaw(ControlMessage const& message)
    {
        if (_phase == Phase::Closed)
        {
            return;
        }
        if (auto r = _connection.send(message); !r)
        {
            close(r.error().message);
        }
    }

    void Session::close(std::string reason, bool warn)
    {
        if (_phase == Phase::Closed)
        {
            return;
        }
        _phase = Phase::Closed;
        _closeReason = std::move(reason);
        if (!_everConnected)
        {
            log().debug("peer {}: {}", _peerText, _closeReason);
        }
        else if (warn)
        {
            log().warn("peer {}: session closed: {}", _peerText, _closeReason);
        }
        else
        {
            log().info("peer {}: session closed: {}", _peerText, _closeReason);
        }
    }
}
