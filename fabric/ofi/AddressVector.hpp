// SPDX-License-Identifier: Apache-2.0
#pragma once

// Peer addresses for connectionless (FI_EP_RDM) endpoints, as exchanged on the control channel.

#include <cstddef>
#include <span>
#include <string>

#include <rdma/fi_domain.h>

#include "base/Expected.hpp"
#include "ofi/Domain.hpp"
#include "ofi/Fid.hpp"

namespace mxl::ofi
{
    /// An FI_AV_TABLE address vector. Must outlive the endpoints bound to it.
    class AddressVector
    {
    public:
        [[nodiscard]] static Expected<AddressVector> open(Domain& domain, std::size_t count);

        /// Inserts a raw endpoint name (Endpoint::name() of the peer) and returns its handle.
        [[nodiscard]] Expected<fi_addr_t> insert(std::span<std::byte const> address);
        [[nodiscard]] Expected<void> remove(fi_addr_t address);

        [[nodiscard]] fid_av* raw() const noexcept { return _av.get(); }

    private:
        AddressVector(FidPtr<fid_av> av, std::string provider) noexcept;

        std::string _provider;
        FidPtr<fid_av> _av;
    };
}
