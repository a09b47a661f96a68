// SPDX-License-Identifier: Apache-2.0
#pragma once

// What a Sender and a Receiver on a reliable-datagram (FI_EP_RDM) endpoint both open, in order.
// Private to fabric/replication.

#include <cstddef>
#include <optional>

#include "base/Expected.hpp"
#include "ofi/AddressVector.hpp"
#include "ofi/CompletionQueue.hpp"
#include "ofi/Domain.hpp"
#include "ofi/Endpoint.hpp"
#include "ofi/Fabric.hpp"
#include "ofi/Info.hpp"

namespace mxl::fabric
{
    /// The fabric, its domain, one completion queue for both directions (the tcp provider's trap:
    /// never one direction only), an address vector of addressCount entries, and the endpoint
    /// bound to them, each into its slot; the first failure is returned.
    inline Expected<void> openDatagramObjects(ofi::Info const& info, std::size_t completionEntries, std::size_t addressCount,
        std::optional<ofi::Fabric>& fabric, std::optional<ofi::Domain>& domain, std::optional<ofi::CompletionQueue>& cq,
        std::optional<ofi::AddressVector>& addresses, std::optional<ofi::Endpoint>& endpoint)
    {
        if (auto r = emplace(fabric, ofi::Fabric::open(info)); !r)
        {
            return r;
        }
        if (auto r = emplace(domain, ofi::Domain::open(*fabric, info)); !r)
        {
            return r;
        }
        if (auto r = emplace(cq, ofi::CompletionQueue::open(*domain, completionEntries)); !r)
        {
            return r;
        }
        if (auto r = emplace(addresses, ofi::AddressVector::open(*domain, addressCount)); !r)
        {
            return r;
        }
        return emplace(endpoint, ofi::Endpoint::open(*domain, info, ofi::EndpointQueues{*cq, *cq, nullptr, &*addresses}));
    }
}
