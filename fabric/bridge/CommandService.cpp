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
        /// How often reply slots of clients that died waiting are freed, and the ring is checked.
        constexpr auto sweepInterval = std::chrono::seconds{1};
        /// Rings kept for replies after a replacement: a process that damages the ring again and
        /// again must not make the bridge map file after file.
        constexpr std::size_t maxRings = 8;
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
        std::unique_ptr<CommandService> service{new CommandService{domain, options, std::move(*server), std::move(wake)}};
        service->_thread = std::thread{[s = service.get()] { s->run(); }};
        return service;
    }

    CommandService::CommandService(std::filesystem::path domain, fabric::remote::ServerOptions const& options, fabric::remote::CommandServer server, Fd wake)
        : _domain{std::move(domain)}
        , _options{options}
        , _path{server.ring().path()}
        , _wake{std::move(wake)}
    {
        _servers.push_back(std::make_unique<fabric::remote::CommandServer>(std::move(server)));
    }

    CommandService::~CommandService()
    {
        _stopping.store(true, std::memory_order_release);
        {
            std::lock_guard lock{_mutex};
            _servers.back()->ring().wakeConsumer();
        }
        if (_thread.joinable())
        {
            _thread.join();
        }
    }

    void CommandService::run()
    {
        fabric::remote::Received batch;
        auto nextSweep = std::chrono::steady_clock::now() + sweepInterval;
        auto* server = _servers.back().get();
        auto ring = static_cast<std::uint32_t>(_servers.size() - 1);
        while (!_stopping.load(std::memory_order_acquire))
        {
            server->receive(batch, receiveTimeout);
            if (!batch.requests.empty() || !batch.refusals.empty())
            {
                {
                    std::lock_guard lock{_mutex};
                    for (auto& r : batch.requests)
                    {
                        _pending.push_back(Command{std::move(r), ring});
                    }
                    for (auto& r : batch.refusals)
                    {
                        _pendingRefusals.push_back(std::move(r));
                    }
                }
                std::uint64_t const one = 1;
                (void)!::write(_wake.get(), &one, sizeof one);
            }
            if (auto const now = std::chrono::steady_clock::now(); now >= nextSweep)
            {
                nextSweep = now + sweepInterval;
                server->reclaimDeadClients();
                if (auto damage = server->ring().damage())
                {
                    replace(*damage);
                    server = _servers.back().get();
                    ring = static_cast<std::uint32_t>(_servers.size() - 1);
                }
            }
        }
    }

    void CommandService::replace(std::string const& damage)
    {
        std::lock_guard lock{_mutex};
        if (_servers.size() >= maxRings)
        {
            if (!_gaveUp)
            {
                _gaveUp = true;
                log().error("command ring: {}; {} rings were made already, no more until the bridge restarts", damage, _servers.size());
            }
            return;
        }
        auto server = fabric::remote::CommandServer::create(_domain, _options);
        if (!server)
        {
            log().error("command ring: {}; a new one could not be made: {}", damage, server.error().message);
            return;
        }
        _servers.push_back(std::make_unique<fabric::remote::CommandServer>(std::move(*server)));
        _replacements.fetch_add(1, std::memory_order_relaxed);
        log().error("command ring: {}; a new ring replaces it (requests in flight in the old one are lost; their clients time out)", damage);
    }

    void CommandService::take(std::vector<Command>& requests, std::vector<fabric::remote::Refusal>& refusals)
    {
        std::uint64_t count = 0;
        (void)!::read(_wake.get(), &count, sizeof count);
        requests.clear();
        refusals.clear();
        std::lock_guard lock{_mutex};
        std::swap(requests, _pending);
        std::swap(refusals, _pendingRefusals);
    }

    bool CommandService::reply(Command const& command, fabric::remote::ReplyStatus status, std::uint64_t leaseId, std::string_view reason)
    {
        std::lock_guard lock{_mutex};
        if (command.ring >= _servers.size())
        {
            return false;
        }
        return _servers[command.ring]->reply(command.request, status, leaseId, reason);
    }
}
