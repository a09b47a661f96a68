// SPDX-License-Identifier: Apache-2.0
#pragma once

// The daemon: one event loop (epoll) over the control listener, the control sessions and the
// signals, driving the data plane of libmxl-fabric:
//   exports - for each subscription of a peer, an Offer when the flow exists, then a Sender
//             (created on a worker thread, since connecting may take time) once the peer's Grant
//             checks out; a removed or recreated source flow is announced with FlowGone;
//   imports - for each --import, an outgoing session (reconnected with back-off), a Subscribe, and
//             on each Offer a Receiver whose mirror outlives sessions: a reconnecting or restarted
//             source gets the same mirror under a new epoch and new keys (Receiver::renew()).
// The state of all of it is published to the domain's status area; lastStatus() hands a copy to
// other threads (mxl-fabric-bridge's metrics endpoint).

#include <cstdint>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bridge/Options.hpp"
#include "control/Network.hpp"
#include "control/Session.hpp"
#include "status/BridgeStatus.hpp"
#include "base/Expected.hpp"
#include "base/Fd.hpp"
#include "domain/Domain.hpp"
#include "replication/Receiver.hpp"
#include "replication/Sender.hpp"

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
        /// A peer we import from: one outgoing session at a time, reconnected with back-off.
        struct Peer
        {
            std::string address;
            SocketAddress socketAddress;
            Session* session{nullptr};
            std::uint64_t nextAttempt{0};
            std::uint64_t backoffNs{0};
            std::uint64_t sessions{0};
            std::uint64_t errors{0};
            std::string lastError;
            std::string provider; ///< Chosen for the current session.
            bool refused{false};  ///< Authentication failed: retried slowly.
        };

        struct Import
        {
            /// Where the import stands; toString gives the status area's and the metrics' name.
            enum class State
            {
                Waiting,      ///< Subscribed (or about to be); no offer yet.
                Creating,     ///< The mirror is being created off the event loop.
                Connecting,   ///< Granted; the source has not started yet.
                Active,       ///< Replicating.
                SourceGone,   ///< The source flow went away; offered again when it returns.
                Disconnected, ///< The session with the peer is down.
                Refused,      ///< The peer refused (authentication or the flow); retried later.
                Error,        ///< This host could not mirror it; retried later.
            };
            static char const* toString(State state) noexcept;

            Peer* peer{nullptr};
            Uuid flowId{};
            State state{State::Waiting};
            std::unique_ptr<fabric::Receiver> receiver;
            std::vector<std::byte> offer; ///< The offer the mirror was made from (a changed one recreates it).
            /// The mirror being created off the event loop (creating a file and registering its memory
            /// can take long for a long ring), from creatingOffer; newestOffer is the peer's latest Offer
            /// meanwhile, answered when the mirror is ready.
            std::future<Expected<std::unique_ptr<fabric::Receiver>>> creating;
            std::vector<std::byte> creatingOffer;
            std::uint64_t creatingBytes{0};
            mxlRational creatingRate{0, 1};
            std::optional<Offer> newestOffer;
            std::uint64_t offerEpoch{0};
            mxlRational rate{0, 1};
            std::uint64_t mirrorBytes{0}; ///< Of the mirror it holds (0: none), against the size limits.
            std::uint64_t resubscribeAt{0};
            std::uint64_t errors{0};
            std::string lastError;
        };

        struct Export
        {
            enum class State
            {
                Waiting,    ///< Subscribed; offered as soon as the flow exists.
                Offered,    ///< Waiting for the peer's grant.
                Connecting, ///< The sender is being created.
                Active,
            };
            Session* session{nullptr};
            Uuid flowId{};
            State state{State::Waiting};
            std::uint64_t offerEpoch{0};
            std::uint64_t retryAt{0}; ///< Waiting: when to look for the flow; Offered: when to offer again.
            std::future<Expected<std::unique_ptr<fabric::Sender>>> pending;
            std::unique_ptr<fabric::Sender> sender;
            std::string provider;
            std::string transfer;
            std::uint64_t grantEpoch{0};
            std::vector<std::byte> grantBytes; ///< The parts of the grant received so far (Offered).
            std::uint32_t grantParts{0};
            std::uint32_t grantNext{0};
            std::uint64_t errors{0};
            std::string lastError;
        };

        Bridge(Options options, std::unique_ptr<Domain> domain, std::unique_ptr<StatusWriter> status, LocalIdentity identity);

        Expected<void> setUp();
        void onListener(std::uint64_t now);
        /// Listens again once a rest after a failed accept is over.
        void restListener(std::uint64_t now);
        void onSession(Session& session, std::uint32_t events, std::uint64_t now);
        void tick(std::uint64_t now);
        void connectPeers(std::uint64_t now);
        void sweepSessions(std::uint64_t now);
        void watch(Session& session);

        // Export side.
        [[nodiscard]] bool exported(Uuid const& flowId) const;
        void onSubscribe(Session& session, Uuid const& flowId, std::uint64_t now);
        void onUnsubscribe(Session& session, Uuid const& flowId);
        void onGrant(Session& session, Grant const& grant);
        void exportsTick(std::uint64_t now);
        void offer(Export& e, std::uint64_t now);
        void dropExport(Export& e);
        void publishCatalogue(std::uint64_t now);
        /// The exported flows, in pages (at least one, maybe empty).
        [[nodiscard]] std::vector<Catalogue> catalogue() const;
        void sendCatalogue(Session& session, std::vector<Catalogue> const& pages);

        // Import side.
        Peer* peerOf(Session const& session);
        Import* importOf(Session& session, Uuid const& flowId);
        void subscribeAll(Peer& peer);
        void onOffer(Session& session, Offer const& offer, std::uint64_t now);
        /// Sends the Grant for the mirror import holds.
        void grantMirror(Session& session, Import& import, Offer const& offer);
        /// A mirror created off the event loop is ready: grant it for the newest offer (or start over).
        void mirrorCreated(Import& import, std::uint64_t now);
        void onImportError(Session& session, ControlError const& error, std::uint64_t now);
        void importsTick(std::uint64_t now);
        void releaseMirror(Import& import, std::string const& why);

        void publishStatus();
        void shutdown();

        Options _options;
        std::unique_ptr<Domain> _domain;
        std::unique_ptr<StatusWriter> _status;
        LocalIdentity _identity;
        std::vector<std::string> _providers;
        Fd _epoll;
        Fd _listener;
        Fd _signals;
        SocketAddress _listenAddress;
        std::uint64_t _startedTai{0};

        std::list<std::unique_ptr<Session>> _sessions;
        std::list<Peer> _peers;
        std::list<Import> _imports;
        std::list<Export> _exports;
        /// Flows whose definition was refused (said once each, until it parses again).
        mutable std::set<std::string> _refusedDefinitions;
        /// Senders still being created for exports that were dropped: waited for off the loop.
        std::list<std::future<Expected<std::unique_ptr<fabric::Sender>>>> _abandoned;

        std::vector<std::byte> _catalogueSent;
        std::uint64_t _nextCatalogue{0};
        std::uint64_t _maxMirrorsBytes{0}; ///< --max-mirrors-size, or 3/4 of the domain's file system.
        std::uint64_t _listenerRestingUntil{0}; ///< Not polled until then (accept failed: EMFILE and the like).
        std::uint64_t _nextListenerWarning{0};
        std::uint64_t _nextRefusalLog{0};
        std::uint64_t _refusedConnections{0};
        std::uint64_t _nextStatus{0};

        mutable std::mutex _statusMutex;
        BridgeStatus _lastStatus; ///< For lastStatus(), on other threads.
        bool _stopping{false};
    };
}
