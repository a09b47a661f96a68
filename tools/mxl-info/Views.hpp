// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mxl-info/FlowStatus.hpp"

namespace mxl::info
{
    /// The domain listing: flows grouped by group hint, one line each.
    std::vector<std::string> domainTable(std::string const& domain, std::vector<FlowStatus> const& flows);

    /// The domain listing for --watch: the same columns, narrowed to fit `columns`.
    std::vector<std::string> compactDomainTable(std::string const& domain, std::vector<FlowStatus> const& flows, std::size_t columns);

    /// Everything about one flow.
    std::vector<std::string> flowDetails(FlowStatus const& flow);

    nlohmann::json domainJson(std::string const& domain, std::vector<FlowStatus> const& flows);
    nlohmann::json flowJson(FlowStatus const& flow, bool details);

    /// "0.25 s", "12 min", "never" (for 0).
    std::string formatAge(std::uint64_t now, std::uint64_t then);

    /// "2025-03-01 12:00:00.123 TAI".
    std::string formatTai(std::uint64_t ts);
}
