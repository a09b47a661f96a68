// SPDX-License-Identifier: Apache-2.0
// The bridge's control sessions: watching them on the event loop, connecting to the peers it imports
// from (with back-off), sweeping closed sessions, and dispatching what an established session
// receives to the exports and imports.
#include "bridge/Bridge.hpp"
#include "bridge/BridgeInternals.hpp"

#include <algorithm>
#include <type_traits>

#include <sys/epoll.h>
#include <fmt/format.h>

#include "common/Logging.hpp"
#include "time/Timing.hpp"

namespace mxl::bridge
{
    using namespace internal;

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
}
