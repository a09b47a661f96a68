// SPDX-License-Identifier: Apache-2.0
#pragma once

// mxlFabricsGetInterfaces: this host's interfaces as libfabric describes them (fi_getinfo through
// fabric/ofi), one per provider and local address, and the C list handed to the application.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <mxl/fabrics.h>
#include "base/Expected.hpp"

namespace mxl::fabric::api
{
    struct InterfaceDescription
    {
        mxlFabricsProvider provider{MXL_FABRICS_PROVIDER_ANY};
        std::string node;    ///< Numeric IP address; the host name for providers without one (shm).
        std::string service; ///< Empty: an interface has no port until something listens on it.
        std::uint64_t flags{0};
        std::uint64_t maxMessageSize{0};
        std::string attr;    ///< A JSON object, or empty.
    };

    struct InterfaceQuery
    {
        std::optional<mxlFabricsProvider> provider; ///< Nothing: every provider.
        std::string node;                          ///< Empty: every address.
    };

    /// The interfaces that match query, without duplicates, in the order libfabric prefers them.
    /// A provider absent from this host gives no entry; a failure of libfabric itself fails.
    [[nodiscard]] Expected<std::vector<InterfaceDescription>> probeInterfaces(InterfaceQuery const& query);

    /// The C list of descriptions (nullptr when empty), owned by a registry until freeInterfaceList.
    [[nodiscard]] mxlFabricsInterfaceList* makeInterfaceList(std::vector<InterfaceDescription> descriptions);

    /// Frees a list from makeInterfaceList; false when list is not one (or was freed already).
    bool freeInterfaceList(mxlFabricsInterfaceList* list) noexcept;
}
