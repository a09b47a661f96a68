// SPDX-License-Identifier: Apache-2.0
// mxl-bench fabric's measurement: a writer and a Sender in the source process, a Receiver and a
// reader in the sink process; unpaced throughput, then paced commit-to-readable latency with slice
// batches, then the baseline (FabricBaseline.cpp) between the same two processes.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <span>
#include <stdexcept>
#include <thread>
#include <vector>

#include <stdlib.h>
#include <fmt/format.h>

#include <mxl/flow.h>
#include <mxl/mxl.h>
#include <mxl/time.h>
#include "base/Uuid.hpp"
#include "domain/Domain.hpp"
#include "mxl-bench/BenchDomain.hpp"
#include "mxl-bench/Clock.hpp"
#include "mxl-bench/FabricLinks.hpp"
#include "mxl-bench/FabricProcesses.hpp"
#include "mxl-bench/FabricStages.hpp"
#include "mxl-bench/Stats.hpp"
#include "protocol/Messages.hpp"
#include "toolkit/Cli.hpp"

namespace mxl::bench
{
    namespace
    {
        using nlohmann::json;

        std::string flowDefinition(FabricOptions const& o, std::string const& id)
        {
            return fmt::format(R"({{"id":"{}","format":"urn:x-nmos:format:video","label":"mxl-bench fabric","media_type":"video/v210",
                "tags":{{"urn:x-nmos:tag:grouphint/v1.0":["mxl-bench:video"]}},"grain_rate":{{"numerator":{},"denominator":{}}},
                "frame_width":{},"frame_height":{},"interlace_mode":"progressive"}})",
                id, o.rateNumerator, o.rateDenominator, o.width, o.height);
        }

        std::uint32_t batchEnd(std::uint32_t b, std::uint32_t batches, std::uint32_t total) noexcept
        {
            return b + 1 == batches ? total : (b + 1) * (total / batches);
        }

        /// What a raw baseline round measured (FabricBaseline.cpp): count grains, the same size,
        /// between the same two processes.
        using RawRound = std::function<json(std::uint32_t count)>;

        /// Grains of round r of `rounds` taking turns over `total` grains (the last takes the rest).
        std::uint32_t roundGrains(std::uint32_t total, std::uint32_t rounds, std::uint32_t r) noexcept
        {
            auto const each = total / rounds;
            return r + 1 == rounds ? total - each * (rounds - 1) : each;
        }

        /// Sums of the rounds of one kind (replication or baseline): bytes and time between the
        /// first and the last grain of each round, so that the rate is over the time spent in them.
        struct RoundSums
        {
            double bytes{0};
            double seconds{0};
            std::uint64_t grains{0};
            std::uint64_t missed{0};
            std::uint64_t sinkCpuNs{0};

            void add(json const& round)
            {
                bytes += round.at("bytes").get<double>();
                seconds += static_cast<double>(round.at("span_ns").get<std::uint64_t>()) / 1e9;
                grains += round.at("grains").get<std::uint64_t>();
                missed += round.value("missed", std::uint64_t{0});
                sinkCpuNs += round.value("sink_cpu_ns", std::uint64_t{0});
            }

            [[nodiscard]] double rate() const noexcept
            {
                return seconds > 0 ? bytes / seconds : 0.0;
            }
        };

        /// Runs the baseline alone, in the same rounds (a provider the replication refuses).
        json rawRounds(FabricOptions const& o, RawRound const& raw)
        {
            RoundSums sums;
            auto last = json::object();
            for (std::uint32_t r = 0; r < o.rounds; ++r)
            {
                last = raw(roundGrains(o.throughputGrains, o.rounds, r));
                sums.add(last);
            }
            last["bytes_per_s"] = sums.rate();
            last["grains"] = sums.grains;
            return last;
        }

        /// The source's replication phases: unpaced throughput taking turns with the raw baseline
        /// round by round (so that both see the same machine: this one's speed drifts by tens of
        /// percent within a minute), then paced latency; what they measured.
        json replicate(FabricOptions const& o, Channels& ch, Domain& domain, mxlInstance instance, mxlFlowWriter writer, mxlFlowConfigInfo& config,
            std::string const& id, StageTable* stages, RawRound const& raw)
        {
            auto link = connectSource(o, ch, domain, instance, *parseUuid(id), stages != nullptr ? stages->observer() : nullptr);
            auto const grainCount = config.discrete.grainCount;
            auto const line = config.discrete.sliceSizes[0];
            // Throughput: grains as fast as the sender drains them, never more than it can keep
            // within its window (so none is skipped).
            auto base = mxlGetCurrentIndex(&config.common.grainRate);
            RoundSums replicated, baseline;
            auto rounds = json::array();
            std::uint64_t sourceCpuThroughput = 0;
            auto rawSummary = json::object();
            for (std::uint32_t r = 0; r < o.rounds; ++r)
            {
                auto const count = roundGrains(o.throughputGrains, o.rounds, r);
                ch.toSink.send(json{{"phase", "throughput"}, {"first", base}, {"count", count}}.dump());
                (void)expect(ch.toSource, "sink ready");
                auto const cpu0 = processCpuNs();
                for (std::uint64_t i = 0; i < count; ++i)
                {
                    // Never so far ahead of what was sent that a grain is lost.
                    link->paceBefore(base + i, base, grainCount);
                    mxlGrainInfo info;
                    std::uint8_t* payload = nullptr;
                    mxlFlowWriterOpenGrain(writer, base + i, &info, &payload);
                    info.validSlices = info.totalSlices;
                    mxlFlowWriterCommitGrain(writer, &info);
                    link->committed(base + i, 0, info.totalSlices);
                }
                auto const round = json::parse(expect(ch.toSource, "throughput result"));
                sourceCpuThroughput += processCpuNs() - cpu0;
                base += count;
                rawSummary = raw(count);
                replicated.add(round);
                baseline.add(rawSummary);
                rounds.push_back({{"replication_bytes_per_s", round.at("bytes_per_s")}, {"baseline_bytes_per_s", rawSummary.at("bytes_per_s")}});
            }
            rawSummary["bytes_per_s"] = baseline.rate();
            rawSummary["grains"] = baseline.grains;
            json const throughputSummary{{"grains", replicated.grains}, {"missed", replicated.missed}, {"bytes_per_s", replicated.rate()},
                {"sink_cpu_per_grain_us", static_cast<double>(replicated.sinkCpuNs) / 1000.0 / static_cast<double>(std::max<std::uint64_t>(replicated.grains, 1))},
                {"rounds", rounds}};

            // Latency: paced like a camera, slices committed in batches, commit time stamped
            // into each batch's first line.
            auto const periodNs = static_cast<std::uint64_t>(1e9 * static_cast<double>(o.rateDenominator) / static_cast<double>(o.rateNumerator));
            auto const grains = latencyGrains(o);
            // Indices go on where the unpaced phase stopped, as a writer's would.
            if (stages != nullptr)
            {
                mxlGrainInfo probe;
                mxlFlowWriterGetGrainInfo(writer, 0, &probe);
                stages->arm(base, probe.totalSlices);
            }
            ch.toSink.send(json{{"phase", "latency"}, {"first", base}, {"count", grains}, {"batches", o.batches}}.dump());
            (void)expect(ch.toSource, "sink ready");
            auto const cpu0 = processCpuNs();
            auto const start = monotonicNs() + 10'000'000ULL;
            for (std::uint64_t g = 0; g < grains; ++g)
            {
                mxlGrainInfo info;
                std::uint8_t* payload = nullptr;
                mxlFlowWriterOpenGrain(writer, base + g, &info, &payload);
                for (std::uint32_t b = 0; b < o.batches; ++b)
                {
                    sleepUntilMonotonic(start + g * periodNs + (b + 1) * periodNs / o.batches);
                    auto const firstSlice = b * (info.totalSlices / o.batches);
                    auto const now = monotonicNs();
                    std::memcpy(payload + static_cast<std::size_t>(firstSlice) * line, &now, sizeof now);
                    info.validSlices = static_cast<std::uint16_t>(batchEnd(b, o.batches, info.totalSlices));
                    mxlFlowWriterCommitGrain(writer, &info);
                    link->committed(base + g, static_cast<std::uint16_t>(firstSlice), info.validSlices);
                    if (stages != nullptr)
                    {
                        stages->stamp(StageTable::Commit, base + g, b, now);
                    }
                }
            }
            auto const latencySummary = json::parse(expect(ch.toSource, "latency result"));
            auto const sourceCpuLatency = processCpuNs() - cpu0;
            auto const counters = link->stop();
            link.reset();
            return {{"status", "ok"}, {"throughput", throughputSummary}, {"latency", latencySummary}, {"raw", rawSummary},
                {"source_cpu_per_grain_us",
                    {{"throughput", static_cast<double>(sourceCpuThroughput) / 1000.0 / o.throughputGrains},
                        {"latency", static_cast<double>(sourceCpuLatency) / 1000.0 / static_cast<double>(grains)}}},
                {"sender_skipped", counters.at("skipped")}, {"sender_errors", counters.at("errors")}, {"latency_grains", grains}};
        }
    }

    int sourceProcess(FabricOptions const& o, Channels& ch, StageTable* stages)
    {
        try
        {
            auto const refusal = replicationRefusal(o);
            BenchDomain domainDir;
            auto const id = tools::newFlowId();
            auto instance = mxlCreateInstance(domainDir.path.c_str(), nullptr);
            mxlFlowWriter writer = nullptr;
            mxlFlowConfigInfo config;
            if (instance == nullptr || mxlCreateFlowWriter(instance, flowDefinition(o, id).c_str(), nullptr, &writer, &config, nullptr) != MXL_STATUS_OK)
            {
                throw std::runtime_error{"cannot create the source flow"};
            }
            auto domain = require(Domain::open(domainDir.path, nullptr), "source domain");
            mxlGrainInfo probe;
            mxlFlowWriterGetGrainInfo(writer, 0, &probe);
            auto const grainCount = config.discrete.grainCount;
            auto const window = std::max<std::uint32_t>(1, grainCount / 2);
            // Baseline: plain RMA writes between the same two processes, in rounds.
            RawRound const raw = [&](std::uint32_t count) {
                ch.toSink.send(json{{"phase", "raw"}, {"count", count}, {"grain_bytes", probe.grainSize}, {"slots", grainCount}, {"depth", window}}.dump());
                rawSource(o, probe.grainSize, grainCount, count, window, ch);
                return json::parse(expect(ch.toSource, "raw result"));
            };
            json replication{{"status", refusal ? "unsupported" : "ok"}};
            json rawSummary;
            if (refusal)
            {
                replication["reason"] = *refusal;
                rawSummary = rawRounds(o, raw);
            }
            else
            {
                replication = replicate(o, ch, *domain, instance, writer, config, id, stages, raw);
                rawSummary = replication.at("raw");
            }
            auto const memcpy = o.provider.starts_with("shm") ? memcpyReference(o.baselineMemory, probe.grainSize, grainCount, o.throughputGrains) : json(nullptr);

            mxlReleaseFlowWriter(instance, writer);
            mxlDestroyInstance(instance);
            ch.toSink.send(std::string{"done"});

            auto const sinkSummary = json::parse(expect(ch.toSource, "sink summary"));
            json result{{"replication", replication}, {"raw", rawSummary}, {"memcpy", memcpy}, {"sink", sinkSummary}, {"grain_bytes", probe.grainSize}};
            ch.toSink.send(std::string{"result:"} + result.dump());
            return 0;
        }
        catch (std::exception const& e)
        {
            ch.toSink.send(std::string{"error: source: "} + e.what());
            return 1;
        }
    }

    int sinkProcess(FabricOptions const& o, Channels& ch, MessagePipe& toParent, StageTable* stages)
    {
        try
        {
            auto const refusal = replicationRefusal(o);
            BenchDomain domainDir;
            auto domain = require(Domain::open(domainDir.path, nullptr), "sink domain");
            auto instance = mxlCreateInstance(domainDir.path.c_str(), nullptr);
            if (instance == nullptr)
            {
                throw std::runtime_error{"cannot open the sink's domain"};
            }
            fabric::FlowOffer offer;
            std::unique_ptr<SinkLink> link;
            mxlFlowReader reader = nullptr;
            if (!refusal)
            {
                link = acceptSink(o, ch, *domain, instance, offer, stages != nullptr ? stages->observer() : nullptr);
                if (mxlCreateFlowReader(instance, formatUuid(offer.flowId).c_str(), nullptr, &reader) != MXL_STATUS_OK)
                {
                    throw std::runtime_error{"cannot read the mirror"};
                }
            }
            std::uint64_t cpuThroughput = 0, cpuLatency = 0, latencyGrains = 1;
            for (;;)
            {
                auto const text = expect(ch.toSink, "phase");
                if (text == "done")
                {
                    break;
                }
                auto const phase = json::parse(text);
                auto const name = phase.at("phase").get<std::string>();
                if (name == "throughput")
                {
                    auto const first = phase.at("first").get<std::uint64_t>();
                    auto const count = phase.at("count").get<std::uint64_t>();
                    ch.toSource.send(std::string{"ready"});
                    auto const cpu0 = processCpuNs();
                    std::uint64_t got = 0, missed = 0, t0 = 0, t1 = 0;
                    for (std::uint64_t i = first; i < first + count; ++i)
                    {
                        mxlGrainInfo info;
                        std::uint8_t* payload = nullptr;
                        auto const status = mxlFlowReaderGetGrain(reader, i, 5'000'000'000ULL, &info, &payload);
                        auto const now = monotonicNs();
                        if (status != MXL_STATUS_OK)
                        {
                            ++missed;
                            continue;
                        }
                        t0 = got == 0 ? now : t0;
                        t1 = now;
                        ++got;
                    }
                    cpuThroughput = processCpuNs() - cpu0;
                    // From the first grain's arrival to the last's: the first grain's bytes are before it.
                    auto const bytes = static_cast<double>(offer.grainSize) * static_cast<double>(got > 0 ? got - 1 : 0);
                    ch.toSource.send(json{{"grains", got}, {"missed", missed}, {"bytes", bytes}, {"span_ns", t1 - t0},
                        {"bytes_per_s", t1 > t0 ? bytes / (static_cast<double>(t1 - t0) / 1e9) : 0.0}, {"sink_cpu_ns", cpuThroughput}}
                                         .dump());
                }
                else if (name == "latency")
                {
                    auto const first = phase.at("first").get<std::uint64_t>();
                    auto const count = phase.at("count").get<std::uint64_t>();
                    auto const batches = phase.at("batches").get<std::uint32_t>();
                    latencyGrains = count;
                    mxlFlowConfigInfo config;
                    mxlFlowReaderGetConfigInfo(reader, &config);
                    auto const line = config.discrete.sliceSizes[0];
                    if (stages != nullptr)
                    {
                        // The machine's own noise, measured beside this phase by the parent process.
                        toParent.send(fmt::format("noise:{}", o.latencyDurationS));
                    }
                    ch.toSource.send(std::string{"ready"});
                    auto const cpu0 = processCpuNs();
                    std::vector<std::uint64_t> latencies;
                    latencies.reserve(count * batches);
                    std::uint64_t missed = 0;
                    for (std::uint64_t g = 0; g < count; ++g)
                    {
                        std::uint32_t measured = 0;
                        while (measured < batches)
                        {
                            mxlGrainInfo info;
                            std::uint8_t* payload = nullptr;
                            auto const total = offer.totalSlices;
                            auto const target = static_cast<std::uint16_t>(batchEnd(measured, batches, total));
                            auto const status = mxlFlowReaderGetGrainSlice(reader, first + g, target, 2'000'000'000ULL, &info, &payload);
                            auto const now = monotonicNs();
                            if (status != MXL_STATUS_OK)
                            {
                                missed += batches - measured;
                                break;
                            }
                            while (measured < batches && info.validSlices >= batchEnd(measured, batches, total))
                            {
                                std::uint64_t stamp;
                                std::memcpy(&stamp, payload + static_cast<std::size_t>(measured) * (total / batches) * line, sizeof stamp);
                                latencies.push_back(now - stamp);
                                if (stages != nullptr)
                                {
                                    stages->stamp(StageTable::ReaderWoke, first + g, measured, now);
                                }
                                ++measured;
                            }
                        }
                    }
                    cpuLatency = processCpuNs() - cpu0;
                    ch.toSource.send(json{{"latency_us", percentilesUs(latencies).toJson()}, {"missed_batches", missed}}.dump());
                }
                else if (name == "raw")
                {
                    auto const raw = rawSink(o, phase.at("grain_bytes").get<std::size_t>(), phase.at("slots").get<std::uint32_t>(),
                        phase.at("count").get<std::uint32_t>(), ch);
                    ch.toSource.send(std::string{"stop"});
                    auto const got = raw.at("grains").get<std::uint64_t>();
                    auto const span = raw.at("last_ns").get<std::uint64_t>() - raw.at("first_ns").get<std::uint64_t>();
                    auto const bytes = static_cast<double>(phase.at("grain_bytes").get<std::size_t>()) * static_cast<double>(got > 0 ? got - 1 : 0);
                    auto summary = raw;
                    summary["bytes"] = bytes;
                    summary["span_ns"] = span;
                    summary["bytes_per_s"] = span > 0 ? bytes / (static_cast<double>(span) / 1e9) : 0.0;
                    ch.toSource.send(summary.dump());
                }
            }
            auto counters = json::object();
            if (link)
            {
                mxlReleaseFlowReader(instance, reader);
                counters = link->stop();
                link.reset();
            }
            counters["sink_cpu_latency_per_grain_us"] = static_cast<double>(cpuLatency) / 1000.0 / static_cast<double>(latencyGrains);
            ch.toSource.send(counters.dump());
            mxlDestroyInstance(instance);
            auto const result = expect(ch.toSink, "result");
            toParent.send(result);
            (void)cpuThroughput;
            return 0;
        }
        catch (std::exception const& e)
        {
            toParent.send(std::string{"error: sink: "} + e.what());
            ch.toSource.send(std::string{"error: sink: "} + e.what());
            return 1;
        }
    }
}
