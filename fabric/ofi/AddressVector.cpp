// SPDX-License-Identifier: Apache-2.0
#include "ofi/AddressVector.hpp"

#include <utility>

#include <rdma/fi_errno.h>

#include "ofi/Error.hpp"

namespace mxl::ofi
{
    Expected<AddressVector> AddressVector::open(Domain& domain, std::size_t count)
    {
        auto attr = fi_av_attr{};
        attr.type = FI_AV_TABLE;
        attr.count = count;
        fid_av* av = nullptr;
        if (auto const rc = fi_av_open(domain.raw(), &attr, &av, nullptr); rc != 0)
        {
            return fiFail("fi_av_open", domain.providerName(), rc);
        }
        return AddressVector{FidPtr<fid_av>{av}, std::string{domain.providerName()}};
    }

    AddressVector::AddressVector(FidPtr<fid_av> av, std::string provider) noexcept
        : _provider{std::move(provider)}
        , _av{std::move(av)}
    {}

    Expected<fi_addr_t> AddressVector::insert(std::span<std::byte const> address)
    {
        if (address.empty())
        {
            return fail(MXL_ERR_INVALID_ARG, "cannot insert an empty address into an address vector");
        }
        auto handle = fi_addr_t{FI_ADDR_NOTAVAIL};
        auto const rc = fi_av_insert(_av.get(), address.data(), 1, &handle, 0, nullptr);
        if (rc != 1)
        {
            // fi_av_insert returns how many addresses it took; 0 means this one was malformed.
            return fiFail(rc == 0 ? MXL_ERR_INVALID_ARG : statusFromFiErrno(rc), "fi_av_insert", _provider, rc == 0 ? -FI_EINVAL : rc);
        }
        return handle;
    }

    Expected<void> AddressVector::remove(fi_addr_t address)
    {
        if (auto const rc = fi_av_remove(_av.get(), &address, 1, 0); rc != 0)
        {
            return fiFail("fi_av_remove", _provider, rc);
        }
        return {};
    }
}
