// SPDX-License-Identifier: Apache-2.0
#pragma once

// The importer: the flows this bridge mirrors from its peers (--import). For each, a Subscribe on
// the peer's session, and on each Offer a Receiver, created off the event loop, whose mirror
// outlives sessions: a reconnecting or restarted source gets the same mirror under a new epoch and
// new keys (Receiver::renew()). Its state machine is Import::State. The conductor (Bridge) owns the
// peers and their sessions and hands it what arrives on them.

#include <cstdint>
#include <future>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/Expected.hpp"
#include "base/Uuid.hpp"
#include "bridge/Options.hpp"
#include "bridge/Peer.hpp"
#include "control/Protocol.hpp"
#include "control/Session.hpp"
#include "domain/Domain.hpp"
#include "replication/Receiver.hpp"
#include "status/BridgeStatus.hpp"

namespace mxl::bridge
{
    class Importer
    {
    public:
        /// maxMirrorsBytes: the room all mirrors together may take (--max-mirrors-size or its default).
        Importer(Options const& options, Domain& domain, std::uint64_t maxMirrorsBytes);
        /// Stops every receiver; mirrors being created are waited for.
        ~Importer();
        Importer(Importer const&) = delete;
        Importer& operator=(Importer const&) = delete;

        /// Imports flowId from peer (once, however often it is named); subscribes at once when the
        /// peer's session is up.
        void add(Peer& peer, Uuid const& flowId);
        /// Stops importing flowId from peer: unsubscribes, and the mirror goes (its readers see
        /// FLOW_INVALID). Waits for a mirror being created.
        void remove(Peer const& peer, Uuid const& flowId, std::string const& why);
        /// Whether any flow is imported from peer.
        [[nodiscard]] bool importsFrom(Peer const& peer) const;

        /// How far the import of flowId from peer got, for a lease waiting on it.
        struct Outcome
        {
            bool ready{false};             ///< The mirror exists: readers can open it.
            mxlStatus failure{MXL_STATUS_OK}; ///< The peer or this host refused it (with why).
            std::string why;
        };
        [[nodiscard]] Outcome outcome(Peer const& peer, Uuid const& flowId) const;
        /// The peer's session is established: subscribes to its flows.
        void subscribeAll(Peer& peer);
        /// The peer's session is gone: its mirrors stay (readers wait) until the source is back.
        void peerDown(Peer const& peer);

        void onOffer(Session& session, Peer& peer, Offer const& offer, std::uint64_t now);
        void onStarted(Session& session, Peer& peer, Started const& started);
        void onFlowGone(Session& session, Peer& peer, FlowGone const& gone);
        void onError(Session& session, Peer& peer, ControlError const& error, std::uint64_t now);
        /// Mirrors created, refused flows subscribed again.
        void tick(std::uint64_t now);

        /// Appends the imports' records, with their receivers' figures: lag against the source's
        /// clock and latency, both corrected by the session's clock offset.
        void describe(std::vector<FlowReplicationStatus>& flows) const;
        /// "importing flow X from Y" for each import, at start.
        void logImports() const;

        /// Stops every receiver and releases the mirrors (the bridge is stopping).
        void shutdown();

    private:
        struct Import
        {
            /// Where the import stands; status() is what the status area shows of it.
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
            static FlowState status(State state) noexcept;

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
            mxlStatus lastErrorCode{MXL_STATUS_OK}; ///< The peer's (ControlError) or this host's.
        };

        /// The import of flowId from this peer; none (and the session closed) when we did not subscribe.
        Import* importOf(Session& session, Peer& peer, Uuid const& flowId);
        /// Sends the Grant for the mirror import holds.
        void grantMirror(Session& session, Import& import, Offer const& offer);
        /// A mirror created off the event loop is ready: grant it for the newest offer (or start over).
        void mirrorCreated(Import& import, std::uint64_t now);
        void releaseMirror(Import& import, std::string const& why);

        Options const& _options;
        Domain& _domain;
        std::uint64_t _maxMirrorsBytes;
        std::list<Import> _imports;
    };
}
