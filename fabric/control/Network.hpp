// SPDX-License-Identifier: Apache-2.0
#pragma once

// TCP sockets for the control channel: "IP:PORT" addresses (IPv4, or [IPv6]:PORT), a listener, and
// non-blocking connects that the event loop completes.

#include <cstdint>
#include <string>
#include <string_view>

#include <sys/socket.h>

#include "base/Expected.hpp"
#include "base/Fd.hpp"

namespace mxl::bridge
{
    struct SocketAddress
    {
        sockaddr_storage storage{};
        socklen_t length{0};

        /// "10.0.0.1:7400" or "[fd00::1]:7400".
        [[nodiscard]] std::string text() const;
        /// The host part alone ("10.0.0.1", "fd00::1"), as libfabric takes it. An IPv4-mapped IPv6
        /// address (::ffff:10.0.0.1, from a dual-stack listener) is given in its IPv4 form.
        [[nodiscard]] std::string host() const;
        /// An IPv4 peer seen through an IPv6 socket.
        [[nodiscard]] bool mappedIpv4() const noexcept;
        [[nodiscard]] std::uint16_t port() const;
    };

    /// A numeric "IP:PORT" (no name lookups: a bridge must not depend on DNS). Errors name the text.
    Expected<SocketAddress> parseSocketAddress(std::string_view text);

    /// host as a numeric IPv4 or IPv6 address (IPv6 without brackets) and port; an error when host
    /// is not numeric (a name). No lookups.
    Expected<SocketAddress> numericAddress(std::string const& host, std::uint16_t port);

    /// host (a numeric IPv4 or IPv6 address, or a DNS name) and port as an address: numeric hosts
    /// without a lookup, names through getaddrinfo (which blocks: call it off an event loop).
    /// MXL_ERR_NOT_FOUND naming the host when it has no address.
    Expected<SocketAddress> resolveHost(std::string const& host, std::uint16_t port);

    /// Bound and listening, non-blocking, SO_REUSEADDR.
    Expected<Fd> listenTcp(SocketAddress const& address);

    /// A non-blocking socket whose connect is under way (or done); the caller waits for it to become
    /// writable and then calls finishConnect().
    Expected<Fd> startConnect(SocketAddress const& address);

    /// The outcome of a non-blocking connect (SO_ERROR).
    Expected<void> finishConnect(int socket);

    /// Accepts one pending connection (non-blocking); an empty Fd when none is pending.
    Expected<Fd> acceptTcp(int listener, SocketAddress& peer);

    Expected<SocketAddress> localAddress(int socket);
    Expected<SocketAddress> peerAddress(int socket);
}
