// SPDX-License-Identifier: Apache-2.0
#include "ofi/PassiveEndpoint.hpp"

#include <utility>

#include "ofi/Address.hpp"
#include "ofi/Error.hpp"

namespace mxl::ofi
{
    Expected<PassiveEndpoint> PassiveEndpoint::listen(Fabric& fabric, Info const& info, EventQueue& events)
    {
        auto provider = std::string{info.providerName()};
        fid_pep* pep = nullptr;
        if (auto const rc = fi_passive_ep(fabric.raw(), info.raw(), &pep, nullptr); rc != 0)
        {
            return fiFail("fi_passive_ep", provider, rc);
        }
        auto owned = FidPtr<fid_pep>{pep};
        if (auto const rc = fi_pep_bind(pep, &events.raw()->fid, 0); rc != 0)
        {
            return fiFail("fi_pep_bind", provider, rc);
        }
        if (auto const rc = fi_listen(pep); rc != 0)
        {
            return fiFail("fi_listen", provider, rc);
        }
        return PassiveEndpoint{std::move(owned), std::move(provider)};
    }

    PassiveEndpoint::PassiveEndpoint(FidPtr<fid_pep> pep, std::string provider) noexcept
        : _provider{std::move(provider)}
        , _pep{std::move(pep)}
    {}

    Expected<std::vector<std::byte>> PassiveEndpoint::address() const
    {
        return addressOf(&_pep->fid, _provider);
    }

    Expected<std::uint16_t> PassiveEndpoint::port() const
    {
        auto address = addressOf(&_pep->fid, _provider);
        if (!address)
        {
            return address.take_error();
        }
        return portOf(address.value());
    }

    Expected<void> PassiveEndpoint::reject(Info const& request)
    {
        if (auto const rc = fi_reject(_pep.get(), request.raw()->handle, nullptr, 0); rc != 0)
        {
            return fiFail("fi_reject", _provider, rc);
        }
        return {};
    }
}
