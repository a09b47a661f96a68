// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <spdlog/spdlog.h>

namespace mxl
{
    /// The library's logger ("mxl", stderr). Its level comes from MXL_LOG_LEVEL (trace, debug, info,
    /// warn, error, off; default info).
    spdlog::logger& log();
}
