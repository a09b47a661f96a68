// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

#include <rdma/fabric.h>

#include "base/Expected.hpp"
#include "ofi/Fid.hpp"
#include "ofi/Info.hpp"

namespace mxl::ofi
{
    /// An open fabric (fi_fabric). Must outlive every object opened from it.
    class Fabric
    {
    public:
        [[nodiscard]] static Expected<Fabric> open(Info const& info);

        [[nodiscard]] fid_fabric* raw() const noexcept { return _fabric.get(); }
        [[nodiscard]] std::string_view providerName() const noexcept { return _provider; }

    private:
        Fabric(FidPtr<fid_fabric> fabric, std::string provider) noexcept;

        std::string _provider;
        FidPtr<fid_fabric> _fabric;
    };
}
