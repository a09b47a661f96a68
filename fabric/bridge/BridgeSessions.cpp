// SPDX-License-Identifier: Apache-2.0
// The bridge's control sessions: watching them on the event loop, connecting to the peers it imports
// from (with back-off), sweeping closed sessions, and dispatching what an established session
// receives to the exporter and the importer; what the status area shows of the peers.
#include "bridge/Bridge.hpp"
#include "bridge/BridgeTuning.hpp"

#include <algorithm>
#include <type_traits>

#include <sys/epoll.h>
#include <fmt/format.h>

#include "common/Logging.hpp"
#include "time/Timing.hpp"

namespace mxl::bridge
{
    using namespace internal;

    namespace
    {
        /// Whether the peer runs on this host: its control connection comes from a loopback address
        /// or from this end's own address. (Two network namespaces are two hosts here.)
        bool sameHost(Session const& session)
        {
            auto const peer = session.peer().host();
            if (peer.starts_with("127.") || peer == "::1")
            {
                return true;
            }
            return session.local() && session.local()->host() == peer;
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

    void Bridge::connectPeers(std::uint64_t now)
    {
        for (auto& peer : _peers)
        {
            if (peer.session != nullptr || now < peer.nextAttempt || peer.retiring)
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
            _exporter->sessionClosed(session);
            if (auto* peer = peerOf(session))
            {
                peer->session = nullptr;
                peer->provider.clear();
                peer->catalogueKnown = false;
                peer->catalogue.clear();
                peer->self = peer->self || session.connectedToItself();
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
                _importer->peerDown(*peer);
            }
            ::epoll_ctl(_epoll.get(), EPOLL_CTL_DEL, session.fd(), nullptr);
            it = _sessions.erase(it);
        }
    }

    Peer* Bridge::peerOf(Session const& session)
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

    Peer const* Bridge::peerOf(Session const& session) const
    {
        return const_cast<Bridge*>(this)->peerOf(session);
    }

    std::vector<Session*> Bridge::importingSessions() const
    {
        std::vector<Session*> sessions;
        for (auto const& session : _sessions)
        {
            if (session->phase() == Session::Phase::Established && peerOf(*session) == nullptr)
            {
                sessions.push_back(session.get());
            }
        }
        return sessions;
    }

    void Bridge::established(Session& session)
    {
        auto* peer = peerOf(session);
        if (peer == nullptr)
        {
            // A peer that imports from us: it learns what it may subscribe to.
            _exporter->sendCatalogue(session);
            return;
        }
        ++peer->sessions;
        peer->backoffNs = 0;
        peer->refused = false;
        auto const& theirs = session.peerCapabilities().providers;
        auto const both = [&](std::string const& p) { return std::find(theirs.begin(), theirs.end(), p) != theirs.end(); };
        // shm reaches only processes on this host: preferred for a peer here, never for another one.
        auto const here = sameHost(session);
        auto common = std::find_if(_providers.begin(), _providers.end(), [&](std::string const& p) { return p == "shm" && here && both(p); });
        if (common == _providers.end())
        {
            common = std::find_if(_providers.begin(), _providers.end(),
                [&](std::string const& p) { return both(p) && (p != "shm" || here || _options.provider == "shm"); });
        }
        if (common == _providers.end())
        {
            auto const reason = fmt::format("no provider in common: this bridge offers {}, the peer {}", fmt::join(_providers, ","), fmt::join(theirs, ","));
            session.send(ControlError{MXL_ERR_NO_FABRIC, {}, reason});
            session.close(reason);
            return;
        }
        peer->provider = *common;
        log().info("peer {}: replicating over {} ({})", peer->address, peer->provider, transferName(fabric::preferredTransfer(peer->provider)));
        _importer->subscribeAll(*peer);
    }

    void Bridge::received(Session& session, ControlMessage& message)
    {
        auto const now = monotonicNow();
        auto* peer = peerOf(session);
        // What a peer that imports from us may send goes to the exporter; what a peer we import from
        // may send, to the importer. Anything else closes the session.
        auto const importing = [&]() -> Peer* {
            if (peer == nullptr)
            {
                session.close("an import message on a session that imports nothing");
            }
            return peer;
        };
        std::visit(
            [&](auto& m) {
                using T = std::decay_t<decltype(m)>;
                if constexpr (std::is_same_v<T, CatalogueRequest>)
                {
                    _exporter->sendCatalogue(session);
                }
                else if constexpr (std::is_same_v<T, Catalogue>)
                {
                    log().debug("peer {}: catalogue page {} of {}: {} flows", session.peerText(), m.page + 1, m.pages, m.flows.size());
                    if (peer != nullptr)
                    {
                        // Whole catalogues only: what the peer exports is known once its last page came.
                        if (m.page == 0)
                        {
                            peer->cataloguePages.clear();
                        }
                        for (auto const& entry : m.flows)
                        {
                            peer->cataloguePages.push_back(entry.flowId);
                        }
                        if (m.page + 1 == m.pages)
                        {
                            peer->catalogue = std::move(peer->cataloguePages);
                            peer->cataloguePages.clear();
                            peer->catalogueKnown = true;
                        }
                    }
                }
                else if constexpr (std::is_same_v<T, Subscribe>)
                {
                    _exporter->onSubscribe(session, m.flowId, now);
                }
                else if constexpr (std::is_same_v<T, Unsubscribe>)
                {
                    _exporter->onUnsubscribe(session, m.flowId);
                }
                else if constexpr (std::is_same_v<T, Grant>)
                {
                    _exporter->onGrant(session, m);
                }
                else if constexpr (std::is_same_v<T, Offer>)
                {
                    if (auto* from = importing())
                    {
                        _importer->onOffer(session, *from, m, now);
                    }
                }
                else if constexpr (std::is_same_v<T, Started>)
                {
                    if (auto* from = importing())
                    {
                        _importer->onStarted(session, *from, m);
                    }
                }
                else if constexpr (std::is_same_v<T, FlowGone>)
                {
                    if (auto* from = importing())
                    {
                        _importer->onFlowGone(session, *from, m);
                    }
                }
                else if constexpr (std::is_same_v<T, ControlError>)
                {
                    if (m.flowId == Uuid{})
                    {
                        session.close(fmt::format("the peer reported an error: {}", m.reason));
                    }
                    else if (peer != nullptr)
                    {
                        _importer->onError(session, *peer, m, now);
                    }
                    else
                    {
                        _exporter->onError(session, m);
                    }
                }
                else
                {
                    session.close(fmt::format("unexpected {}", controlTypeName(controlType(message))));
                }
            },
            message);
    }

    void Bridge::describePeers(std::vector<PeerStatus>& peers) const
    {
        for (auto const& peer : _peers)
        {
            PeerStatus p;
            p.address = peer.address;
            p.direction = PeerDirection::Outgoing;
            p.sessions = peer.sessions;
            p.errors = peer.errors;
            p.lastError = peer.lastError;
            p.provider = peer.provider;
            if (peer.session == nullptr)
            {
                p.state = peer.refused ? PeerState::Refused : PeerState::Backoff;
            }
            else
            {
                auto const& s = *peer.session;
                p.state = s.phase() == Session::Phase::Established ? PeerState::Up
                          : s.phase() == Session::Phase::Connecting ? PeerState::Connecting
                                                                    : PeerState::Authenticating;
                if (s.phase() == Session::Phase::Established)
                {
                    p.bridgeId = formatUuid(s.peerId());
                    p.upSince = s.establishedAt();
                    p.rttMs = s.rttMs().value_or(-1);
                    p.clockOffsetMs = s.clockOffsetMs();
                }
            }
            peers.push_back(std::move(p));
        }
        for (auto const& session : _sessions)
        {
            if (peerOf(*session) != nullptr || session->phase() != Session::Phase::Established)
            {
                continue;
            }
            PeerStatus p;
            p.address = session->peerText();
            p.direction = PeerDirection::Incoming;
            p.state = PeerState::Up;
            p.bridgeId = formatUuid(session->peerId());
            p.sessions = 1;
            p.upSince = session->establishedAt();
            p.rttMs = session->rttMs().value_or(-1);
            p.clockOffsetMs = session->clockOffsetMs();
            peers.push_back(std::move(p));
        }
    }
}
