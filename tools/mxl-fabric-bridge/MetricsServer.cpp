// SPDX-License-Identifier: Apache-2.0
#include "MetricsServer.hpp"
#include "control/Network.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>
#include <list>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fmt/format.h>

#include "base/Fd.hpp"
#include "common/Logging.hpp"

namespace mxl::bridge
{
    namespace
    {
        using Clock = std::chrono::steady_clock;

        constexpr std::size_t maxClients = 16;
        constexpr std::size_t maxRequestBytes = 8 * 1024;
        constexpr auto clientDeadline = std::chrono::seconds{2};
        /// After accept() fails for want of descriptors, the listener stays readable: wait this
        /// long before trying again instead of spinning.
        constexpr auto acceptBackoff = std::chrono::milliseconds{100};

        std::string response(std::string_view status, std::string_view body, std::string_view extraHeaders = {})
        {
            return fmt::format("HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}", status,
                status.starts_with("200") ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8", body.size(),
                extraHeaders, body);
        }

        std::string errorResponse(std::string_view status)
        {
            return response(status, fmt::format("{}\n", status));
        }

        struct Client
        {
            enum class Phase
            {
                Reading,
                Writing,
                /// Response sent and our side shut down: reading until the client closes, so that
                /// unread request bytes do not turn our close into a reset that loses the response.
                Draining,
            };

            Fd fd;
            Clock::time_point deadline;
            Phase phase{Phase::Reading};
            std::string in;
            std::string out;
            std::size_t sent{0};
        };

        Unexpected socketError(std::string const& address, std::string_view what)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("metrics server on {}: {} failed: {}", address, what, std::strerror(errno)));
        }
    }

    struct MetricsServer::State
    {
        Fd listener;
        Fd stop;
        std::uint16_t port{0};
        std::function<std::string()> render;
        std::list<Client> clients;
        Clock::time_point acceptPausedUntil{};
        std::thread thread;

        void run();
        void accept();
        void read(Client& c);
        void write(Client& c);
        void respond(Client& c);
        std::string answer(std::string_view requestLine);
    };

    Expected<std::unique_ptr<MetricsServer>> MetricsServer::start(std::string const& address, std::function<std::string()> render)
    {
        // The one IP:PORT parser of the bridge: IPv4 or [IPv6]:PORT, as --listen takes it.
        auto parsed = parseSocketAddress(address);
        if (!parsed)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("metrics address: {}", parsed.error().message));
        }
        auto state = std::make_unique<State>();
        state->render = std::move(render);
        auto listener = listenTcp(*parsed);
        if (!listener)
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("metrics server on {}: {}", address, listener.error().message));
        }
        state->listener = std::move(*listener);
        auto bound = localAddress(state->listener.get());
        if (!bound)
        {
            return socketError(address, "getsockname");
        }
        state->port = bound->port();
        state->stop = Fd{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
        if (!state->stop.valid())
        {
            return socketError(address, "eventfd");
        }
        state->thread = std::thread{[s = state.get()] { s->run(); }};
        std::unique_ptr<MetricsServer> server{new MetricsServer{}};
        server->_state = std::move(state);
        return server;
    }

    MetricsServer::~MetricsServer()
    {
        std::uint64_t const one = 1;
        if (::write(_state->stop.get(), &one, sizeof one) != sizeof one)
        {
            log().error("metrics server: cannot signal its thread to stop: {}", std::strerror(errno));
        }
        _state->thread.join();
    }

    std::uint16_t MetricsServer::port() const noexcept
    {
        return _state->port;
    }

    void MetricsServer::State::run()
    {
        std::vector<pollfd> fds;
        for (;;)
        {
            auto const now = Clock::now();
            for (auto it = clients.begin(); it != clients.end();)
            {
                if (it->deadline <= now)
                {
                    if (it->phase == Client::Phase::Reading)
                    {
                        // Best effort: the client may not read it, and it must not hold us up.
                        auto const timeout = errorResponse("408 Request Timeout");
                        (void)::send(it->fd.get(), timeout.data(), timeout.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                    }
                    it = clients.erase(it);
                    continue;
                }
                ++it;
            }

            fds.clear();
            fds.push_back({stop.get(), POLLIN, 0});
            bool const accepting = clients.size() < maxClients && now >= acceptPausedUntil;
            fds.push_back({accepting ? listener.get() : -1, POLLIN, 0});
            auto wakeAt = now + std::chrono::hours{1};
            for (auto const& c : clients)
            {
                fds.push_back({c.fd.get(), static_cast<short>(c.phase == Client::Phase::Writing ? POLLOUT : POLLIN), 0});
                wakeAt = std::min(wakeAt, c.deadline);
            }
            if (!accepting && clients.size() < maxClients)
            {
                wakeAt = std::min(wakeAt, acceptPausedUntil);
            }
            auto const timeoutMs = std::chrono::ceil<std::chrono::milliseconds>(wakeAt - now).count();
            if (::poll(fds.data(), fds.size(), static_cast<int>(timeoutMs)) < 0)
            {
                if (errno == EINTR)
                {
                    continue;
                }
                log().error("metrics server: poll failed, serving no more metrics: {}", std::strerror(errno));
                return;
            }
            if (fds[0].revents != 0)
            {
                return;
            }
            // Clients first: fds[2..] follow the list's order, which accept() below appends to.
            auto it = clients.begin();
            for (std::size_t i = 2; i < fds.size(); ++i)
            {
                auto& c = *it;
                auto const events = fds[i].revents;
                if (events != 0)
                {
                    if (c.phase == Client::Phase::Writing)
                    {
                        write(c);
                    }
                    else
                    {
                        read(c);
                    }
                }
                if (!c.fd.valid())
                {
                    it = clients.erase(it);
                }
                else
                {
                    ++it;
                }
            }
            if ((fds[1].revents & POLLIN) != 0)
            {
                accept();
            }
        }
    }

    void MetricsServer::State::accept()
    {
        while (clients.size() < maxClients)
        {
            Fd fd{::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
            if (!fd.valid())
            {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                {
                    log().warn("metrics server: cannot accept a connection: {}", std::strerror(errno));
                    acceptPausedUntil = Clock::now() + acceptBackoff;
                }
                // EAGAIN: nobody else waiting; ECONNABORTED and the like: that client is gone.
                return;
            }
            auto& c = clients.emplace_back();
            c.fd = std::move(fd);
            c.deadline = Clock::now() + clientDeadline;
        }
    }

    void MetricsServer::State::read(Client& c)
    {
        char chunk[4096];
        // Bounded per wake-up: a client that keeps sending (while draining, say) must not keep this
        // thread from its deadlines, its other clients and stop().
        for (int round = 0; round < 16; ++round)
        {
            auto const n = ::recv(c.fd.get(), chunk, sizeof chunk, 0);
            if (n == 0)
            {
                c.fd.reset();
                return;
            }
            if (n < 0)
            {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                {
                    c.fd.reset();
                }
                return;
            }
            if (c.phase == Client::Phase::Draining)
            {
                continue;
            }
            c.in.append(chunk, static_cast<std::size_t>(n));
            if (c.in.find("\r\n\r\n") != std::string::npos || c.in.size() > maxRequestBytes)
            {
                respond(c);
                return;
            }
        }
    }

    void MetricsServer::State::respond(Client& c)
    {
        auto const end = c.in.find("\r\n\r\n");
        if (end == std::string::npos || end + 4 > maxRequestBytes)
        {
            c.out = errorResponse("400 Bad Request");
        }
        else
        {
            c.out = answer(std::string_view{c.in}.substr(0, c.in.find("\r\n")));
        }
        c.in.clear();
        c.in.shrink_to_fit();
        c.phase = Client::Phase::Writing;
        write(c);
    }

    std::string MetricsServer::State::answer(std::string_view requestLine)
    {
        auto const firstSpace = requestLine.find(' ');
        auto const lastSpace = requestLine.rfind(' ');
        if (firstSpace == std::string_view::npos || firstSpace == lastSpace || !requestLine.substr(lastSpace + 1).starts_with("HTTP/1."))
        {
            return errorResponse("400 Bad Request");
        }
        auto const method = requestLine.substr(0, firstSpace);
        auto const target = requestLine.substr(firstSpace + 1, lastSpace - firstSpace - 1);
        if (target.empty() || target.find(' ') != std::string_view::npos)
        {
            return errorResponse("400 Bad Request");
        }
        if (method != "GET")
        {
            return response("405 Method Not Allowed", "405 Method Not Allowed\n", "Allow: GET\r\n");
        }
        if (target.substr(0, target.find('?')) != "/metrics")
        {
            return errorResponse("404 Not Found");
        }
        try
        {
            return response("200 OK", render());
        }
        catch (std::exception const& e)
        {
            log().error("metrics server: rendering the metrics failed: {}", e.what());
            return errorResponse("500 Internal Server Error");
        }
    }

    void MetricsServer::State::write(Client& c)
    {
        while (c.sent < c.out.size())
        {
            auto const n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
            if (n < 0)
            {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                {
                    c.fd.reset();
                }
                return;
            }
            c.sent += static_cast<std::size_t>(n);
        }
        ::shutdown(c.fd.get(), SHUT_WR);
        c.out.clear();
        c.out.shrink_to_fit();
        c.phase = Client::Phase::Draining;
    }
}
