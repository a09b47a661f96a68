// SPDX-License-Identifier: Apache-2.0
#pragma once

// Raw endpoint addresses (fi_getname), which peers exchange as opaque bytes.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rdma/fabric.h>

#include "base/Expected.hpp"

namespace mxl::ofi
{
    /// The local address of an endpoint or passive endpoint, in the provider's format.
    [[nodiscard]] Expected<std::vector<std::byte>> addressOf(fid_t endpoint, std::string_view provider);

    /// The port of a sockaddr_in or sockaddr_in6 address (FI_SOCKADDR_* formats, e.g. tcp, verbs).
    [[nodiscard]] Expected<std::uint16_t> portOf(std::span<std::byte const> address);

    /// An address for a log line: "192.0.2.7:40123" or "[2001:db8::7]:40123" for socket addresses,
    /// otherwise "an address of N bytes".
    [[nodiscard]] std::string describeAddress(std::span<std::byte const> address);
}
