// SPDX-License-Identifier: Apache-2.0
#include "ofi/Domain.hpp"

#include <utility>

#include "ofi/Error.hpp"

namespace mxl::ofi
{
    Expected<Domain> Domain::open(Fabric& fabric, Info const& info)
    {
        fid_domain* domain = nullptr;
        if (auto const rc = fi_domain(fabric.raw(), info.raw(), &domain, nullptr); rc != 0)
        {
            return fiFail("fi_domain", info.providerName(), rc);
        }
        return Domain{FidPtr<fid_domain>{domain}, fabric.raw(), info};
    }

    Domain::Domain(FidPtr<fid_domain> domain, fid_fabric* fabric, Info const& info)
        : _provider{info.providerName()}
        , _fabric{fabric}
        , _mrMode{info.mrMode()}
        , _mrKeySize{info.mrKeySize()}
        , _cqDataSize{info.cqDataSize()}
        , _domain{std::move(domain)}
    {}
}
