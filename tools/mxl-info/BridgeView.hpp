// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "status/BridgeStatus.hpp"

namespace mxl::info
{
    /// `mxl-info --bridge`: the bridge serving the domain, its peers and its flow replications.
    std::vector<std::string> bridgeDetails(bridge::BridgeStatus const& status, std::uint64_t now);

    nlohmann::json bridgeJson(bridge::BridgeStatus const& status, std::uint64_t now);
}
