// SPDX-License-Identifier: Apache-2.0
#pragma once

// What the bridge engine's parts (conductor, exporter, importer, status publisher) share: timings,
// limits and small helpers. Private to fabric/bridge.

#include <chrono>
#include <cstdint>
#include <future>
#include <string>

#include "status/BridgeStatus.hpp"
#include "ofi/Info.hpp"
#include "protocol/Messages.hpp"
#include "replication/FabricHints.hpp"
#include "time/Timing.hpp"

namespace mxl::bridge::internal
{
    inline constexpr std::uint64_t ms = 1'000'000;
    inline constexpr std::uint64_t firstBackoffNs = 50 * ms;
    inline constexpr std::uint64_t maxBackoffNs = 250 * ms;  // data must move within 2 s of a link returning
    inline constexpr std::uint64_t refusedBackoffNs = 5000 * ms;
    inline constexpr std::uint64_t offerRetryNs = 200 * ms;
    inline constexpr std::uint64_t failureRetryNs = 500 * ms;
    inline constexpr std::uint64_t resubscribeNs = 2000 * ms;
    inline constexpr std::uint64_t grantTimeoutNs = 5000 * ms;
    inline constexpr std::uint64_t catalogueIntervalNs = 1000 * ms;
    inline constexpr std::uint64_t statusIntervalNs = 200 * ms;
    /// Connections that have not authenticated yet, in all and from one address: beyond these a
    /// new connection is closed at once (a peer of ours needs one, briefly).
    inline constexpr std::size_t maxUnauthenticated = 64;
    inline constexpr std::size_t maxUnauthenticatedPerAddress = 8;
    /// Subscriptions (flows exported to a peer) one peer may hold, and all peers together.
    inline constexpr std::size_t maxSubscriptionsPerPeer = maxStatusFlows;
    inline constexpr std::size_t maxSubscriptions = maxStatusFlows * 4;
    /// How long the listener rests when accept fails for want of descriptors or memory.
    inline constexpr std::uint64_t listenerRestNs = 100 * ms;
    /// At most one log line about refused connections per this interval.
    inline constexpr std::uint64_t refusalLogIntervalNs = 5000 * ms;
    inline constexpr std::chrono::milliseconds senderConnectTimeout{2000};

    inline bool available(std::string const& provider)
    {
        return fabric::replicationEndpointType(provider).has_value();
    }

    inline char const* transferName(fabric::Transfer transfer)
    {
        return transfer == fabric::Transfer::Rma ? "rma" : "send-receive";
    }

    /// The data endpoint type a grant names, as the status area shows it.
    inline char const* endpointName(fabric::RegionGrant const& grant)
    {
        return grant.address.empty() ? "msg" : "rdm";
    }

    template<typename T>
    bool ready(std::future<T> const& future)
    {
        return future.valid() && future.wait_for(std::chrono::seconds{0}) == std::future_status::ready;
    }
}
