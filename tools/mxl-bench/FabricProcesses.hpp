// SPDX-License-Identifier: Apache-2.0
#pragma once

// mxl-bench fabric runs in two processes, a source and a sink, that talk over pipes. What its parts
// share: FabricReplication.cpp measures the replication, FabricBaseline.cpp the plain RMA writes it
// is compared with (run by the same two processes), FabricBench.cpp starts the processes and turns
// what they measured into the report.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/Expected.hpp"
#include "mxl-bench/FabricBench.hpp"
#include "mxl-bench/FabricStages.hpp"
#include "mxl-bench/MessagePipe.hpp"
#include "replication/FabricHints.hpp"

namespace mxl::bench
{
    template<typename T>
    T require(Expected<T> result, char const* what)
    {
        if (!result)
        {
            throw std::runtime_error{fmt::format("{}: {}", what, result.error().message)};
        }
        return std::move(result).value();
    }

    inline void require(Expected<void> result, char const* what)
    {
        if (!result)
        {
            throw std::runtime_error{fmt::format("{}: {}", what, result.error().message)};
        }
    }

    /// The pipes between the processes: source -> sink and sink -> source.
    struct Channels
    {
        MessagePipe toSink;
        MessagePipe toSource;
    };

    inline std::string expect(MessagePipe const& pipe, char const* what)
    {
        auto message = pipe.receive(60'000);
        if (!message)
        {
            throw std::runtime_error{fmt::format("no {} from the other process", what)};
        }
        if (message->starts_with("error:"))
        {
            throw std::runtime_error{*message};
        }
        return *message;
    }

    /// Why the replication refuses the provider (as Sender and Receiver do), or nothing when it
    /// takes it: then only the baseline runs.
    inline std::optional<std::string> replicationRefusal(FabricOptions const& o)
    {
        if (auto r = fabric::checkReplicationProvider(o.provider); !r)
        {
            return r.error().message;
        }
        return std::nullopt;
    }

    /// Grains of the paced phase.
    inline std::uint64_t latencyGrains(FabricOptions const& o)
    {
        auto const periodNs = 1e9 * static_cast<double>(o.rateDenominator) / static_cast<double>(o.rateNumerator);
        return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(o.latencyDurationS * 1e9 / periodNs));
    }

    // The replication (FabricReplication.cpp): each process's body, returning its exit code. With
    // --stages, both stamp `stages` (shared with the parent); otherwise it is null. The sink tells
    // the parent "noise:SECONDS" when the paced phase starts, so that it measures the machine beside it.
    int sourceProcess(FabricOptions const& o, Channels& ch, StageTable* stages);
    int sinkProcess(FabricOptions const& o, Channels& ch, MessagePipe& toParent, StageTable* stages);

    // The raw RMA baseline (FabricBaseline.cpp), its sink and its source: on connected endpoints
    // where the provider has them, otherwise on reliable-datagram ones (shm, tcp;ofi_rxm, ...).
    nlohmann::json rawSink(FabricOptions const& o, std::size_t grainSize, std::uint32_t slots, std::uint32_t grains, Channels& ch);
    void rawSource(FabricOptions const& o, std::size_t grainSize, std::uint32_t slots, std::uint32_t grains, std::uint32_t depth,
        Channels& ch);

    /// One thread copying `grains` grains round a ring of `slots` into another (the shm provider's
    /// reference: what a plain memcpy of the same grains achieves on this host).
    nlohmann::json memcpyReference(BaselineMemory memory, std::size_t grainSize, std::uint32_t slots, std::uint32_t grains);
}
