// SPDX-License-Identifier: Apache-2.0
#pragma once

// The fabric providers the bridge knows how to drive, and which of them this host can use.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rdma/fabric.h>

#include "base/Expected.hpp"

namespace mxl::ofi
{
    enum class Provider
    {
        Tcp,
        Verbs,
        Efa,
        Shm,
    };

    /// Every provider this layer drives, fastest first.
    inline constexpr Provider kAllProviders[] = {Provider::Verbs, Provider::Efa, Provider::Shm, Provider::Tcp};

    /// The libfabric name: "tcp", "verbs", "efa", "shm".
    [[nodiscard]] std::string_view providerName(Provider provider) noexcept;

    /// Case-insensitive inverse of providerName; nullopt for anything else.
    [[nodiscard]] std::optional<Provider> parseProvider(std::string_view name) noexcept;

    /// The endpoint type the bridge uses on that provider: connected FI_EP_MSG for tcp and verbs,
    /// reliable datagrams (FI_EP_RDM) for efa and shm, which have no connected endpoints.
    [[nodiscard]] fi_ep_type endpointType(Provider provider) noexcept;

    /// "tcp,verbs" <-> {Tcp, Verbs}, as carried in the control channel's capabilities. Parsing refuses
    /// unknown names, duplicates and empty items so that a peer cannot smuggle anything through.
    [[nodiscard]] std::string formatProviderList(std::vector<Provider> const& providers);
    [[nodiscard]] Expected<std::vector<Provider>> parseProviderList(std::string_view list);

    /// The providers of kAllProviders that offer RMA on their endpoint type on this host, in that
    /// order. Fails only when libfabric itself fails; a missing provider or device is just absent.
    [[nodiscard]] Expected<std::vector<Provider>> availableProviders();
}
