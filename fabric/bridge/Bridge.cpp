// SPDX-License-Identifier: Apache-2.0
// The conductor: creating the bridge, its event loop, the listener, the tick and the stop. Its
// sessions and peers are in BridgeSessions.cpp.
#include "bridge/Bridge.hpp"
#include "bridge/BridgeTuning.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstring>

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/statvfs.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/Logging.hpp"
#include "flow/FlowDefinition.hpp"
#include "ofi/Info.hpp"
#include "protocol/Messages.hpp"
#include "replication/FabricHints.hpp"
#include "replication/Offer.hpp"
#include "time/Timing.hpp"

namespace mxl::bridge
{
    using namespace internal;

    namespace
    {
        // Tags of the epoll events that are not sessions.
        int listenerTag;
        int signalTag;
    }

    Expected<std::unique_ptr<Bridge>> Bridge::create(Options options, PresharedKey key)
    {
        if (options.provider != "auto")
        {
            if (auto r = fabric::checkReplicationProvider(options.provider); !r)
            {
                return r.take_error();
            }
        }
        std::vector<std::string> providers;
        // Preference order for auto; shm only ever serves a peer on this host (BridgeSessions.cpp).
        for (std::string const candidate : {"verbs", "efa", "tcp", "shm", "tcp;ofi_rxm", "udp;ofi_rxd"})
        {
            auto const wanted = options.provider == candidate || (options.provider == "auto" && (candidate.find(';') == std::string::npos));
            if (wanted && available(candidate))
            {
                providers.push_back(candidate);
            }
        }
        if (providers.empty())
        {
            return fail(MXL_ERR_NO_FABRIC, options.provider == "auto" ? std::string{"no replication provider (verbs, efa, tcp, shm) is available on this host"}
                                                                      : fmt::format("provider {} is not available on this host", options.provider));
        }

        auto domain = Domain::open(options.domain, nullptr);
        if (!domain)
        {
            return fail(domain.error().status, fmt::format("domain {}: {}", options.domain.string(), domain.error().message));
        }
        if (!(*domain)->writable())
        {
            return fail(MXL_ERR_PERMISSION_DENIED, fmt::format("domain {} is not writable: mirrors could not be created", options.domain.string()));
        }
        auto status = StatusWriter::create(options.domain);
        if (!status)
        {
            return status.take_error();
        }

        auto tls = TlsContext::create(key, options.insecure);
        if (!tls)
        {
            return tls.take_error();
        }
        auto bridgeId = randomUuid();
        if (!bridgeId)
        {
            return bridgeId.take_error();
        }
        LocalIdentity identity;
        identity.bridgeId = *bridgeId;
        identity.tls = std::move(tls).value();
        identity.insecure = options.insecure;
        identity.capabilities.providers = providers;
        identity.capabilities.cqDataSize = 4;
        identity.capabilities.maxMessageSize = maxControlBody;
        identity.capabilities.transfers = transferRma | transferSendReceive;

        std::unique_ptr<Bridge> bridge{new Bridge{std::move(options), std::move(*domain), std::move(*status), std::move(identity), std::move(providers)}};
        if (auto r = bridge->setUp(); !r)
        {
            return r.take_error();
        }
        return bridge;
    }

    Bridge::Bridge(Options options, std::unique_ptr<Domain> domain, std::unique_ptr<StatusWriter> status, LocalIdentity identity,
        std::vector<std::string> providers)
        : _options{std::move(options)}
        , _domain{std::move(domain)}
        , _identity{std::move(identity)}
        , _providers{std::move(providers)}
        , _status{std::move(status)}
        , _leases{LeaseLimits{}, 1}
    {}

    Bridge::~Bridge()
    {
        shutdown();
    }

    Expected<void> Bridge::setUp()
    {
        _startedTai = taiNow();
        _epoll = Fd{::epoll_create1(EPOLL_CLOEXEC)};
        if (!_epoll.valid())
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("epoll_create1: {}", std::strerror(errno)));
        }

        auto address = parseSocketAddress(_options.listen);
        if (!address)
        {
            return address.take_error();
        }
        auto listener = listenTcp(*address);
        if (!listener)
        {
            return listener.take_error();
        }
        _listener = std::move(*listener);
        auto bound = localAddress(_listener.get());
        if (!bound)
        {
            return bound.take_error();
        }
        _listenAddress = *bound;

        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        _signals = Fd{::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)};
        if (!_signals.valid())
        {
            return fail(MXL_ERR_UNKNOWN, fmt::format("signalfd: {}", std::strerror(errno)));
        }

        auto maxMirrorsBytes = std::uint64_t{64} << 30;
        if (_options.maxMirrorsBytes)
        {
            maxMirrorsBytes = *_options.maxMirrorsBytes;
        }
        else if (struct statvfs fs{}; ::statvfs(_options.domain.c_str(), &fs) == 0)
        {
            maxMirrorsBytes = fs.f_blocks * fs.f_frsize / 4 * 3;
        }
        _exporter = std::make_unique<Exporter>(_options, *_domain, _providers);
        _importer = std::make_unique<Importer>(_options, *_domain, maxMirrorsBytes);

        epoll_event event{};
        event.events = EPOLLIN;
        event.data.ptr = &listenerTag;
        ::epoll_ctl(_epoll.get(), EPOLL_CTL_ADD, _listener.get(), &event);
        event.data.ptr = &signalTag;
        ::epoll_ctl(_epoll.get(), EPOLL_CTL_ADD, _signals.get(), &event);

        if (auto r = setUpLeases(); !r)
        {
            return r;
        }
        for (auto const& spec : _options.imports)
        {
            auto peer = std::find_if(_peers.begin(), _peers.end(), [&](Peer const& p) { return p.address == spec.peer; });
            if (peer == _peers.end())
            {
                Peer p;
                p.address = spec.peer;
                p.socketAddress = parseSocketAddress(spec.peer).value();
                _peers.push_back(std::move(p));
                peer = std::prev(_peers.end());
            }
            _importer->add(*peer, spec.flowId);
        }

        log().info("bridge {} serving domain {}, listening on {}, providers: {}{}", formatUuid(_identity.bridgeId), _options.domain.string(),
            _listenAddress.text(), fmt::join(_providers, ", "), _options.insecure ? " (INSECURE: no key, peers are not authenticated)" : "");
        _importer->logImports();
        publishStatus();
        return {};
    }

    int Bridge::run()
    {
        std::array<epoll_event, 64> events{};
        while (!_stopping)
        {
            auto const n = ::epoll_wait(_epoll.get(), events.data(), static_cast<int>(events.size()), 50);
            auto const now = monotonicNow();
            for (int i = 0; i < n; ++i)
            {
                auto* tag = events[static_cast<std::size_t>(i)].data.ptr;
                if (tag == &listenerTag)
                {
                    onListener(now);
                }
                else if (isCommandsTag(tag))
                {
                    onCommands(now);
                }
                else if (tag == &signalTag)
                {
                    signalfd_siginfo info{};
                    while (::read(_signals.get(), &info, sizeof info) == sizeof info)
                    {
                        log().info("received {}: stopping", ::strsignal(static_cast<int>(info.ssi_signo)));
                        _stopping = true;
                    }
                }
                else
                {
                    auto* session = static_cast<Session*>(tag);
                    // A session swept earlier in this batch is gone; events carry only live pointers
                    // because sweeping happens after the batch.
                    onSession(*session, events[static_cast<std::size_t>(i)].events, now);
                }
            }
            tick(now);
            sweepSessions(now);
            restListener(now);
        }
        shutdown();
        log().info("stopped; mirrors released");
        return exitOk;
    }

    void Bridge::onListener(std::uint64_t now)
    {
        for (;;)
        {
            SocketAddress peer;
            auto socket = acceptTcp(_listener.get(), peer);
            if (!socket)
            {
                // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS): the pending connection stays
                // and the listener would be readable at every turn. Rest it instead of spinning.
                if (now >= _nextListenerWarning)
                {
                    log().warn("control listener: {}; not accepting for {} ms", socket.error().message, listenerRestNs / ms);
                    _nextListenerWarning = now + refusalLogIntervalNs;
                }
                ::epoll_ctl(_epoll.get(), EPOLL_CTL_DEL, _listener.get(), nullptr);
                _listenerRestingUntil = now + listenerRestNs;
                return;
            }
            if (!socket->valid())
            {
                return;
            }
            auto const host = peer.host();
            std::size_t pending = 0;
            std::size_t fromThere = 0;
            for (auto const& session : _sessions)
            {
                if (session->role() == Role::Server && !session->closed() && session->phase() != Session::Phase::Established)
                {
                    ++pending;
                    fromThere += session->peer().host() == host ? 1 : 0;
                }
            }
            if (pending >= maxUnauthenticated || fromThere >= maxUnauthenticatedPerAddress)
            {
                ++_refusedConnections;
                if (now >= _nextRefusalLog)
                {
                    log().warn("peer {}: connection closed: {} connections wait for authentication ({} from {}); {} refused so far", peer.text(),
                        pending, fromThere, host, _refusedConnections);
                    _nextRefusalLog = now + refusalLogIntervalNs;
                }
                continue; // the socket closes here
            }
            auto connection = Connection::open(std::move(*socket), Role::Server, _identity.tls);
            if (!connection)
            {
                log().warn("peer {}: connection closed: {}", peer.text(), connection.error().message);
                continue;
            }
            log().debug("peer {}: connected", peer.text());
            _sessions.push_back(std::make_unique<Session>(std::move(connection).value(), peer, _identity, *this, false, now));
            watch(*_sessions.back());
        }
    }

    void Bridge::restListener(std::uint64_t now)
    {
        if (_listenerRestingUntil != 0 && now >= _listenerRestingUntil)
        {
            _listenerRestingUntil = 0;
            epoll_event event{};
            event.events = EPOLLIN;
            event.data.ptr = &listenerTag;
            ::epoll_ctl(_epoll.get(), EPOLL_CTL_ADD, _listener.get(), &event);
        }
    }

    void Bridge::tick(std::uint64_t now)
    {
        connectPeers(now);
        for (auto& session : _sessions)
        {
            session->tick(now);
        }
        _exporter->tick(now);
        _importer->tick(now);
        tickLeases(now);
        if (now >= _nextCatalogue)
        {
            _nextCatalogue = now + catalogueIntervalNs;
            _exporter->publishCatalogue(importingSessions());
        }
        if (now >= _nextStatus)
        {
            _nextStatus = now + statusIntervalNs;
            publishStatus();
        }
    }

    BridgeStatus Bridge::lastStatus() const
    {
        return _status.last();
    }

    void Bridge::publishStatus()
    {
        BridgeStatus status;
        status.pid = static_cast<std::uint32_t>(::getpid());
        status.bridgeId = formatUuid(_identity.bridgeId);
        status.listen = _listenAddress.text();
        status.startedTai = _startedTai;
        status.updatedTai = taiNow();
        describePeers(status.peers);
        _exporter->describe(status.flows);
        _importer->describe(status.flows);
        describeLeases(status.leases);
        _status.publish(std::move(status));
    }

    void Bridge::shutdown()
    {
        if (!_epoll.valid())
        {
            return;
        }
        // Clients find no ring from now on (MXL_ERR_NO_FABRIC); those still waiting are told.
        for (auto& a : _acquiring)
        {
            reply(a.command, fabric::remote::ReplyStatus::NoFabric, 0, "the bridge is stopping");
        }
        _acquiring.clear(); // lookups under way are waited for (getaddrinfo has its own timeouts)
        _lookups.clear();
        _commands.reset();
        for (auto& session : _sessions)
        {
            session->send(Goodbye{"the bridge is stopping"});
        }
        if (_exporter)
        {
            _exporter->shutdown();
        }
        if (_importer)
        {
            _importer->shutdown();
        }
        _sessions.clear();
        _status.close();
        _epoll = Fd{};
    }
}
