// SPDX-License-Identifier: Apache-2.0
#include "mxl-bench/FabricBench.hpp"

#include <optional>
#include <stdexcept>
#include <string>

#include <sys/wait.h>
#include <unistd.h>
#include <fmt/format.h>

#include "mxl-bench/FabricProcesses.hpp"
#include "mxl-bench/FabricStages.hpp"
#include "mxl-bench/NoiseBench.hpp"

namespace mxl::bench
{
    namespace
    {
        using nlohmann::json;

        /// Replication over baseline in each round of the unpaced phase, in order: how much of the
        /// spread is the machine's (the headline ratio is over all rounds together).
        json ratiosByRound(json const& rounds)
        {
            auto ratios = json::array();
            for (auto const& round : rounds)
            {
                auto const baseline = round.at("baseline_bytes_per_s").get<double>();
                ratios.push_back(baseline > 0 ? round.at("replication_bytes_per_s").get<double>() / baseline : 0.0);
            }
            return ratios;
        }
    }

    nlohmann::json runFabric(FabricOptions const& o)
    {
        std::optional<StageTable> stages;
        if (o.stages && !replicationRefusal(o))
        {
            stages.emplace(latencyGrains(o), o.batches);
        }
        auto* table = stages ? &*stages : nullptr;
        Channels channels;
        MessagePipe toParent;
        auto const sink = ::fork();
        if (sink == 0)
        {
            ::_exit(sinkProcess(o, channels, toParent, table));
        }
        auto const source = ::fork();
        if (source == 0)
        {
            ::_exit(sourceProcess(o, channels, table));
        }
        auto message = toParent.receive(600'000);
        json machine = nullptr;
        while (message && message->starts_with("noise:"))
        {
            machine = runNoise(NoiseOptions{std::stod(message->substr(6)), 1000});
            message = toParent.receive(600'000);
        }
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
        if (!message->starts_with("result:"))
        {
            throw std::runtime_error{"unexpected report: " + *message};
        }
        auto const r = json::parse(message->substr(7));
        auto const& replication = r.at("replication");
        auto const baseline = r.at("raw").at("bytes_per_s").get<double>();
        auto const grainBytes = r.at("grain_bytes").get<double>();
        json report{
            {"benchmark", "fabric"},
            {"provider", o.provider},
            {"api", o.capi ? "c" : "internal"},
            {"transfer", o.sendReceive ? "send-receive" : "rma"},
            {"frame", fmt::format("{}x{} v210", o.width, o.height)},
            {"rate", fmt::format("{}/{}", o.rateNumerator, o.rateDenominator)},
            {"slice_batches", o.batches},
            {"grain_bytes", r.at("grain_bytes")},
            {"replication", {{"status", replication.at("status")}}},
            {"baseline_bytes_per_s", baseline},
            {"baseline_grains_per_s", baseline / grainBytes},
            {"baseline_endpoint", r.at("raw").at("endpoint")},
            {"baseline_mr_mode", r.at("raw").at("mr_mode")},
            {"baseline_memory", o.baselineMemory == BaselineMemory::Heap ? "heap" : "shared"},
            {"baseline_completion", o.baselineDelivery ? "delivery" : "transmit"},
            {"rounds", o.rounds},
        };
        if (r.at("memcpy").is_object())
        {
            auto const copy = r.at("memcpy").at("bytes_per_s").get<double>();
            report["memcpy_bytes_per_s"] = copy;
            report["baseline_to_memcpy"] = copy > 0 ? baseline / copy : 0.0;
        }
        if (replication.at("status") != "ok")
        {
            // What the replication would have measured is not there: null, not zero.
            report["replication"]["reason"] = replication.at("reason");
            for (auto const* key : {"throughput_bytes_per_s", "throughput_grains_per_s", "ratio", "latency_us", "skipped"})
            {
                report[key] = nullptr;
            }
            report["grains"] = o.throughputGrains;
            return report;
        }
        auto const throughput = replication.at("throughput").at("bytes_per_s").get<double>();
        report.update({
            {"throughput_bytes_per_s", throughput},
            {"throughput_grains_per_s", throughput / grainBytes},
            {"ratio", baseline > 0 ? throughput / baseline : 0.0},
            {"ratio_by_round", ratiosByRound(replication.at("throughput").at("rounds"))},
            {"latency_us", replication.at("latency").at("latency_us")},
            {"grains", o.throughputGrains + replication.at("latency_grains").get<std::uint64_t>()},
            {"skipped", replication.at("sender_skipped").get<std::uint64_t>() + replication.at("throughput").at("missed").get<std::uint64_t>() +
                            replication.at("latency").at("missed_batches").get<std::uint64_t>()},
            {"cpu_per_grain_us",
                {{"source_unpaced", replication.at("source_cpu_per_grain_us").at("throughput")},
                    {"source_paced", replication.at("source_cpu_per_grain_us").at("latency")},
                    {"sink_unpaced", replication.at("throughput").at("sink_cpu_per_grain_us")},
                    {"sink_paced", r.at("sink").at("sink_cpu_latency_per_grain_us")}}},
            {"skipped_by",
                {{"sender", replication.at("sender_skipped")}, {"sink_unpaced_grains", replication.at("throughput").at("missed")},
                    {"sink_paced_batches", replication.at("latency").at("missed_batches")}}},
            {"sender_errors", replication.at("sender_errors")},
            {"receiver_refused", r.at("sink").at("refused")},
            // Commit records that landed before one made earlier (unordered providers); null where
            // the sink is the C API's target, which does not count them.
            {"receiver_reordered_records", r.at("sink").value("reordered_records", json(nullptr))},
        });
        if (stages)
        {
            report["stages"] = stages->report(machine);
        }
        return report;
    }
}
