// SPDX-License-Identifier: Apache-2.0
#include "mxl-bench/FabricBench.hpp"

#include <stdexcept>
#include <string>

#include <sys/wait.h>
#include <unistd.h>
#include <fmt/format.h>

#include "mxl-bench/FabricProcesses.hpp"

namespace mxl::bench
{
    namespace
    {
        using nlohmann::json;
    }

    nlohmann::json runFabric(FabricOptions const& o)
    {
        Channels channels;
        MessagePipe toParent;
        auto const sink = ::fork();
        if (sink == 0)
        {
            ::_exit(sinkProcess(o, channels, toParent));
        }
        auto const source = ::fork();
        if (source == 0)
        {
            ::_exit(sourceProcess(o, channels));
        }
        auto const message = toParent.receive(600'000);
        int status = 0;
        ::waitpid(source, &status, 0);
        ::waitpid(sink, &status, 0);
        if (!message)
        {
            throw std::runtime_error{"the benchmark processes did not report"};
        }
        if (message->starts_with("error:"))
        {
            throw std::runtime_error{message->substr(7)};
        }
        if (message->starts_with("result:"))
        {
            auto r = json::parse(message->substr(7));
            auto const throughput = r.at("throughput").at("bytes_per_s").get<double>();
            auto const baseline = r.at("raw").at("bytes_per_s").get<double>();
            auto const grainBytes = r.at("grain_bytes").get<double>();
            return {
                {"benchmark", "fabric"},
                {"provider", o.provider},
                {"api", o.capi ? "c" : "internal"},
                {"transfer", o.sendReceive ? "send-receive" : "rma"},
                {"frame", fmt::format("{}x{} v210", o.width, o.height)},
                {"rate", fmt::format("{}/{}", o.rateNumerator, o.rateDenominator)},
                {"slice_batches", o.batches},
                {"grain_bytes", r.at("grain_bytes")},
                {"throughput_bytes_per_s", throughput},
                {"throughput_grains_per_s", throughput / grainBytes},
                {"baseline_bytes_per_s", baseline},
                {"baseline_grains_per_s", baseline / grainBytes},
                {"ratio", baseline > 0 ? throughput / baseline : 0.0},
                {"latency_us", r.at("latency").at("latency_us")},
                {"grains", o.throughputGrains + r.at("latency_grains").get<std::uint64_t>()},
                {"skipped", r.at("sender_skipped").get<std::uint64_t>() + r.at("throughput").at("missed").get<std::uint64_t>() +
                                r.at("latency").at("missed_batches").get<std::uint64_t>()},
                {"cpu_per_grain_us",
                    {{"source_unpaced", r.at("source_cpu_per_grain_us").at("throughput")},
                        {"source_paced", r.at("source_cpu_per_grain_us").at("latency")},
                        {"sink_unpaced", r.at("throughput").at("sink_cpu_per_grain_us")},
                        {"sink_paced", r.at("sink").at("sink_cpu_latency_per_grain_us")}}},
                {"skipped_by",
                    {{"sender", r.at("sender_skipped")}, {"sink_unpaced_grains", r.at("throughput").at("missed")},
                        {"sink_paced_batches", r.at("latency").at("missed_batches")}}},
                {"sender_errors", r.at("sender_errors")},
                {"receiver_refused", r.at("sink").at("refused")},
            };
        }
        throw std::runtime_error{"unexpected report: " + *message};
    }
}
