// SPDX-License-Identifier: Apache-2.0
#pragma once

// Raw endpoint addresses (fi_getname), which peers exchange as opaque bytes.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <rdma/fabric.h>

#include "common/Expected.hpp"

namespace mxl::ofi
{
    /// The local address of an endpoint or passive endpoint, in the provider's format.
    [[nodiscard]] Expected<std::vector<std::byte>> addressOf(fid_t endpoint, std::string_view provider);

    /// The port of a sockaddr_in or sockaddr_in6 address (FI_SOCKADDR_* formats, e.g. tcp, verbs).
    [[nodiscard]] Expected<std::uint16_t> portOf(std::span<std::byte const> address);
}
