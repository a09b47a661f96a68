// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/Expected.hpp"

namespace mxl::info
{
    /// Removes the domain's stale flows (no live writer) and returns their ids.
    Expected<std::vector<std::string>> collectStaleFlows(std::filesystem::path const& domain);
}
