// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <rdma/fi_domain.h>

#include "base/Expected.hpp"
#include "ofi/Fabric.hpp"
#include "ofi/Fid.hpp"
#include "ofi/Info.hpp"

namespace mxl::ofi
{
    /// An open access domain (fi_domain) and the attributes its children must honour. Must outlive
    /// the queues, endpoints, address vectors and memory regions opened from it; its Fabric must
    /// outlive it.
    class Domain
    {
    public:
        [[nodiscard]] static Expected<Domain> open(Fabric& fabric, Info const& info);

        [[nodiscard]] std::uint64_t mrMode() const noexcept { return _mrMode; }
        [[nodiscard]] std::size_t mrKeySize() const noexcept { return _mrKeySize; }
        [[nodiscard]] std::size_t cqDataSize() const noexcept { return _cqDataSize; }
        [[nodiscard]] std::string_view providerName() const noexcept { return _provider; }
        [[nodiscard]] fid_domain* raw() const noexcept { return _domain.get(); }
        /// The fabric, which fi_trywait needs.
        [[nodiscard]] fid_fabric* fabric() const noexcept { return _fabric; }

    private:
        Domain(FidPtr<fid_domain> domain, fid_fabric* fabric, Info const& info);

        std::string _provider;
        fid_fabric* _fabric;
        std::uint64_t _mrMode;
        std::size_t _mrKeySize;
        std::size_t _cqDataSize;
        FidPtr<fid_domain> _domain;
    };
}
