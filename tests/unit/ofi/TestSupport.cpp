// SPDX-License-Identifier: Apache-2.0
#include "TestSupport.hpp"

#include <algorithm>
#include <array>

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

    std::size_t Completions::count(std::uint64_t flag) const noexcept
    {
        return static_cast<std::size_t>(std::ranges::count_if(entries, [flag](auto const& entry) { return (entry.flags & flag) == flag; }));
    }

    CmEvent* Inbox::find(CmEventKind kind, fid_t fid) noexcept
    {
        auto const found = std::ranges::find_if(events, [&](auto const& event) { return event.kind == kind && event.fid == fid; });
        return found == events.end() ? nullptr : &*found;
    }

    bool pumpUntil(std::vector<Watched> const& watched, std::function<bool()> const& done, std::chrono::milliseconds timeout)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        while (true)
        {
            for (auto const& side : watched)
            {
                if (side.events != nullptr)
                {
                    while (auto event = require(side.events->read(), "reading an event queue"))
                    {
                        side.inbox->events.push_back(std::move(*event));
                    }
                }
                if (side.cq != nullptr)
                {
                    side.inbox->completions.drain(*side.cq);
                }
            }
            auto const now = std::chrono::steady_clock::now();
            if (done() || now >= deadline)
            {
                return done();
            }

            auto fds = std::vector<pollfd>{};
            auto mayBlock = true;
            for (auto const& side : watched)
            {
                if (side.events != nullptr)
                {
                    mayBlock = mayBlock && side.events->tryWait();
                    fds.push_back(pollfd{side.events->waitFd(), POLLIN, 0});
                }
                if (side.cq != nullptr)
                {
                    mayBlock = mayBlock && side.cq->tryWait();
                    fds.push_back(pollfd{side.cq->waitFd(), POLLIN, 0});
                }
            }
            if (mayBlock)
            {
                ::poll(fds.data(), fds.size(), static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count()));
            }
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

    void Server::accept()
    {
        auto* connectionRequest = inbox.find(CmEventKind::ConnectionRequest, listener.fid());
        if (connectionRequest == nullptr)
        {
            throw std::runtime_error("no connection request to accept");
        }
        request = std::move(connectionRequest->info);
        endpoint.emplace(require(Endpoint::open(domain, *request, EndpointQueues{cq, cq, &events}), "server endpoint"));
        require(endpoint->accept(), "accept");
    }

    Client::Client(std::uint16_t port)
        : Client{tcpConnectHints(port)}
    {}

    Client::Client(Hints const& hints)
        : info{require(Info::query(hints), "client fi_getinfo")}
        , fabric{require(Fabric::open(info), "client fabric")}
        , domain{require(Domain::open(fabric, info), "client domain")}
        , events{require(EventQueue::open(fabric), "client event queue")}
        , cq{require(CompletionQueue::open(domain, 2048), "client completion queue")}
        , endpoint{require(Endpoint::open(domain, info, EndpointQueues{cq, cq, &events}), "client endpoint")}
    {}

    Connection::Connection(bool deliveryComplete)
        : server{tcpListenHints().deliveryComplete(deliveryComplete)}
        , client{tcpConnectHints(require(server.listener.port(), "listening port")).deliveryComplete(deliveryComplete)}
    {
        require(client.endpoint.connect(), "connect");
        auto const failed = [this] {
            return server.inbox.find(CmEventKind::Error, server.listener.fid()) != nullptr ||
                   client.inbox.find(CmEventKind::Error, client.endpoint.fid()) != nullptr;
        };
        if (!pumpUntil([&] { return failed() || server.inbox.find(CmEventKind::ConnectionRequest, server.listener.fid()); }) || failed())
        {
            throw std::runtime_error("no connection request reached the server");
        }
        server.accept();
        if (!pumpUntil([&] {
                return failed() || (server.inbox.find(CmEventKind::Connected, server.endpoint->fid()) &&
                                       client.inbox.find(CmEventKind::Connected, client.endpoint.fid()));
            }) ||
            failed())
        {
            throw std::runtime_error("the connection was not established on both sides");
        }
    }

    bool Connection::pumpUntil(std::function<bool()> const& done, std::chrono::milliseconds timeout)
    {
        return test::pumpUntil({server.watched(), client.watched()}, done, timeout);
    }

    std::vector<std::byte> pattern(std::size_t size, std::uint8_t seed)
    {
        auto bytes = std::vector<std::byte>(size);
        for (std::size_t i = 0; i < size; ++i)
        {
            bytes[i] = static_cast<std::byte>((i * 131 + seed * 7u + (i >> 12)) & 0xFF);
        }
        return bytes;
    }

    std::uint64_t cqDataMask(std::size_t cqDataSize) noexcept
    {
        return cqDataSize >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (cqDataSize * 8)) - 1;
    }
}
