// SPDX-License-Identifier: Apache-2.0
#include "common/Logging.hpp"

#include <cstdlib>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace mxl
{
    spdlog::logger& log()
    {
        static auto const logger = [] {
            auto l = spdlog::get("mxl");
            if (!l)
            {
                l = spdlog::stderr_color_mt("mxl");
            }
            if (char const* level = std::getenv("MXL_LOG_LEVEL"))
            {
                l->set_level(spdlog::level::from_str(level));
            }
            return l;
        }();
        return *logger;
    }
}
