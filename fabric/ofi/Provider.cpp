// SPDX-License-Identifier: Apache-2.0
#include "ofi/Provider.hpp"

#include <algorithm>
#include <cctype>


#include "ofi/Info.hpp"

namespace mxl::ofi
{
    namespace
    {
        bool equalsIgnoringCase(std::string_view a, std::string_view b) noexcept
        {
            return std::ranges::equal(a, b, [](char x, char y) {
                return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
            });
        }
    }

    std::string_view providerName(Provider provider) noexcept
    {
        switch (provider)
        {
            case Provider::Tcp:   return "tcp";
            case Provider::Verbs: return "verbs";
            case Provider::Efa:   return "efa";
            case Provider::Shm:   return "shm";
        }
        return "unknown";
    }

    std::optional<Provider> parseProvider(std::string_view name) noexcept
    {
        for (auto const provider : kAllProviders)
        {
            if (equalsIgnoringCase(name, providerName(provider)))
            {
                return provider;
            }
        }
        return std::nullopt;
    }

    fi_ep_type endpointType(Provider provider) noexcept
    {
        switch (provider)
        {
            case Provider::Tcp:
            case Provider::Verbs: return FI_EP_MSG;
            case Provider::Efa:
            case Provider::Shm:   return FI_EP_RDM;
        }
        return FI_EP_UNSPEC;
    }

    std::string formatProviderList(std::vector<Provider> const& providers)
    {
        auto list = std::string{};
        for (auto const provider : providers)
        {
            if (!list.empty())
            {
                list += ',';
            }
            list += providerName(provider);
        }
        return list;
    }

    Expected<std::vector<Provider>> parseProviderList(std::string_view list)
    {
        auto providers = std::vector<Provider>{};
        if (list.empty())
        {
            return providers;
        }
        while (true)
        {
            auto const comma = list.find(',');
            auto const item = list.substr(0, comma);
            auto const provider = parseProvider(item);
            if (!provider)
            {
                return fail(MXL_ERR_INVALID_ARG, "unknown fabric provider '" + std::string{item} + "' in provider list");
            }
            if (std::ranges::find(providers, *provider) != providers.end())
            {
                return fail(MXL_ERR_INVALID_ARG, "fabric provider '" + std::string{item} + "' listed twice");
            }
            providers.push_back(*provider);
            if (comma == std::string_view::npos)
            {
                return providers;
            }
            list.remove_prefix(comma + 1);
        }
    }

    Expected<std::vector<Provider>> availableProviders()
    {
        auto providers = std::vector<Provider>{};
        for (auto const provider : kAllProviders)
        {
            auto info = Info::query(Hints{}.provider(provider).capabilities(FI_RMA));
            if (info)
            {
                // fi_getinfo matches layered providers too ("tcp;ofi_rxm"); only the native one counts.
                if (info->providerName() == providerName(provider))
                {
                    providers.push_back(provider);
                }
            }
            else if (info.error().status != MXL_ERR_NO_FABRIC)
            {
                return info.take_error();
            }
        }
        return providers;
    }
}
