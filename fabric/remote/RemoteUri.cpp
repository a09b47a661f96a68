// SPDX-License-Identifier: Apache-2.0
#include "remote/RemoteUri.hpp"

#include <algorithm>
#include <cctype>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "remote/Requests.hpp"

namespace mxl::fabric::remote
{
    namespace
    {
        constexpr std::string_view scheme = "mxl://";
        constexpr std::size_t maxUriLength = 512;

        Expected<RemoteUri> refuse(std::string_view text, std::string_view what)
        {
            // Quoted as JSON: the text is the caller's and may hold anything (bytes that are not
            // UTF-8 are shown as U+FFFD rather than thrown at).
            auto const shown = text.substr(0, 128);
            auto const quoted = nlohmann::json(std::string{shown}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            return fail(MXL_ERR_INVALID_ARG, fmt::format("remote flow URI {}{}: {}", quoted,
                                                 shown.size() < text.size() ? " (cut)" : "", what));
        }

        bool isIpv4(std::string const& host) noexcept
        {
            in_addr address{};
            return ::inet_pton(AF_INET, host.c_str(), &address) == 1;
        }

        bool isIpv6(std::string const& host) noexcept
        {
            in6_addr address{};
            return ::inet_pton(AF_INET6, host.c_str(), &address) == 1;
        }

        /// RFC 1123 host name: labels of 1 to 63 letters, digits and hyphens, not starting or
        /// ending with a hyphen, at most 253 characters in all.
        bool isHostName(std::string_view host) noexcept
        {
            if (host.empty() || host.size() > 253)
            {
                return false;
            }
            std::size_t start = 0;
            while (start <= host.size())
            {
                auto const end = std::min(host.find('.', start), host.size());
                auto const label = host.substr(start, end - start);
                if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
                    !std::all_of(label.begin(), label.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-'; }))
                {
                    return false;
                }
                start = end + 1;
            }
            return true;
        }
    }

    Expected<RemoteUri> parseRemoteUri(std::string_view text)
    {
        if (text.size() > maxUriLength)
        {
            return refuse(text, fmt::format("longer than {} characters", maxUriLength));
        }
        if (!text.starts_with(scheme))
        {
            return refuse(text, "does not start with mxl://");
        }
        auto const rest = text.substr(scheme.size());
        auto const slash = rest.find('/');
        if (slash == std::string_view::npos)
        {
            return refuse(text, "no /FLOW-ID after the host");
        }
        auto const authority = rest.substr(0, slash);
        auto const path = rest.substr(slash + 1);

        RemoteUri uri;
        std::string_view portText;
        if (authority.starts_with('['))
        {
            auto const close = authority.find(']');
            if (close == std::string_view::npos)
            {
                return refuse(text, "an IPv6 address opened with [ is not closed with ]");
            }
            uri.host = std::string{authority.substr(1, close - 1)};
            if (!isIpv6(uri.host))
            {
                return refuse(text, "what is in brackets is not an IPv6 address");
            }
            auto const after = authority.substr(close + 1);
            if (!after.empty() && !after.starts_with(':'))
            {
                return refuse(text, "after ] comes :PORT or /FLOW-ID");
            }
            portText = after.empty() ? after : after.substr(1);
            if (!after.empty() && portText.empty())
            {
                return refuse(text, "an empty port after :");
            }
        }
        else
        {
            auto const colon = authority.find(':');
            if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos)
            {
                return refuse(text, "an IPv6 address must be written in brackets, [ADDRESS]:PORT");
            }
            uri.host = std::string{authority.substr(0, colon)};
            if (colon != std::string_view::npos)
            {
                portText = authority.substr(colon + 1);
                if (portText.empty())
                {
                    return refuse(text, "an empty port after :");
                }
            }
            if (uri.host.empty())
            {
                return refuse(text, "no host");
            }
            auto const numeric = std::all_of(uri.host.begin(), uri.host.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.'; });
            if (numeric ? !isIpv4(uri.host) : !isHostName(uri.host))
            {
                return refuse(text, numeric ? "the host is not an IPv4 address" : "the host is not a host name (letters, digits, hyphens, dots)");
            }
        }
        if (uri.host.size() > maxHostLength)
        {
            return refuse(text, fmt::format("a host longer than {} characters", maxHostLength));
        }
        if (!portText.empty())
        {
            if (portText.size() > 5 || !std::all_of(portText.begin(), portText.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }))
            {
                return refuse(text, "the port is not a number from 1 to 65535");
            }
            auto const port = std::stoul(std::string{portText});
            if (port == 0 || port > 65535)
            {
                return refuse(text, "the port is not a number from 1 to 65535");
            }
            uri.port = static_cast<std::uint16_t>(port);
        }
        auto const id = parseUuid(path);
        if (!id)
        {
            return refuse(text, "the path is not a flow id (a UUID, and nothing after it)");
        }
        uri.flowId = *id;
        return uri;
    }
}
