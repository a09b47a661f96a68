// SPDX-License-Identifier: Apache-2.0
// Remote flows on demand (issue 12, docs/remote-flows.md): the conductor's handling of the domain's
// command ring. An Acquire becomes a lease on an import, made if none exists, from a peer dialled if
// --import does not name it; the reply waits until the mirror exists, or the peer refuses, or the
// request's deadline. A Release, or the end of the client's process, ends the lease; a flow nobody
// leases goes after --lease-linger, unless --import names it.
#include "bridge/Bridge.hpp"
#include "bridge/BridgeTuning.hpp"

#include <algorithm>
#include <future>

#include <sys/epoll.h>
#include <fmt/format.h>

#include "base/Random.hpp"
#include "common/Logging.hpp"
#include "time/Timing.hpp"

namespace mxl::bridge
{
    using namespace internal;
    using fabric::remote::ReplyStatus;

    namespace
    {
        int commandsTag;

        /// How often leases of processes that are gone are looked for.
        constexpr std::uint64_t leaseSweepNs = 1000 * ms;

        ReplyStatus replyStatusOf(mxlStatus status) noexcept
        {
            switch (status)
            {
                case MXL_ERR_NOT_FOUND:
                case MXL_ERR_FLOW_NOT_FOUND: return ReplyStatus::NotFound;
                case MXL_ERR_PERMISSION_DENIED: return ReplyStatus::PermissionDenied;
                case MXL_ERR_NO_FABRIC: return ReplyStatus::NoFabric;
                case MXL_ERR_TIMEOUT: return ReplyStatus::Timeout;
                case MXL_ERR_NOT_READY: return ReplyStatus::Busy;
                default: return ReplyStatus::Internal;
            }
        }
    }

    bool Bridge::isCommandsTag(void const* tag) noexcept
    {
        return tag == &commandsTag;
    }

    Expected<void> Bridge::setUpLeases()
    {
        auto firstId = randomU64("lease ids");
        if (!firstId)
        {
            return firstId.take_error();
        }
        LeaseLimits limits;
        limits.lingerNs = _options.leaseLingerMs * ms;
        limits.maxLeases = _options.maxLeases;
        limits.maxLeasesPerClient = _options.maxLeasesPerClient;
        // Ids stay far from wrapping: a random start in the lower half of the range.
        _leases = Leases{limits, (*firstId >> 1) | 1};
        for (auto const& spec : _options.imports)
        {
            if (auto address = parseSocketAddress(spec.peer))
            {
                _leases.pin(LeasedFlow{address->text(), spec.flowId});
            }
        }

        fabric::remote::ServerOptions server;
        server.ratePerClient = _options.leaseRequestRate;
        auto commands = CommandService::start(_options.domain, server);
        if (!commands)
        {
            return commands.take_error();
        }
        _commands = std::move(*commands);
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.ptr = &commandsTag;
        ::epoll_ctl(_epoll.get(), EPOLL_CTL_ADD, _commands->fd(), &event);
        return {};
    }

    void Bridge::onCommands(std::uint64_t now)
    {
        _commands->take(_commandsTaken, _refusalsTaken);
        for (auto const& refusal : _refusalsTaken)
        {
            // Refused requests were answered by the ring's server; a flood must not flood the log.
            ++_commandRefusals;
            if (now >= _nextCommandRefusalLog)
            {
                _nextCommandRefusalLog = now + refusalLogIntervalNs;
                log().warn("command ring: refused a request of pid {}: {} ({} refused so far)", refusal.client.pid, refusal.reason, _commandRefusals);
            }
        }
        for (auto const& command : _commandsTaken)
        {
            if (command.request.kind() == fabric::remote::RequestKind::Acquire)
            {
                acquire(command, now);
            }
            else
            {
                release(command, now);
            }
        }
        progressAcquiring(now);
    }

    void Bridge::reply(Command const& command, ReplyStatus status, std::uint64_t leaseId, std::string_view reason)
    {
        (void)_commands->reply(command, status, leaseId, reason);
    }

    void Bridge::acquire(Command const& command, std::uint64_t now)
    {
        auto const& request = command.request;
        auto const& body = std::get<fabric::remote::AcquireRequest>(request.body);
        auto const id = formatUuid(body.flowId);
        auto lease = _leases.open(request.client, taiNow());
        if (!lease)
        {
            log().warn("pid {}: refused flow {} from {}:{}: {}", request.client.pid, id, body.host, body.port, lease.error().message);
            reply(command, ReplyStatus::Busy, 0, lease.error().message);
            return;
        }
        log().info("pid {}: asks for flow {} from {}:{} (lease {} of {})", request.client.pid, id, body.host, body.port, _leases.all().size(),
            _leases.limits().maxLeases);
        Acquiring a;
        a.command = command;
        a.leaseId = *lease;
        a.deadline = now + std::uint64_t{body.timeoutMs} * ms;
        if (auto const numeric = numericAddress(body.host, body.port))
        {
            attach(a, *numeric);
        }
        else
        {
            // Off the event loop: a DNS lookup may take seconds.
            a.resolving = std::async(std::launch::async, [host = body.host, port = body.port] { return resolveHost(host, port); });
        }
        _acquiring.push_back(std::move(a));
    }

    void Bridge::release(Command const& command, std::uint64_t now)
    {
        auto const& request = command.request;
        auto const leaseId = std::get<fabric::remote::ReleaseRequest>(request.body).leaseId;
        auto const* lease = _leases.find(leaseId);
        if (lease == nullptr)
        {
            reply(command, ReplyStatus::NotFound, 0, "no such lease (released already, or held before this bridge started)");
            return;
        }
        if (!(lease->client == request.client))
        {
            log().warn("pid {}: refused to end a lease of pid {}", request.client.pid, lease->client.pid);
            reply(command, ReplyStatus::PermissionDenied, 0, "the lease belongs to another process");
            return;
        }
        if (auto it = std::find_if(_acquiring.begin(), _acquiring.end(), [&](Acquiring const& a) { return a.leaseId == leaseId; });
            it != _acquiring.end())
        {
            reply(it->command, ReplyStatus::NotFound, 0, "released while being acquired");
            abandon(it);
        }
        endLease(leaseId, now, "released");
        reply(command, ReplyStatus::Ok, leaseId, {});
    }

    void Bridge::endLease(std::uint64_t leaseId, std::uint64_t now, std::string_view why)
    {
        auto const* lease = _leases.find(leaseId);
        if (lease == nullptr)
        {
            return;
        }
        if (lease->flow)
        {
            log().info("pid {}: lease on flow {} from {} ended: {}", lease->client.pid, formatUuid(lease->flow->flowId), lease->flow->peer, why);
            auto const flow = *lease->flow;
            _leases.close(leaseId, now);
            if (_leases.count(flow) == 0 && !_leases.pinned(flow))
            {
                log().info("flow {}: no lease left; the mirror goes in {} ms unless it is asked for again", formatUuid(flow.flowId),
                    _options.leaseLingerMs);
            }
            return;
        }
        _leases.close(leaseId, now);
    }

    void Bridge::attach(Acquiring& a, SocketAddress const& source)
    {
        auto const& flowId = std::get<fabric::remote::AcquireRequest>(a.command.request.body).flowId;
        a.peer = &leasedPeer(source);
        _leases.attach(a.leaseId, LeasedFlow{a.peer->socketAddress.text(), flowId});
        _importer->add(*a.peer, flowId);
    }

    Peer& Bridge::leasedPeer(SocketAddress const& address)
    {
        auto const text = address.text();
        auto it = std::find_if(_peers.begin(), _peers.end(), [&](Peer const& p) { return p.socketAddress.text() == text; });
        if (it != _peers.end())
        {
            it->retiring = false;
            return *it;
        }
        Peer peer;
        peer.address = text;
        peer.socketAddress = address;
        peer.leased = true;
        _peers.push_back(std::move(peer));
        log().info("peer {}: dialled for leased flows", text);
        return _peers.back();
    }

    void Bridge::progressAcquiring(std::uint64_t now)
    {
        for (auto it = _acquiring.begin(); it != _acquiring.end();)
        {
            auto& a = *it;
            auto const& request = a.command.request;
            auto const& body = std::get<fabric::remote::AcquireRequest>(request.body);
            auto const id = formatUuid(body.flowId);
            std::optional<std::pair<ReplyStatus, std::string>> answer;
            if (a.resolving.valid() && ready(a.resolving))
            {
                auto address = a.resolving.get();
                if (!address)
                {
                    answer.emplace(ReplyStatus::NotFound, address.error().message);
                }
                else
                {
                    attach(a, *address);
                }
            }
            if (!answer && a.peer != nullptr)
            {
                auto const& peer = *a.peer;
                auto const outcome = _importer->outcome(peer, body.flowId);
                bool const listed = std::find(peer.catalogue.begin(), peer.catalogue.end(), body.flowId) != peer.catalogue.end();
                if (outcome.ready)
                {
                    answer.emplace(ReplyStatus::Ok, std::string{});
                }
                else if (peer.self || peer.socketAddress.text() == _listenAddress.text())
                {
                    answer.emplace(ReplyStatus::InvalidArg, "the URI names this host's own bridge: the flow is local");
                }
                else if (peer.refused)
                {
                    answer.emplace(ReplyStatus::PermissionDenied, fmt::format("the bridge at {} refused our key", peer.address));
                }
                else if (outcome.failure == MXL_ERR_PERMISSION_DENIED || (peer.catalogueKnown && !listed))
                {
                    // The peer answers a subscription to a flow it does not export with PERMISSION_DENIED.
                    answer.emplace(ReplyStatus::NotFound, fmt::format("the bridge at {} does not export it", peer.address));
                }
                else if (outcome.failure != MXL_STATUS_OK)
                {
                    answer.emplace(replyStatusOf(outcome.failure), outcome.why);
                }
            }
            if (!answer && now >= a.deadline)
            {
                auto const up = a.peer != nullptr && a.peer->session != nullptr && a.peer->session->phase() == Session::Phase::Established;
                auto why = a.peer == nullptr ? fmt::format("looking up {} took longer", body.host)
                           : !up             ? fmt::format("no session with the bridge at {}{}", a.peer->address,
                                                   a.peer->lastError.empty() ? "" : ": " + a.peer->lastError)
                                             : fmt::format("the bridge at {} did not offer it in time", a.peer->address);
                answer.emplace(ReplyStatus::Timeout, std::move(why));
            }
            if (!answer)
            {
                ++it;
                continue;
            }
            auto const [status, why] = *answer;
            if (status == ReplyStatus::Ok)
            {
                if (_commands->reply(a.command, ReplyStatus::Ok, a.leaseId, {}))
                {
                    _leases.grant(a.leaseId);
                    log().info("pid {}: flow {} from {} is mirrored here; lease granted", request.client.pid, id, a.peer->address);
                }
                else
                {
                    // The client gave up waiting or died: nobody holds what it asked for.
                    endLease(a.leaseId, now, "the client no longer waited for it");
                }
            }
            else
            {
                log().warn("pid {}: flow {} from {}:{} not leased: {}", request.client.pid, id, body.host, body.port, why);
                reply(a.command, status, 0, why);
                endLease(a.leaseId, now, "refused");
            }
            it = _acquiring.erase(it);
        }
    }

    void Bridge::abandon(std::list<Acquiring>::iterator it)
    {
        // A host-name lookup cannot be cancelled, and a future of std::async waits for it when
        // destroyed: it finishes on its own, off the event loop, and is dropped once done.
        if (it->resolving.valid())
        {
            _lookups.push_back(std::move(it->resolving));
        }
        _acquiring.erase(it);
    }

    void Bridge::tickLeases(std::uint64_t now)
    {
        std::erase_if(_lookups, [](auto const& lookup) { return ready(lookup); });
        if (!_acquiring.empty())
        {
            progressAcquiring(now);
        }
        if (now >= _nextLeaseSweep)
        {
            _nextLeaseSweep = now + leaseSweepNs;
            for (auto const leaseId : _leases.leasesOfDeadClients())
            {
                if (auto it = std::find_if(_acquiring.begin(), _acquiring.end(), [&](Acquiring const& a) { return a.leaseId == leaseId; });
                    it != _acquiring.end())
                {
                    abandon(it);
                }
                endLease(leaseId, now, "its process is gone");
            }
        }
        // A peer that is this bridge itself serves nothing: its leased imports go now, not after a linger.
        for (auto& peer : _peers)
        {
            if (peer.leased && peer.self && !peer.retiring)
            {
                for (auto const& [flow, until] : _leases.lingering())
                {
                    if (flow.peer == peer.socketAddress.text())
                    {
                        _leases.endLingerNow(flow, now);
                    }
                }
            }
        }
        for (auto const& flow : _leases.expired(now))
        {
            auto peer = std::find_if(_peers.begin(), _peers.end(), [&](Peer const& p) { return p.socketAddress.text() == flow.peer; });
            if (peer == _peers.end())
            {
                continue;
            }
            _importer->remove(*peer, flow.flowId, "its last lease ended a linger ago");
            if (peer->leased && !_importer->importsFrom(*peer))
            {
                peer->retiring = true;
                if (peer->session != nullptr)
                {
                    peer->session->send(Goodbye{"no flow of yours is leased here any more"});
                    peer->session->close("no flow of this peer is leased any more");
                }
            }
        }
        // A retiring peer goes once its session is swept (sweepSessions clears peer->session).
        _peers.remove_if([](Peer const& p) { return p.retiring && p.session == nullptr; });
    }

    void Bridge::describeLeases(std::vector<LeaseStatus>& leases) const
    {
        for (auto const& [id, lease] : _leases.all())
        {
            LeaseStatus l;
            l.pid = lease.client.pid;
            l.sinceTai = lease.sinceTai;
            l.granted = lease.granted;
            if (lease.flow)
            {
                l.flowId = formatUuid(lease.flow->flowId);
                l.peer = lease.flow->peer;
            }
            leases.push_back(std::move(l));
        }
    }
}
