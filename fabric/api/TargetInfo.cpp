// SPDX-License-Identifier: Apache-2.0
#include "api/TargetInfo.hpp"

#include <charconv>

#include <fmt/format.h>

#include "api/Base64.hpp"
#include "api/Providers.hpp"

namespace mxl::fabric::api
{
    namespace
    {
        Unexpected refused(mxlStatus status, std::string const& what)
        {
            return fail(status, "TargetInfo string refused: " + what);
        }
    }

    Expected<TargetInfo> makeTargetInfo(RegionGrant grant)
    {
        // Only the native providers: a layered name ("tcp;ofi_rxm") has no value in the C API.
        auto const provider = providerFromLibfabricName(grant.provider);
        if (!provider)
        {
            return fail(MXL_ERR_INVALID_ARG, fmt::format("its provider (a name of {} characters) is none of tcp, verbs, efa, shm",
                grant.provider.size()));
        }
        if (grant.node.empty() || grant.service.empty())
        {
            return fail(MXL_ERR_INVALID_ARG, "it names no address to connect to (empty node or service)");
        }
        return TargetInfo{std::move(grant), *provider};
    }

    std::string formatTargetInfo(TargetInfo const& info)
    {
        auto const encoded = encode(info.grant);
        return fmt::format("{}{}:{}", targetInfoFormat, targetInfoVersion, encodeBase64(encoded));
    }

    Expected<TargetInfo> parseTargetInfo(std::string_view text)
    {
        if (text.size() > maxTargetInfoLength)
        {
            return refused(MXL_ERR_INVALID_ARG, fmt::format("{} characters, longer than any TargetInfo ({} at most)", text.size(),
                maxTargetInfoLength));
        }
        if (!text.starts_with(targetInfoFormat))
        {
            return refused(MXL_ERR_INVALID_ARG, fmt::format("it does not begin with \"{}\" (not a TargetInfo, or truncated at the front)",
                targetInfoFormat));
        }
        text.remove_prefix(targetInfoFormat.size());
        auto const colon = text.find(':');
        if (colon == std::string_view::npos)
        {
            return refused(MXL_ERR_INVALID_ARG, "no ':' after the format version");
        }
        auto const versionText = text.substr(0, colon);
        unsigned version = 0;
        auto const [end, ec] = std::from_chars(versionText.data(), versionText.data() + versionText.size(), version);
        if (versionText.empty() || ec != std::errc{} || end != versionText.data() + versionText.size() ||
            (versionText.size() > 1 && versionText[0] == '0'))
        {
            return refused(MXL_ERR_INVALID_ARG, "the format version is not a decimal number");
        }
        if (version != targetInfoVersion)
        {
            return refused(MXL_ERR_UNSUPPORTED_OPERATION,
                fmt::format("format version {}; this library reads version {}", version, targetInfoVersion));
        }
        auto bytes = decodeBase64(text.substr(colon + 1));
        if (!bytes)
        {
            return refused(MXL_ERR_INVALID_ARG, bytes.error().message);
        }
        auto grant = decodeRegionGrant(*bytes);
        if (!grant)
        {
            return refused(grant.error().status, grant.error().message);
        }
        auto info = makeTargetInfo(std::move(*grant));
        if (!info)
        {
            return refused(info.error().status, info.error().message);
        }
        return info;
    }
}
