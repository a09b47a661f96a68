// SPDX-License-Identifier: Apache-2.0
#pragma once

// mxl-bench fabric runs in two processes, a source and a sink, that talk over pipes. What its parts
// share: FabricReplication.cpp measures the replication, FabricBaseline.cpp the plain RMA writes it
// is compared with (run by the same two processes), FabricBench.cpp starts the processes and turns
// what they measured into the report.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/Expected.hpp"
#include "mxl-bench/FabricBench.hpp"
#include "mxl-bench/MessagePipe.hpp"

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

    // The replication (FabricReplication.cpp): each process's body, returning its exit code.
    int sourceProcess(FabricOptions const& o, Channels& ch);
    int sinkProcess(FabricOptions const& o, Channels& ch, MessagePipe& toParent);

    // The raw RMA baseline (FabricBaseline.cpp), its sink and its source.
    nlohmann::json rawSink(FabricOptions const& o, std::size_t grainSize, std::uint32_t slots, std::uint32_t grains, Channels& ch);
    void rawSource(FabricOptions const& o, std::size_t grainSize, std::uint32_t slots, std::uint32_t grains, std::uint32_t depth,
        Channels& ch);
}
