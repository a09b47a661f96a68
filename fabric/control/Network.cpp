// SPDX-License-Identifier: Apache-2.0
#include "control/Network.hpp"

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fmt/format.h>

namespace mxl::bridge
{
    namespace
    {
        Unexpected systemError(std::string const& what)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("{}: {}", what, std::strerror(errno)));
        }

        void tune(int fd)
        {
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
    }

    bool SocketAddress::mappedIpv4() const noexcept
    {
        return storage.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&reinterpret_cast<sockaddr_in6 const*>(&storage)->sin6_addr);
    }

    std::string SocketAddress::host() const
    {
        char text[INET6_ADDRSTRLEN] = {};
        if (mappedIpv4())
        {
            // A dual-stack listener ([::]:7400) sees IPv4 peers as ::ffff:a.b.c.d: they are a.b.c.d,
            // and compare equal to the address an operator configured.
            ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in6 const*>(&storage)->sin6_addr.s6_addr[12], text, sizeof text);
        }
        else if (storage.ss_family == AF_INET6)
        {
            ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6 const*>(&storage)->sin6_addr, text, sizeof text);
        }
        else
        {
            ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in const*>(&storage)->sin_addr, text, sizeof text);
        }
        return text;
    }

    std::uint16_t SocketAddress::port() const
    {
        return storage.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6 const*>(&storage)->sin6_port)
                                             : ntohs(reinterpret_cast<sockaddr_in const*>(&storage)->sin_port);
    }

    std::string SocketAddress::text() const
    {
        return storage.ss_family == AF_INET6 && !mappedIpv4() ? fmt::format("[{}]:{}", host(), port()) : fmt::format("{}:{}", host(), port());
    }

    Expected<SocketAddress> parseSocketAddress(std::string_view text)
    {
        auto const bad = [&](char const* why) { return fail(MXL_ERR_INVALID_ARG, fmt::format("'{}' is not an address IP:PORT: {}", text, why)); };
        std::string host;
        std::string_view port;
        if (!text.empty() && text.front() == '[')
        {
            auto const close = text.find("]:");
            if (close == std::string_view::npos)
            {
                return bad("an IPv6 address is written [ADDRESS]:PORT");
            }
            host = std::string{text.substr(1, close - 1)};
            port = text.substr(close + 2);
        }
        else
        {
            auto const colon = text.rfind(':');
            if (colon == std::string_view::npos || text.find(':') != colon)
            {
                return bad("expected one ':' before the port");
            }
            host = std::string{text.substr(0, colon)};
            port = text.substr(colon + 1);
        }
        if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos || std::stoul(std::string{port}) > 65535)
        {
            return bad("the port must be a number from 0 to 65535");
        }
        auto const portNumber = static_cast<std::uint16_t>(std::stoul(std::string{port}));
        SocketAddress address;
        if (text.front() != '[')
        {
            // Strictly a dotted quad: inet_aton's legacy forms ("1.2.3", "10.1") are refused, not guessed.
            sockaddr_in v4{};
            v4.sin_family = AF_INET;
            v4.sin_port = htons(portNumber);
            if (::inet_pton(AF_INET, host.c_str(), &v4.sin_addr) != 1)
            {
                return bad("the host must be a numeric IPv4 address a.b.c.d (IPv6 in brackets)");
            }
            std::memcpy(&address.storage, &v4, sizeof v4);
            address.length = sizeof v4;
            return address;
        }
        // IPv6, with an optional zone (fe80::1%eth0): getaddrinfo, numeric only, IPv6 only.
        addrinfo hints{};
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
        hints.ai_family = AF_INET6;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* found = nullptr;
        if (::getaddrinfo(host.c_str(), std::string{port}.c_str(), &hints, &found) != 0 || found == nullptr)
        {
            return bad("the host in brackets must be a numeric IPv6 address");
        }
        std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
        address.length = found->ai_addrlen;
        ::freeaddrinfo(found);
        return address;
    }

    Expected<SocketAddress> numericAddress(std::string const& host, std::uint16_t port)
    {
        return parseSocketAddress(host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port));
    }

    Expected<SocketAddress> resolveHost(std::string const& host, std::uint16_t port)
    {
        if (auto address = numericAddress(host, port))
        {
            return address;
        }
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* found = nullptr;
        if (auto const rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0 || found == nullptr)
        {
            return fail(MXL_ERR_NOT_FOUND, fmt::format("host '{}' has no address: {}", host, rc != 0 ? ::gai_strerror(rc) : "no answer"));
        }
        SocketAddress address;
        std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
        address.length = found->ai_addrlen;
        ::freeaddrinfo(found);
        if (address.storage.ss_family == AF_INET)
        {
            reinterpret_cast<sockaddr_in*>(&address.storage)->sin_port = htons(port);
        }
        else if (address.storage.ss_family == AF_INET6)
        {
            reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_port = htons(port);
        }
        else
        {
            return fail(MXL_ERR_NOT_FOUND, fmt::format("host '{}' has no IPv4 or IPv6 address", host));
        }
        return address;
    }

    Expected<Fd> listenTcp(SocketAddress const& address)
    {
        Fd fd{::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
        if (!fd.valid())
        {
            return systemError("socket");
        }
        int one = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd.get(), reinterpret_cast<sockaddr const*>(&address.storage), address.length) != 0)
        {
            return systemError(fmt::format("cannot listen on {}", address.text()));
        }
        if (::listen(fd.get(), 64) != 0)
        {
            return systemError(fmt::format("cannot listen on {}", address.text()));
        }
        return fd;
    }

    Expected<Fd> startConnect(SocketAddress const& address)
    {
        Fd fd{::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
        if (!fd.valid())
        {
            return systemError("socket");
        }
        tune(fd.get());
        if (::connect(fd.get(), reinterpret_cast<sockaddr const*>(&address.storage), address.length) != 0 && errno != EINPROGRESS)
        {
            return systemError(fmt::format("connecting to {}", address.text()));
        }
        return fd;
    }

    Expected<void> finishConnect(int socket)
    {
        int error = 0;
        socklen_t length = sizeof error;
        if (::getsockopt(socket, SOL_SOCKET, SO_ERROR, &error, &length) != 0)
        {
            return systemError("getsockopt");
        }
        if (error != 0)
        {
            errno = error;
            return systemError("connect");
        }
        return {};
    }

    Expected<Fd> acceptTcp(int listener, SocketAddress& peer)
    {
        peer.length = sizeof peer.storage;
        Fd fd{::accept4(listener, reinterpret_cast<sockaddr*>(&peer.storage), &peer.length, SOCK_NONBLOCK | SOCK_CLOEXEC)};
        if (!fd.valid())
        {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED || errno == EINTR)
            {
                return Fd{};
            }
            return systemError("accept");
        }
        tune(fd.get());
        return fd;
    }

    Expected<SocketAddress> localAddress(int socket)
    {
        SocketAddress address;
        address.length = sizeof address.storage;
        if (::getsockname(socket, reinterpret_cast<sockaddr*>(&address.storage), &address.length) != 0)
        {
            return systemError("getsockname");
        }
        return address;
    }

    Expected<SocketAddress> peerAddress(int socket)
    {
        SocketAddress address;
        address.length = sizeof address.storage;
        if (::getpeername(socket, reinterpret_cast<sockaddr*>(&address.storage), &address.length) != 0)
        {
            return systemError("getpeername");
        }
        return address;
    }
}
