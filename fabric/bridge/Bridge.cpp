// SPDX-License-Identifier: Apache-2.0
#include "bridge/Bridge.hpp"
#include "bridge/BridgeInternals.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstring>

#include <sys/epoll.h>
#include <sys/random.h>
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
        for (std::string const candidate : {"verbs", "tcp"})
        {
            if ((options.provider == "auto" || options.provider == candidate) && available(candidate))
            {
                providers.push_back(candidate);
            }
        }
        if (providers.empty())
        {
            return fail(MXL_ERR_NO_FABRIC, options.provider == "auto" ? std::string{"no replication provider (verbs, tcp) is available on this host"}
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
        LocalIdentity identity;
        identity.bridgeId = randomUuid();
        identity.tls = std::move(tls).value();
        identity.insecure = options.insecure;
        identity.capabilities.providers = providers;
        identity.capabilities.cqDataSize = 4;
        identity.capabilities.maxMessageSize = maxControlBody;
        identity.capabilities.transfers = transferRma | transferSendReceive;

        std::unique_ptr<Bridge> bridge{new Bridge{std::move(options), std::move(*domain), std::move(*status), std::move(identity)}};
        bridge->_providers = std::move(providers);
        if (auto r = bridge->setUp(); !r)
        {
            return r.take_error();
        }
        return bridge;
    }

    Bridge::Bridge(Options options, std::unique_ptr<Domain> domain, std::unique_ptr<StatusWriter> status, LocalIdentity identity)
        : _options{std::move(options)}
        , _domain{std::move(domain)}
        , _status{std::move(status)}
        , _identity{std::move(identity)}
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

        if (_options.maxMirrorsBytes)
        {
            _maxMirrorsBytes = *_options.maxMirrorsBytes;
        }
        else
        {
            struct statvfs fs{};
            _maxMirrorsBytes = ::statvfs(_options.domain.c_str(), &fs) == 0 ? fs.f_blocks * fs.f_frsize / 4 * 3 : std::uint64_t{64} << 30;
        }

        epoll_event event{};
        event.events = EPOLLIN;
        event.data.ptr = &listenerTag;
        ::epoll_ctl(_epoll.get(), EPOLL_CTL_ADD, _listener.get(), &event);
        event.data.ptr = &signalTag;
        ::epoll_ctl(_epoll.get(), EPOLL_CTL_ADD, _signals.get(), &event);

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
            if (std::none_of(_imports.begin(), _imports.end(), [&](Import const& i) { return i.peer == &*peer && i.flowId == spec.flowId; }))
            {
                Import import;
                import.peer = &*peer;
                import.flowId = spec.flowId;
                _imports.push_back(std::move(import));
            }
        }

        log().info("bridge {} serving domain {}, listening on {}, providers: {}{}", formatUuid(_identity.bridgeId), _options.domain.string(),
            _listenAddress.text(), fmt::join(_providers, ", "), _options.insecure ? " (INSECURE: no key, peers are not authenticated)" : "");
        for (auto const& import : _imports)
        {
            log().info("importing flow {} from {}", formatUuid(import.flowId), import.peer->address);
        }
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

    void Bridge::watch(Session& session)
    {
        epoll_event event{};
        event.events = EPOLLIN | (session.wantsWrite() ? EPOLLOUT : 0U);
        event.data.ptr = &session;
        if (::epoll_ctl(_epoll.get(), EPOLL_CTL_MOD, session.fd(), &event) != 0)
        {
            ::epoll_ctl(_epoll.get(), EPOLL_CTL_ADD, session.fd(), &event);
        }
    }

    void Bridge::onSession(Session& session, std::uint32_t events, std::uint64_t now)
    {
        session.onEvents(events, now);
    }

    void Bridge::tick(std::uint64_t now)
    {
        connectPeers(now);
        for (auto& session : _sessions)
        {
            session->tick(now);
        }
        exportsTick(now);
        importsTick(now);
        if (now >= _nextCatalogue)
        {
            _nextCatalogue = now + catalogueIntervalNs;
            publishCatalogue(now);
        }
        _abandoned.remove_if([](auto const& future) { return ready(future); });
        if (now >= _nextStatus)
        {
            _nextStatus = now + statusIntervalNs;
            publishStatus();
        }
    }

    void Bridge::connectPeers(std::uint64_t now)
    {
        for (auto& peer : _peers)
        {
            if (peer.session != nullptr || now < peer.nextAttempt)
            {
                continue;
            }
            auto socket = startConnect(peer.socketAddress);
            if (!socket)
            {
                peer.lastError = socket.error().message;
                peer.nextAttempt = now + maxBackoffNs;
                continue;
            }
            auto connection = Connection::open(std::move(*socket), Role::Client, _identity.tls);
            if (!connection)
            {
                peer.lastError = connection.error().message;
                peer.nextAttempt = now + maxBackoffNs;
                continue;
            }
            _sessions.push_back(std::make_unique<Session>(std::move(connection).value(), peer.socketAddress, _identity, *this, true, now));
            peer.session = _sessions.back().get();
            watch(*peer.session);
        }
    }

    void Bridge::sweepSessions(std::uint64_t now)
    {
        for (auto it = _sessions.begin(); it != _sessions.end();)
        {
            auto& session = **it;
            if (!session.closed())
            {
                watch(session);
                ++it;
                continue;
            }
            for (auto& e : _exports)
            {
                if (e.session == &session)
                {
                    dropExport(e);
                }
            }
            _exports.remove_if([&](Export const& e) { return e.session == nullptr; });
            if (auto* peer = peerOf(session))
            {
                peer->session = nullptr;
                peer->provider.clear();
                if (session.authenticationFailed())
                {
                    peer->refused = true;
                    peer->backoffNs = refusedBackoffNs;
                }
                else
                {
                    peer->refused = false;
                    peer->backoffNs = peer->backoffNs == 0 ? firstBackoffNs : std::min(peer->backoffNs * 2, maxBackoffNs);
                }
                peer->nextAttempt = now + peer->backoffNs;
                if (session.everConnected() || peer->lastError != session.closeReason())
                {
                    ++peer->errors;
                    if (!session.everConnected())
                    {
                        log().warn("peer {}: {}; retrying every {} ms", peer->address, session.closeReason(), maxBackoffNs / ms);
                    }
                }
                peer->lastError = session.closeReason();
                for (auto& import : _imports)
                {
                    if (import.peer == peer && import.state != Import::State::SourceGone)
                    {
                        // The mirror stays: readers wait (TOO_EARLY) until the source is back.
                        import.state = peer->refused ? Import::State::Refused : Import::State::Disconnected;
                    }
                }
            }
            ::epoll_ctl(_epoll.get(), EPOLL_CTL_DEL, session.fd(), nullptr);
            it = _sessions.erase(it);
        }
    }

    Bridge::Peer* Bridge::peerOf(Session const& session)
    {
        for (auto& peer : _peers)
        {
            if (peer.session == &session)
            {
                return &peer;
            }
        }
        return nullptr;
    }

    void Bridge::established(Session& session)
    {
        auto* peer = peerOf(session);
        if (peer == nullptr)
        {
            // A peer that imports from us: it learns what it may subscribe to.
            sendCatalogue(session, catalogue());
            return;
        }
        ++peer->sessions;
        peer->backoffNs = 0;
        peer->refused = false;
        auto const& theirs = session.peerCapabilities().providers;
        auto const common = std::find_if(_providers.begin(), _providers.end(),
            [&](std::string const& p) { return std::find(theirs.begin(), theirs.end(), p) != theirs.end(); });
        if (common == _providers.end())
        {
            auto const reason = fmt::format("no provider in common: this bridge offers {}, the peer {}", fmt::join(_providers, ","), fmt::join(theirs, ","));
            session.send(ControlError{MXL_ERR_NO_FABRIC, {}, reason});
            session.close(reason);
            return;
        }
        peer->provider = *common;
        log().info("peer {}: replicating over {} ({})", peer->address, peer->provider, transferName(fabric::preferredTransfer(peer->provider)));
        subscribeAll(*peer);
    }

    void Bridge::subscribeAll(Peer& peer)
    {
        for (auto& import : _imports)
        {
            if (import.peer == &peer)
            {
                peer.session->send(Subscribe{import.flowId});
                if (import.state != Import::State::SourceGone)
                {
                    import.state = Import::State::Waiting;
                }
            }
        }
    }

    void Bridge::received(Session& session, ControlMessage& message)
    {
        auto const now = monotonicNow();
        std::visit(
            [&](auto& m) {
                using T = std::decay_t<decltype(m)>;
                if constexpr (std::is_same_v<T, CatalogueRequest>)
                {
                    sendCatalogue(session, catalogue());
                }
                else if constexpr (std::is_same_v<T, Catalogue>)
                {
                    log().debug("peer {}: catalogue page {} of {}: {} flows", session.peerText(), m.page + 1, m.pages, m.flows.size());
                }
                else if constexpr (std::is_same_v<T, Subscribe>)
                {
                    onSubscribe(session, m.flowId, now);
                }
                else if constexpr (std::is_same_v<T, Unsubscribe>)
                {
                    onUnsubscribe(session, m.flowId);
                }
                else if constexpr (std::is_same_v<T, Grant>)
                {
                    onGrant(session, m);
                }
                else if constexpr (std::is_same_v<T, Offer>)
                {
                    onOffer(session, m, now);
                }
                else if constexpr (std::is_same_v<T, Started>)
                {
                    if (auto* import = importOf(session, m.flowId); import != nullptr && import->offerEpoch == m.offerEpoch)
                    {
                        import->state = Import::State::Active;
                        log().info("flow {}: replication from {} running", formatUuid(m.flowId), session.peerText());
                    }
                }
                else if constexpr (std::is_same_v<T, FlowGone>)
                {
                    if (auto* import = importOf(session, m.flowId); import != nullptr)
                    {
                        releaseMirror(*import, fmt::format("the source flow is gone ({})", m.reason));
                        import->state = Import::State::SourceGone;
                    }
                }
                else if constexpr (std::is_same_v<T, ControlError>)
                {
                    if (m.flowId == Uuid{})
                    {
                        session.close(fmt::format("the peer reported an error: {}", m.reason));
                    }
                    else if (peerOf(session) != nullptr)
                    {
                        onImportError(session, m, now);
                    }
                    else
                    {
                        log().warn("peer {}: flow {}: {}", session.peerText(), formatUuid(m.flowId), m.reason);
                        for (auto& e : _exports)
                        {
                            if (e.session == &session && e.flowId == m.flowId)
                            {
                                // The importer could not take it (it subscribes again when it can).
                                dropExport(e);
                            }
                        }
                        _exports.remove_if([](Export const& e) { return e.session == nullptr; });
                    }
                }
                else
                {
                    session.close(fmt::format("unexpected {}", controlTypeName(controlType(message))));
                }
            },
            message);
    }

    BridgeStatus Bridge::lastStatus() const
    {
        std::lock_guard lock{_statusMutex};
        return _lastStatus;
    }

    void Bridge::shutdown()
    {
        if (!_epoll.valid())
        {
            return;
        }
        for (auto& session : _sessions)
        {
            session->send(Goodbye{"the bridge is stopping"});
        }
        for (auto& e : _exports)
        {
            dropExport(e);
        }
        _exports.clear();
        for (auto& future : _abandoned)
        {
            future.wait();
        }
        _abandoned.clear();
        for (auto& import : _imports)
        {
            if (import.receiver)
            {
                import.receiver->stop();
                import.receiver.reset();
            }
        }
        _sessions.clear();
        _status.reset();
        _epoll = Fd{};
    }
}
