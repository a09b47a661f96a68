// SPDX-License-Identifier: Apache-2.0
// mxl-bench run as a user runs it: short runs whose JSON is parsed and checked for the fields and
// the sanity scripts rely on. Nothing here judges speed: that is what the benchmark is for.
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
    auto const unknown = runTool(MXL_BENCH_PATH, {"bogus"});
    EXPECT_EQ(unknown.exitCode, 2);
    EXPECT_NE(unknown.err.find("unknown command"), std::string::npos) << unknown.err;
    auto const badVideo = runTool(MXL_BENCH_PATH, {"local", "--video", "wide"});
    EXPECT_EQ(badVideo.exitCode, 2);
    EXPECT_NE(badVideo.err.find("--video"), std::string::npos) << badVideo.err;
    for (auto const* command : {"local", "fabric"})
    {
        auto const badSlices = runTool(MXL_BENCH_PATH, {command, "--slices", "0"});
        EXPECT_EQ(badSlices.exitCode, 2) << command;
        EXPECT_NE(badSlices.err.find("--slices"), std::string::npos) << badSlices.err;
    }
    auto const badApi = runTool(MXL_BENCH_PATH, {"fabric", "--api", "python"});
    EXPECT_EQ(badApi.exitCode, 2);
    EXPECT_NE(badApi.err.find("--api"), std::string::npos) << badApi.err;
    auto const badPeriod = runTool(MXL_BENCH_PATH, {"noise", "--period-us", "5"});
    EXPECT_EQ(badPeriod.exitCode, 2);
    EXPECT_NE(badPeriod.err.find("--period-us"), std::string::npos) << badPeriod.err;
}
