// SPDX-License-Identifier: Apache-2.0
// The exporter: subscriptions, offers, grants, senders and the catalogue (see Exporter.hpp).
#include "bridge/Exporter.hpp"
#include "bridge/BridgeTuning.hpp"
#include "bridge/StatusPublisher.hpp"

#include <algorithm>
#include <utility>
#include <array>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "base/Random.hpp"
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

    FlowState Exporter::Export::status(State state) noexcept
    {
        switch (state)
        {
            case State::Waiting: return FlowState::Waiting;
            case State::Offered: return FlowState::Offered;
            case State::Connecting: return FlowState::Connecting;
            case State::Active: return FlowState::Active;
        }
        return FlowState::Error;
    }

    Exporter::Exporter(Options const& options, Domain& domain, std::vector<std::string> const& providers)
        : _options{options}
        , _domain{domain}
        , _providers{providers}
    {}

    Exporter::~Exporter()
    {
        shutdown();
    }

    void Exporter::shutdown()
    {
        for (auto& e : _exports)
        {
            drop(e);
        }
        _exports.clear();
        for (auto& future : _abandoned)
        {
            future.wait();
        }
        _abandoned.clear();
    }

    bool Exporter::exported(Uuid const& flowId) const
    {
        return _options.exportAll || std::find(_options.exports.begin(), _options.exports.end(), flowId) != _options.exports.end();
    }

    void Exporter::onSubscribe(Session& session, Uuid const& flowId, std::uint64_t now)
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
            drop(e);
            e.session = &session;
        }
        it->state = Export::State::Waiting;
        it->retryAt = now;
        log().info("peer {}: subscribed to flow {}", session.peerText(), formatUuid(flowId));
    }

    void Exporter::onUnsubscribe(Session& session, Uuid const& flowId)
    {
        for (auto& e : _exports)
        {
            if (e.session == &session && e.flowId == flowId)
            {
                log().info("peer {}: unsubscribed from flow {}", session.peerText(), formatUuid(flowId));
                drop(e);
            }
        }
        _exports.remove_if([](Export const& e) { return e.session == nullptr; });
    }

    void Exporter::drop(Export& e)
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

    void Exporter::offer(Export& e, std::uint64_t now)
    {
        auto flowOffer = fabric::makeFlowOffer(_domain, e.flowId);
        if (!flowOffer)
        {
            // Not there (yet): the peer waits; the flow is offered when a writer creates it.
            e.retryAt = now + offerRetryNs;
            return;
        }
        auto epoch = randomEpoch("an offer's epoch");
        if (!epoch)
        {
            // Fail closed: no offer without a fresh epoch. The peer waits; the offer is tried again.
            log().error("flow {}: {}", formatUuid(e.flowId), epoch.error().message);
            e.retryAt = now + offerRetryNs;
            return;
        }
        e.offerEpoch = *epoch;
        e.grantBytes = {};
        e.grantParts = 0;
        e.grantNext = 0;
        e.state = Export::State::Offered;
        e.retryAt = now + grantTimeoutNs;
        e.session->send(Offer{e.flowId, e.offerEpoch, fabric::encode(*flowOffer)});
        log().info("flow {}: offered to {}", formatUuid(e.flowId), e.session->peerText());
    }

    void Exporter::onGrant(Session& session, Grant const& grant)
    {
        auto it = std::find_if(_exports.begin(), _exports.end(), [&](Export const& e) { return e.session == &session && e.flowId == grant.flowId; });
        if (it == _exports.end() || it->state != Export::State::Offered || it->offerEpoch != grant.offerEpoch)
        {
            // A grant crossing a newer offer: refused, not fatal (the newer offer gets its own grant).
            session.send(ControlError{MXL_ERR_INVALID_STATE, grant.flowId, "grant for a stale or unknown offer epoch"});
            return;
        }
        // The parts of a long ring's grant arrive one after the other, in order.
        auto& parts = *it;
        if (grant.part == 0)
        {
            parts.grantBytes.clear();
            parts.grantParts = grant.parts;
        }
        else if (grant.parts != parts.grantParts || grant.part != parts.grantNext)
        {
            session.close(fmt::format("grant part {} of {} out of order (expected {} of {})", grant.part, grant.parts, parts.grantNext, parts.grantParts));
            return;
        }
        parts.grantBytes.insert(parts.grantBytes.end(), grant.regionGrant.begin(), grant.regionGrant.end());
        parts.grantNext = grant.part + 1;
        if (parts.grantNext < parts.grantParts)
        {
            return;
        }
        auto regionGrant = fabric::decodeRegionGrant(std::exchange(parts.grantBytes, {}));
        parts.grantParts = 0;
        parts.grantNext = 0;
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
        e.endpoint = endpointName(*regionGrant);
        e.grantEpoch = regionGrant->epoch;
        e.state = Export::State::Connecting;
        fabric::Sender::Options options;
        options.connectTimeout = senderConnectTimeout;
        e.pending = std::async(std::launch::async, [domain = &_domain, flowId = e.flowId, g = std::move(*regionGrant), options] {
            return fabric::Sender::create(*domain, flowId, g, options);
        });
    }

    void Exporter::tick(std::uint64_t now)
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

    std::vector<Catalogue> Exporter::catalogue() const
    {
        std::vector<Catalogue> pages(1);
        for (auto const& id : _domain.listFlows())
        {
            if (!exported(id))
            {
                continue;
            }
            if (pages.back().flows.size() >= maxCatalogueEntries)
            {
                if (pages.size() >= maxCataloguePages)
                {
                    log().warn("more than {} exported flows: the catalogue shows the first {}", maxCataloguePages * maxCatalogueEntries,
                        maxCataloguePages * maxCatalogueEntries);
                    break;
                }
                pages.emplace_back();
            }
            auto& list = pages.back();
            CatalogueEntry entry;
            entry.flowId = id;
            auto const text = formatUuid(id);
            // Anyone who may write the domain may have written this file: it is parsed as the engine
            // parses a definition (every field's type checked), and a flow whose definition is refused
            // is left out of the catalogue, said once.
            auto def = _domain.flowDefinition(text);
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
            // The parser accepts exactly these three formats: their URNs, without parsing the text again.
            entry.format = parsed->format == MXL_DATA_FORMAT_VIDEO   ? "urn:x-nmos:format:video"
                           : parsed->format == MXL_DATA_FORMAT_AUDIO ? "urn:x-nmos:format:audio"
                                                                     : "urn:x-nmos:format:data";
            auto active = _domain.isFlowActive(text);
            entry.active = active && *active;
            list.flows.push_back(std::move(entry));
        }
        for (std::size_t i = 0; i < pages.size(); ++i)
        {
            pages[i].page = static_cast<std::uint32_t>(i);
            pages[i].pages = static_cast<std::uint32_t>(pages.size());
        }
        return pages;
    }

    void Exporter::sendCatalogue(Session& session) const
    {
        for (auto const& page : catalogue())
        {
            session.send(page);
        }
    }

    void Exporter::publishCatalogue(std::vector<Session*> const& sessions)
    {
        auto const pages = catalogue();
        std::vector<std::byte> encoded;
        for (auto const& page : pages)
        {
            auto const frame = encodeControl(page);
            encoded.insert(encoded.end(), frame.begin(), frame.end());
        }
        if (encoded == _catalogueSent)
        {
            return;
        }
        _catalogueSent = std::move(encoded);
        for (auto* session : sessions)
        {
            for (auto const& page : pages)
            {
                session->send(page);
            }
        }
    }

    void Exporter::onError(Session& session, ControlError const& error)
    {
        log().warn("peer {}: flow {}: {}", session.peerText(), formatUuid(error.flowId), error.reason);
        for (auto& e : _exports)
        {
            if (e.session == &session && e.flowId == error.flowId)
            {
                // The importer could not take it (it subscribes again when it can).
                drop(e);
            }
        }
        _exports.remove_if([](Export const& e) { return e.session == nullptr; });
    }

    void Exporter::sessionClosed(Session& session)
    {
        for (auto& e : _exports)
        {
            if (e.session == &session)
            {
                drop(e);
            }
        }
        _exports.remove_if([](Export const& e) { return e.session == nullptr; });
    }

    void Exporter::describe(std::vector<FlowReplicationStatus>& flows) const
    {
        for (auto const& e : _exports)
        {
            if (e.session == nullptr)
            {
                continue;
            }
            FlowReplicationStatus f;
            f.flowId = formatUuid(e.flowId);
            f.role = FlowRole::Export;
            f.peer = e.session->peerText();
            f.state = Export::status(e.state);
            f.provider = e.provider;
            f.transfer = e.transfer;
            f.endpoint = e.endpoint;
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
            flows.push_back(std::move(f));
        }
    }
}
