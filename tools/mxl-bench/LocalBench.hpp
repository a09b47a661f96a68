// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace mxl::bench
{
    struct LocalOptions
    {
        std::string domain;          ///< Empty: a temporary domain under /dev/shm.
        std::string mediaType{"v210"};
        std::uint32_t width{1920};
        std::uint32_t height{1080};
        std::int64_t rateNumerator{60};
        std::int64_t rateDenominator{1};
        std::uint32_t batches{8};    ///< Commits per grain.
        double durationS{5.0};       ///< Paced latency phase.
        std::uint32_t throughputGrains{300};
    };

    /// Commit-to-readable latency between a writer process and a reader process (paced, partial
    /// commits), open+commit overhead, and unpaced write throughput next to a plain memcpy baseline
    /// into tmpfs measured in the same run.
    nlohmann::json runLocal(LocalOptions const& options);
}
