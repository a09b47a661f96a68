// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "mxl-info/FlowStatus.hpp"

namespace mxl::info
{
    struct WatchOptions
    {
        std::chrono::milliseconds interval{500};
        /// Watch one flow's details instead of the whole domain.
        std::optional<std::string> flowId;
    };

    /// A live view redrawn in place (ANSI escapes, alternate screen) until q, Ctrl-C, SIGINT or
    /// SIGTERM; the terminal is restored on the way out. Returns the exit code.
    int watch(DomainInspector& inspector, WatchOptions const& options);
}
