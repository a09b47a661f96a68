// SPDX-License-Identifier: Apache-2.0
#include "Bridge.hpp"

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
#include <openssl/sha.h>

#include "common/Logging.hpp"
#include "flow/FlowDefinition.hpp"
#include "ofi/Info.hpp"
#include "protocol/Messages.hpp"
#include "replication/FabricHints.hpp"
#include "replication/Offer.hpp"
#include "time/Timing.hpp"

namespace mxl::bridge
{
    namespace
    {
        /// The bytes of grains or samples a mirror of this offer holds.
        std::uint64_t mirrorBytes(fabric::FlowOffer const& offer) noexcept
        {
            if (mxlIsDiscreteDataFormat(offer.config.common.format))
            {
                return std::uint64_t{offer.config.discrete.grainCount} * offer.grainSize;
            }
            return std::uint64_t{offer.config.continuous.bufferLength} * offer.config.continuous.channelCount * offer.sampleWordSize;
        }

        /// What the status area shows of a session epoch: 64 bits of SHA-256 over it. Equal on both
        /// ends of a session and new with every session, so that operators and tests can tell
        /// sessions apart, but the epoch itself (part of what lets a peer write into a mirror) is
        /// never published in a file that other users can read.
        std::uint64_t sessionTag(std::uint64_t epoch) noexcept
        {
            if (epoch == 0)
            {
                return 0;
            }
            std::array<unsigned char, 8 + 24> input{};
            for (int i = 0; i < 8; ++i)
            {
                input[static_cast<std::size_t>(i)] = static_cast<unsigned char>(epoch >> (8 * i));
            }
            static constexpr char context[] = "mxl-fabric status session tag";
            std::memcpy(input.data() + 8, context, std::min(sizeof context, std::size_t{24}));
            unsigned char digest[SHA256_DIGEST_LENGTH];
            ::SHA256(input.data(), input.size(), digest);
            std::uint64_t tag = 0;
            for (int i = 0; i < 8; ++i)
            {
                tag |= std::uint64_t{digest[i]} << (8 * i);
            }
            return tag == 0 ? 1 : tag;
        }

        constexpr std::uint64_t ms = 1'000'000;
        constexpr std::uint64_t firstBackoffNs = 50 * ms;
        constexpr std::uint64_t maxBackoffNs = 250 * ms;  // data must move within 2 s of a link returning
        constexpr std::uint64_t refusedBackoffNs = 5000 * ms;
        constexpr std::uint64_t offerRetryNs = 200 * ms;
        constexpr std::uint64_t failureRetryNs = 500 * ms;
        constexpr std::uint64_t resubscribeNs = 2000 * ms;
        constexpr std::uint64_t grantTimeoutNs = 5000 * ms;
        constexpr std::uint64_t catalogueIntervalNs = 1000 * ms;
        constexpr std::uint64_t statusIntervalNs = 200 * ms;
        /// Connections that have not authenticated yet, in all and from one address: beyond these a
        /// new connection is closed at once (a peer of ours needs one, briefly).
        constexpr std::size_t maxUnauthenticated = 64;
        constexpr std::size_t maxUnauthenticatedPerAddress = 8;
        /// Subscriptions (flows exported to a peer) one peer may hold, and all peers together.
        constexpr std::size_t maxSubscriptionsPerPeer = maxStatusFlows;
        constexpr std::size_t maxSubscriptions = maxStatusFlows * 4;
        /// How long the listener rests when accept fails for want of descriptors or memory.
        constexpr std::uint64_t listenerRestNs = 100 * ms;
        /// At most one log line about refused connections per this interval.
        constexpr std::uint64_t refusalLogIntervalNs = 5000 * ms;
        constexpr std::chrono::milliseconds senderConnectTimeout{2000};

        // Tags of the epoll events that are not sessions.
        int listenerTag;
        int signalTag;

        std::uint64_t randomEpoch()
        {
            std::uint64_t epoch = 0;
            while (epoch == 0)
            {
                if (::getrandom(&epoch, sizeof epoch, 0) != sizeof epoch)
                {
                    epoch = monotonicNow();
                }
            }
            return epoch;
        }

        bool available(std::string const& provider)
        {
            return ofi::Info::query(fabric::replicationHints(provider)).has_value() || ofi::Info::query(fabric::sendReceiveHints(provider)).has_value();
        }

        char const* transferName(fabric::Transfer transfer)
        {
            return transfer == fabric::Transfer::Rma ? "rma" : "send-receive";
        }

        char const* exportStateName(int state)
        {
            static constexpr std::array names{"waiting", "offered", "connecting", "active"};
            return names.at(static_cast<std::size_t>(state));
        }

        template<typename T>
        bool ready(std::future<T> const& future)
        {
            return future.valid() && future.wait_for(std::chrono::seconds{0}) == std::future_status::ready;
        }
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

        LocalIdentity identity;
        identity.bridgeId = randomUuid();
        identity.key = std::move(key);
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

        if (_options.metrics)
        {
            auto metrics = MetricsServer::start(*_options.metrics, [this] {
                std::lock_guard lock{_statusMutex};
                return renderPrometheus(_lastStatus);
            });
            if (!metrics)
            {
                return fail(metrics.error().status, "--metrics: " + metrics.error().message);
            }
            _metrics = std::move(*metrics);
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
            log().debug("peer {}: connected", peer.text());
            _sessions.push_back(std::make_unique<Session>(std::move(*socket), Role::Server, peer, _identity, *this, false, now));
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
            _sessions.push_back(std::make_unique<Session>(std::move(*socket), Role::Client, peer.socketAddress, _identity, *this, true, now));
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
                    if (import.peer == peer && import.state != "source-gone")
                    {
                        // The mirror stays: readers wait (TOO_EARLY) until the source is back.
                        import.state = peer->refused ? "refused" : "disconnected";
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
            auto const list = catalogue();
            session.send(list);
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
                if (import.state != "source-gone")
                {
                    import.state = "waiting";
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
                    session.send(catalogue());
                }
                else if constexpr (std::is_same_v<T, Catalogue>)
                {
                    log().debug("peer {}: catalogue of {} flows", session.peerText(), m.flows.size());
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
                        import->state = "active";
                        log().info("flow {}: replication from {} running", formatUuid(m.flowId), session.peerText());
                    }
                }
                else if constexpr (std::is_same_v<T, FlowGone>)
                {
                    if (auto* import = importOf(session, m.flowId); import != nullptr)
                    {
                        releaseMirror(*import, fmt::format("the source flow is gone ({})", m.reason));
                        import->state = "source-gone";
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

    // ---- Export side -------------------------------------------------------------------------

    bool Bridge::exported(Uuid const& flowId) const
    {
        return _options.exportAll || std::find(_options.exports.begin(), _options.exports.end(), flowId) != _options.exports.end();
    }

    void Bridge::onSubscribe(Session& session, Uuid const& flowId, std::uint64_t now)
    {
        if (!exported(flowId))
        {
            log().warn("peer {}: refused a subscription to flow {}: not exported", session.peerText(), formatUuid(flowId));
            session.send(ControlError{MXL_ERR_PERMISSION_DENIED, flowId, fmt::format("flow {} is not exported by this bridge", formatUuid(flowId))});
            return;
        }
        auto it = std::find_if(_exports.begin(), _exports.end(), [&](Export const& e) { return e.session == &session && e.flowId == flowId; });
        if (it == _exports.end())
        {
            // One peer gets its share, not the whole: the subscription beyond is refused, the session goes on.
            auto const mine = static_cast<std::size_t>(std::count_if(_exports.begin(), _exports.end(), [&](Export const& e) { return e.session == &session; }));
            if (mine >= maxSubscriptionsPerPeer || _exports.size() >= maxSubscriptions)
            {
                auto const reason = mine >= maxSubscriptionsPerPeer
                                        ? fmt::format("this peer holds {} subscriptions, the most one peer may", mine)
                                        : fmt::format("this bridge serves {} subscriptions, the most it takes", _exports.size());
                log().warn("peer {}: refused a subscription to flow {}: {}", session.peerText(), formatUuid(flowId), reason);
                session.send(ControlError{MXL_ERR_INVALID_STATE, flowId, reason});
                return;
            }
            _exports.push_back(Export{});
            it = std::prev(_exports.end());
            it->session = &session;
            it->flowId = flowId;
        }
        else
        {
            auto& e = *it;
            dropExport(e);
            e.session = &session;
        }
        it->state = Export::State::Waiting;
        it->retryAt = now;
        log().info("peer {}: subscribed to flow {}", session.peerText(), formatUuid(flowId));
    }

    void Bridge::onUnsubscribe(Session& session, Uuid const& flowId)
    {
        for (auto& e : _exports)
        {
            if (e.session == &session && e.flowId == flowId)
            {
                log().info("peer {}: unsubscribed from flow {}", session.peerText(), formatUuid(flowId));
                dropExport(e);
            }
        }
        _exports.remove_if([](Export const& e) { return e.session == nullptr; });
    }

    void Bridge::dropExport(Export& e)
    {
        if (e.sender)
        {
            e.sender->stop();
            e.sender.reset();
        }
        if (e.pending.valid())
        {
            _abandoned.push_back(std::move(e.pending));
        }
        e.session = nullptr;
        e.state = Export::State::Waiting;
        e.offerEpoch = 0;
        e.grantEpoch = 0;
    }

    void Bridge::offer(Export& e, std::uint64_t now)
    {
        auto flowOffer = fabric::makeFlowOffer(*_domain, e.flowId);
        if (!flowOffer)
        {
            // Not there (yet): the peer waits; the flow is offered when a writer creates it.
            e.retryAt = now + offerRetryNs;
            return;
        }
        e.offerEpoch = randomEpoch();
        e.state = Export::State::Offered;
        e.retryAt = now + grantTimeoutNs;
        e.session->send(Offer{e.flowId, e.offerEpoch, fabric::encode(*flowOffer)});
        log().info("flow {}: offered to {}", formatUuid(e.flowId), e.session->peerText());
    }

    void Bridge::onGrant(Session& session, Grant const& grant)
    {
        auto it = std::find_if(_exports.begin(), _exports.end(), [&](Export const& e) { return e.session == &session && e.flowId == grant.flowId; });
        if (it == _exports.end() || it->state != Export::State::Offered || it->offerEpoch != grant.offerEpoch)
        {
            // A grant crossing a newer offer: refused, not fatal (the newer offer gets its own grant).
            session.send(ControlError{MXL_ERR_INVALID_STATE, grant.flowId, "grant for a stale or unknown offer epoch"});
            return;
        }
        auto regionGrant = fabric::decodeRegionGrant(grant.regionGrant);
        if (!regionGrant)
        {
            session.close(fmt::format("a malformed region grant: {}", regionGrant.error().message));
            return;
        }
        if (regionGrant->flowId != grant.flowId)
        {
            session.close("a region grant for another flow");
            return;
        }
        // The sender connects where the grant says: only to the peer itself, never elsewhere.
        if (regionGrant->node != session.peer().host())
        {
            session.close(fmt::format("a region grant naming host {} (the peer is {})", regionGrant->node, session.peer().host()));
            return;
        }
        if (std::none_of(_providers.begin(), _providers.end(), [&](std::string const& p) { return regionGrant->provider == p; }))
        {
            session.send(ControlError{MXL_ERR_NO_FABRIC, grant.flowId, fmt::format("provider {} is not available on this host", regionGrant->provider)});
            it->state = Export::State::Waiting;
            it->retryAt = monotonicNow() + resubscribeNs;
            return;
        }
        auto& e = *it;
        e.provider = regionGrant->provider;
        e.transfer = transferName(regionGrant->transfer);
        e.grantEpoch = regionGrant->epoch;
        e.state = Export::State::Connecting;
        fabric::Sender::Options options;
        options.connectTimeout = senderConnectTimeout;
        e.pending = std::async(std::launch::async, [domain = _domain.get(), flowId = e.flowId, g = std::move(*regionGrant), options] {
            return fabric::Sender::create(*domain, flowId, g, options);
        });
    }

    void Bridge::exportsTick(std::uint64_t now)
    {
        for (auto& e : _exports)
        {
            if (e.session == nullptr || e.session->phase() != Session::Phase::Established)
            {
                continue;
            }
            auto const id = formatUuid(e.flowId);
            switch (e.state)
            {
                case Export::State::Waiting:
                    if (now >= e.retryAt)
                    {
                        offer(e, now);
                    }
                    break;
                case Export::State::Offered:
                    if (now >= e.retryAt)
                    {
                        // No grant came (the peer is busy or lost it): a new offer, a new epoch.
                        offer(e, now);
                    }
                    break;
                case Export::State::Connecting:
                    if (ready(e.pending))
                    {
                        auto sender = e.pending.get();
                        if (!sender)
                        {
                            ++e.errors;
                            e.lastError = sender.error().message;
                            log().warn("flow {}: cannot replicate to {}: {}", id, e.session->peerText(), e.lastError);
                            e.session->send(ControlError{sender.error().status, e.flowId, e.lastError});
                            e.state = Export::State::Waiting;
                            e.retryAt = now + failureRetryNs;
                            break;
                        }
                        e.sender = std::move(*sender);
                        e.sender->start();
                        e.state = Export::State::Active;
                        e.session->send(Started{e.flowId, e.offerEpoch});
                        log().info("flow {}: replicating to {} ({}, {})", id, e.session->peerText(), e.provider, e.transfer);
                    }
                    break;
                case Export::State::Active:
                    if (e.sender->sourceRemoved())
                    {
                        log().info("flow {}: the source flow was removed or recreated; telling {}", id, e.session->peerText());
                        e.sender->stop();
                        e.sender.reset();
                        e.session->send(FlowGone{e.flowId, e.offerEpoch, "the source flow was removed or recreated"});
                        e.state = Export::State::Waiting;
                        e.retryAt = now;
                    }
                    else if (e.sender->failed())
                    {
                        ++e.errors;
                        e.lastError = e.sender->counters().lastError;
                        log().warn("flow {}: replication to {} failed ({}); offering again", id, e.session->peerText(), e.lastError);
                        e.sender->stop();
                        e.sender.reset();
                        e.state = Export::State::Waiting;
                        e.retryAt = now + failureRetryNs;
                    }
                    break;
            }
        }
    }

    Catalogue Bridge::catalogue() const
    {
        Catalogue list;
        for (auto const& id : _domain->listFlows())
        {
            if (!exported(id) || list.flows.size() >= maxCatalogueEntries)
            {
                continue;
            }
            CatalogueEntry entry;
            entry.flowId = id;
            auto const text = formatUuid(id);
            // Anyone who may write the domain may have written this file: it is parsed as the engine
            // parses a definition (every field's type checked), and a flow whose definition is refused
            // is left out of the catalogue, said once.
            auto def = _domain->flowDefinition(text);
            auto parsed = def ? parseFlowDefinition(*def) : Expected<FlowDefinition>{Unexpected{def.error()}};
            if (!parsed)
            {
                if (_refusedDefinitions.insert(text).second)
                {
                    log().warn("flow {}: not exported: {}", text, parsed.error().message);
                }
                continue;
            }
            _refusedDefinitions.erase(text);
            entry.label = parsed->label.substr(0, maxTextSize);
            entry.format = nlohmann::json::parse(parsed->json, nullptr, false).value("format", std::string{}).substr(0, maxTextSize);
            auto active = _domain->isFlowActive(text);
            entry.active = active && *active;
            list.flows.push_back(std::move(entry));
        }
        return list;
    }

    void Bridge::publishCatalogue(std::uint64_t)
    {
        auto const list = catalogue();
        auto encoded = encodeControl(list);
        if (encoded == _catalogueSent)
        {
            return;
        }
        _catalogueSent = std::move(encoded);
        for (auto& session : _sessions)
        {
            if (session->phase() == Session::Phase::Established && peerOf(*session) == nullptr)
            {
                session->send(list);
            }
        }
    }

    // ---- Import side -------------------------------------------------------------------------

    Bridge::Import* Bridge::importOf(Session& session, Uuid const& flowId)
    {
        auto* peer = peerOf(session);
        if (peer == nullptr)
        {
            session.close("an import message on a session that imports nothing");
            return nullptr;
        }
        for (auto& import : _imports)
        {
            if (import.peer == peer && import.flowId == flowId)
            {
                return &import;
            }
        }
        session.close(fmt::format("a message about flow {}, which this bridge did not subscribe to", formatUuid(flowId)));
        return nullptr;
    }

    void Bridge::onOffer(Session& session, Offer const& message, std::uint64_t now)
    {
        auto* import = importOf(session, message.flowId);
        if (import == nullptr)
        {
            return;
        }
        auto flowOffer = fabric::decodeFlowOffer(message.flowOffer);
        if (!flowOffer)
        {
            session.close(fmt::format("a malformed flow offer: {}", flowOffer.error().message));
            return;
        }
        if (flowOffer->flowId != message.flowId)
        {
            session.close("a flow offer for another flow");
            return;
        }
        auto const id = formatUuid(message.flowId);
        auto& peer = *import->peer;
        if (import->receiver && import->offer == message.flowOffer)
        {
            if (auto r = import->receiver->renew(); !r)
            {
                releaseMirror(*import, fmt::format("renewing the mirror failed: {}", r.error().message));
            }
        }
        else if (import->receiver)
        {
            releaseMirror(*import, "the source offers another geometry");
        }
        if (!import->receiver)
        {
            // The importer's own limits: a peer (or its writer) decides the ring, this host the room.
            auto const bytes = mirrorBytes(*flowOffer);
            std::uint64_t others = 0;
            for (auto const& i : _imports)
            {
                others += &i != import ? i.mirrorBytes : 0;
            }
            std::optional<std::string> tooLarge;
            if (bytes > _options.maxMirrorBytes)
            {
                tooLarge = fmt::format("a mirror of {} bytes is larger than --max-mirror-size ({} bytes)", bytes, _options.maxMirrorBytes);
            }
            else if (others + bytes > _maxMirrorsBytes)
            {
                tooLarge = fmt::format("a mirror of {} bytes next to the {} bytes of the others exceeds --max-mirrors-size ({} bytes)", bytes, others,
                    _maxMirrorsBytes);
            }
            if (tooLarge)
            {
                ++import->errors;
                if (import->lastError != *tooLarge)
                {
                    log().error("flow {}: not mirrored: {}", id, *tooLarge); // once, not at every offer
                }
                import->lastError = *tooLarge;
                import->state = "error";
                import->resubscribeAt = now + refusedBackoffNs;
                session.send(ControlError{MXL_ERR_INVALID_ARG, message.flowId, "the importer cannot mirror it: " + *tooLarge});
                return;
            }
            fabric::Receiver::Options options;
            options.provider = peer.provider;
            options.node = session.local() ? session.local()->host() : std::string{"0.0.0.0"};
            options.service = "0";
            options.transfer = fabric::preferredTransfer(peer.provider);
            auto const& theirs = session.peerCapabilities();
            if (options.transfer == fabric::Transfer::Rma && (theirs.cqDataSize < 4 || (theirs.transfers & transferRma) == 0))
            {
                // The source cannot post RMA writes with 4 bytes of immediate data: messages instead.
                options.transfer = fabric::Transfer::SendReceive;
            }
            auto receiver = fabric::Receiver::create(*_domain, *flowOffer, options);
            if (!receiver)
            {
                ++import->errors;
                import->lastError = receiver.error().message;
                import->state = "error";
                import->resubscribeAt = now + resubscribeNs;
                log().error("flow {}: cannot mirror it: {}", id, import->lastError);
                session.send(ControlError{receiver.error().status, message.flowId, fmt::format("the importer cannot mirror it: {}", import->lastError)});
                return;
            }
            import->receiver = std::move(*receiver);
            import->mirrorBytes = bytes;
            import->receiver->start();
            import->offer = message.flowOffer;
            import->rate = flowOffer->config.common.grainRate;
        }
        import->offerEpoch = message.offerEpoch;
        import->state = "connecting";
        session.send(Grant{message.flowId, message.offerEpoch, fabric::encode(import->receiver->grant())});
        log().info("flow {}: mirror granted to {} ({}, {})", id, peer.address, import->receiver->grant().provider,
            transferName(import->receiver->grant().transfer));
    }

    void Bridge::onImportError(Session& session, ControlError const& error, std::uint64_t now)
    {
        auto* import = importOf(session, error.flowId);
        if (import == nullptr)
        {
            return;
        }
        ++import->errors;
        import->lastError = error.reason;
        log().warn("flow {}: the peer {} reports: {}", formatUuid(error.flowId), session.peerText(), error.reason);
        if (error.code == MXL_ERR_PERMISSION_DENIED)
        {
            import->state = "refused";
            import->resubscribeAt = now + resubscribeNs;
        }
    }

    void Bridge::importsTick(std::uint64_t now)
    {
        for (auto& import : _imports)
        {
            auto* session = import.peer->session;
            if (session == nullptr || session->phase() != Session::Phase::Established)
            {
                continue;
            }
            if ((import.state == "refused" || import.state == "error") && import.resubscribeAt != 0 && now >= import.resubscribeAt)
            {
                import.resubscribeAt = 0;
                import.state = "waiting";
                session->send(Subscribe{import.flowId});
            }
        }
    }

    void Bridge::releaseMirror(Import& import, std::string const& why)
    {
        if (!import.receiver)
        {
            return;
        }
        log().info("flow {}: {}; the mirror is removed (its readers see FLOW_INVALID)", formatUuid(import.flowId), why);
        import.receiver->stop();
        import.receiver.reset();
        import.offer.clear();
        import.offerEpoch = 0;
        import.mirrorBytes = 0;
    }

    // ---- Status ------------------------------------------------------------------------------

    void Bridge::publishStatus()
    {
        BridgeStatus status;
        status.pid = static_cast<std::uint32_t>(::getpid());
        status.bridgeId = formatUuid(_identity.bridgeId);
        status.listen = _listenAddress.text();
        status.startedTai = _startedTai;
        status.updatedTai = taiNow();

        for (auto const& peer : _peers)
        {
            PeerStatus p;
            p.address = peer.address;
            p.direction = "outgoing";
            p.sessions = peer.sessions;
            p.errors = peer.errors;
            p.lastError = peer.lastError;
            p.provider = peer.provider;
            if (peer.session == nullptr)
            {
                p.state = peer.refused ? "refused" : "backoff";
            }
            else
            {
                auto const& s = *peer.session;
                p.state = s.phase() == Session::Phase::Established ? "up" : s.phase() == Session::Phase::Connecting ? "connecting" : "authenticating";
                if (s.phase() == Session::Phase::Established)
                {
                    p.bridgeId = formatUuid(s.peerId());
                    p.upSince = s.establishedAt();
                    p.rttMs = s.rttMs().value_or(-1);
                    p.clockOffsetMs = s.clockOffsetMs();
                }
            }
            status.peers.push_back(std::move(p));
        }
        for (auto const& session : _sessions)
        {
            if (peerOf(*session) != nullptr || session->phase() != Session::Phase::Established)
            {
                continue;
            }
            PeerStatus p;
            p.address = session->peerText();
            p.direction = "incoming";
            p.state = "up";
            p.bridgeId = formatUuid(session->peerId());
            p.sessions = 1;
            p.upSince = session->establishedAt();
            p.rttMs = session->rttMs().value_or(-1);
            p.clockOffsetMs = session->clockOffsetMs();
            status.peers.push_back(std::move(p));
        }

        for (auto const& e : _exports)
        {
            if (e.session == nullptr)
            {
                continue;
            }
            FlowReplicationStatus f;
            f.flowId = formatUuid(e.flowId);
            f.role = "export";
            f.peer = e.session->peerText();
            f.state = exportStateName(static_cast<int>(e.state));
            f.provider = e.provider;
            f.transfer = e.transfer;
            f.epoch = e.state == Export::State::Active ? sessionTag(e.grantEpoch) : 0;
            f.errors = e.errors;
            f.lastError = e.lastError;
            if (e.sender)
            {
                auto const c = e.sender->counters();
                // Audio moves samples: they stand for grains here, as in the lag and skipped counts.
                f.grains = e.sender->continuous() ? c.slices : c.grains;
                f.bytes = c.bytes;
                f.commits = c.commits;
                f.skippedGrains = c.skippedGrains;
                f.lagGrains = c.lagGrains;
                f.errors += c.errors;
                f.headIndex = c.headIndex;
                if (!c.lastError.empty())
                {
                    f.lastError = c.lastError;
                }
            }
            status.flows.push_back(std::move(f));
        }
        for (auto const& import : _imports)
        {
            FlowReplicationStatus f;
            f.flowId = formatUuid(import.flowId);
            f.role = "import";
            f.peer = import.peer->address;
            f.state = import.state;
            f.provider = import.peer->provider;
            f.errors = import.errors;
            f.lastError = import.lastError;
            if (import.receiver)
            {
                auto const c = import.receiver->counters();
                auto const& grant = import.receiver->grant();
                f.provider = grant.provider;
                f.transfer = transferName(grant.transfer);
                f.epoch = sessionTag(grant.epoch);
                f.grains = import.receiver->continuous() ? c.slices : c.grains;
                f.bytes = c.bytes;
                f.commits = c.commits;
                f.refused = c.refusedEpoch + c.refusedSequence + c.refusedRange;
                f.errors += c.errors;
                f.headIndex = c.headIndex;
                if (!c.lastError.empty())
                {
                    f.lastError = c.lastError;
                }
                double offsetMs = 0;
                if (auto* session = import.peer->session; session != nullptr)
                {
                    offsetMs = session->clockOffsetMs();
                }
                if (c.latencyNs)
                {
                    // Arrival on our clock, nominal time on the source's: corrected by the offset.
                    f.latencyMs = static_cast<double>(*c.latencyNs) / 1e6 + offsetMs;
                }
                if (import.state == "active" && !import.receiver->connected())
                {
                    f.state = "connecting";
                }
                if (c.grains > 0 || c.commits > 0)
                {
                    // Grains (or samples) between the mirror's newest and the source's clock now.
                    auto const sourceNow = static_cast<std::uint64_t>(static_cast<double>(taiNow()) + offsetMs * 1e6);
                    auto const current = timestampToIndex(import.rate, sourceNow);
                    f.lagGrains = current != undefinedIndex && current > c.headIndex ? current - c.headIndex : 0;
                }
            }
            status.flows.push_back(std::move(f));
        }
        _status->publish(status);
        std::lock_guard lock{_statusMutex};
        _lastStatus = std::move(status);
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
        _metrics.reset();
        _sessions.clear();
        _status.reset();
        _epoll = Fd{};
    }
}
