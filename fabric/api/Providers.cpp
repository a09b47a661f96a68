// SPDX-License-Identifier: Apache-2.0
#include "api/Providers.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace mxl::fabric::api
{
    namespace
    {
        constexpr std::array<std::pair<mxlFabricsProvider, std::string_view>, 5> names{{
            {MXL_FABRICS_PROVIDER_ANY,   "any"  },
            {MXL_FABRICS_PROVIDER_TCP,   "tcp"  },
            {MXL_FABRICS_PROVIDER_VERBS, "verbs"},
            {MXL_FABRICS_PROVIDER_EFA,   "efa"  },
            {MXL_FABRICS_PROVIDER_SHM,   "shm"  },
        }};

        bool equalsIgnoringCase(std::string_view a, std::string_view b) noexcept
        {
            return std::ranges::equal(a, b, [](char x, char y) {
                return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
            });
        }
    }

    std::optional<mxlFabricsProvider> checkedProvider(mxlFabricsProvider const& provider) noexcept
    {
        auto const value = enumValue(provider);
        for (auto const& [known, name] : names)
        {
            if (value == static_cast<int>(known))
            {
                return known;
            }
        }
        return std::nullopt;
    }

    std::string_view providerText(mxlFabricsProvider provider) noexcept
    {
        auto const checked = checkedProvider(provider);
        if (!checked)
        {
            return {};
        }
        return names[static_cast<std::size_t>(*checked)].second;
    }

    std::optional<mxlFabricsProvider> providerFromText(std::string_view text) noexcept
    {
        for (auto const& [provider, name] : names)
        {
            if (equalsIgnoringCase(text, name))
            {
                return provider;
            }
        }
        return std::nullopt;
    }

    std::optional<mxlFabricsProvider> providerFromLibfabricName(std::string_view name) noexcept
    {
        for (auto const& [provider, known] : names)
        {
            if (provider != MXL_FABRICS_PROVIDER_ANY && name == known)
            {
                return provider;
            }
        }
        return std::nullopt;
    }
}
