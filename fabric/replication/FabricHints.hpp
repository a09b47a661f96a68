// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string>

#include "ofi/Info.hpp"

namespace mxl::fabric
{
    /// Operations a sender keeps in flight at most: deep enough to pipeline slices of several grains,
    /// and smaller than the commit ring so that no record slot is reused while in flight.
    inline constexpr std::size_t transmitDepth = 256;
    inline constexpr std::size_t completionQueueSize = 1024;

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

    inline ofi::Hints sinkHints(std::string const& provider, std::string node, std::string service)
    {
        auto hints = replicationHints(provider);
        hints.source(std::move(node), std::move(service));
        return hints;
    }

    inline ofi::Hints sourceHints(std::string const& provider, std::string node, std::string service)
    {
        auto hints = replicationHints(provider);
        hints.destination(std::move(node), std::move(service));
        return hints;
    }
}
