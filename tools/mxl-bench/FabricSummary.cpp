// SPDX-License-Identifier: Apache-2.0
// mxl-bench fabric's human output: what the JSON report says, in a few lines.
#include <string>

#include <fmt/format.h>

#include "mxl-bench/FabricBench.hpp"
#include "mxl-bench/FabricStages.hpp"

namespace mxl::bench
{
    namespace
    {
        using nlohmann::json;

        std::string percentiles(json const& p)
        {
            return fmt::format("{:9.1f} {:9.1f} {:9.1f}", p.at("p50").get<double>(), p.at("p99").get<double>(), p.at("max").get<double>());
        }

        std::string stagesTable(json const& s)
        {
            auto text = fmt::format("stages of {} slice batches ({} incomplete), microseconds:\n", s.at("batches").get<std::uint64_t>(),
                s.at("incomplete_batches").get<std::uint64_t>());
            text += fmt::format("  {:<18} {:>9} {:>9} {:>9}   {:>9} {:>9} {:>9}\n", "stage", "step p50", "p99", "max", "total p50", "p99", "max");
            for (auto const& name : s.at("order"))
            {
                auto const& stage = s.at(name.get<std::string>());
                text += fmt::format("  {:<18} {}   {}\n", name.get<std::string>(), percentiles(stage.at("step_us")), percentiles(stage.at("since_commit_us")));
            }
            auto const& tail = s.at("tail");
            if (tail.at("batches").get<std::uint64_t>() == 0)
            {
                return text;
            }
            std::string counts;
            for (auto const& name : s.at("order"))
            {
                auto const count = tail.at("stage_counts").at(name.get<std::string>()).get<std::uint64_t>();
                counts += count > 0 ? fmt::format("{}{} {}", counts.empty() ? "" : ", ", name.get<std::string>(), count) : "";
            }
            text += fmt::format("tail: {} batches at or above the p99 ({:.1f} us); the stage furthest beyond its median in them: {}\n",
                tail.at("batches").get<std::uint64_t>(), tail.at("threshold_us").get<double>(), counts);
            if (auto const& machine = s.at("machine"); machine.is_object())
            {
                auto const& late = machine.at("wake_late_us");
                text += fmt::format("machine beside the run: a sleeping thread woke up late by p50 {:.1f} us, p99 {:.1f} us, max {:.1f} us (CPU busy {:.0f} %, "
                                    "steal {:.1f} %)\n",
                    late.at("p50").get<double>(), late.at("p99").get<double>(), late.at("max").get<double>(),
                    machine.at("cpu_busy").is_number() ? 100 * machine.at("cpu_busy").get<double>() : 0.0,
                    machine.at("cpu_steal").is_number() ? 100 * machine.at("cpu_steal").get<double>() : 0.0);
            }
            text += fmt::format("tail attributed to: {} ({} {:.1f} us beyond its median at p50 of the tail; the machine's latest wake-up {})\n",
                s.at("attributed_to").get<std::string>(), tail.at("stage").get<std::string>(), tail.at("stage_excess_us").at("p50").get<double>(),
                tail.at("machine_wake_late_max_us").is_number() ? fmt::format("{:.1f} us", tail.at("machine_wake_late_max_us").get<double>()) : "unknown");
            return text;
        }
    }

    std::string describeFabric(nlohmann::json const& r)
    {
        auto const grainBytes = r.at("grain_bytes").get<double>();
        auto text = fmt::format("fabric over {} ({}, api {}): {}, {} slice batches\n", r.at("provider").get<std::string>(),
            r.at("transfer").get<std::string>(), r.at("api").get<std::string>(), r.at("frame").get<std::string>(), r.at("slice_batches").get<int>());
        auto const& replication = r.at("replication");
        if (replication.at("status") != "ok")
        {
            text += fmt::format("replication: {}: {}\n", replication.at("status").get<std::string>(), replication.at("reason").get<std::string>());
        }
        else
        {
            auto const& latency = r.at("latency_us");
            text += fmt::format("replication: {:.0f} grains/s, {:.2f} of the raw RMA baseline; latency p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms; "
                                "skipped {}\n",
                r.at("throughput_grains_per_s").get<double>(), r.at("ratio").get<double>(), latency.at("p50").get<double>() / 1000,
                latency.at("p99").get<double>() / 1000, latency.at("max").get<double>() / 1000, r.at("skipped").get<std::uint64_t>());
        }
        std::string modes;
        for (auto const& mode : r.at("baseline_mr_mode"))
        {
            modes += " " + mode.get<std::string>();
        }
        text += fmt::format("raw RMA baseline: {:.0f} grains/s ({} endpoints, mr_mode{})\n", r.at("baseline_grains_per_s").get<double>(),
            r.at("baseline_endpoint").get<std::string>(), modes.empty() ? " none" : modes);
        if (r.contains("memcpy_bytes_per_s"))
        {
            text += fmt::format("memcpy of the same grains, one thread: {:.0f} grains/s (the baseline is {:.2f} of it)\n",
                r.at("memcpy_bytes_per_s").get<double>() / grainBytes, r.at("baseline_to_memcpy").get<double>());
        }
        if (r.contains("stages"))
        {
            text += stagesTable(r.at("stages"));
        }
        return text;
    }
}
