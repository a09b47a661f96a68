// SPDX-License-Identifier: Apache-2.0
#include "TestSupport.hpp"

#include <array>
#include <vector>

#include <poll.h>

namespace mxl::ofi::test
{
    void require(Expected<void> result, std::string_view what)
    {
        if (!result)
        {
            throw std::runtime_error(std::string{what} + ": " + result.error().message);
        }
    }

    Hints tcpListenHints()
    {
        return Hints{}.provider(Provider::Tcp).source(kLoopback, "0");
    }

    Hints tcpConnectHints(std::uint16_t port)
    {
        return Hints{}.provider(Provider::Tcp).destination(kLoopback, std::to_string(port));
    }

    void waitAny(std::vector<EventQueue const*> const& events, std::vector<CompletionQueue const*> const& completions,
        std::chrono::milliseconds timeout)
    {
        auto fds = std::vector<pollfd>{};
        for (auto const* eq : events)
        {
            if (!eq->tryWait())
            {
                return;
            }
            fds.push_back(pollfd{eq->waitFd(), POLLIN, 0});
        }
        for (auto const* cq : completions)
        {
            if (!cq->tryWait())
            {
                return;
            }
            fds.push_back(pollfd{cq->waitFd(), POLLIN, 0});
        }
        ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
    }

    void Completions::drain(CompletionQueue& cq)
    {
        auto batch = std::array<fi_cq_data_entry, 32>{};
        while (true)
        {
            auto const n = cq.read(batch);
            if (n > 0)
            {
                entries.insert(entries.end(), batch.begin(), batch.begin() + n);
                continue;
            }
            if (n == kCompletionErrorAvailable)
            {
                auto error = CompletionError{};
                if (cq.readError(error))
                {
                    errors.push_back(error);
                    continue;
                }
            }
            else if (n < 0)
            {
                throw std::runtime_error("fi_cq_read failed: " + std::string{fi_strerror(static_cast<int>(-n))});
            }
            return;
        }
    }

    Server::Server(Hints const& hints)
        : info{require(Info::query(hints), "server fi_getinfo")}
        , fabric{require(Fabric::open(info), "server fabric")}
        , domain{require(Domain::open(fabric, info), "server domain")}
        , events{require(EventQueue::open(fabric), "server event queue")}
        , cq{require(CompletionQueue::open(domain, 2048), "server completion queue")}
        , listener{require(PassiveEndpoint::listen(fabric, info, events), "listen")}
    {}

    Client::Client(std::uint16_t port)
        : info{require(Info::query(tcpConnectHints(port)), "client fi_getinfo")}
        , fabric{require(Fabric::open(info), "client fabric")}
        , domain{require(Domain::open(fabric, info), "client domain")}
        , events{require(EventQueue::open(fabric), "client event queue")}
        , cq{require(CompletionQueue::open(domain, 2048), "client completion queue")}
        , endpoint{require(Endpoint::open(domain, info, EndpointQueues{cq, cq, &events}), "client endpoint")}
    {}

    CmEvent awaitEvent(EventQueue& events, CmEventKind kind, fid_t fid, std::chrono::milliseconds timeout)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        while (true)
        {
            auto const remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            auto event = require(events.wait(std::max(remaining, 0ms)), "waiting for a connection event");
            if (event.kind == CmEventKind::Error)
            {
                throw std::runtime_error("connection error event: " + event.message);
            }
            if (event.kind == kind && event.fid == fid)
            {
                return event;
            }
        }
    }

    Connection::Connection()
        : server{}
        , client{require(server.listener.port(), "listening port")}
    {
        require(client.endpoint.connect(), "connect");

        // One thread drives both sides, so wait on both event queues: each side's connection
        // handshake progresses only while its queue is read.
        auto const deadline = std::chrono::steady_clock::now() + kTimeout;
        auto clientConnected = false;
        auto serverConnected = false;
        while (!(clientConnected && serverConnected))
        {
            auto const remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (remaining.count() <= 0)
            {
                throw std::runtime_error("connection not established within the timeout");
            }
            waitAny({&server.events, &client.events}, {}, remaining);
            while (auto event = require(server.events.read(), "server event"))
            {
                if (event->kind == CmEventKind::Error)
                {
                    throw std::runtime_error("server connection error: " + event->message);
                }
                if (event->kind == CmEventKind::ConnectionRequest)
                {
                    server.request = std::move(event->info);
                    server.endpoint.emplace(
                        require(Endpoint::open(server.domain, *server.request, EndpointQueues{server.cq, server.cq, &server.events}), "server endpoint"));
                    require(server.endpoint->accept(), "accept");
                }
                else if (event->kind == CmEventKind::Connected && server.endpoint && event->fid == server.endpoint->fid())
                {
                    serverConnected = true;
                }
            }
            while (auto event = require(client.events.read(), "client event"))
            {
                if (event->kind == CmEventKind::Error)
                {
                    throw std::runtime_error("client connection error: " + event->message);
                }
                if (event->kind == CmEventKind::Connected && event->fid == client.endpoint.fid())
                {
                    clientConnected = true;
                }
            }
        }
    }

    std::vector<std::byte> pattern(std::size_t size, std::uint8_t seed)
    {
        auto bytes = std::vector<std::byte>(size);
        for (std::size_t i = 0; i < size; ++i)
        {
            bytes[i] = static_cast<std::byte>((i * 131 + seed * 7 + (i >> 12)) & 0xFF);
        }
        return bytes;
    }

    std::uint64_t cqDataMask(std::size_t cqDataSize) noexcept
    {
        return cqDataSize >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (cqDataSize * 8)) - 1;
    }
}
