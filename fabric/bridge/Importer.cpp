// SPDX-License-Identifier: Apache-2.0
// The importer: subscriptions, offers, mirrors and their grants (see Importer.hpp).
#include "bridge/Importer.hpp"
#include "bridge/BridgeTuning.hpp"
#include "bridge/StatusPublisher.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <future>
#include <utility>

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
        /// The bytes of grains or samples a mirror of this offer holds.
        std::uint64_t mirrorBytes(fabric::FlowOffer const& offer) noexcept
        {
            if (mxlIsDiscreteDataFormat(offer.config.common.format))
            {
                return std::uint64_t{offer.config.discrete.grainCount} * offer.grainSize;
            }
            return std::uint64_t{offer.config.continuous.bufferLength} * offer.config.continuous.channelCount * offer.sampleWordSize;
        }
    }

    FlowState Importer::Import::status(State state) noexcept
    {
        switch (state)
        {
            case State::Waiting: return FlowState::Waiting;
            case State::Creating: return FlowState::Creating;
            case State::Connecting: return FlowState::Connecting;
            case State::Active: return FlowState::Active;
            case State::SourceGone: return FlowState::SourceGone;
            case State::Disconnected: return FlowState::Disconnected;
            case State::Refused: return FlowState::Refused;
            case State::Error: return FlowState::Error;
        }
        return FlowState::Error;
    }

    Importer::Importer(Options const& options, Domain& domain, std::uint64_t maxMirrorsBytes)
        : _options{options}
        , _domain{domain}
        , _maxMirrorsBytes{maxMirrorsBytes}
    {}

    Importer::~Importer()
    {
        shutdown();
    }

    void Importer::shutdown()
    {
        for (auto& import : _imports)
        {
            if (import.creating.valid())
            {
                import.creating.wait();
            }
            if (import.receiver)
            {
                import.receiver->stop();
                import.receiver.reset();
            }
        }
    }

    void Importer::add(Peer& peer, Uuid const& flowId)
    {
        if (std::none_of(_imports.begin(), _imports.end(), [&](Import const& i) { return i.peer == &peer && i.flowId == flowId; }))
        {
            Import import;
            import.peer = &peer;
            import.flowId = flowId;
            _imports.push_back(std::move(import));
            if (peer.session != nullptr && peer.session->phase() == Session::Phase::Established)
            {
                peer.session->send(Subscribe{flowId});
            }
        }
    }

    void Importer::remove(Peer const& peer, Uuid const& flowId, std::string const& why)
    {
        auto it = std::find_if(_imports.begin(), _imports.end(), [&](Import const& i) { return i.peer == &peer && i.flowId == flowId; });
        if (it == _imports.end())
        {
            return;
        }
        if (it->creating.valid())
        {
            if (auto receiver = it->creating.get(); receiver)
            {
                it->receiver = std::move(*receiver);
            }
        }
        releaseMirror(*it, why);
        if (peer.session != nullptr && peer.session->phase() == Session::Phase::Established)
        {
            peer.session->send(Unsubscribe{flowId});
        }
        log().info("flow {}: no longer imported from {}", formatUuid(flowId), peer.address);
        _imports.erase(it);
    }

    bool Importer::importsFrom(Peer const& peer) const
    {
        return std::any_of(_imports.begin(), _imports.end(), [&](Import const& i) { return i.peer == &peer; });
    }

    Importer::Outcome Importer::outcome(Peer const& peer, Uuid const& flowId) const
    {
        auto it = std::find_if(_imports.begin(), _imports.end(), [&](Import const& i) { return i.peer == &peer && i.flowId == flowId; });
        if (it == _imports.end())
        {
            return {false, MXL_ERR_NOT_FOUND, "the import is gone"};
        }
        if (it->receiver)
        {
            return {true, MXL_STATUS_OK, {}};
        }
        if (it->state == Import::State::Refused || it->state == Import::State::Error)
        {
            return {false, it->lastErrorCode == MXL_STATUS_OK ? MXL_ERR_INTERNAL : it->lastErrorCode, it->lastError};
        }
        return {};
    }

    void Importer::logImports() const
    {
        for (auto const& import : _imports)
        {
            log().info("importing flow {} from {}", formatUuid(import.flowId), import.peer->address);
        }
    }

    void Importer::subscribeAll(Peer& peer)
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

    void Importer::peerDown(Peer const& peer)
    {
        for (auto& import : _imports)
        {
            if (import.peer == &peer && import.state != Import::State::SourceGone)
            {
                // The mirror stays: readers wait (TOO_EARLY) until the source is back.
                import.state = peer.refused ? Import::State::Refused : Import::State::Disconnected;
            }
        }
    }

    void Importer::onStarted(Session& session, Peer& peer, Started const& started)
    {
        if (auto* import = importOf(session, peer, started.flowId); import != nullptr && import->offerEpoch == started.offerEpoch)
        {
            import->state = Import::State::Active;
            log().info("flow {}: replication from {} running", formatUuid(started.flowId), session.peerText());
        }
    }

    void Importer::onFlowGone(Session& session, Peer& peer, FlowGone const& gone)
    {
        if (auto* import = importOf(session, peer, gone.flowId); import != nullptr)
        {
            releaseMirror(*import, fmt::format("the source flow is gone ({})", gone.reason));
            import->state = Import::State::SourceGone;
        }
    }

    Importer::Import* Importer::importOf(Session& session, Peer& peer, Uuid const& flowId)
    {
        for (auto& import : _imports)
        {
            if (import.peer == &peer && import.flowId == flowId)
            {
                return &import;
            }
        }
        session.close(fmt::format("a message about flow {}, which this bridge did not subscribe to", formatUuid(flowId)));
        return nullptr;
    }

    void Importer::onOffer(Session& session, Peer& peer, Offer const& message, std::uint64_t now)
    {
        auto* import = importOf(session, peer, message.flowId);
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
        if (import->creating.valid())
        {
            import->newestOffer = message; // answered when the mirror is ready (mirrorCreated)
            return;
        }
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
                // A mirror still being created counts already: two offers at once must not both fit.
                others += &i != import ? i.mirrorBytes + (i.creating.valid() ? i.creatingBytes : 0) : 0;
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
                import->lastErrorCode = MXL_ERR_INVALID_ARG;
                if (import->lastError != *tooLarge)
                {
                    log().error("flow {}: not mirrored: {}", id, *tooLarge); // once, not at every offer
                }
                import->lastError = *tooLarge;
                import->state = Import::State::Error;
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
            // Off the event loop: a long ring's file and memory registration take their time, and
            // other sessions, heartbeats and signals must not wait for them.
            import->creatingOffer = message.flowOffer;
            import->creatingBytes = bytes;
            import->creatingRate = flowOffer->config.common.grainRate;
            import->newestOffer = message;
            import->state = Import::State::Creating;
            import->creating = std::async(std::launch::async,
                [domain = &_domain, offer = std::move(*flowOffer), options] { return fabric::Receiver::create(*domain, offer, options); });
            return;
        }
        grantMirror(session, *import, message);
    }

    void Importer::grantMirror(Session& session, Import& import, Offer const& message)
    {
        import.offerEpoch = message.offerEpoch;
        import.state = Import::State::Connecting;
        // In parts: a long ring's region descriptors exceed one control message.
        auto const encoded = fabric::encode(import.receiver->grant());
        auto const parts = static_cast<std::uint32_t>(std::max<std::size_t>(1, (encoded.size() + maxGrantChunk - 1) / maxGrantChunk));
        if (parts > maxGrantParts)
        {
            log().error("flow {}: a grant of {} bytes exceeds {} parts of {} bytes; not mirrored", formatUuid(message.flowId), encoded.size(),
                maxGrantParts, maxGrantChunk);
            releaseMirror(import, "its grant is too large");
            import.state = Import::State::Error;
            return;
        }
        for (std::uint32_t part = 0; part < parts; ++part)
        {
            auto const from = std::size_t{part} * maxGrantChunk;
            auto const to = std::min(encoded.size(), from + maxGrantChunk);
            session.send(Grant{message.flowId, message.offerEpoch, part, parts,
                std::vector<std::byte>{encoded.begin() + static_cast<std::ptrdiff_t>(from), encoded.begin() + static_cast<std::ptrdiff_t>(to)}});
        }
        log().info("flow {}: mirror granted to {} ({}, {}; {} slots, in {} part{})", formatUuid(message.flowId), import.peer->address,
            import.receiver->grant().provider, transferName(import.receiver->grant().transfer), import.receiver->grant().regions.size(), parts,
            parts == 1 ? "" : "s");
    }

    void Importer::mirrorCreated(Import& import, std::uint64_t now)
    {
        auto receiver = import.creating.get();
        auto const newest = std::exchange(import.newestOffer, std::nullopt);
        auto* session = import.peer->session;
        bool const live = session != nullptr && session->phase() == Session::Phase::Established;
        auto const id = formatUuid(import.flowId);
        if (!receiver)
        {
            ++import.errors;
            import.lastError = receiver.error().message;
            import.lastErrorCode = receiver.error().status;
            import.state = Import::State::Error;
            import.resubscribeAt = now + resubscribeNs;
            log().error("flow {}: cannot mirror it: {}", id, import.lastError);
            if (live)
            {
                session->send(ControlError{receiver.error().status, import.flowId, fmt::format("the importer cannot mirror it: {}", import.lastError)});
            }
            return;
        }
        import.receiver = std::move(*receiver);
        import.mirrorBytes = import.creatingBytes;
        import.receiver->start();
        import.offer = std::move(import.creatingOffer);
        import.creatingOffer.clear();
        import.rate = import.creatingRate;
        if (!live || !newest)
        {
            // The session went meanwhile: the mirror is kept, like any other, for the next session's offer.
            if (import.state == Import::State::Creating)
            {
                import.state = Import::State::Waiting;
            }
            return;
        }
        if (newest->flowOffer == import.offer)
        {
            grantMirror(*session, import, *newest);
            return;
        }
        onOffer(*session, *import.peer, *newest, now); // another geometry meanwhile: this mirror goes, another is made
    }

    void Importer::onError(Session& session, Peer& peer, ControlError const& error, std::uint64_t now)
    {
        auto* import = importOf(session, peer, error.flowId);
        if (import == nullptr)
        {
            return;
        }
        ++import->errors;
        import->lastError = error.reason;
        import->lastErrorCode = static_cast<mxlStatus>(error.code);
        log().warn("flow {}: the peer {} reports: {}", formatUuid(error.flowId), session.peerText(), error.reason);
        if (error.code == MXL_ERR_PERMISSION_DENIED)
        {
            import->state = Import::State::Refused;
            import->resubscribeAt = now + resubscribeNs;
        }
    }

    void Importer::tick(std::uint64_t now)
    {
        for (auto& import : _imports)
        {
            if (import.creating.valid() && ready(import.creating))
            {
                mirrorCreated(import, now);
            }
            auto* session = import.peer->session;
            if (session == nullptr || session->phase() != Session::Phase::Established)
            {
                continue;
            }
            if ((import.state == Import::State::Refused || import.state == Import::State::Error) && import.resubscribeAt != 0 && now >= import.resubscribeAt)
            {
                import.resubscribeAt = 0;
                import.state = Import::State::Waiting;
                session->send(Subscribe{import.flowId});
            }
        }
    }

    void Importer::releaseMirror(Import& import, std::string const& why)
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

    void Importer::describe(std::vector<FlowReplicationStatus>& flows) const
    {
        for (auto const& import : _imports)
        {
            FlowReplicationStatus f;
            f.flowId = formatUuid(import.flowId);
            f.role = FlowRole::Import;
            f.peer = import.peer->address;
            f.state = Import::status(import.state);
            f.provider = import.peer->provider;
            f.errors = import.errors;
            f.lastError = import.lastError;
            if (import.receiver)
            {
                auto const c = import.receiver->counters();
                auto const& grant = import.receiver->grant();
                f.provider = grant.provider;
                f.transfer = transferName(grant.transfer);
                f.endpoint = endpointName(grant);
                f.epoch = sessionTag(grant.epoch);
                f.grains = import.receiver->continuous() ? c.slices : c.grains;
                f.bytes = c.bytes;
                f.commits = c.commits;
                f.refused = c.refusedEpoch + c.refusedSequence + c.refusedRange + c.refusedOperation + c.refusedConnections;
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
                if (import.state == Import::State::Active && !import.receiver->connected())
                {
                    f.state = FlowState::Connecting;
                }
                if (c.grains > 0 || c.commits > 0)
                {
                    // Grains (or samples) between the mirror's newest and the source's clock now.
                    auto const sourceNow = static_cast<std::uint64_t>(static_cast<double>(taiNow()) + offsetMs * 1e6);
                    auto const current = timestampToIndex(import.rate, sourceNow);
                    f.lagGrains = current != undefinedIndex && current > c.headIndex ? current - c.headIndex : 0;
                }
            }
            flows.push_back(std::move(f));
        }
    }
}
