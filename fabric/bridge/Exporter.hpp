// SPDX-License-Identifier: Apache-2.0
#pragma once

// The exporter: this host's flows as sources for peers that import them. For each subscription of
// a peer, an Offer once the flow exists, then a Sender (created on a worker thread, since
// connecting may take time) once the peer's Grant checks out; a removed or recreated source flow is
// announced with FlowGone. It also answers with the catalogue of exported flows. The conductor
// (Bridge) hands it what arrives on the sessions of peers that import from this bridge.

#include <cstdint>
#include <future>
#include <list>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/Expected.hpp"
#include "base/Uuid.hpp"
#include "bridge/Options.hpp"
#include "control/Protocol.hpp"
#include "control/Session.hpp"
#include "domain/Domain.hpp"
#include "replication/Sender.hpp"
#include "status/BridgeStatus.hpp"

namespace mxl::bridge
{
    class Exporter
    {
    public:
        /// providers: those this host offers (a grant naming another is refused).
        Exporter(Options const& options, Domain& domain, std::vector<std::string> const& providers);
        /// Stops every sender and waits for those still being created.
        ~Exporter();
        Exporter(Exporter const&) = delete;
        Exporter& operator=(Exporter const&) = delete;

        void onSubscribe(Session& session, Uuid const& flowId, std::uint64_t now);
        void onUnsubscribe(Session& session, Uuid const& flowId);
        void onGrant(Session& session, Grant const& grant);
        /// The importer could not take a flow: its export ends (it subscribes again when it can).
        void onError(Session& session, ControlError const& error);
        /// The session is closing: its exports end.
        void sessionClosed(Session& session);
        /// Offers, retries, senders ready or failed, sources removed.
        void tick(std::uint64_t now);

        /// Sends the catalogue of exported flows to one session.
        void sendCatalogue(Session& session) const;
        /// Sends the catalogue to these sessions, if it changed since the last time.
        void publishCatalogue(std::vector<Session*> const& sessions);

        /// Appends the exports' records, with their senders' figures.
        void describe(std::vector<FlowReplicationStatus>& flows) const;

        /// Ends every export (the bridge is stopping).
        void shutdown();

    private:
        struct Export
        {
            /// Where the export stands; status() is what the status area shows of it.
            enum class State
            {
                Waiting,    ///< Subscribed; offered as soon as the flow exists.
                Offered,    ///< Waiting for the peer's grant.
                Connecting, ///< The sender is being created.
                Active,
            };
            static FlowState status(State state) noexcept;

            Session* session{nullptr};
            Uuid flowId{};
            State state{State::Waiting};
            std::uint64_t offerEpoch{0};
            std::uint64_t retryAt{0}; ///< Waiting: when to look for the flow; Offered: when to offer again.
            std::future<Expected<std::unique_ptr<fabric::Sender>>> pending;
            std::unique_ptr<fabric::Sender> sender;
            std::string provider;
            std::string transfer;
            std::string endpoint; ///< "msg" or "rdm".
            std::uint64_t grantEpoch{0};
            std::vector<std::byte> grantBytes; ///< The parts of the grant received so far (Offered).
            std::uint32_t grantParts{0};
            std::uint32_t grantNext{0};
            std::uint64_t errors{0};
            std::string lastError;
        };

        [[nodiscard]] bool exported(Uuid const& flowId) const;
        void offer(Export& e, std::uint64_t now);
        /// Ends an export: its sender stops, one being created is waited for off the loop.
        void drop(Export& e);
        /// The exported flows, in pages (at least one, maybe empty).
        [[nodiscard]] std::vector<Catalogue> catalogue() const;

        Options const& _options;
        Domain& _domain;
        std::vector<std::string> const& _providers;
        std::list<Export> _exports;
        /// Senders still being created for exports that were dropped: waited for off the loop.
        std::list<std::future<Expected<std::unique_ptr<fabric::Sender>>>> _abandoned;
        /// Flows whose definition was refused (said once each, until it parses again).
        mutable std::set<std::string> _refusedDefinitions;
        std::vector<std::byte> _catalogueSent;
    };
}
