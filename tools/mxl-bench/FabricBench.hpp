// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace mxl::bench
{
    /// What the baseline's grain buffers are (FabricBaseline.cpp).
    enum class BaselineMemory
    {
        Shared, ///< Shared memory mapped as a flow's grains are (shmem pages, like files on tmpfs).
        Heap,   ///< Ordinary heap memory.
    };

    struct FabricOptions
    {
        std::string provider{"tcp"};
        bool sendReceive{false};               ///< The fallback transfer instead of RMA.
        bool capi{false};                      ///< Through the fabrics C API (mxl/fabrics.h), as an application.
        std::string sinkAddress{"127.0.0.1"};  ///< Where the sink process listens.
        std::uint32_t width{1920};
        std::uint32_t height{1080};
        std::int64_t rateNumerator{60};
        std::int64_t rateDenominator{1};
        std::uint32_t batches{8};              ///< Commits per grain in the latency phase.
        std::uint32_t throughputGrains{600};
        /// The unpaced phase and the baseline take turns in this many rounds (throughputGrains split
        /// among them), so that a machine whose speed drifts slows both alike.
        std::uint32_t rounds{4};
        BaselineMemory baselineMemory{BaselineMemory::Shared};
        /// The baseline's writes complete only once placed at the sink (FI_DELIVERY_COMPLETE), as the
        /// replication's do over providers whose writes are not ordered; otherwise the provider's default.
        bool baselineDelivery{false};
        double latencyDurationS{5.0};
        /// Also when each slice batch of the paced phase reached each stage of the replication,
        /// next to the machine's own sleep overshoot measured beside it.
        bool stages{false};
    };

    /// Replication between a source process (writer + Sender) and a sink process (Receiver +
    /// reader): unpaced throughput next to plain RMA writes of the same size between the same two
    /// processes, then paced commit-to-readable latency with slice batches, and CPU per grain. A
    /// provider the replication refuses (UNSUPPORTED_OPERATION) gets the baseline alone, with the
    /// replication reported as unsupported.
    nlohmann::json runFabric(FabricOptions const& options);

    /// The report in a few lines for people (FabricSummary.cpp).
    std::string describeFabric(nlohmann::json const& report);
}
