// SPDX-License-Identifier: Apache-2.0
#include "api/Options.hpp"

#include <cstring>
#include <initializer_list>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mxl::fabric::api
{
    namespace
    {
        /// Options are a few keys; anything this long is a mistake (and is not parsed).
        constexpr std::size_t maxOptionsLength = 64 * 1024;

        /// The options as a JSON object (null when there are none), every key among known.
        Expected<nlohmann::json> parseObject(char const* text, char const* what, std::initializer_list<std::string_view> known)
        {
            if (text == nullptr || *text == '\0')
            {
                return nlohmann::json{};
            }
            auto const length = ::strnlen(text, maxOptionsLength + 1);
            if (length > maxOptionsLength)
            {
                return fail(MXL_ERR_INVALID_ARG, fmt::format("{}: longer than {} bytes", what, maxOptionsLength));
            }
            auto json = nlohmann::json::parse(std::string_view{text, length}, nullptr, false);
            if (json.is_discarded() || !json.is_object())
            {
                return fail(MXL_ERR_INVALID_ARG, fmt::format("{}: not a JSON object", what));
            }
            for (auto const& [key, value] : json.items())
            {
                bool found = false;
                for (auto const name : known)
                {
                    found = found || key == name;
                }
                if (!found)
                {
                    // Quoted and escaped as JSON: the key is the caller's text and may hold anything.
                    return fail(MXL_ERR_INVALID_ARG, fmt::format("{}: unknown option {}", what, nlohmann::json(key).dump()));
                }
            }
            return json;
        }
    }

    Expected<void> checkInstanceOptions(char const* text)
    {
        auto json = parseObject(text, "fabrics instance options", {});
        if (!json)
        {
            return json.take_error();
        }
        return {};
    }

    Expected<TargetOptions> parseTargetOptions(char const* text)
    {
        auto json = parseObject(text, "target options", {"cqDepth", "transfer"});
        if (!json)
        {
            return json.take_error();
        }
        TargetOptions options;
        if (json->is_object() && json->contains("cqDepth"))
        {
            auto const& depth = (*json)["cqDepth"];
            if (!depth.is_number_integer() || depth.get<std::int64_t>() < 1 || depth.get<std::int64_t>() > maxCqDepth)
            {
                return fail(MXL_ERR_INVALID_ARG, fmt::format("target options: cqDepth must be an integer from 1 to {}", maxCqDepth));
            }
            options.cqDepth = static_cast<std::uint32_t>(depth.get<std::int64_t>());
        }
        if (json->is_object() && json->contains("transfer"))
        {
            auto const& transfer = (*json)["transfer"];
            if (transfer == "rma")
            {
                options.sendReceive = false;
            }
            else if (transfer == "send-receive")
            {
                options.sendReceive = true;
            }
            else
            {
                return fail(MXL_ERR_INVALID_ARG, "target options: transfer must be \"rma\" or \"send-receive\"");
            }
        }
        return options;
    }

    Expected<void> checkInitiatorOptions(char const* text)
    {
        auto json = parseObject(text, "initiator options", {});
        if (!json)
        {
            return json.take_error();
        }
        return {};
    }
}
