// SPDX-License-Identifier: Apache-2.0
#pragma once

// The TargetInfo of the fabrics C API (mxl/fabrics.h): what an initiator needs to write into a
// target. It is the target's RegionGrant (fabric/protocol/Messages.hpp): provider, the address to
// connect to (node, service), the flow id, the regions with their keys, the commit ring, the epoch,
// the connect key and the transfer mode.
//
// Its string form, which applications carry between hosts:
//
//     mxl-target-info/1:<base64 of the encoded RegionGrant frame>
//
// The prefix names the format and its version (a string of another version is refused naming both);
// the frame inside carries the fabric protocol version (docs/fabric.md), which must match too. The
// base64 is canonical (base64.hpp), so that parsing and formatting again gives the same string.
//
// The string holds memory keys and the connect key: it is a secret. Nothing here logs it, and the
// errors say what is wrong (and lengths), never what it contains.

#include <cstddef>
#include <string>
#include <string_view>

#include <mxl/fabrics.h>
#include "base/Expected.hpp"
#include "protocol/Messages.hpp"

namespace mxl::fabric::api
{
    inline constexpr std::string_view targetInfoFormat = "mxl-target-info/";
    inline constexpr unsigned targetInfoVersion = 1;
    /// The longest TargetInfo string accepted: the base64 of the largest fabric message, and the prefix.
    inline constexpr std::size_t maxTargetInfoLength = (maxMessageSize + 2) / 3 * 4 + 64;

    struct TargetInfo
    {
        RegionGrant grant;
        mxlFabricsProvider provider{MXL_FABRICS_PROVIDER_ANY};
    };

    /// The TargetInfo of a grant; fails (MXL_ERR_INVALID_ARG) when its provider has no
    /// mxlFabricsProvider value or it names no address.
    [[nodiscard]] Expected<TargetInfo> makeTargetInfo(RegionGrant grant);

    [[nodiscard]] std::string formatTargetInfo(TargetInfo const& info);

    /// MXL_ERR_INVALID_ARG for a malformed string (naming the fault), MXL_ERR_UNSUPPORTED_OPERATION
    /// for another format or protocol version.
    [[nodiscard]] Expected<TargetInfo> parseTargetInfo(std::string_view text);
}
