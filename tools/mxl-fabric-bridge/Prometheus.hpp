// SPDX-License-Identifier: Apache-2.0
#pragma once

// --metrics: the bridge's status (the snapshot it publishes to the domain's status area) in the
// Prometheus text exposition format.

#include <string>

#include "status/BridgeStatus.hpp"

namespace mxl::bridge
{
    /// The Prometheus text exposition format (version 0.0.4) of a status: mxl_bridge_* metrics with
    /// flow, role and peer labels (label values escaped).
    std::string renderPrometheus(BridgeStatus const& status);
}
