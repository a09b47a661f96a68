// SPDX-License-Identifier: Apache-2.0
#include "Bridge.hpp"
#include "BridgeInternals.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

#include <sys/random.h>
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
}
