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
    [[nodiscard]] constexpr std::uint32_t claimWindowGrains(std::uint32_t grainCount) noexcept
    {
        auto const window = sendWindowGrains(grainCount) + 1;
        auto const most = grainCount > 1 ? grainCount - 1 : 1;
        return window < most ? window : most;
    }

    /// Connected endpoints with RMA writes and remote CQ data, writes placed in the order posted
    /// (so that a commit record never overtakes the payload it publishes).
    inline ofi::Hints replicationHints(std::string const& provider)
    {
        ofi::Hints hints;
        hints.provider(provider)
            .endpointType(FI_EP_MSG)
            .capabilities(FI_RMA | FI_WRITE | FI_REMOTE_WRITE | FI_MSG | FI_SEND | FI_RECV)
            .queueSizes(transmitDepth, transmitDepth)
            .cqDataSize(4)
            .messageOrder(FI_ORDER_WAW);
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

    /// Whether provider offers what the RMA transfer needs (RMA writes on connected endpoints,
    /// at least 4 bytes of remote CQ data, writes placed in order). Asks libfabric only.
    /// Replication uses connected (FI_EP_MSG) endpoints. Providers that only offer reliable
    /// datagram endpoints (efa, shm; or a utility provider such as ofi_rxm asked for by name) are
    /// refused with a clear "not supported" rather than a provider error.
    inline Expected<void> checkReplicationProvider(std::string const& provider)
    {
        for (std::string_view const rdmOnly : {"efa", "shm", "ofi_rxm", "ofi_rxd"})
        {
            if (provider.find(rdmOnly) != std::string::npos)
            {
                return fail(MXL_ERR_UNSUPPORTED_OPERATION,
                    "replication over " + provider + " is not supported yet: it needs connected endpoints (tcp, verbs), "
                    "and RDM endpoints (efa, shm) are not implemented");
            }
        }
        return {};
    }

    inline bool rmaAvailable(std::string const& provider)
    {
        auto info = ofi::Info::query(replicationHints(provider));
        return info && (info->capabilities() & FI_RMA) != 0 && info->cqDataSize() >= 4 && (info->messageOrder() & FI_ORDER_WAW) != 0;
    }

    /// The transfer a sink should offer on provider: RMA where available, send/receive otherwise.
    inline Transfer preferredTransfer(std::string const& provider)
    {
        return rmaAvailable(provider) ? Transfer::Rma : Transfer::SendReceive;
    }
}
