// SPDX-License-Identifier: Apache-2.0
#pragma once

// The bridge engine's conductor: one event loop (epoll) over the control listener, the control
// sessions and the signals. It owns the sessions and the peers it imports from (connecting with
// back-off), and hands what arrives to the parts that do the work, after Aeron's media driver:
//   Exporter        - this host's flows as sources for peers (offers, grants, senders, catalogue);
//   Importer        - the flows mirrored from peers (subscriptions, mirrors, grants);
//   StatusPublisher - the domain's status area, and lastStatus() for other threads (mxl-fabric-
//                     bridge's metrics endpoint).
//   Leases          - remote flows local processes ask for through the domain's command ring
//                     (CommandService), imported on demand (BridgeLeases.cpp).
// The replication itself runs on the Senders' and Receivers' own threads (fabric/replication).

#include <cstdint>
#include <future>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "base/Expected.hpp"
#include "base/Fd.hpp"
#include "bridge/Exporter.hpp"
#include "bridge/CommandService.hpp"
#include "bridge/Importer.hpp"
#include "bridge/Leases.hpp"
#include "bridge/Options.hpp"
#include "bridge/Peer.hpp"
#include "bridge/StatusPublisher.hpp"
#include "control/Network.hpp"
#include "control/Session.hpp"
#include "domain/Domain.hpp"
#include "status/BridgeStatus.hpp"

namespace mxl::bridge
{
    class Bridge final : public SessionHandler
    {
    public:
        /// Opens the domain and its status area, picks the providers, listens. Errors:
        /// NO_FABRIC / UNSUPPORTED_OPERATION (provider), CONFLICT (another bridge serves the
        /// domain), FLOW_NOT_FOUND (no domain), UNKNOWN (cannot listen).
        static Expected<std::unique_ptr<Bridge>> create(Options options, PresharedKey key);

        ~Bridge();
        Bridge(Bridge const&) = delete;
        Bridge& operator=(Bridge const&) = delete;

        /// Serves until SIGINT or SIGTERM (which the caller has blocked in every thread), then stops
        /// cleanly: Goodbye to peers, senders stopped, mirrors released.
        int run();

        [[nodiscard]] Options const& options() const noexcept
        {
            return _options;
        }

        /// A copy of the newest status published to the status area; safe from any thread.
        [[nodiscard]] BridgeStatus lastStatus() const;

        void established(Session& session) override;
        void received(Session& session, ControlMessage& message) override;

    private:
        Bridge(Options options, std::unique_ptr<Domain> domain, std::unique_ptr<StatusWriter> status, LocalIdentity identity,
            std::vector<std::string> providers);

        Expected<void> setUp();
        void onListener(std::uint64_t now);
        /// Listens again once a rest after a failed accept is over.
        void restListener(std::uint64_t now);
        void onSession(Session& session, std::uint32_t events, std::uint64_t now);
        void tick(std::uint64_t now);
        void connectPeers(std::uint64_t now);
        void sweepSessions(std::uint64_t now);
        void watch(Session& session);

        /// The peer this bridge imports from over this session, if any.
        Peer* peerOf(Session const& session);
        Peer const* peerOf(Session const& session) const;
        /// Peers that import from this bridge, with an established session.
        [[nodiscard]] std::vector<Session*> importingSessions() const;
        void describePeers(std::vector<PeerStatus>& peers) const;

        // ---- remote flows on demand (BridgeLeases.cpp) ----
        /// A lease being acquired: its request waits for the mirror (or a failure, or its deadline).
        struct Acquiring
        {
            Command command;
            std::uint64_t leaseId{0};
            std::uint64_t deadline{0};
            std::future<Expected<SocketAddress>> resolving; ///< the source's host name being looked up
            Peer* peer{nullptr};
        };
        Expected<void> setUpLeases();
        static bool isCommandsTag(void const* tag) noexcept;
        void onCommands(std::uint64_t now);
        void acquire(Command const& command, std::uint64_t now);
        void release(Command const& command, std::uint64_t now);
        /// Answers what can be answered of the leases being acquired.
        void progressAcquiring(std::uint64_t now);
        /// Leases of processes that are gone, flows whose linger ended, peers nobody needs.
        void tickLeases(std::uint64_t now);
        void reply(Command const& command, fabric::remote::ReplyStatus status, std::uint64_t leaseId, std::string_view reason);
        void endLease(std::uint64_t leaseId, std::uint64_t now, std::string_view why);
        /// Forgets a lease being acquired (its lookup, if any, goes on to its end in _lookups).
        void abandon(std::list<Acquiring>::iterator it);
        /// Puts a lease being acquired on the flow of the source bridge at source, importing it.
        void attach(Acquiring& a, SocketAddress const& source);
        /// The peer at address, dialled for leases if no --import names it.
        Peer& leasedPeer(SocketAddress const& address);
        void describeLeases(std::vector<LeaseStatus>& leases) const;
        void publishStatus();
        void shutdown();

        Options _options;
        std::unique_ptr<Domain> _domain;
        LocalIdentity _identity;
        std::vector<std::string> _providers;
        Fd _epoll;
        Fd _listener;
        Fd _signals;
        SocketAddress _listenAddress;
        std::uint64_t _startedTai{0};

        std::list<std::unique_ptr<Session>> _sessions;
        std::list<Peer> _peers;
        StatusPublisher _status;
        std::unique_ptr<Exporter> _exporter;
        std::unique_ptr<Importer> _importer;
        std::unique_ptr<CommandService> _commands;
        Leases _leases;
        std::list<Acquiring> _acquiring;
        std::vector<std::future<Expected<SocketAddress>>> _lookups; ///< of leases no longer acquired
        std::vector<Command> _commandsTaken;
        std::vector<fabric::remote::Refusal> _refusalsTaken;
        std::uint64_t _nextLeaseSweep{0};
        std::uint64_t _nextCommandRefusalLog{0};
        std::uint64_t _commandRefusals{0};

        std::uint64_t _nextCatalogue{0};
        std::uint64_t _listenerRestingUntil{0}; ///< Not polled until then (accept failed: EMFILE and the like).
        std::uint64_t _nextListenerWarning{0};
        std::uint64_t _nextRefusalLog{0};
        std::uint64_t _refusedConnections{0};
        std::uint64_t _nextStatus{0};
        bool _stopping{false};
    };
}
