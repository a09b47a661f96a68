// SPDX-License-Identifier: Apache-2.0
// mxl-bench run as a user runs it: short runs whose JSON is parsed and checked for the fields and
// the sanity scripts rely on. Nothing here judges speed: that is what the benchmark is for.
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ToolProcess.hpp"

namespace
{
    using mxl::test::runTool;
    using namespace std::chrono_literals;

    nlohmann::json lastJsonLine(std::string const& out)
    {
        auto const start = out.rfind("\n{");
        return nlohmann::json::parse(out.substr(start == std::string::npos ? 0 : start + 1));
    }

    void expectCommonFields(nlohmann::json const& r)
    {
        for (auto const* key : {"throughput_bytes_per_s", "baseline_bytes_per_s", "ratio", "latency_us", "grains", "skipped", "cpu_per_grain_us"})
        {
            EXPECT_TRUE(r.contains(key)) << "missing " << key << " in " << r.dump();
        }
        EXPECT_GT(r.at("throughput_bytes_per_s").get<double>(), 0.0);
        EXPECT_GT(r.at("baseline_bytes_per_s").get<double>(), 0.0);
        EXPECT_GT(r.at("ratio").get<double>(), 0.0);
        auto const& latency = r.at("latency_us");
        EXPECT_GT(latency.at("count").get<double>(), 0.0);
        EXPECT_LE(latency.at("p50").get<double>(), latency.at("p99").get<double>());
        EXPECT_LE(latency.at("p99").get<double>(), latency.at("max").get<double>());
    }
}

TEST(MxlBench, LocalPrintsOneJsonObjectWithLatencyAndThroughput)
{
    auto const result = runTool(MXL_BENCH_PATH, {"local", "--video", "640x360", "--rate", "100", "--duration", "0.5", "--grains", "50", "--json"}, 60s);
    ASSERT_EQ(result.exitCode, 0) << result.err;
    auto const r = lastJsonLine(result.out);
    expectCommonFields(r);
    EXPECT_EQ(r.at("benchmark"), "local");
    // Grains the reader missed under load are reported, not judged here.
    EXPECT_LE(r.at("skipped").get<int>(), r.at("grains").get<int>());
}

TEST(MxlBench, FabricPrintsOneJsonObjectWithReplicationAndRawBaseline)
{
    auto const result = runTool(MXL_BENCH_PATH, {"fabric", "--video", "640x360", "--rate", "100", "--duration", "0.5", "--grains", "50", "--json"}, 60s);
    ASSERT_EQ(result.exitCode, 0) << result.err;
    auto const r = lastJsonLine(result.out);
    expectCommonFields(r);
    EXPECT_EQ(r.at("benchmark"), "fabric");
    EXPECT_EQ(r.at("provider"), "tcp");
    EXPECT_EQ(r.at("receiver_refused").get<int>(), 0);
    EXPECT_EQ(r.at("sender_errors").get<int>(), 0);
    EXPECT_EQ(r.at("receiver_reordered_records").get<int>(), 0) << "tcp places writes in order";
    // The unpaced phase and the baseline take turns: one ratio per round, the headline over all.
    EXPECT_EQ(r.at("rounds").get<int>(), 4);
    ASSERT_EQ(r.at("ratio_by_round").size(), 4U) << r.dump();
    for (auto const& ratio : r.at("ratio_by_round"))
    {
        EXPECT_GT(ratio.get<double>(), 0.0);
    }
    EXPECT_EQ(r.at("baseline_memory"), "shared");
    EXPECT_EQ(r.at("baseline_completion"), "transmit");
}

TEST(MxlBench, FabricRoundsAndBaselineMemoryAreChosenOnTheCommandLine)
{
    auto const result = runTool(MXL_BENCH_PATH, {"fabric", "--video", "640x360", "--rate", "100", "--duration", "0.3", "--grains", "40",
                                                    "--rounds", "2", "--baseline-memory", "heap", "--baseline-completion", "delivery", "--json"},
        60s);
    ASSERT_EQ(result.exitCode, 0) << result.err;
    auto const r = lastJsonLine(result.out);
    expectCommonFields(r);
    EXPECT_EQ(r.at("rounds").get<int>(), 2);
    EXPECT_EQ(r.at("ratio_by_round").size(), 2U) << r.dump();
    EXPECT_EQ(r.at("baseline_memory"), "heap");
    EXPECT_EQ(r.at("baseline_completion"), "delivery");
}

TEST(MxlBench, FabricThroughTheCApiPrintsTheSameMeasurementNextToRawRma)
{
    auto const result =
        runTool(MXL_BENCH_PATH, {"fabric", "--api", "c", "--video", "640x360", "--rate", "100", "--duration", "0.5", "--grains", "50", "--json"}, 60s);
    ASSERT_EQ(result.exitCode, 0) << result.err;
    auto const r = lastJsonLine(result.out);
    expectCommonFields(r);
    EXPECT_EQ(r.at("benchmark"), "fabric");
    EXPECT_EQ(r.at("api"), "c");
    EXPECT_GT(r.at("baseline_bytes_per_s").get<double>(), 0.0);
    EXPECT_EQ(r.at("sender_errors").get<int>(), 0);
}

TEST(MxlBench, FabricStagesCountEveryBatchAndFollowEachOther)
{
    auto const result = runTool(MXL_BENCH_PATH,
        {"fabric", "--stages", "--video", "640x360", "--rate", "100", "--duration", "0.5", "--grains", "50", "--slices", "4", "--json"}, 60s);
    ASSERT_EQ(result.exitCode, 0) << result.err;
    auto const r = lastJsonLine(result.out);
    expectCommonFields(r);
    ASSERT_TRUE(r.contains("stages")) << r.dump();
    auto const& stages = r.at("stages");
    auto const batches = (r.at("grains").get<std::uint64_t>() - 50) * 4;
    EXPECT_EQ(stages.at("batches").get<std::uint64_t>() + stages.at("incomplete_batches").get<std::uint64_t>(), batches) << stages.dump();
    if (r.at("skipped").get<std::uint64_t>() == 0)
    {
        EXPECT_EQ(stages.at("incomplete_batches").get<std::uint64_t>(), 0u) << "every batch arrived, so every batch has every stage";
    }
    EXPECT_EQ(stages.at("out_of_order").get<std::uint64_t>(), 0u) << "one clock for both processes: a later stage is never earlier";
    auto const& order = stages.at("order");
    ASSERT_EQ(order.size(), 5u);
    EXPECT_EQ(order.front(), "sender_noticed");
    EXPECT_EQ(order.back(), "reader_woke");
    double previous = 0;
    for (auto const& name : order)
    {
        auto const& total = stages.at(name.get<std::string>()).at("since_commit_us");
        EXPECT_EQ(total.at("count").get<std::uint64_t>(), stages.at("batches").get<std::uint64_t>()) << name;
        EXPECT_GE(total.at("p50").get<double>(), previous) << name << " comes later than the stage before it";
        previous = total.at("p50").get<double>();
    }
    // The last stage is the latency the benchmark reports, measured by the same reader.
    EXPECT_LE(stages.at("reader_woke").at("since_commit_us").at("max").get<double>(), r.at("latency_us").at("max").get<double>() + 1.0);
    EXPECT_GT(stages.at("machine").at("wake_late_us").at("count").get<int>(), 0) << "the machine's noise is measured beside the run";
    EXPECT_GT(stages.at("tail").at("batches").get<int>(), 0);
    EXPECT_TRUE(stages.at("attributed_to").is_string()) << stages.dump();
}

TEST(MxlBench, FabricStagesNeedOurSenderAndReceiver)
{
    auto const result = runTool(MXL_BENCH_PATH, {"fabric", "--stages", "--api", "c"});
    EXPECT_EQ(result.exitCode, 2);
    EXPECT_NE(result.err.find("--stages"), std::string::npos) << result.err;
}

namespace
{
    /// A reliable-datagram provider: the raw RMA baseline runs over it, and the replication either
    /// says plainly that it does not take the provider yet or measures as over tcp.
    nlohmann::json runOverDatagrams(char const* provider)
    {
        auto const result = runTool(MXL_BENCH_PATH,
            {"fabric", "--provider", provider, "--video", "640x360", "--rate", "100", "--duration", "0.3", "--grains", "30", "--json"}, 60s);
        EXPECT_EQ(result.exitCode, 0) << result.err;
        auto const r = lastJsonLine(result.out);
        EXPECT_EQ(r.at("provider"), provider);
        EXPECT_GT(r.at("baseline_bytes_per_s").get<double>(), 0.0) << r.dump();
        EXPECT_EQ(r.at("baseline_endpoint"), "rdm");
        EXPECT_TRUE(r.at("baseline_mr_mode").is_array());
        auto const& replication = r.at("replication");
        if (replication.at("status") == "unsupported")
        {
            EXPECT_NE(replication.at("reason").get<std::string>().find("not supported"), std::string::npos) << replication.dump();
            EXPECT_TRUE(r.at("throughput_bytes_per_s").is_null());
            EXPECT_TRUE(r.at("latency_us").is_null());
        }
        else
        {
            EXPECT_EQ(replication.at("status"), "ok");
            expectCommonFields(r);
        }
        return r;
    }
}

TEST(MxlBench, FabricOverShmMeasuresRawRmaNextToMemcpy)
{
    auto const r = runOverDatagrams("shm");
    // Whether shm landed any record early is up to it: counted, never judged.
    EXPECT_GE(r.at("receiver_reordered_records").get<int>(), 0) << r.dump();
    EXPECT_GT(r.at("memcpy_bytes_per_s").get<double>(), 0.0) << r.dump();
    EXPECT_GT(r.at("baseline_to_memcpy").get<double>(), 0.0);
}

TEST(MxlBench, FabricOverTcpRxmMeasuresRawRmaOnReliableDatagrams)
{
    auto const r = runOverDatagrams("tcp;ofi_rxm");
    EXPECT_FALSE(r.contains("memcpy_bytes_per_s")) << "the memcpy reference is for shm";
}

TEST(MxlBench, NoisePrintsWakeUpLatenessAndCpuShares)
{
    auto const result = runTool(MXL_BENCH_PATH, {"noise", "--duration", "0.3", "--period-us", "1000", "--json"}, 60s);
    ASSERT_EQ(result.exitCode, 0) << result.err;
    auto const r = lastJsonLine(result.out);
    EXPECT_EQ(r.at("benchmark"), "noise");
    auto const& late = r.at("wake_late_us");
    EXPECT_EQ(late.at("count").get<int>(), 300) << "one sample per period";
    EXPECT_LE(late.at("p50").get<double>(), late.at("p99").get<double>());
    EXPECT_LE(late.at("p99").get<double>(), late.at("max").get<double>());
    for (auto const* share : {"cpu_busy", "cpu_steal"})
    {
        ASSERT_TRUE(r.at(share).is_number()) << share << " in " << r.dump();
        EXPECT_GE(r.at(share).get<double>(), 0.0) << share;
        EXPECT_LE(r.at(share).get<double>(), 1.0) << share;
    }
}

TEST(MxlBench, BadArgumentsExitTwoWithAMessage)
{
    // Each: the arguments, and what the message must name.
    std::vector<std::pair<std::vector<std::string>, std::string>> const cases{
        {{"bogus"}, "unknown command"},
        {{"local", "--video", "wide"}, "--video"},
        {{"local", "--slices", "0"}, "--slices"},
        {{"fabric", "--slices", "0"}, "--slices"},
        {{"fabric", "--grains", "50", "--rounds", "0"}, "--rounds"},
        {{"fabric", "--grains", "50", "--rounds", "26"}, "--rounds"},
        {{"fabric", "--baseline-completion", "soon"}, "--baseline-completion"},
        {{"fabric", "--baseline-memory", "disk"}, "--baseline-memory"},
        {{"fabric", "--api", "python"}, "--api"},
        {{"noise", "--period-us", "5"}, "--period-us"},
    };
    for (auto const& [args, naming] : cases)
    {
        auto const result = runTool(MXL_BENCH_PATH, args);
        EXPECT_EQ(result.exitCode, 2) << args.front() << " ... " << args.back();
        EXPECT_NE(result.err.find(naming), std::string::npos) << result.err;
    }
}
