// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/Expected.hpp"
#include "ofi/Info.hpp"
#include "protocol/Messages.hpp"

namespace mxl::fabric
{
    /// Operations a sender keeps in flight at most: deep enough to pipeline slices of several grains,
    /// and smaller than the commit ring so that no record slot is reused while in flight.
    inline constexpr std::size_t transmitDepth = 256;
    inline constexpr std::size_t completionQueueSize = 1024;

    /// Grains of a discrete flow a sender may have in flight (written, commit not yet completed
    /// locally). The receiver claims that many slots beyond each grain it publishes, so that bytes
    /// landing ahead of their commit never sit under an older grain's header that readers may still
    /// take; mirror readers therefore see TOO_LATE for the oldest grains of the ring (this window).
    [[nodiscard]] constexpr std::uint32_t sendWindowGrains(std::uint32_t grainCount) noexcept
    {
        return grainCount / 4 > 2 ? grainCount / 4 : 2;
    }

    /// The largest grain or sample index replication carries. Real indices count from the TAI epoch
    /// (48 kHz samples: about 2^46 today) and are far below; a head or a record beyond this is a
    /// corrupt flow header or a hostile peer, and every window computed from it stays clear of
    /// wrapping around 2^64.
    inline constexpr std::uint64_t maxReplicatedIndex = std::uint64_t{1} << 62;

    /// Slots the receiver claims ahead of each grain it publishes (and from a Claim record's grain on):
    /// the send window and one more for a grain whose commit is in flight, never the whole ring.
    /// Where writes are not ordered (recordsTrail), a commit record is posted only once its payload
    /// has landed, and then waits at the sink behind the writes posted after that payload: records
    /// trail their payloads by up to another send window, which the claim covers too (otherwise the
    /// source runs out of credit while the sink still has bytes to place, and both wait in turn).
    [[nodiscard]] constexpr std::uint32_t claimWindowGrains(std::uint32_t grainCount, bool recordsTrail = false) noexcept
    {
        auto const window = sendWindowGrains(grainCount) * (recordsTrail ? 2 : 1) + 1;
        auto const most = grainCount > 1 ? grainCount - 1 : 1;
        return window < most ? window : most;
    }

    /// RMA writes and remote CQ data. Connected (FI_EP_MSG) endpoints must place writes in the order
    /// posted (so that a commit record never overtakes the payload it publishes). Reliable-datagram
    /// (FI_EP_RDM) endpoints are taken with whatever order they report (writesOrdered): where writes
    /// are not ordered, the sender asks for delivery completion (rdmHints) and holds every commit
    /// record until the writes before it are placed; the sink applies records in the order they were
    /// made, whatever order they land in (CommitOrder).
    inline ofi::Hints replicationHints(std::string const& provider, fi_ep_type type = FI_EP_MSG)
    {
        ofi::Hints hints;
        hints.provider(provider)
            .endpointType(type)
            .capabilities(FI_RMA | FI_WRITE | FI_REMOTE_WRITE | FI_MSG | FI_SEND | FI_RECV)
            .queueSizes(transmitDepth, transmitDepth)
            .cqDataSize(4)
            .messageOrder(type == FI_EP_MSG ? FI_ORDER_WAW : 0);
        return hints;
    }

    /// Whether info's endpoints place RMA writes in the order they were posted.
    [[nodiscard]] inline bool writesOrdered(ofi::Info const& info) noexcept
    {
        return (info.messageOrder() & (FI_ORDER_WAW | FI_ORDER_RMA_WAW)) != 0;
    }

    /// Reliable-datagram RMA, with delivery completion when unordered: a write completes only once
    /// its bytes are placed at the target, the fence a commit record waits for.
    inline ofi::Hints rdmHints(std::string const& provider, bool ordered)
    {
        auto hints = replicationHints(provider, FI_EP_RDM);
        hints.deliveryComplete(!ordered);
        return hints;
    }

    /// Connected endpoints that only send and receive, messages delivered in the order sent (so that
    /// a commit message is never processed before the data it publishes).
    inline ofi::Hints sendReceiveHints(std::string const& provider)
    {
        ofi::Hints hints;
        hints.provider(provider)
            .endpointType(FI_EP_MSG)
            .capabilities(FI_MSG | FI_SEND | FI_RECV)
            .queueSizes(transmitDepth, transmitDepth)
            .cqDataSize(0)
            .messageOrder(FI_ORDER_SAS);
        return hints;
    }

    inline ofi::Hints transferHints(std::string const& provider, Transfer transfer)
    {
        return transfer == Transfer::Rma ? replicationHints(provider) : sendReceiveHints(provider);
    }

    inline ofi::Hints sinkHints(std::string const& provider, std::string node, std::string service, Transfer transfer = Transfer::Rma)
    {
        auto hints = transferHints(provider, transfer);
        hints.source(std::move(node), std::move(service));
        return hints;
    }

    inline ofi::Hints sourceHints(std::string const& provider, std::string node, std::string service, Transfer transfer = Transfer::Rma)
    {
        auto hints = transferHints(provider, transfer);
        hints.destination(std::move(node), std::move(service));
        return hints;
    }

    /// The endpoint type replication uses with provider: connected endpoints where it offers them
    /// (tcp, verbs), reliable-datagram ones otherwise (efa, shm, or a utility provider such as
    /// "tcp;ofi_rxm" asked for by name). NO_FABRIC when it offers neither with RMA or messages.
    inline Expected<fi_ep_type> replicationEndpointType(std::string const& provider)
    {
        auto msg = ofi::Info::query(replicationHints(provider));
        if (msg || ofi::Info::query(sendReceiveHints(provider)))
        {
            return FI_EP_MSG;
        }
        if (ofi::Info::query(replicationHints(provider, FI_EP_RDM)))
        {
            return FI_EP_RDM;
        }
        return msg.take_error();
    }

    /// Whether replication can be asked for over provider at all. Connected and reliable-datagram
    /// providers both can; whether this host has the provider is a question for libfabric.
    inline Expected<void> checkReplicationProvider(std::string const& provider)
    {
        if (provider.empty())
        {
            return fail(MXL_ERR_INVALID_ARG, "no replication provider named");
        }
        return {};
    }

    /// Whether provider offers what the RMA transfer needs: connected endpoints with ordered writes,
    /// or reliable-datagram ones (ordered or not), with at least 4 bytes of remote CQ data.
    inline bool rmaAvailable(std::string const& provider)
    {
        auto const usable = [](Expected<ofi::Info> const& info) { return info && (info->capabilities() & FI_RMA) != 0 && info->cqDataSize() >= 4; };
        auto msg = ofi::Info::query(replicationHints(provider));
        if (usable(msg) && writesOrdered(*msg))
        {
            return true;
        }
        return usable(ofi::Info::query(replicationHints(provider, FI_EP_RDM)));
    }

    /// The transfer a sink should offer on provider: RMA where available, send/receive otherwise
    /// (send/receive runs over connected endpoints only).
    inline Transfer preferredTransfer(std::string const& provider)
    {
        return rmaAvailable(provider) ? Transfer::Rma : Transfer::SendReceive;
    }
}
