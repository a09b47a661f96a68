// SPDX-License-Identifier: Apache-2.0
#include "bridge/CommandService.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>

#include <sys/eventfd.h>
#include <unistd.h>
#include <fmt/format.h>

#include "common/Logging.hpp"

namespace mxl::bridge
{
    namespace
    {
        /// The longest sleep in the ring: how soon a stop is noticed if the wake were lost.
        constexpr auto receiveTimeout = std::chrono::milliseconds{200};
        /// How often reply slots of clients that died waiting are freed.
        constexpr auto reclaimInterval = std::chrono::seconds{1};
    }

    Expected<std::unique_ptr<CommandService>> CommandService::start(std::filesystem::path const& domain, fabric::remote::ServerOptions const& options)
    {
        Fd wake{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
        if (!wake.valid())
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("eventfd: {}", std::strerror(errno)));
        }
        auto server = fabric::remote::CommandServer::create(domain, options);
        if (!server)
        {
            return fail(server.error().status, fmt::format("the command ring: {}", server.error().message));
        }
        std::unique_ptr<CommandService> service{new CommandService{std::move(*server), std::move(wake)}};
        service->_thread = std::thread{[s = service.get()] { s->run(); }};
        return service;
    }

    CommandService::CommandService(fabric::remote::CommandServer server, Fd wake)
        : _server{std::move(server)}
        , _path{_server.ring().path()}
        , _wake{std::move(wake)}
    {}

    CommandService::~CommandService()
    {
        _stopping.store(true, std::memory_order_release);
        _server.ring().wakeConsumer();
        if (_thread.joinable())
        {
            _thread.join();
        }
    }

    void CommandService::run()
    {
        fabric::remote::Received batch;
        auto nextReclaim = std::chrono::steady_clock::now() + reclaimInterval;
        while (!_stopping.load(std::memory_order_acquire))
        {
            _server.receive(batch, receiveTimeout);
            if (!batch.requests.empty() || !batch.refusals.empty())
            {
                {
                    std::lock_guard lock{_mutex};
                    for (auto& r : batch.requests)
                    {
                        _pending.requests.push_back(std::move(r));
                    }
                    for (auto& r : batch.refusals)
                    {
                        _pending.refusals.push_back(std::move(r));
                    }
                }
                std::uint64_t const one = 1;
                (void)!::write(_wake.get(), &one, sizeof one);
            }
            if (auto const now = std::chrono::steady_clock::now(); now >= nextReclaim)
            {
                nextReclaim = now + reclaimInterval;
                _server.reclaimDeadClients();
            }
        }
    }

    void CommandService::take(fabric::remote::Received& out)
    {
        std::uint64_t count = 0;
        (void)!::read(_wake.get(), &count, sizeof count);
        out.requests.clear();
        out.refusals.clear();
        std::lock_guard lock{_mutex};
        std::swap(out, _pending);
    }

    bool CommandService::reply(fabric::remote::Request const& request, fabric::remote::ReplyStatus status, std::uint64_t leaseId, std::string_view reason)
    {
        return _server.reply(request, status, leaseId, reason);
    }
}
