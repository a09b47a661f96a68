// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

namespace mxl::bench
{
    struct NoiseOptions
    {
        double durationS{5.0};
        std::uint32_t periodUs{1000}; ///< Wake-up period of the probe.
    };

    /// The machine's own noise, to read other results against: how late a thread that sleeps until
    /// an absolute deadline every period wakes up (the scheduling delay every waiting media thread
    /// sees), and how busy the CPUs were and how much time the hypervisor stole, over the run.
    nlohmann::json runNoise(NoiseOptions const& options);
}
