// SPDX-License-Identifier: Apache-2.0
#pragma once

// mxlFabricsProvider (the C API's enum) and the names of libfabric's providers.

#include <cstring>
#include <optional>
#include <string_view>
#include <type_traits>

#include <mxl/fabrics.h>

namespace mxl::fabric::api
{
    /// The integer a caller passed for an enum. A C caller may pass any int; reading it as an int
    /// (not as the enum) keeps an out-of-range value from being undefined behaviour in C++.
    template<typename Enum>
    [[nodiscard]] int enumValue(Enum const& value) noexcept
    {
        static_assert(std::is_enum_v<Enum> && sizeof(Enum) == sizeof(int));
        int raw = 0;
        std::memcpy(&raw, &value, sizeof raw);
        return raw;
    }

    /// The provider a caller passed, or nothing when it is none of the enum's values.
    [[nodiscard]] std::optional<mxlFabricsProvider> checkedProvider(mxlFabricsProvider const& provider) noexcept;

    /// "any", "tcp", "verbs", "efa", "shm"; empty for a value out of range.
    [[nodiscard]] std::string_view providerText(mxlFabricsProvider provider) noexcept;

    /// The inverse of providerText, in any case.
    [[nodiscard]] std::optional<mxlFabricsProvider> providerFromText(std::string_view text) noexcept;

    /// The value of a native libfabric provider name ("tcp", "verbs", "efa", "shm", exactly); nothing
    /// for any other provider, layered ones ("tcp;ofi_rxm") included.
    [[nodiscard]] std::optional<mxlFabricsProvider> providerFromLibfabricName(std::string_view name) noexcept;
}
