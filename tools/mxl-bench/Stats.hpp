// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace mxl::bench
{
    /// Percentiles of a set of samples (nearest rank).
    struct Percentiles
    {
        double p50{0};
        double p99{0};
        double max{0};
        std::size_t count{0};

        [[nodiscard]] nlohmann::json toJson() const
        {
            return {{"p50", p50}, {"p99", p99}, {"max", max}, {"count", count}};
        }
    };

    /// Percentiles of samples in nanoseconds, reported in microseconds.
    inline Percentiles percentilesUs(std::vector<std::uint64_t> samples)
    {
        Percentiles p;
        p.count = samples.size();
        if (samples.empty())
        {
            return p;
        }
        std::sort(samples.begin(), samples.end());
        auto rank = [&](double q) {
            auto const i = static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1) + 0.5);
            return static_cast<double>(samples[std::min(i, samples.size() - 1)]) / 1000.0;
        };
        p.p50 = rank(0.50);
        p.p99 = rank(0.99);
        p.max = static_cast<double>(samples.back()) / 1000.0;
        return p;
    }
}
