// SPDX-License-Identifier: Apache-2.0
#include "remote/CommandChannel.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "remote/CommandRingState.hpp"

namespace mxl::fabric::remote
{
    namespace
    {
        /// A client's identity, once checked in /proc, is trusted for this long.
        constexpr std::uint64_t verifiedForNs = 1'000'000'000ULL;
        /// Clients the server keeps rate state for; beyond that it starts afresh (a flood of
        /// forged pids must not grow it without bound).
        constexpr std::size_t maxTrackedClients = 4096;
        /// A client that finds the ring full tries again after this.
        constexpr auto fullBackoff = std::chrono::microseconds{50};

        std::uint64_t deadlineAfter(std::chrono::nanoseconds timeout) noexcept
        {
            return monotonicNs() + static_cast<std::uint64_t>(std::max<std::int64_t>(timeout.count(), 0));
        }
    }

    // ---- the bridge's side ---------------------------------------------------------------------

    CommandServer::CommandServer(CommandRing ring, ServerOptions const& options)
        : _ring{std::move(ring)}
        , _options{options}
        , _entries(std::max<std::size_t>(options.batch, 1))
    {}

    Expected<CommandServer> CommandServer::create(std::filesystem::path const& domain, ServerOptions const& options)
    {
        auto ring = CommandRing::create(domain, options.ring);
        if (!ring)
        {
            return ring.take_error();
        }
        return CommandServer{std::move(*ring), options};
    }

    ReplyStatus CommandServer::admit(Request const& request, std::string& reason, std::uint64_t now)
    {
        if (_clients.size() >= maxTrackedClients && !_clients.contains(request.client.pid))
        {
            _clients.clear();
        }
        auto& c = _clients[request.client.pid];
        if (c.startTime != request.client.startTime)
        {
            c = Client{request.client.startTime, 0, _options.burstPerClient, now};
        }
        if (_options.verifyClients && now - c.verifiedNs >= verifiedForNs)
        {
            auto const liveness = check(request.client);
            if (liveness != Liveness::Alive)
            {
                reason = fmt::format("pid {} with start time {} is {}", request.client.pid, request.client.startTime,
                    liveness == Liveness::Gone       ? "not running"
                    : liveness == Liveness::Mismatch ? "another process (forged or reused pid)"
                                                     : "not verifiable here");
                _clients.erase(request.client.pid);
                return ReplyStatus::PermissionDenied;
            }
            c.verifiedNs = now;
        }
        c.tokens = std::min(_options.burstPerClient, c.tokens + static_cast<double>(now - c.refilledNs) * 1e-9 * _options.ratePerClient);
        c.refilledNs = now;
        if (c.tokens < 1.0)
        {
            reason = fmt::format("pid {} is over its rate of {} requests per second", request.client.pid, _options.ratePerClient);
            return ReplyStatus::Busy;
        }
        if (_totalRefilledNs == 0)
        {
            _totalTokens = _options.burstTotal;
            _totalRefilledNs = now;
        }
        _totalTokens = std::min(_options.burstTotal, _totalTokens + static_cast<double>(now - _totalRefilledNs) * 1e-9 * _options.rateTotal);
        _totalRefilledNs = now;
        if (_totalTokens < 1.0)
        {
            reason = fmt::format("the bridge takes at most {} requests per second from all clients", _options.rateTotal);
            return ReplyStatus::Busy;
        }
        _totalTokens -= 1.0;
        c.tokens -= 1.0;
        return ReplyStatus::Ok;
    }

    void CommandServer::receive(Received& out, std::chrono::nanoseconds timeout)
    {
        out.requests.clear();
        out.refusals.clear();
        auto const n = _ring.pop(_entries, timeout);
        auto const now = monotonicNs();
        for (std::size_t i = 0; i < n; ++i)
        {
            auto const& entry = _entries[i];
            auto request = decodeRequest(entry.bytes, entry.position, _ring.replyCount());
            if (!request)
            {
                out.refusals.push_back({entry.position, ReplyStatus::InvalidArg, request.error().message, {}});
                continue;
            }
            std::string reason;
            if (auto const status = admit(*request, reason, now); status != ReplyStatus::Ok)
            {
                reply(*request, status, 0, reason);
                out.refusals.push_back({entry.position, status, std::move(reason), request->client});
                continue;
            }
            out.requests.push_back(std::move(*request));
        }
    }

    bool CommandServer::reply(Request const& request, ReplyStatus status, std::uint64_t leaseId, std::string_view reason)
    {
        if (request.replySlot == noReply)
        {
            return true;
        }
        return _ring.postReply(request.replySlot, request.replyGeneration, Reply{status, request.requestId, leaseId, std::string{reason}});
    }

    std::vector<ProcessIdentity> CommandServer::reclaimDeadClients()
    {
        std::erase_if(_clients, [](auto const& c) { return check({c.first, c.second.startTime}) == Liveness::Gone; });
        return _ring.reclaimReplies();
    }

    // ---- a client's side -----------------------------------------------------------------------

    CommandClient::CommandClient(CommandRing ring, ProcessIdentity self)
        : _ring{std::move(ring)}
        , _self{self}
    {}

    Expected<CommandClient> CommandClient::open(std::filesystem::path const& domain)
    {
        auto self = selfIdentity();
        if (!self)
        {
            return self.take_error();
        }
        auto ring = CommandRing::open(domain);
        if (!ring)
        {
            return ring.take_error();
        }
        return CommandClient{std::move(*ring), *self};
    }

    Expected<void> CommandClient::push(Request const& request, std::uint64_t deadlineNs)
    {
        // The request is checked as the bridge will check it, so that a bad one fails here with the
        // decoder's sentence instead of as a timeout.
        RingEntry trial;
        encodeRequest(request, 0, trial.bytes);
        if (auto checked = decodeRequest(trial.bytes, 0, _ring.replyCount()); !checked)
        {
            return checked.take_error();
        }
        for (;;)
        {
            if (auto claim = _ring.tryClaim())
            {
                encodeRequest(request, claim->position, claim->entry());
                if (_ring.publish(*claim) == PublishStatus::Published)
                {
                    return {};
                }
                continue; // this thread stalled past the slot timeout: send it again
            }
            if (monotonicNs() >= deadlineNs)
            {
                return fail(MXL_ERR_NOT_READY, fmt::format("{}: the command ring is full", _ring.path().string()));
            }
            std::this_thread::sleep_for(fullBackoff);
        }
    }

    Expected<void> CommandClient::send(std::variant<AcquireRequest, ReleaseRequest> body, std::chrono::nanoseconds timeout)
    {
        Request request{_self, _nextRequestId++, noReply, 0, std::move(body)};
        return push(request, deadlineAfter(timeout));
    }

    Expected<Reply> CommandClient::call(std::variant<AcquireRequest, ReleaseRequest> body, std::chrono::nanoseconds timeout)
    {
        auto const deadline = deadlineAfter(timeout);
        std::optional<ReplyTicket> ticket;
        while (!(ticket = _ring.claimReply(_self)))
        {
            if (monotonicNs() >= deadline)
            {
                return fail(MXL_ERR_NOT_READY, fmt::format("{}: all {} reply slots are taken", _ring.path().string(), _ring.replyCount()));
            }
            std::this_thread::sleep_for(fullBackoff);
        }
        Request request{_self, _nextRequestId++, ticket->slot, ticket->generation, std::move(body)};
        if (auto pushed = push(request, deadline); !pushed)
        {
            _ring.cancelReply(*ticket);
            return pushed.take_error();
        }
        auto const now = monotonicNs();
        auto reply = _ring.waitReply(*ticket, std::chrono::nanoseconds{static_cast<std::int64_t>(deadline > now ? deadline - now : 0)});
        if (reply && reply->requestId != request.requestId)
        {
            return fail(MXL_ERR_INTERNAL, fmt::format("{}: the reply in slot {} is for request {}, not {}", _ring.path().string(), ticket->slot,
                                              reply->requestId, request.requestId));
        }
        return reply;
    }

    Expected<Reply> CommandClient::acquire(std::string const& host, std::uint16_t port, Uuid const& flowId, std::uint32_t timeoutMs)
    {
        return call(AcquireRequest{host, port, flowId, timeoutMs}, std::chrono::milliseconds{timeoutMs} + std::chrono::seconds{1});
    }

    Expected<Reply> CommandClient::release(std::uint64_t leaseId, std::chrono::nanoseconds timeout)
    {
        return call(ReleaseRequest{leaseId}, timeout);
    }
}
