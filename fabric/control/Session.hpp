// SPDX-License-Identifier: Apache-2.0
#pragma once

// One control session with a peer bridge, over one TCP connection: the connect, the handshake (TLS
// with the pre-shared key, then Hello and Capabilities inside it), then heartbeats and the messages the bridge acts on. A session that
// misbehaves (a malformed or unexpected message, a failed authentication, silence) is closed with a
// reason; nothing it does reaches other sessions.

#include <array>
#include <memory>
#include <cstdint>
#include <utility>
#include <optional>
#include <string>
#include <vector>

#include "control/Network.hpp"
#include "base/Uuid.hpp"
#include "control/Auth.hpp"
#include "control/Connection.hpp"
#include "control/Protocol.hpp"

namespace mxl::bridge
{
    /// What this bridge says about itself in every session.
    struct LocalIdentity
    {
        Uuid bridgeId{};
        std::shared_ptr<TlsContext const> tls; ///< Holds the key (or --insecure's public one).
        bool insecure{false};
        Capabilities capabilities;
    };

    class Session;

    /// The bridge's side of a session's life.
    class SessionHandler
    {
    public:
        virtual void established(Session& session) = 0;
        virtual void received(Session& session, ControlMessage& message) = 0;

    protected:
        ~SessionHandler() = default;
    };

    class Session
    {
    public:
        enum class Phase
        {
            Connecting,  ///< TCP connect under way (our side connected).
            Handshake,   ///< TLS, then Hello / Capabilities.
            Established, ///< Authenticated; heartbeats running.
            Closed,
        };

        static constexpr std::uint64_t connectTimeoutNs = 500'000'000;
        static constexpr std::uint64_t handshakeTimeoutNs = 3'000'000'000;
        static constexpr std::uint64_t heartbeatIntervalNs = 250'000'000;
        static constexpr std::uint64_t silenceTimeoutNs = 1'500'000'000;

        /// connection: over a socket connected or connecting (connecting: our connect, not finished yet).
        Session(Connection connection, SocketAddress peer, LocalIdentity const& identity, SessionHandler& handler, bool connecting, std::uint64_t now);

        [[nodiscard]] int fd() const noexcept
        {
            return _connection.fd();
        }

        [[nodiscard]] bool wantsWrite() const noexcept
        {
            return _phase == Phase::Connecting || _connection.wantsWrite();
        }

        [[nodiscard]] Phase phase() const noexcept
        {
            return _phase;
        }

        [[nodiscard]] bool closed() const noexcept
        {
            return _phase == Phase::Closed;
        }

        [[nodiscard]] Role role() const noexcept
        {
            return _connection.role();
        }

        /// The peer's control address (for outgoing sessions, the address we connected to).
        [[nodiscard]] SocketAddress const& peer() const noexcept
        {
            return _peer;
        }

        [[nodiscard]] std::string const& peerText() const noexcept
        {
            return _peerText;
        }

        /// Our end of the connection: where data endpoints listen for this peer.
        [[nodiscard]] std::optional<SocketAddress> const& local() const noexcept
        {
            return _local;
        }

        [[nodiscard]] Uuid const& peerId() const noexcept
        {
            return _peerHello.bridgeId;
        }

        [[nodiscard]] Capabilities const& peerCapabilities() const noexcept
        {
            return _peerCapabilities;
        }

        [[nodiscard]] std::optional<double> rttMs() const noexcept
        {
            return _rttMs;
        }

        [[nodiscard]] double clockOffsetMs() const noexcept
        {
            return _clockOffsetMs;
        }

        [[nodiscard]] std::uint64_t establishedAt() const noexcept
        {
            return _establishedTai;
        }

        [[nodiscard]] std::string const& closeReason() const noexcept
        {
            return _closeReason;
        }

        /// Whether the TCP connection was ever made (a failed connect is the bridge's to report, once
        /// per outage rather than once per attempt).
        [[nodiscard]] bool everConnected() const noexcept
        {
            return _everConnected;
        }

        /// Whether the session ended because the peer failed authentication (or refused ours).
        /// The peer turned out to be this very bridge (its Hello carried our id).
        [[nodiscard]] bool connectedToItself() const noexcept
        {
            return _connectedToItself;
        }

        [[nodiscard]] bool authenticationFailed() const noexcept
        {
            return _authFailed;
        }

        /// epoll events on fd().
        void onEvents(std::uint32_t events, std::uint64_t now);

        /// Timeouts and heartbeats; call often (every tick).
        void tick(std::uint64_t now);

        /// Sends a message (established sessions); a failure closes the session.
        void send(ControlMessage const& message);

        /// Closes with a reason (logged once). warn: a misbehaving peer or a broken link, rather than
        /// an orderly end.
        void close(std::string reason, bool warn = true);

    private:
        void onConnected(std::uint64_t now);
        void dispatch(ControlMessage& message, std::uint64_t now);
        void handshake(ControlMessage& message, std::uint64_t now);
        void onHeartbeat(Heartbeat const& heartbeat);
        void onHeartbeatReply(HeartbeatReply const& reply);
        void sendRaw(ControlMessage const& message);

        Connection _connection;
        SocketAddress _peer;
        std::string _peerText;
        std::optional<SocketAddress> _local;
        LocalIdentity const& _identity;
        SessionHandler& _handler;
        Phase _phase;
        std::uint64_t _phaseStarted;
        std::uint64_t _lastReceived;
        std::uint64_t _nextHeartbeat{0};
        std::uint64_t _heartbeatSequence{0};
        bool _helloReceived{false};
        Hello _peerHello;
        Capabilities _peerCapabilities;
        std::optional<double> _rttMs;
        double _clockOffsetMs{0};
        /// The newest heartbeat measurements (round trip, offset): the offset reported is the one
        /// measured with the shortest round trip, the least disturbed by scheduling delays (as NTP).
        std::array<std::pair<double, double>, 16> _samples{};
        std::size_t _sampleCount{0};
        bool _clockWarned{false};
        std::uint64_t _establishedTai{0};
        bool _authFailed{false};
        bool _everConnected{false};
        std::string _closeReason;
        bool _connectedToItself{false};
    };
}
