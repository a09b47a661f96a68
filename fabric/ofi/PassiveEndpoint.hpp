// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <rdma/fi_cm.h>

#include "base/Expected.hpp"
#include "ofi/EventQueue.hpp"
#include "ofi/Fabric.hpp"
#include "ofi/Fid.hpp"
#include "ofi/Info.hpp"

namespace mxl::ofi
{
    /// Listens for connections on the source address of an Info (Hints::source). Connection
    /// requests arrive on the EventQueue as CmEventKind::ConnectionRequest; open an Endpoint from
    /// the event's Info and accept it, or reject it.
    class PassiveEndpoint
    {
    public:
        [[nodiscard]] static Expected<PassiveEndpoint> listen(Fabric& fabric, Info const& info, EventQueue& events);

        /// The bound address; with service "0" this is where the chosen port is found.
        [[nodiscard]] Expected<std::vector<std::byte>> address() const;
        [[nodiscard]] Expected<std::uint16_t> port() const;

        /// Refuses a connection request (e.g. from a peer that is not authenticated).
        [[nodiscard]] Expected<void> reject(Info const& request);

        [[nodiscard]] fid_t fid() const noexcept { return &_pep->fid; }

    private:
        PassiveEndpoint(FidPtr<fid_pep> pep, std::string provider) noexcept;

        std::string _provider;
        FidPtr<fid_pep> _pep;
    };
}
