// SPDX-License-Identifier: Apache-2.0
#include "ofi/Fabric.hpp"

#include <utility>

#include "ofi/Error.hpp"

namespace mxl::ofi
{
    Expected<Fabric> Fabric::open(Info const& info)
    {
        auto provider = std::string{info.providerName()};
        fid_fabric* fabric = nullptr;
        if (auto const rc = fi_fabric(info.raw()->fabric_attr, &fabric, nullptr); rc != 0)
        {
            return fiFail("fi_fabric", provider, rc);
        }
        return Fabric{FidPtr<fid_fabric>{fabric}, std::move(provider)};
    }

    Fabric::Fabric(FidPtr<fid_fabric> fabric, std::string provider) noexcept
        : _provider{std::move(provider)}
        , _fabric{std::move(fabric)}
    {}
}
