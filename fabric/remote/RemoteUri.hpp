// SPDX-License-Identifier: Apache-2.0
#pragma once

// The URIs of mxl/remote.h: mxl://HOST[:PORT]/FLOW-ID, HOST an IPv4 address, an IPv6 address in
// brackets, or a host name (RFC 1123 labels); PORT 1 to 65535, 7400 when left out.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/Expected.hpp"
#include "base/Uuid.hpp"

namespace mxl::fabric::remote
{
    inline constexpr std::uint16_t defaultBridgePort = 7400;

    struct RemoteUri
    {
        std::string host; ///< As the ring carries it: an IPv6 address without its brackets.
        std::uint16_t port{defaultBridgePort};
        Uuid flowId{};
    };

    /// MXL_ERR_INVALID_ARG naming what is wrong with the text (which the message quotes, cut short).
    [[nodiscard]] Expected<RemoteUri> parseRemoteUri(std::string_view text);
}
