// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace mxl::bench
{
    struct RingBenchOptions
    {
        std::uint64_t messages{2'000'000};       ///< per run, shared among its producers
        std::uint32_t slots{1024};               ///< ring slots (a power of two)
        std::vector<unsigned> producers{1, 2, 4}; ///< one run per entry
        /// The paced phase of each run (latency when the consumer sleeps between messages).
        double pacedRate{20'000};
        std::uint64_t pacedMessages{10'000};
    };

    /// The command ring (fabric/remote): producer processes put Release requests in (claim, encode,
    /// publish), one consumer takes them out in batches and decodes them; messages per second and
    /// enqueue-to-dequeue latency per number of producers, next to a plain ring copy of the same
    /// bytes in one thread measured in the same run. Each run has an unpaced phase (throughput; the
    /// ring is full, so its latency is queueing) and a paced one (latency with a sleeping consumer).
    nlohmann::json runRing(RingBenchOptions const& options);
}
